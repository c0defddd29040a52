// aiService against a real HTTP server on loopback that stands in for the edge Worker's contract: streaming,
// retries and stalls (cancellation and tokens: aiService.tokens.test.ts).
import { beforeEach, describe, expect, it, vi } from 'vitest';
import {
  BadRequestError,
  OfflineError,
  RateLimitedError,
  ServiceDownError,
  createAiService,
} from '../../services/web/src/aiService.js';
import { restartStandIn, retryProbe, service, standIn, useStandIn, UUID } from './support/aiServiceFixture.js';
import { sendError, sendSse, sseChunk, sseStream, type StandIn } from './support/workerStandIn.js';

useStandIn();
let w: StandIn;
beforeEach(() => {
  w = standIn();
});

describe('aiService streaming', () => {
  it('sends the FUD Buddy body with a minted request id and streams the answer', async () => {
    w.onChat = (req, res) => sendSse(res, req, sseStream(['Try ', 'the ', 'ramen.']), 'origin');
    const deltas: string[] = [];
    const reply = await service().sendMessage('whatToOrder', [{ role: 'assistant', content: 'Hi!' }], 'Dinner?', {
      onDelta: (d, soFar) => deltas.push(`${d}|${soFar}`),
      metadata: { model_hint: 'small' },
    });
    expect(reply.content).toBe('Try the ramen.');
    expect(reply.servedBy).toBe('origin');
    expect(deltas).toEqual(['Try |Try ', 'the |Try the ', 'ramen.|Try the ramen.']);
    const [chat] = w.chat;
    expect(JSON.parse(chat!.body)).toEqual({
      messages: [
        { role: 'assistant', content: 'Hi!' },
        { role: 'user', content: 'Dinner?' },
      ],
      chat_type: 'whatToOrder',
      stream: true,
      metadata: { model_hint: 'small' },
    });
    expect(chat!.headers['x-request-id']).toMatch(UUID);
    expect(reply.requestId).toBe(chat!.headers['x-request-id']);
    expect(chat!.headers.authorization).toMatch(/^Bearer tok-\d+$/);
    expect(JSON.parse(w.token[0]!.body)).toEqual({ client_id: 'fudbuddy-test' });
  });

  it('reassembles SSE split at awkward byte boundaries (inside UTF-8 characters, between \\r and \\n)', async () => {
    const text = 'Zürich 🍜 — 中文 ok';
    const pieces = ['Zürich ', '🍜 — ', '中文', ' ok'];
    const raw = Buffer.from(pieces.map((p) => sseChunk(p).replace(/\n/g, '\r\n')).join('') + 'data: [DONE]\r\n\r\n', 'utf8');
    // Every boundary kind: inside the 4-byte emoji, inside a 3-byte CJK char, between \r and \n, mid "data:".
    const emoji = raw.indexOf(Buffer.from('🍜'));
    const cjk = raw.indexOf(Buffer.from('中'));
    const cr = raw.indexOf('\r');
    const cuts = [3, emoji + 1, emoji + 3, cjk + 2, cr + 1, raw.indexOf('data:', cr) + 2].sort((a, b) => a - b);
    w.onChat = async (req, res) => {
      res.writeHead(200, { 'Content-Type': 'text/event-stream', 'X-Request-Id': String(req.headers['x-request-id']), 'X-Served-By': 'fallback' });
      let prev = 0;
      for (const c of [...cuts, raw.length]) {
        res.write(raw.subarray(prev, c));
        prev = c;
        await new Promise((r) => setTimeout(r, 15)); // pacing so each piece reaches the client as its own read
      }
      res.end();
    };
    const seen: string[] = [];
    const reply = await service().sendMessage('home', [], 'hi', { onDelta: (_d, soFar) => seen.push(soFar) });
    expect(reply.content).toBe(text);
    expect(reply.servedBy).toBe('fallback');
    expect(seen.at(-1)).toBe(text);
    expect(seen.every((s) => !s.includes('\uFFFD'))).toBe(true);
  });

  it('accepts a plain JSON answer from a server that does not stream', async () => {
    w.onChat = (req, res) => {
      res.writeHead(200, { 'Content-Type': 'application/json', 'X-Request-Id': 'srv-1' });
      res.end(JSON.stringify({ choices: [{ index: 0, message: { role: 'assistant', content: 'whole' }, finish_reason: 'stop' }] }));
    };
    const reply = await service().sendMessage('home', [], 'hi');
    expect(reply).toEqual({ content: 'whole', requestId: 'srv-1', servedBy: 'unknown' });
  });

  it('a stream cut after text was shown is a ServiceDownError with the partial text, not retried', async () => {
    w.onChat = (req, res) => sendSse(res, req, sseChunk('half an ans'));
    const err = await service().sendMessage('home', [], 'hi').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ServiceDownError);
    expect((err as ServiceDownError).partialContent).toBe('half an ans');
    expect((err as ServiceDownError).requestId).toBe(w.chat[0]!.headers['x-request-id']);
    expect(w.chat).toHaveLength(1);
  });

  it('an error event inside the stream surfaces its message', async () => {
    w.onChat = (req, res) => sendSse(res, req, sseChunk('a') + `data: ${JSON.stringify({ error: { message: 'upstream broke' } })}\n\n`);
    await expect(service().sendMessage('home', [], 'hi')).rejects.toThrow('upstream broke');
  });
});

