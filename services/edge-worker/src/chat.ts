import type { ChatRequest } from './body.js';
import type { Config } from './config.js';
import type { Env } from './env.js';
import { errorResponse } from './errors.js';
import { fallbackBody, fallbackUrl } from './fallback.js';
import { log } from './log.js';
import { estimatePromptTokens } from './meter.js';
import { attemptOrder, originEndpoint, originPool } from './origins.js';
import { consumeTokens } from './quota.js';
import { recordEvent, type ServedBy } from './stats.js';
import type { TokenClaims } from './tokens.js';
import { FAILOVER_STATUSES, callUpstream, passThrough, type UpstreamResult } from './upstream.js';

export interface ChatContext {
  env: Env;
  config: Config;
  exec: ExecutionContext;
  requestId: string;
  claims: TokenClaims;
  quotaKeys: string[];
  startedAt: number;
}

const FALLBACK_MIN_TIMEOUT_MS = 30_000;
const ROUTE_PATH = { chat: '/v1/chat', completions: '/v1/chat/completions' } as const;
// Origin answers that would confuse the browser if passed on: they are about the edge's credentials.
const ORIGIN_AUTH_STATUSES = new Set([401, 403]);

function originRequest(req: ChatRequest, cc: ChatContext): RequestInit {
  return {
    method: 'POST',
    headers: {
      authorization: `Bearer ${cc.config.originToken}`,
      'content-type': 'application/json',
      accept: req.stream ? 'text/event-stream' : 'application/json',
      'x-request-id': cc.requestId,
      // Client and session: the API's per-client limit then applies per browser session. With the bare
      // client id every visitor would share one API bucket and throttle each other.
      'x-client-id': `${cc.claims.clientId}:${cc.claims.sessionId}`,
      'x-chat-type': req.chatType,
    },
    body: req.raw,
  };
}

/** Tries the healthy origins in turn; a failed attempt moves on to the next origin, never after data flowed. */
async function tryOrigins(req: ChatRequest, cc: ChatContext): Promise<{ result?: Extract<UpstreamResult, { ok: true }>; failures: number; originIndex?: number; allOpen: boolean }> {
  let failures = 0;
  let attempted = 0;
  for (const origin of attemptOrder(cc.config)) {
    if (!origin.breaker.tryAcquire(Date.now())) continue;
    attempted += 1;
    const url = originEndpoint(origin.url, ROUTE_PATH[req.route]).href;
    const result = await callUpstream(url, originRequest(req, cc), cc.config.originTimeoutMs, FAILOVER_STATUSES);
    if (result.ok) {
      if (origin.breaker.onSuccess() === 'closed') {
        log('info', 'origin breaker closed', { request_id: cc.requestId, origin: origin.index });
        cc.exec.waitUntil(recordEvent(cc.env, { kind: 'breaker', origin: origin.index, open: false }));
      }
      return { result, failures, originIndex: origin.index, allOpen: false };
    }
    failures += 1;
    log('warn', 'origin attempt failed', { request_id: cc.requestId, origin: origin.index, kind: result.kind, status: result.status });
    if (origin.breaker.onFailure(Date.now()) === 'opened') {
      log('warn', 'origin breaker opened', { request_id: cc.requestId, origin: origin.index, open_seconds: cc.config.breakerOpenSeconds });
      cc.exec.waitUntil(recordEvent(cc.env, { kind: 'breaker', origin: origin.index, open: true }));
    }
  }
  return { failures, allOpen: attempted === 0 };
}

function responseHeaders(upstream: Response, servedBy: ServedBy, requestId: string): Headers {
  const headers = new Headers();
  headers.set('content-type', upstream.headers.get('content-type') ?? 'application/json');
  const retryAfter = upstream.headers.get('retry-after');
  if (retryAfter) headers.set('retry-after', retryAfter);
  headers.set('cache-control', 'no-store');
  headers.set('x-request-id', requestId);
  headers.set('x-served-by', servedBy);
  return headers;
}

