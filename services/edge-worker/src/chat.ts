import type { ChatRequest } from './body.js';
import { Charge, rateLimited, type BudgetKey } from './budget.js';
import type { Config } from './config.js';
import { PROGRESS_STEP_TOKENS } from './defaults.js';
import type { Env } from './env.js';
import { errorResponse } from './errors.js';
import { fallbackBody, fallbackUrl } from './fallback.js';
import { log } from './log.js';
import { TokenMeter, estimatePromptTokens } from './meter.js';
import { attemptOrder, originEndpoint, originPool } from './origins.js';
import { SYSTEM_PROMPTS } from './prompts.js';
import { recordEvent, type ServedBy } from './stats.js';
import type { TokenClaims } from './tokens.js';
import { callUpstream, passThrough, type UpstreamResult } from './upstream.js';

export interface ChatContext {
  env: Env;
  config: Config;
  exec: ExecutionContext;
  requestId: string;
  claims: TokenClaims;
  /** "ip:<addr>" or "ip:<prefix>::/64" (ip.ts). */
  ipKey: string;
  startedAt: number;
}

type Answer = Extract<UpstreamResult, { ok: true }>;

const FALLBACK_MIN_TIMEOUT_MS = 30_000;
const ROUTE_PATH = { chat: '/v1/chat', completions: '/v1/chat/completions' } as const;
// Origin answers that would confuse the browser if passed on: they are about the edge's credentials.
const ORIGIN_AUTH_STATUSES = new Set([401, 403]);

/** The budgets every chat counts against; the client-id key is the whole app's daily cap. */
function chatBudgets(cc: ChatContext): BudgetKey[] {
  const n = cc.config.n;
  return [
    { key: `session:${cc.claims.sessionId}`, scope: 'session', requests: n.RATE_LIMIT_RPM, tokens: n.TOKENS_PER_DAY },
    { key: cc.ipKey, scope: 'address', requests: n.IP_RATE_LIMIT_RPM, tokens: n.IP_TOKENS_PER_DAY },
    { key: `client:${cc.claims.clientId}`, scope: 'client', requests: 0, tokens: n.CLIENT_TOKENS_PER_DAY },
  ];
}

/** The OpenAI fallback's own spend caps (tokens only). */
function fallbackBudgets(cc: ChatContext): BudgetKey[] {
  const n = cc.config.n;
  return [
    { key: `fallback:session:${cc.claims.sessionId}`, scope: 'session', requests: 0, tokens: n.FALLBACK_SESSION_TOKENS_PER_DAY },
    { key: `fallback:${cc.ipKey}`, scope: 'address', requests: 0, tokens: n.FALLBACK_IP_TOKENS_PER_DAY },
    { key: 'fallback:global', scope: 'service', requests: 0, tokens: n.FALLBACK_TOKENS_PER_DAY },
  ];
}

function originRequest(req: ChatRequest, cc: ChatContext): RequestInit {
  // The Worker always asks for the usage chunk, so a stream is charged what it used; the client sees the chunk
  // only if it asked for it (TokenMeter strips it otherwise).
  const body = req.stream ? { ...req.body, stream_options: { include_usage: true } } : req.body;
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
    body: JSON.stringify(body),
  };
}

/** Streams wait for the first byte; a non-streamed answer sends nothing until it is whole. */
const originTimeout = (req: ChatRequest, config: Config): number => (req.stream ? config.n.ORIGIN_TIMEOUT_MS : config.n.ORIGIN_RESPONSE_TIMEOUT_MS);

interface OriginsOutcome {
  answer?: Answer;
  busy?: Extract<UpstreamResult, { kind: 'busy' }>;
  failures: number;
  originIndex?: number;
  allOpen: boolean;
}

/**
 * Tries the healthy origins in turn; a failed attempt moves on to the next origin, never after data flowed. A busy
 * origin (the API shedding load) is alive: it is not a breaker failure, and if every origin is busy the busy answer
 * is what the client gets, not the fallback.
 */
