// OpenAI-style errors in the shape every service of the stack shares (services/common/openai-error.ts), answered
// as fetch Responses. HttpError adds the headers an edge answer may need beside Retry-After (WWW-Authenticate,
// X-Request-Id); the Worker's code and tests use the same error codes as before.
import { ApiError, type ErrorType } from '../../common/openai-error.js';

export { ApiError, badRequest } from '../../common/openai-error.js';

export interface ErrorSpec {
  status: number;
  message: string;
  type: ErrorType;
  code: string;
  param?: string | null;
  headers?: Record<string, string>;
}

/** Thrown from deep inside a handler to answer with a specific error. */
export class HttpError extends ApiError {
  readonly headers: Record<string, string>;

  constructor(spec: ErrorSpec) {
    super(spec.status, spec.message, spec.type, spec.code, spec.param ?? null);
    this.headers = spec.headers ?? {};
  }
}

export function errorResponse(err: ApiError | ErrorSpec): Response {
  const e = err instanceof ApiError ? err : new HttpError(err);
  const headers: Record<string, string> = { 'content-type': 'application/json; charset=utf-8' };
  const retryAfter = e.retryAfterHeader();
  if (retryAfter) headers['retry-after'] = retryAfter;
  if (e instanceof HttpError) Object.assign(headers, e.headers);
  return new Response(JSON.stringify(e.body()), { status: e.status, headers });
}
