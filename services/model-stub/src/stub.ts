// OpenAI-compatible stand-in for vLLM: deterministic tokens at a configurable rate, fault switches, vLLM-named
// metrics and request statistics that tests use to see what the API sent and when it hung up.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { createStubMetrics } from './metrics.js';
import { createPrefixCacheSim, renderConversation } from './prefixCacheSim.js';
import { estimateTokens, tokens } from './tokens.js';
import { errorBody, readBody, sendJson, sleep, textOf } from './wire.js';

export const STUB_MODES = ['ok', 'down', 'slow', 'error500', 'cut'] as const;
export type StubMode = (typeof STUB_MODES)[number];
export const isStubMode = (v: unknown): v is StubMode => typeof v === 'string' && (STUB_MODES as readonly string[]).includes(v);

export type { StubHandle, StubOptions, StubStats } from './stub-types.js';
import type { StubHandle, StubOptions, StubStats } from './stub-types.js';

type Json = Record<string, unknown>;

const freshStats = (): StubStats => ({
  requests: 0,
  active: 0,
  completed: 0,
  clientAborts: 0,
  lastClientAbortAt: null,
  bodies: [],
  lastAuthorization: '',
});

export async function startStub(opts: StubOptions = {}): Promise<StubHandle> {
  const model = opts.model ?? 'fudbuddy';
  const tokensPerSec = opts.tokensPerSec ?? 50;
  const completionTokens = opts.completionTokens ?? 16;
  const slowMs = opts.slowMs ?? 3000;
  const cutAfter = opts.cutAfterTokens ?? 3;
  let mode: StubMode = opts.mode ?? 'ok';
  let stats = freshStats();
  const metrics = createStubMetrics(model);
  const sim = opts.prefixCacheSim ? createPrefixCacheSim(opts.prefixCacheSim) : undefined;
  const created = Math.floor(Date.now() / 1000);
  let seq = 0;

  const tokenGap = tokensPerSec > 0 ? 1000 / tokensPerSec : 0;

  async function chat(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    let body: Json;
    try {
      const parsed: unknown = JSON.parse(await readBody(req));
      if (!parsed || typeof parsed !== 'object' || Array.isArray(parsed)) throw new Error('not an object');
      body = parsed as Json;
    } catch {
      sendJson(res, 400, errorBody('Invalid JSON body', 'BadRequestError'));
      return;
    }
    stats.requests++;
    stats.bodies.push(body);
    if (stats.bodies.length > 50) stats.bodies.shift();
    stats.lastAuthorization = req.headers.authorization ?? '';
    if (mode === 'error500') {
      sendJson(res, 500, errorBody('stub: internal error (error500 mode)', 'InternalServerError'));
      return;
    }
    const messages = Array.isArray(body.messages) ? (body.messages as Json[]) : [];
    if (messages.length === 0) {
      sendJson(res, 400, errorBody('messages must be a non-empty array', 'BadRequestError'));
      return;
    }
    const promptText = messages.map((m) => textOf(m?.content)).join('\n');
    const lastUser = textOf([...messages].reverse().find((m) => m?.role === 'user')?.content);
    const requestedMax = Number(body.max_completion_tokens ?? body.max_tokens ?? Infinity);
    const count = Math.max(0, Math.min(completionTokens, Number.isFinite(requestedMax) ? requestedMax : completionTokens));
    const finishReason = count < completionTokens ? 'length' : 'stop';
    const out = tokens(lastUser, count);
    const pre = sim?.prefill(renderConversation(messages, textOf));
    const promptTokens = pre?.promptTokens ?? estimateTokens(promptText);
    // vLLM's field for it (with --enable-prompt-tokens-details); present only while simulating.
    const usageOf = (n: number) => ({ prompt_tokens: promptTokens, completion_tokens: n, total_tokens: promptTokens + n, ...(pre ? { prompt_tokens_details: { cached_tokens: pre.cachedTokens } } : {}) });
    const simHeaders: Record<string, string> = pre ? { 'x-stub-sim-cached-tokens': String(pre.cachedTokens), 'x-stub-sim-prefill-ms': pre.prefillMs.toFixed(2) } : {};
    const rememberTurn = () => sim?.remember(renderConversation([...messages, { role: 'assistant', content: out.join('') }], textOf));
    const id = `chatcmpl-stub-${++seq}`;
    const t0 = performance.now();
    const stream = body.stream === true;
    const includeUsage = stream && (body.stream_options as Json | undefined)?.include_usage === true;

    let finished = false;
    let cutting = false;
    stats.active++;
    metrics.setRunning(stats.active);
    res.on('close', () => {
      stats.active--;
      metrics.setRunning(stats.active);
      if (!finished && !cutting) {
        stats.clientAborts++;
        stats.lastClientAbortAt = Date.now();
      }
    });
    const gone = () => res.destroyed || res.writableEnded;

    if (!stream) {
      if (mode === 'slow') await sleep(slowMs);
      if (pre) await pre.done;
      if (tokenGap > 0) await sleep(tokenGap * count);
      if (gone()) return;
      metrics.observeTtft((performance.now() - t0) / 1000);
      metrics.countTokens(promptTokens, count);
      const reply = {
        id,
        object: 'chat.completion',
        created: Math.floor(Date.now() / 1000),
        model,
        choices: [{ index: 0, message: { role: 'assistant', content: out.join(''), refusal: null }, logprobs: null, finish_reason: finishReason }],
        usage: usageOf(count),
      };
      const text = JSON.stringify(reply);
      if (mode === 'cut') {
        cutting = true;
        res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
        res.write(text.slice(0, Math.floor(text.length / 2)));
        setTimeout(() => res.socket?.destroy(), 5);
        return;
      }
      finished = true;
      stats.completed++;
      rememberTurn();
      sendJson(res, 200, reply, simHeaders);
      return;
    }

    res.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache', connection: 'keep-alive', ...simHeaders });
    res.flushHeaders();
    const createdS = Math.floor(Date.now() / 1000);
    const chunk = (delta: Json, finish: string | null) =>
      `data: ${JSON.stringify({ id, object: 'chat.completion.chunk', created: createdS, model, choices: [{ index: 0, delta, logprobs: null, finish_reason: finish }] })}\n\n`;
    if (mode === 'slow') await sleep(slowMs);
    if (pre) await pre.done;
    if (gone()) return;
    res.write(chunk({ role: 'assistant', content: '' }, null));
    for (let i = 0; i < out.length; i++) {
      if (tokenGap > 0) await sleep(tokenGap);
      if (gone()) return;
      if (mode === 'cut' && i >= cutAfter) {
        cutting = true;
        // Let what was written reach the client first: a cut mid-stream, not a reply that never started.
        setTimeout(() => res.socket?.destroy(), 20);
        return;
      }
      if (i === 0) metrics.observeTtft((performance.now() - t0) / 1000);
      res.write(chunk({ content: out[i] }, null));
      metrics.countTokens(0, 1);
    }
    if (gone()) return;
    metrics.countTokens(promptTokens, 0);
    res.write(chunk({}, finishReason));
    if (includeUsage) {
      const usage = usageOf(count);
      res.write(`data: ${JSON.stringify({ id, object: 'chat.completion.chunk', created: createdS, model, choices: [], usage })}\n\n`);
    }
    finished = true;
    stats.completed++;
    rememberTurn();
    res.end('data: [DONE]\n\n');
  }

  async function control(req: http.IncomingMessage, res: http.ServerResponse, path: string): Promise<void> {
    if (path === '/__stub/mode' && req.method === 'POST') {
      let next: unknown;
      try {
        next = (JSON.parse(await readBody(req, 4096)) as Json).mode;
      } catch {
        next = undefined;
      }
      if (!isStubMode(next)) {
        sendJson(res, 400, errorBody(`mode must be one of ${STUB_MODES.join('|')}`, 'BadRequestError'));
        return;
      }
      mode = next;
      sendJson(res, 200, { mode });
      return;
    }
    if (path === '/__stub/stats' && req.method === 'GET') {
      // Over HTTP (unauthenticated) never the credential itself: only tests holding the handle see it.
      const { lastAuthorization, ...rest } = stats;
      sendJson(res, 200, { mode, ...rest, lastAuthorizationPresent: lastAuthorization !== '' });
      return;
    }
    if (path === '/__stub/prefix-cache' && req.method === 'GET') {
      if (sim) sendJson(res, 200, { simulation: true, ...sim.stats() });
      else sendJson(res, 404, errorBody('prefix cache simulation is off (STUB_PREFIX_SIM_MS_PER_TOKEN)', 'NotFoundError'));
      return;
    }
    if (path === '/__stub/reset' && req.method === 'POST') {
      stats = freshStats();
      sendJson(res, 200, { ok: true });
      return;
    }
    sendJson(res, 404, errorBody('not found', 'NotFoundError'));
  }

  async function handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const path = (req.url ?? '/').split('?')[0] ?? '/';
    if (path.startsWith('/__stub/')) return control(req, res, path);
    if (mode === 'down') {
      req.resume();
      sendJson(res, 503, errorBody('stub: down (down mode)', 'ServiceUnavailableError'), { 'retry-after': '1' });
      return;
    }
    if (path === '/health' && req.method === 'GET') {
      res.writeHead(200).end();
      return;
    }
    if (path === '/metrics' && req.method === 'GET') {
      const text = await metrics.registry.metrics();
      res.writeHead(200, { 'content-type': metrics.registry.contentType }).end(text);
      return;
    }
    if (path.startsWith('/v1/') && opts.apiKey && req.headers.authorization !== `Bearer ${opts.apiKey}`) {
      req.resume();
      sendJson(res, 401, errorBody('stub: invalid API key', 'AuthenticationError'));
      return;
    }
    if (path === '/v1/models' && req.method === 'GET') {
      sendJson(res, 200, { object: 'list', data: [{ id: model, object: 'model', created, owned_by: 'fudbuddy-stub' }] });
      return;
    }
    if (path === '/v1/chat/completions' && req.method === 'POST') return chat(req, res);
    req.resume();
    sendJson(res, 404, errorBody(`stub: no route ${req.method} ${path}`, 'NotFoundError'));
  }

  const server = http.createServer((req, res) => {
    handle(req, res).catch((err: unknown) => {
      if (!res.headersSent) sendJson(res, 500, errorBody(`stub: ${(err as Error).message}`, 'InternalServerError'));
      else res.destroy();
    });
  });
  server.keepAliveTimeout = 65_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 0, opts.host ?? '127.0.0.1', () => resolve());
  });
  const addr = server.address() as AddressInfo;
  const hostForUrl = addr.family === 'IPv6' ? `[${addr.address}]` : addr.address;
  const url = `http://${hostForUrl}:${addr.port}`;
  return {
    url,
    baseURL: `${url}/v1`,
    port: addr.port,
    setMode(next) {
      mode = next;
    },
    stats: () => ({ ...stats, bodies: [...stats.bodies] }),
    resetStats() {
      stats = freshStats();
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