describe('aiService retries', () => {
  it('backs off exponentially with full jitter on 5xx (fake timers), then succeeds, keeping one request id', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'Date'] });
    w.onChat = (req, res, n) => (n < 3 ? sendError(res, req, 503, 'down for a bit') : sendSse(res, req, sseStream(['ok'])));
    const probe = retryProbe();
    const randoms = [0.5, 0.25];
    const svc = service({ baseDelayMs: 1000, maxDelayMs: 60_000, random: () => randoms.shift() ?? 0, onRetry: probe.onRetry });
    const done = svc.sendMessage('home', [], 'hi');

    const first = await probe.nth(1);
    expect(first.delayMs).toBe(500); // 0.5 × 1000·2⁰
    expect(first.error).toBeInstanceOf(ServiceDownError);
    await vi.advanceTimersByTimeAsync(499);
    expect(w.chat).toHaveLength(1);
    await vi.advanceTimersByTimeAsync(1);
    await w.chatArrived(2);

    const second = await probe.nth(2);
    expect(second.delayMs).toBe(500); // 0.25 × 1000·2¹
    await vi.advanceTimersByTimeAsync(500);
    const reply = await done;
    expect(reply.content).toBe('ok');
    expect(w.chat.map((r) => r.at - w.chat[0]!.at)).toEqual([0, 500, 1000]);
    expect(new Set(w.chat.map((r) => r.headers['x-request-id'])).size).toBe(1);
  });

  it('the exponential cap doubles per failure and stops at maxDelayMs', async () => {
    const { backoffDelay } = await import('../../services/web/src/aiService.js');
    const p = { baseDelayMs: 250, maxDelayMs: 4000 };
    expect([1, 2, 3, 4, 5, 6, 7].map((n) => backoffDelay(n, p, () => 0.999999))).toEqual([249, 499, 999, 1999, 3999, 3999, 3999]);
    expect(backoffDelay(3, p, () => 0)).toBe(0);
  });

  it('honours Retry-After on 429 exactly (fake timers)', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'Date'] });
    w.onChat = (req, res, n) => (n === 1 ? sendError(res, req, 429, 'slow down', { 'Retry-After': '3' }) : sendSse(res, req, sseStream(['fine'])));
    const probe = retryProbe();
    const done = service({ onRetry: probe.onRetry }).sendMessage('home', [], 'hi');
    const info = await probe.nth(1);
    expect(info.delayMs).toBe(3000);
    expect(info.error).toBeInstanceOf(RateLimitedError);
    expect((info.error as RateLimitedError).retryAfterMs).toBe(3000);
    await vi.advanceTimersByTimeAsync(2999);
    expect(w.chat).toHaveLength(1);
    await vi.advanceTimersByTimeAsync(1);
    expect((await done).content).toBe('fine');
    expect(w.chat[1]!.at - w.chat[0]!.at).toBe(3000);
  });

  it('a Retry-After beyond what is worth waiting goes straight to the UI as RateLimitedError', async () => {
    w.onChat = (req, res) => sendError(res, req, 429, 'daily quota used', { 'Retry-After': '3600' });
    const err = await service().sendMessage('home', [], 'hi').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RateLimitedError);
    expect((err as RateLimitedError).retryAfterMs).toBe(3_600_000);
    expect((err as RateLimitedError).message).toBe('daily quota used');
    expect((err as RateLimitedError).requestId).toBe(w.chat[0]!.headers['x-request-id']);
    expect(w.chat).toHaveLength(1);
  });

  it('does not retry a 400 and reports it as BadRequestError with the server message and request id', async () => {
    w.onChat = (req, res) => sendError(res, req, 400, 'chat_type must be one of ...');
    const err = await service().sendMessage('home', [], 'hi').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(BadRequestError);
    expect((err as BadRequestError).status).toBe(400);
    expect((err as BadRequestError).message).toBe('chat_type must be one of ...');
    expect((err as BadRequestError).requestId).toBe(w.chat[0]!.headers['x-request-id']);
    expect(w.chat).toHaveLength(1);
  });

  it('gives up after maxAttempts on 5xx with ServiceDownError', async () => {
    w.onChat = (req, res) => sendError(res, req, 502, 'bad gateway');
    const err = await service({ maxAttempts: 3 }).sendMessage('home', [], 'hi').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ServiceDownError);
    expect((err as ServiceDownError).status).toBe(502);
    expect(w.chat).toHaveLength(3);
  });

  it('retries dropped connections and reports OfflineError when the network stays gone', async () => {
    w.onChat = (_req, res) => {
      res.socket?.destroy();
    };
    const probe = retryProbe();
    const err = await service({ maxAttempts: 3, onRetry: probe.onRetry }).sendMessage('home', [], 'hi').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OfflineError);
    expect((err as OfflineError).requestId).toMatch(UUID);
    expect(w.chat).toHaveLength(3);
    expect(probe.seen.map((s) => s.error.kind)).toEqual(['offline', 'offline']);
  });

  it('a closed port is OfflineError too', async () => {
    const url = w.url;
    await w.close();
    const err = await createAiService({ baseUrl: url, clientId: 'x', maxAttempts: 2, baseDelayMs: 1 })
      .sendMessage('home', [], 'hi')
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OfflineError);
    w = await restartStandIn(); // closed after the test
  });
});

describe('aiService stalls', () => {
  it('a server that never answers is given up on and retried', async () => {
    w.onChat = (req, res, n) => {
      if (n === 2) sendSse(res, req, sseStream(['late but fine']));
      // n === 1: say nothing at all
    };
    const probe = retryProbe();
    const reply = await service({ stallTimeoutMs: 300, onRetry: probe.onRetry }).sendMessage('home', [], 'hi');
    expect(reply.content).toBe('late but fine');
    expect(probe.seen[0]?.error).toBeInstanceOf(ServiceDownError);
    await w.chat[0]!.closedEarly; // the hung request was closed, not left open
  });

  it('a stream that stalls after text was shown ends with the partial text and no retry', async () => {
    w.onChat = (req, res) => {
      res.writeHead(200, { 'Content-Type': 'text/event-stream', 'X-Request-Id': String(req.headers['x-request-id']) });
      res.write(sseChunk('so far'));
    };
    const err = await service({ stallTimeoutMs: 300 }).sendMessage('home', [], 'hi').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ServiceDownError);
    expect((err as ServiceDownError).message).toBe('The assistant stopped responding.');
    expect((err as ServiceDownError).partialContent).toBe('so far');
    expect(w.chat).toHaveLength(1);
  });
});
