// FUD Buddy's client for the AI backend (the edge Worker). Framework-free; its one dependency is eventsource-parser
// (through services/common/sse.ts, the stack's shared SSE decoder): copy this file, ./ai/ and that one into any app. It never reads build-time config itself; the app passes it in.
//
//   const ai = createAiService({ baseUrl: 'https://api.example.com', clientId: 'fudbuddy-web' });
//   const reply = await ai.sendMessage('whereToGo', history, 'Somewhere quiet for lunch?', {
//     signal, onDelta: (_chunk, soFar) => render(soFar),
//   });
//   reply.content; reply.requestId; reply.servedBy; // 'origin' | 'fallback' | 'unknown'

import { backoffDelay, sleep, type BackoffPolicy } from './ai/backoff.js';
import type { AiServiceError } from './ai/errors.js';
import { AttemptError, failureFromNetwork, failureFromResponse, mintRequestId, type AttemptFailure } from './ai/http.js';
import { readJson, readStream, StallWatch, streamError } from './ai/reply.js';
import { TokenSource } from './ai/tokenCache.js';

export * from './ai/errors.js';
export { SseParser, type SseEvent } from './ai/sse.js';
export { backoffDelay, parseRetryAfter } from './ai/backoff.js';

export { CHAT_TYPES, type ChatType } from '../../common/chat-types.js';
import type { ChatType } from '../../common/chat-types.js';

export interface ChatMessage {
  role: 'user' | 'assistant';
  content: string;
}

export type ServedBy = 'origin' | 'fallback' | 'unknown';

export interface ChatReply {
  content: string;
  /** The id the servers logged this request under. */
  requestId: string;
  servedBy: ServedBy;
}

export interface RetryInfo {
  /** Attempts made so far (1 after the first failure). */
  attempt: number;
  delayMs: number;
  error: AiServiceError;
}

export interface AiServiceOptions {
  /** Worker base URL, e.g. https://api.fudbuddy.com (no trailing slash needed). */
  baseUrl: string;
  clientId: string;
  inviteCode?: () => string | undefined;
  /** Total attempts per message, first one included (default 4). */
  maxAttempts?: number;
  /** First backoff cap (default 500 ms), doubling up to maxDelayMs (default 8 s). */
  baseDelayMs?: number;
  maxDelayMs?: number;
  /** A Retry-After longer than this is not waited out: the error goes to the UI instead (default 20 s). */
  maxRetryAfterMs?: number;
  /**
   * Give up on an attempt when no byte arrived for this long (default 45 s): a hung connection becomes a
   * ServiceDownError (retried when no text was shown yet) instead of an endless "…".
   */
  stallTimeoutMs?: number;
  /** Refresh a token this long before it expires (default 60 s, at most half its lifetime). */
  tokenRefreshMarginMs?: number;
  fetch?: typeof fetch;
  random?: () => number;
  now?: () => number;
  /** Called before each backoff wait (telemetry, or a "retrying…" hint in the UI). */
  onRetry?: (info: RetryInfo) => void;
}

export interface SendOptions {
  signal?: AbortSignal;
  /** Each streamed piece of text, and the whole answer so far. */
  onDelta?: (delta: string, soFar: string) => void;
  /** Non-secret hints passed through as `metadata` (e.g. a preferred model). */
  metadata?: Record<string, string>;
  /** Use this request id instead of minting one (e.g. a UI "Retry" reusing the id of the failed request). */
  requestId?: string;
}

export interface AiService {
  sendMessage(chatType: ChatType, history: readonly ChatMessage[], message: string, options?: SendOptions): Promise<ChatReply>;
  /** A valid token (cached); exposed for callers that talk to other Worker endpoints. */
  getToken(signal?: AbortSignal): Promise<string>;
}

