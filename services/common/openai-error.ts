// OpenAI-style errors, one shape for every service of the stack (the inference API and the edge Worker), so one
// client handles both: `{"error":{"message","type","code","param"}}` with the matching HTTP status, and
// Retry-After where waiting helps. Runs in Node and workerd.

export type ErrorType =
  | 'invalid_request_error'
  | 'authentication_error'
  | 'permission_error'
  | 'not_found_error'
  | 'rate_limit_error'
  | 'server_overloaded'
  | 'service_unavailable'
  | 'upstream_error'
  | 'timeout_error'
  | 'server_error';

export interface ErrorBody {
  error: { message: string; type: string; code: string | null; param: string | null };
}

export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly type: ErrorType,
    readonly code: string | null = null,
    readonly param: string | null = null,
    readonly retryAfterSeconds?: number,
  ) {
    super(message);
  }

  body(): ErrorBody {
    return { error: { message: this.message, type: this.type, code: this.code, param: this.param } };
  }

  /** The Retry-After header value (whole seconds, at least 1), when the error has one. */
  retryAfterHeader(): string | undefined {
    return this.retryAfterSeconds === undefined ? undefined : String(Math.max(1, Math.ceil(this.retryAfterSeconds)));
  }
}

/** A 400; named options, so `code` and `param` cannot be swapped by position. */
export const badRequest = (message: string, opts: { code?: string; param?: string | null } = {}): ApiError =>
  new ApiError(400, message, 'invalid_request_error', opts.code ?? 'invalid_request', opts.param ?? null);
