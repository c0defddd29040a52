// Errors the UI can show as they are. Every one carries the request id so that a user's report
// ("it said request 3f2c…") can be matched to the Worker's and the API's logs.

export type AiErrorKind = 'offline' | 'rate_limited' | 'service_down' | 'bad_request' | 'unauthorized';

export interface AiErrorInit {
  requestId: string;
  status?: number;
  /** Server-provided error code (OpenAI-style `error.code`), when there was one. */
  code?: string;
  /** Text already streamed before the failure (the answer was cut off). */
  partialContent?: string;
  cause?: unknown;
}

export abstract class AiServiceError extends Error {
  abstract readonly kind: AiErrorKind;
  readonly requestId: string;
  readonly status: number | undefined;
  readonly code: string | undefined;
  readonly partialContent: string;

  constructor(message: string, init: AiErrorInit) {
    super(message, init.cause === undefined ? undefined : { cause: init.cause });
    this.requestId = init.requestId;
    this.status = init.status;
    this.code = init.code;
    this.partialContent = init.partialContent ?? '';
  }
}

/** The network could not be reached (no connection, DNS, connection refused or reset). */
export class OfflineError extends AiServiceError {
  readonly kind = 'offline' as const;
  override readonly name = 'OfflineError';
}

/** An error the server may say how long to wait after (`Retry-After`, as `retryAfterMs`). */
abstract class WaitHintedError extends AiServiceError {
  readonly retryAfterMs: number | undefined;
  constructor(message: string, init: AiErrorInit & { retryAfterMs?: number }) {
    super(message, init);
    this.retryAfterMs = init.retryAfterMs;
  }
}

/** Too many requests; `retryAfterMs` is how long the server asked us to wait, when it said. */
export class RateLimitedError extends WaitHintedError {
  readonly kind = 'rate_limited' as const;
  override readonly name = 'RateLimitedError';
}

/** The service answered 5xx (or broke the stream): the assistant is down for now. */
export class ServiceDownError extends WaitHintedError {
  readonly kind = 'service_down' as const;
  override readonly name = 'ServiceDownError';
}

/** The request itself was refused (4xx other than 401/429): retrying the same request will not help. */
export class BadRequestError extends AiServiceError {
  readonly kind = 'bad_request' as const;
  override readonly name = 'BadRequestError';
}

/** The Worker would not issue or accept a token (unknown client id, foreign origin, missing invite code). */
export class UnauthorizedError extends AiServiceError {
  readonly kind = 'unauthorized' as const;
  override readonly name = 'UnauthorizedError';
}

export function isAbortError(err: unknown): boolean {
  return typeof err === 'object' && err !== null && (err as { name?: unknown }).name === 'AbortError';
}
