import { parseChatBody, readJsonBody, type ChatRoute } from './body.js';
import { proxyChat } from './chat.js';
import { ConfigError, getConfig, type Config } from './config.js';
import type { Env } from './env.js';
import { ApiError, HttpError, errorResponse } from './errors.js';
import { checkHealth } from './health.js';
import { SECURITY_HEADERS, applyCors, isAllowedOrigin, preflight, requestIds } from './http.js';
import { log } from './log.js';
import { Charge, rateLimited } from './budget.js';
import { ipKey } from './ip.js';
import { readMetrics } from './stats.js';
import { secretEquals } from './secure-compare.js';
import { handleTokenRequest } from './token-route.js';
import { bearerToken, verifyToken } from './tokens.js';

const CHAT_ROUTES: Record<string, ChatRoute> = { '/v1/chat': 'chat', '/v1/chat/completions': 'completions' };
const KNOWN_PATHS = new Set(['/v1/token', '/v1/chat', '/v1/chat/completions', '/healthz', '/metrics']);

interface RequestScope {
  request: Request;
  env: Env;
  exec: ExecutionContext;
  config: Config;
  requestId: string;
  startedAt: number;
}

function forbiddenOrigin(): HttpError {
  return new HttpError({ status: 403, message: 'Origin not allowed', type: 'permission_error', code: 'origin_not_allowed' });
}

/** Cloudflare sets CF-Connecting-IP itself and overwrites any value a client sends. */
const addressKey = (request: Request): string => ipKey(request.headers.get('cf-connecting-ip'));

async function handleToken(s: RequestScope): Promise<Response> {
  if (!isAllowedOrigin(s.config, s.request.headers.get('origin'))) throw forbiddenOrigin();
  const ip = addressKey(s.request);
  // Minting counts against the IP's request rate, so token requests cannot be flooded either.
  const n = s.config.n;
  const admitted = await Charge.open(s.env, s.exec, s.config, [{ key: ip, scope: 'address', requests: n.IP_RATE_LIMIT_RPM, tokens: n.IP_TOKENS_PER_DAY }], { id: s.requestId, reserve: 0, ifAbandoned: 0 });
  if (!admitted.ok) throw rateLimited(admitted.refusal);
  const issued = await handleTokenRequest(s.request, s.env, s.config, ip);
  log('info', 'token issued', { request_id: s.requestId, expires_in: issued.expires_in });
  return Response.json(issued, { headers: { 'cache-control': 'no-store' } });
}

async function handleChat(s: RequestScope, route: ChatRoute): Promise<Response> {
  const origin = s.request.headers.get('origin');
  // Browsers always send Origin on these cross-origin POSTs; server-side callers send none.
  if (origin !== null && !isAllowedOrigin(s.config, origin)) throw forbiddenOrigin();
  const token = bearerToken(s.request.headers.get('authorization'));
  if (!token) {
    throw new HttpError({ status: 401, message: 'Missing bearer token; get one from POST /v1/token', type: 'authentication_error', code: 'missing_token', headers: { 'www-authenticate': 'Bearer' } });
  }
  const verified = await verifyToken(token, s.config);
  if (!verified.ok) {
    const expired = verified.reason === 'expired';
    throw new HttpError({
      status: 401,
      message: expired ? 'Token expired; get a new one from POST /v1/token' : 'Invalid token',
      type: 'authentication_error',
      code: expired ? 'token_expired' : 'invalid_token',
      headers: { 'www-authenticate': `Bearer error="invalid_token"` },
    });
  }
  const json = await readJsonBody(s.request, s.config.n.MAX_BODY_BYTES);
  const req = parseChatBody(route, json, s.request.headers.get('x-chat-type'), s.config.n.MAX_TOKENS_CAP);
  return proxyChat(req, {
    env: s.env,
    config: s.config,
    exec: s.exec,
    requestId: s.requestId,
    claims: verified.claims,
    ipKey: addressKey(s.request),
    startedAt: s.startedAt,
  });
}

