// OpenAI-style error bodies, the same shape the inference API answers with, so one client handles both.
export type ErrorType =
  | 'invalid_request_error'
  | 'authentication_error'
  | 'permission_error'
  | 'rate_limit_error'
  | 'server_error'
  | 'service_unavailable';

export interface ErrorSpec {
  status: number;
  message: string;
  type: ErrorType;
  code: string;
  param?: string | null;
  headers?: Record<string, string>;
}

export function errorResponse(spec: ErrorSpec): Response {
  const body = { error: { message: spec.message, type: spec.type, code: spec.code, param: spec.param ?? null } };
  return new Response(JSON.stringify(body), {
    status: spec.status,
    headers: { 'content-type': 'application/json; charset=utf-8', ...spec.headers },
  });
}

/** Thrown from deep inside a handler to answer with a specific error. */
export class HttpError extends Error {
  constructor(readonly spec: ErrorSpec) {
    super(spec.message);
  }
}

export const badRequest = (message: string, code = 'invalid_request', param: string | null = null): HttpError =>
  new HttpError({ status: 400, message, type: 'invalid_request_error', code, param });