export function createAiService(options: AiServiceOptions): AiService {
  const baseUrl = options.baseUrl.replace(/\/+$/, '');
  const doFetch = options.fetch ?? ((input: RequestInfo | URL, init?: RequestInit) => globalThis.fetch(input, init));
  const now = options.now ?? (() => Date.now());
  const random = options.random ?? Math.random;
  const maxAttempts = Math.max(1, options.maxAttempts ?? 4);
  const maxRetryAfterMs = options.maxRetryAfterMs ?? 20_000;
  const stallTimeoutMs = options.stallTimeoutMs ?? 45_000;
  const policy: BackoffPolicy = { baseDelayMs: options.baseDelayMs ?? 500, maxDelayMs: options.maxDelayMs ?? 8_000 };
  const tokens = new TokenSource({
    baseUrl,
    clientId: options.clientId,
    inviteCode: options.inviteCode,
    fetch: doFetch,
    now,
    refreshMarginMs: options.tokenRefreshMarginMs ?? 60_000,
  });

  async function attempt(
    chatType: ChatType,
    messages: ChatMessage[],
    requestId: string,
    send: SendOptions,
  ): Promise<ChatReply> {
    const token = await tokens.get(send.signal);
    const watch = new StallWatch(stallTimeoutMs, send.signal);
    try {
      return await request(chatType, messages, requestId, send, token, watch);
    } finally {
      watch.dispose();
    }
  }

  async function request(
    chatType: ChatType,
    messages: ChatMessage[],
    requestId: string,
    send: SendOptions,
    token: string,
    watch: StallWatch,
  ): Promise<ChatReply> {
    let res: Response;
    try {
      res = await doFetch(`${baseUrl}/v1/chat`, {
        method: 'POST',
        headers: {
          'Content-Type': 'application/json',
          Accept: 'text/event-stream',
          Authorization: `Bearer ${token}`,
          'X-Request-Id': requestId,
        },
        body: JSON.stringify({
          messages,
          chat_type: chatType,
          stream: true,
          ...(send.metadata && Object.keys(send.metadata).length ? { metadata: send.metadata } : {}),
        }),
        signal: watch.signal,
      });
    } catch (err) {
      throw watch.stalled ? streamError('The assistant stopped responding.', requestId, '') : new AttemptError(failureFromNetwork(err, requestId));
    }
    watch.kick();
    const rid = res.headers.get('x-request-id') || requestId;
    if (!res.ok) {
      const failure = await failureFromResponse(res, rid, now());
      if (res.status === 401) throw new TokenRejected(failure);
      throw new AttemptError(failure);
    }
    const servedByHeader = res.headers.get('x-served-by');
    const servedBy: ServedBy = servedByHeader === 'origin' || servedByHeader === 'fallback' ? servedByHeader : 'unknown';
    const type = res.headers.get('content-type') ?? '';
    const content = type.includes('text/event-stream')
      ? await readStream(res, rid, send, watch)
      : await readJson(res, rid, send, watch);
    return { content, requestId: rid, servedBy };
  }

  async function sendMessage(
    chatType: ChatType,
    history: readonly ChatMessage[],
    message: string,
    send: SendOptions = {},
  ): Promise<ChatReply> {
    const requestId = send.requestId ?? mintRequestId();
    const messages: ChatMessage[] = [...history.map((m) => ({ role: m.role, content: m.content })), { role: 'user', content: message }];
    let tokenRefreshed = false;
    let failed = 0;
    for (;;) {
      send.signal?.throwIfAborted();
      let failure: AttemptFailure;
      try {
        return await attempt(chatType, messages, requestId, send);
      } catch (err) {
        if (err instanceof TokenRejected && !tokenRefreshed) {
          // An expired or rotated-away token: fetch a fresh one once, without spending an attempt.
          tokenRefreshed = true;
          tokens.invalidate();
          continue;
        }
        if (!(err instanceof AttemptError)) throw err; // AbortError, or a bug: do not dress it up
        failure = err.failure;
      }
      failed++;
      const waitAsked = failure.retryAfterMs;
      if (!failure.retryable || failed >= maxAttempts || (waitAsked !== undefined && waitAsked > maxRetryAfterMs)) {
        throw failure.error;
      }
      const delayMs = waitAsked ?? backoffDelay(failed, policy, random);
      options.onRetry?.({ attempt: failed, delayMs, error: failure.error });
      await sleep(delayMs, send.signal);
    }
  }

  return { sendMessage, getToken: (signal) => tokens.get(signal) };
}

class TokenRejected extends AttemptError {}
