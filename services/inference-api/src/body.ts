// Request body reader for the chat path: enforces BODY_LIMIT (by Content-Length before reading, and while reading a
// chunked body), decodes UTF-8 and parses JSON. Errors are ApiErrors (413 / 400), never exceptions that escape.
import type { Req } from './http-types.js';
import { ApiError } from './errors.js';

const tooLarge = (limit: number) => new ApiError(413, `request body exceeds the ${limit}-byte limit`, 'invalid_request_error', 'request_too_large');
const invalidJson = () => new ApiError(400, 'request body is not valid JSON (expected a JSON object)', 'invalid_request_error', 'invalid_json');

export function readJsonBody(req: Req, limit: number): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const encoding = req.headers['content-encoding'];
    if (encoding && encoding !== 'identity') {
      req.resume();
      reject(new ApiError(400, `unsupported Content-Encoding "${encoding.slice(0, 32)}"`, 'invalid_request_error', 'invalid_body'));
      return;
    }
    const declared = Number(req.headers['content-length']);
    if (Number.isFinite(declared) && declared > limit) {
      req.resume();
      reject(tooLarge(limit));
      return;
    }
    const parts: Buffer[] = [];
    let size = 0;
    let failed = false;
    const onData = (chunk: Buffer) => {
      if (failed) return;
      size += chunk.length;
      if (size > limit) {
        failed = true;
        parts.length = 0;
        reject(tooLarge(limit));
        return;
      }
      parts.push(chunk);
    };
    const onEnd = () => {
      cleanup();
      if (failed) return;
      if (size === 0) return resolve(undefined);
      const text = (parts.length === 1 ? parts[0]! : Buffer.concat(parts, size)).toString('utf8');
      let value: unknown;
      try {
        value = JSON.parse(text);
      } catch {
        return reject(invalidJson());
      }
      // Like body-parser's `strict`: only objects and arrays count as JSON bodies.
      if (value === null || typeof value !== 'object') return reject(invalidJson());
      resolve(value);
    };
    const onError = () => {
      cleanup();
      if (!failed) reject(new ApiError(400, 'request body could not be read', 'invalid_request_error', 'invalid_body'));
      failed = true;
    };
    const cleanup = () => {
      req.off('data', onData);
      req.off('end', onEnd);
      req.off('error', onError);
      // Keep draining after an early 413 so the client can read the answer instead of seeing a reset.
      if (failed) req.resume();
    };
    req.on('data', onData);
    req.on('end', onEnd);
    req.on('error', onError);
  });
}
