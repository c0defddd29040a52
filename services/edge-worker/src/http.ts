import type { Config } from './config.js';
import { errorResponse } from './errors.js';

// CORS for the allowed origins only (bearer tokens, no cookies: no Allow-Credentials), and the
// security headers every response carries.
export const CORS_ALLOW_HEADERS = 'Authorization, Content-Type, X-Request-Id, X-Chat-Type';
export const CORS_EXPOSE_HEADERS = 'X-Request-Id, X-Served-By, Retry-After';
export const CORS_ALLOW_METHODS = 'GET, POST, OPTIONS';

export const SECURITY_HEADERS: Readonly<Record<string, string>> = {
  'strict-transport-security': 'max-age=63072000; includeSubDomains',
  'x-content-type-options': 'nosniff',
  'x-frame-options': 'DENY',
  'referrer-policy': 'no-referrer',
  'content-security-policy': "default-src 'none'; frame-ancestors 'none'",
  'cross-origin-opener-policy': 'same-origin',
  'permissions-policy': 'interest-cohort=()',
};

export function isAllowedOrigin(config: Config, origin: string | null | undefined): origin is string {
  return typeof origin === 'string' && config.allowedOrigins.has(origin);
}

export function applyCors(headers: Headers, origin: string): void {
  headers.set('access-control-allow-origin', origin);
  headers.set('access-control-expose-headers', CORS_EXPOSE_HEADERS);
  headers.append('vary', 'Origin');
}

export function preflight(config: Config, request: Request, requestId: string): Response {
  const origin = request.headers.get('origin');
  if (!isAllowedOrigin(config, origin)) {
    return errorResponse({ status: 403, message: 'Origin not allowed', type: 'permission_error', code: 'origin_not_allowed', headers: { 'x-request-id': requestId } });
  }
  const headers = new Headers({
    'access-control-allow-methods': CORS_ALLOW_METHODS,
    'access-control-allow-headers': CORS_ALLOW_HEADERS,
    'access-control-max-age': '600',
    'x-request-id': requestId,
  });
  applyCors(headers, origin);
  headers.append('vary', 'Access-Control-Request-Method, Access-Control-Request-Headers');
  return new Response(null, { status: 204, headers });
}

const REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;

/**
 * The Worker's own id for every request (what the origin, the logs and the response carry), and the client's id
 * when it sent a sane one: kept apart (logged as client_request_id) so a client cannot forge log correlation.
 */
export function requestIds(request: Request): { requestId: string; clientRequestId: string | undefined } {
  const given = request.headers.get('x-request-id');
  return { requestId: crypto.randomUUID(), clientRequestId: given && REQUEST_ID.test(given) ? given : undefined };
}
