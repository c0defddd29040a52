import { isAbortError, type AiServiceError } from '../aiService.js';

export interface ShownError {
  title: string;
  detail: string;
  requestId: string;
  /** Whether a Retry button makes sense. */
  canRetry: boolean;
}

/** What the user sees for each kind of failure. */
export function describeError(err: unknown): ShownError | undefined {
  if (isAbortError(err)) return undefined;
  const e = err as Partial<AiServiceError> & { retryAfterMs?: number };
  const requestId = e.requestId ?? 'unknown';
  switch (e.kind) {
    case 'offline':
      return { title: 'Can’t reach FUD Buddy', detail: 'Check your internet connection, then try again.', requestId, canRetry: true };
    case 'rate_limited': {
      const s = e.retryAfterMs !== undefined ? Math.ceil(e.retryAfterMs / 1000) : undefined;
      const wait = s === undefined ? 'in a little while' : s >= 120 ? `in about ${Math.ceil(s / 60)} minutes` : `in ${s} seconds`;
      return { title: 'Slow down a little', detail: `You’ve sent a lot of messages. Try again ${wait}.`, requestId, canRetry: true };
    }
    case 'service_down':
      return {
        title: 'FUD Buddy is having trouble',
        detail: e.partialContent ? 'The answer was cut off. Try again.' : 'The assistant is not answering right now. Try again soon.',
        requestId,
        canRetry: true,
      };
    case 'unauthorized': {
      const invite = e.code === 'invite_code_required' || e.code === 'invalid_invite_code';
      const detail = (e.message ?? 'This app is not allowed to use the assistant.') + (invite ? ' Enter your invite code under Settings.' : '');
      return { title: 'Not allowed', detail, requestId, canRetry: true };
    }
    case 'bad_request':
      return { title: 'That didn’t work', detail: e.message ?? 'The request was refused.', requestId, canRetry: false };
    default:
      return { title: 'Something went wrong', detail: err instanceof Error ? err.message : String(err), requestId, canRetry: true };
  }
}