async function tryOrigins(req: ChatRequest, cc: ChatContext): Promise<OriginsOutcome> {
  let failures = 0;
  let attempted = 0;
  let busy: OriginsOutcome['busy'];
  for (const origin of attemptOrder(cc.config)) {
    if (!origin.breaker.tryAcquire(Date.now())) continue;
    attempted += 1;
    const url = originEndpoint(origin.url, ROUTE_PATH[req.route]).href;
    const result = await callUpstream(url, originRequest(req, cc), { timeoutMs: originTimeout(req, cc.config), recognizeBusy: true });
    if (result.ok || result.kind === 'busy') {
      // It answered: alive, whether it served or shed the request.
      if (origin.breaker.onSuccess() === 'closed') {
        log('info', 'origin breaker closed', { request_id: cc.requestId, origin: origin.index });
        cc.exec.waitUntil(recordEvent(cc.env, { kind: 'breaker', origin: origin.index, open: false }));
      }
    }
    if (result.ok) return { answer: result, failures, originIndex: origin.index, allOpen: false };
    if (result.kind === 'busy') {
      busy = result;
      log('info', 'origin busy', { request_id: cc.requestId, origin: origin.index });
      continue;
    }
    failures += 1;
    log('warn', 'origin attempt failed', { request_id: cc.requestId, origin: origin.index, kind: result.kind, status: result.status });
    if (origin.breaker.onFailure(Date.now()) === 'opened') {
      log('warn', 'origin breaker opened', { request_id: cc.requestId, origin: origin.index, open_seconds: cc.config.n.BREAKER_OPEN_SECONDS });
      cc.exec.waitUntil(recordEvent(cc.env, { kind: 'breaker', origin: origin.index, open: true }));
    }
  }
  return { failures, busy, allOpen: attempted === 0 };
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

interface Relay {
  req: ChatRequest;
  cc: ChatContext;
  servedBy: ServedBy;
  failures: number;
  charges: Charge[];
  promptEstimate: number;
  reserve: number;
  originIndex?: number;
}

/** Passes the answer on, metered as it flows, and settles every charge when it ends, however it ends. */
function relay(answer: Answer, r: Relay): Response {
  const { req, cc } = r;
  const sse = (answer.response.headers.get('content-type') ?? '').includes('text/event-stream');
  const status = answer.response.status;
  const meter = new TokenMeter({ sse, promptEstimate: r.promptEstimate, stripUsage: !req.clientWantsUsage });
  cc.exec.waitUntil(recordEvent(cc.env, { kind: 'request', servedBy: r.servedBy, status, originFailures: r.failures }));
  const body = passThrough(answer, sse, {
    meter,
    onProgress: (tokens) => {
      for (const c of r.charges) c.progress(tokens);
    },
    onEnd: (outcome) => {
      // An error answer generated nothing; a whole JSON answer without usage is charged its reservation.
      const tokens = status >= 400 ? 0 : meter.exact() || sse ? meter.total() : r.reserve;
      for (const c of r.charges) void c.settle(tokens);
      log('info', 'chat finished', {
        request_id: cc.requestId,
        route: req.route,
        chat_type: req.chatType,
        client_id: cc.claims.clientId,
        served_by: r.servedBy,
        origin: r.originIndex,
        status,
        stream: req.stream,
        outcome,
        tokens,
        reserved: r.reserve,
        exact_usage: meter.exact(),
        origin_failures: r.failures,
        duration_ms: Date.now() - cc.startedAt,
      });
    },
  });
  return new Response(body, { status, headers: responseHeaders(answer.response, r.servedBy, cc.requestId) });
}

function unavailable(cc: ChatContext, req: ChatRequest, code: string, message: string, failures: number, retryAfter?: number): Response {
  const retry = String(retryAfter ?? Math.min(cc.config.n.BREAKER_OPEN_SECONDS, 30));
  cc.exec.waitUntil(recordEvent(cc.env, { kind: 'request', servedBy: 'none', status: 503, originFailures: failures }));
  log('warn', 'chat unavailable', { request_id: cc.requestId, route: req.route, code, origin_failures: failures, duration_ms: Date.now() - cc.startedAt });
  return errorResponse({ status: 503, message, type: 'service_unavailable', code, headers: { 'retry-after': retry, 'x-request-id': cc.requestId } });
}

async function discard(answer: Answer): Promise<void> {
  answer.abort.abort();
  await answer.reader?.cancel().catch(() => undefined);
}

export async function proxyChat(req: ChatRequest, cc: ChatContext): Promise<Response> {
  const promptEstimate = estimatePromptTokens(SYSTEM_PROMPTS[req.chatType], req.body.messages);
  const reserve = promptEstimate + req.maxTokens;
  // A stream reports progress as it flows; a non-streamed answer cannot, so losing it costs the whole reservation.
  const amounts = { id: crypto.randomUUID(), reserve, ifAbandoned: req.stream ? promptEstimate + PROGRESS_STEP_TOKENS : reserve };
  const admitted = await Charge.open(cc.env, cc.exec, cc.config, chatBudgets(cc), amounts);
  if (!admitted.ok) throw rateLimited(admitted.refusal);
  const main = admitted.charge;
  const base = { req, cc, promptEstimate, reserve };

  const { answer, busy, failures, originIndex, allOpen } = await tryOrigins(req, cc);
  if (answer) {
    if (ORIGIN_AUTH_STATUSES.has(answer.response.status)) {
      await discard(answer);
      void main.settle(0);
      log('error', 'origin rejected the edge service token (check ORIGIN_TOKEN against the API\'s API_TOKENS)', { request_id: cc.requestId, origin: originIndex, status: answer.response.status });
      cc.exec.waitUntil(recordEvent(cc.env, { kind: 'request', servedBy: 'none', status: 502, originFailures: failures }));
      return errorResponse({ status: 502, message: 'The model server rejected the edge credentials', type: 'server_error', code: 'origin_auth_failed', headers: { 'x-request-id': cc.requestId } });
    }
    return relay(answer, { ...base, servedBy: 'origin', failures, charges: [main], originIndex });
  }
  if (busy) {
    void main.settle(0);
    cc.exec.waitUntil(recordEvent(cc.env, { kind: 'request', servedBy: 'origin', status: busy.status, originFailures: failures }));
    const headers: Record<string, string> = { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store', 'x-request-id': cc.requestId, 'x-served-by': 'origin' };
    if (busy.retryAfter) headers['retry-after'] = busy.retryAfter;
    return new Response(busy.body, { status: busy.status, headers });
  }
  if (allOpen) log('info', 'all origin breakers open', { request_id: cc.requestId, origins: originPool(cc.config).length });
  if (!cc.config.openaiApiKey) {
    void main.settle(0);
    return unavailable(cc, req, 'origin_unavailable', 'The model server is unreachable and no fallback is configured; try again shortly', failures);
  }
  const fb = await Charge.open(cc.env, cc.exec, cc.config, fallbackBudgets(cc), { ...amounts, id: `${amounts.id}:fallback` });
  if (!fb.ok) {
    void main.settle(0);
    log('warn', 'fallback budget exhausted', { request_id: cc.requestId, scope: fb.refusal.scope });
    return unavailable(cc, req, 'fallback_budget_exhausted', 'The model server is unreachable and the fallback budget is used up; try again later', failures, fb.refusal.decision.retryAfterSeconds);
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
    { timeoutMs: Math.max(originTimeout(req, cc.config), FALLBACK_MIN_TIMEOUT_MS), recognizeBusy: false },
  );
  // Never pass a fallback error body on: OpenAI's messages can quote part of the API key.
  if (!fallback.ok || fallback.response.status >= 400) {
    if (fallback.ok) await discard(fallback);
    void main.settle(0);
    void fb.charge.settle(0);
    log('error', 'fallback failed', { request_id: cc.requestId, kind: fallback.ok ? 'status' : fallback.kind, status: fallback.ok ? fallback.response.status : fallback.status });
    return unavailable(cc, req, 'fallback_unavailable', 'The model server is unreachable and the fallback failed; try again shortly', failures);
  }
  return relay(fallback, { ...base, servedBy: 'fallback', failures, charges: [main, fb.charge] });
}