async function handleHealth(s: RequestScope): Promise<Response> {
  const health = await checkHealth(s.config);
  // The public sees ok/degraded only; the origin count, breakers and fallback are for the operator's monitor.
  const given = bearerToken(s.request.headers.get('authorization'));
  const operator = s.config.metricsToken !== undefined && given !== undefined && (await secretEquals(given, s.config.metricsToken));
  return Response.json(operator ? health : { status: health.status }, { status: health.status === 'ok' ? 200 : 503, headers: { 'cache-control': 'no-store' } });
}

async function handleMetrics(s: RequestScope): Promise<Response> {
  const expected = s.config.metricsToken;
  if (!expected) throw new HttpError({ status: 404, message: 'Not found', type: 'invalid_request_error', code: 'not_found' });
  const given = bearerToken(s.request.headers.get('authorization'));
  if (!given || !(await secretEquals(given, expected))) {
    throw new HttpError({ status: 401, message: 'Metrics need the metrics bearer token', type: 'authentication_error', code: 'invalid_token', headers: { 'www-authenticate': 'Bearer' } });
  }
  return new Response(await readMetrics(s.env), { headers: { 'content-type': 'text/plain; version=0.0.4; charset=utf-8', 'cache-control': 'no-store' } });
}

async function route(s: RequestScope): Promise<Response> {
  const { pathname } = new URL(s.request.url);
  const method = s.request.method;
  if (method === 'OPTIONS') return preflight(s.config, s.request, s.requestId);
  const chatRoute = CHAT_ROUTES[pathname];
  if (chatRoute && method === 'POST') return handleChat(s, chatRoute);
  if (pathname === '/v1/token' && method === 'POST') return handleToken(s);
  if (pathname === '/healthz' && (method === 'GET' || method === 'HEAD')) return handleHealth(s);
  if (pathname === '/metrics' && method === 'GET') return handleMetrics(s);
  if (KNOWN_PATHS.has(pathname)) {
    throw new HttpError({ status: 405, message: `Method ${method} not allowed on ${pathname}`, type: 'invalid_request_error', code: 'method_not_allowed' });
  }
  throw new HttpError({ status: 404, message: `No route for ${pathname}`, type: 'invalid_request_error', code: 'not_found' });
}

/** Copies a response so its headers can be changed; the body keeps streaming, nothing is buffered. */
function finalize(response: Response, request: Request, requestId: string, config: Config | undefined): Response {
  const out = new Response(response.body, response);
  for (const [k, v] of Object.entries(SECURITY_HEADERS)) out.headers.set(k, v);
  out.headers.set('x-request-id', requestId);
  const origin = request.headers.get('origin');
  if (config && isAllowedOrigin(config, origin) && !out.headers.has('access-control-allow-origin')) applyCors(out.headers, origin);
  return out;
}

export async function handleRequest(request: Request, env: Env, exec: ExecutionContext): Promise<Response> {
  const { requestId, clientRequestId } = requestIds(request);
  const startedAt = Date.now();
  let config: Config | undefined;
  let response: Response;
  try {
    config = getConfig(env);
    if (clientRequestId) log('debug', 'client request id', { request_id: requestId, client_request_id: clientRequestId });
    response = await route({ request, env, exec, config, requestId, startedAt });
  } catch (err) {
    if (err instanceof ApiError) {
      response = errorResponse(err);
      // Refusals (4xx) are expected: info, not error.
      log(err.status >= 500 ? 'error' : 'info', 'request rejected', { request_id: requestId, path: new URL(request.url).pathname, status: err.status, code: err.code });
    } else if (err instanceof ConfigError) {
      log('error', 'edge misconfigured', { request_id: requestId, problem: err.message });
      // The detail (which binding) goes to the log, not to the public.
      response = errorResponse({ status: 503, message: 'The edge is misconfigured; the operator has been told in the logs', type: 'server_error', code: 'edge_misconfigured', headers: { 'retry-after': '60' } });
    } else {
      log('error', 'unexpected error', { request_id: requestId, error: err instanceof Error ? err.name : 'unknown' });
      response = errorResponse({ status: 500, message: 'Internal error at the edge', type: 'server_error', code: 'internal_error' });
    }
  }
  return finalize(response, request, requestId, config);
}
