// OpenAI-style errors: `{"error":{"message","type","code","param"}}` with the matching HTTP status.
import type { ServerResponse } from 'node:http';

export type ErrorType =
  | 'invalid_request_error'
  | 'authentication_error'
  | 'not_found_error'
  | 'rate_limit_error'
  | 'server_overloaded'
  | 'upstream_error'
  | 'timeout_error'
  | 'server_error';

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

  body(): { error: { message: string; type: string; code: string | null; param: string | null } } {
    return { error: { message: this.message, type: this.type, code: this.code, param: this.param } };
  }
}

export const badRequest = (message: string, param: string | null = null, code = 'invalid_request') =>
  new ApiError(400, message, 'invalid_request_error', code, param);

/** Writes the error with plain node:http calls, so the Express routes and the lean chat path share it. */
export function sendError(res: ServerResponse, err: ApiError): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  const text = JSON.stringify(err.body());
  res.statusCode = err.status;
  if (err.retryAfterSeconds !== undefined) res.setHeader('retry-after', String(Math.max(1, Math.ceil(err.retryAfterSeconds))));
  res.setHeader('content-type', 'application/json; charset=utf-8');
  res.setHeader('content-length', Buffer.byteLength(text));
  res.end(text);
}