function stream(result: Extract<UpstreamResult, { ok: true }>, req: ChatRequest, cc: ChatContext, servedBy: ServedBy, failures: number, originIndex?: number): Response {
  const sse = (result.response.headers.get('content-type') ?? '').includes('text/event-stream');
  const pass = passThrough(result, sse, estimatePromptTokens(req.body.messages));
  const status = result.response.status;
  cc.exec.waitUntil(recordEvent(cc.env, { kind: 'request', servedBy, status, originFailures: failures }));
  // Counting the tokens waits for the end of the stream; the response itself does not.
  cc.exec.waitUntil(
    pass.done.then(async ({ outcome, tokens }) => {
      log('info', 'chat finished', {
        request_id: cc.requestId,
        route: req.route,
        chat_type: req.chatType,
        client_id: cc.claims.clientId,
        served_by: servedBy,
        origin: originIndex,
        status,
        stream: req.stream,
        outcome,
        tokens,
        origin_failures: failures,
        duration_ms: Date.now() - cc.startedAt,
      });
      if (status < 400) {
        await Promise.all(cc.quotaKeys.map((key) => consumeTokens(cc.env, key, tokens, cc.config.tokensWindowSeconds)));
      }
    }),
  );
  return new Response(pass.body, { status, headers: responseHeaders(result.response, servedBy, cc.requestId) });
}

function unavailable(cc: ChatContext, req: ChatRequest, code: string, message: string, failures: number): Response {
  const retryAfter = String(Math.min(cc.config.breakerOpenSeconds, 30));
  cc.exec.waitUntil(recordEvent(cc.env, { kind: 'request', servedBy: 'none', status: 503, originFailures: failures }));
  log('warn', 'chat unavailable', { request_id: cc.requestId, route: req.route, code, origin_failures: failures, duration_ms: Date.now() - cc.startedAt });
  return errorResponse({ status: 503, message, type: 'service_unavailable', code, headers: { 'retry-after': retryAfter, 'x-request-id': cc.requestId } });
}

export async function proxyChat(req: ChatRequest, cc: ChatContext): Promise<Response> {
  const { result, failures, originIndex, allOpen } = await tryOrigins(req, cc);
  if (result) {
    if (ORIGIN_AUTH_STATUSES.has(result.response.status)) {
      result.abort.abort();
      await result.reader?.cancel().catch(() => undefined);
      log('error', 'origin rejected the edge service token (check ORIGIN_TOKEN against the API\'s API_TOKENS)', { request_id: cc.requestId, origin: originIndex, status: result.response.status });
      cc.exec.waitUntil(recordEvent(cc.env, { kind: 'request', servedBy: 'none', status: 502, originFailures: failures }));
      return errorResponse({ status: 502, message: 'The model server rejected the edge credentials', type: 'server_error', code: 'origin_auth_failed', headers: { 'x-request-id': cc.requestId } });
    }
    return stream(result, req, cc, 'origin', failures, originIndex);
  }
  if (allOpen) log('info', 'all origin breakers open', { request_id: cc.requestId, origins: originPool(cc.config).length });
  if (!cc.config.openaiApiKey) {
    return unavailable(cc, req, 'origin_unavailable', 'The model server is unreachable and no fallback is configured; try again shortly', failures);
  }
  const fallback = await callUpstream(
    fallbackUrl(cc.config),
    {
      method: 'POST',
      headers: {
        authorization: `Bearer ${cc.config.openaiApiKey}`,
        'content-type': 'application/json',
        accept: req.stream ? 'text/event-stream' : 'application/json',
        'x-request-id': cc.requestId,
      },
      body: JSON.stringify(fallbackBody(req, cc.config)),
    },
    // The last resort gets more patience than an origin attempt: there is nothing left to fail over to.
    Math.max(cc.config.originTimeoutMs, FALLBACK_MIN_TIMEOUT_MS),
    FAILOVER_STATUSES,
  );
  // Never pass a fallback error body on: OpenAI's messages can quote part of the API key.
  if (!fallback.ok || fallback.response.status >= 400) {
    if (fallback.ok) {
      fallback.abort.abort();
      await fallback.reader?.cancel().catch(() => undefined);
    }
    log('error', 'fallback failed', { request_id: cc.requestId, kind: fallback.ok ? 'status' : fallback.kind, status: fallback.ok ? fallback.response.status : fallback.status });
    return unavailable(cc, req, 'fallback_unavailable', 'The model server is unreachable and the fallback failed; try again shortly', failures);
  }
  return stream(fallback, req, cc, 'fallback', failures);
}
