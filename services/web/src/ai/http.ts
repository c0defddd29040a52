import { parseRetryAfter } from './backoff.js';
import {
  AiServiceError,
  BadRequestError,
  OfflineError,
  RateLimitedError,
  ServiceDownError,
  UnauthorizedError,
  isAbortError,
} from './errors.js';

/** An error plus whether another attempt could succeed and how long the server asked us to wait. */
export interface AttemptFailure {
  error: AiServiceError;
  retryable: boolean;
  retryAfterMs?: number;
}

/** Reads an OpenAI-style `{"error":{"message","code"}}` body; tolerates anything else. */
async function readErrorBody(res: Response): Promise<{ message?: string; code?: string }> {
  try {
    const text = await res.text();
    const body = JSON.parse(text) as { error?: { message?: unknown; code?: unknown } | string; message?: unknown };
    const err = body.error;
    if (typeof err === 'string') return { message: err };
    const message = typeof err?.message === 'string' ? err.message : typeof body.message === 'string' ? body.message : undefined;
    const code = typeof err?.code === 'string' ? err.code : undefined;
    return { message, code };
  } catch {
    return {};
  }
}

/** Turns a non-2xx response into a typed failure (and consumes its body). */
export async function failureFromResponse(res: Response, requestId: string, now: number): Promise<AttemptFailure> {
  const retryAfterMs = parseRetryAfter(res.headers.get('retry-after'), now);
  const { message, code } = await readErrorBody(res);
  const init = { requestId, status: res.status, code };
  if (res.status === 429) {
    return {
      error: new RateLimitedError(message ?? 'Too many requests. Please wait a moment.', { ...init, retryAfterMs }),
      retryable: true,
      retryAfterMs,
    };
  }
  if (res.status >= 500) {
    return {
      error: new ServiceDownError(message ?? `The assistant is unavailable (HTTP ${res.status}).`, { ...init, retryAfterMs }),
      retryable: true,
      retryAfterMs,
    };
  }
  if (res.status === 401 || res.status === 403) {
    return { error: new UnauthorizedError(message ?? `Not allowed (HTTP ${res.status}).`, init), retryable: false };
  }
  return { error: new BadRequestError(message ?? `The request was refused (HTTP ${res.status}).`, init), retryable: false };
}

/** A fetch that threw: abort stays an abort, anything else means the network is unreachable. */
export function failureFromNetwork(err: unknown, requestId: string, partialContent = ''): AttemptFailure {
  if (isAbortError(err)) throw err;
  const detail = err instanceof Error && err.message ? ` (${err.message})` : '';
  return {
    error: new OfflineError(`Cannot reach the assistant${detail}. Check your connection.`, { requestId, cause: err, partialContent }),
    retryable: partialContent === '',
  };
}

export class AttemptError extends Error {
  constructor(readonly failure: AttemptFailure) {
    super(failure.error.message);
  }
}

/** Resolves like `promise`, but rejects as soon as `signal` aborts (the promise itself keeps running). */
export function raceAbort<T>(promise: Promise<T>, signal: AbortSignal | undefined): Promise<T> {
  if (!signal) return promise;
  if (signal.aborted) return Promise.reject(signal.reason);
  return new Promise<T>((resolve, reject) => {
    const onAbort = (): void => reject(signal.reason);
    signal.addEventListener('abort', onAbort, { once: true });
    promise.then(
      (v) => {
        signal.removeEventListener('abort', onAbort);
        resolve(v);
      },
      (e: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(e);
      },
    );
  });
}

/** A request id the servers accept (UUID), also where crypto.randomUUID is missing (plain-http origins). */
export function mintRequestId(): string {
  const c = globalThis.crypto;
  if (typeof c?.randomUUID === 'function') return c.randomUUID();
  const b = new Uint8Array(16);
  c.getRandomValues(b);
  b[6] = ((b[6] ?? 0) & 0x0f) | 0x40;
  b[8] = ((b[8] ?? 0) & 0x3f) | 0x80;
  const h = Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}
