// OpenAI-style errors (the shared shape: services/common/openai-error.ts), written on node:http.
import type { ServerResponse } from 'node:http';

export { ApiError, badRequest, type ErrorType } from '../../common/openai-error.js';
import type { ApiError } from '../../common/openai-error.js';

/** Writes the error with plain node:http calls, so the Express routes and the lean chat path share it. */
export function sendError(res: ServerResponse, err: ApiError): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  const text = JSON.stringify(err.body());
  res.statusCode = err.status;
  const retryAfter = err.retryAfterHeader();
  if (retryAfter) res.setHeader('retry-after', retryAfter);
  res.setHeader('content-type', 'application/json; charset=utf-8');
  res.setHeader('content-length', Buffer.byteLength(text));
  res.end(text);
}
