// aiService cancellation and its token cache, against the loopback stand-in of the edge Worker.
import { beforeEach, describe, expect, it } from 'vitest';
import { UnauthorizedError } from '../../services/web/src/aiService.js';
import { retryProbe, service, standIn, useStandIn } from './support/aiServiceFixture.js';
import { issueToken, sendError, sendSse, sseChunk, sseStream, type StandIn } from './support/workerStandIn.js';

useStandIn();
let w: StandIn;
beforeEach(() => {
  w = standIn();
});

describe('aiService cancellation', () => {
  it('AbortSignal stops a running stream and closes the connection', async () => {
    w.onChat = (req, res) => {
      res.writeHead(200, { 'Content-Type': 'text/event-stream', 'X-Request-Id': String(req.headers['x-request-id']) });
      res.write(sseChunk('first'));
      // then nothing: the model is "still thinking"
    };
    const ctl = new AbortController();
    const done = service().sendMessage('home', [], 'hi', { signal: ctl.signal, onDelta: () => ctl.abort() });
    await expect(done).rejects.toMatchObject({ name: 'AbortError' });
    await w.chat[0]!.closedEarly; // the server saw the client go away
  });

  it('AbortSignal cuts a backoff wait short and no further request is made', async () => {
    w.onChat = (req, res) => sendError(res, req, 503, 'down');
    const ctl = new AbortController();
    const probe = retryProbe();
    const done = service({ baseDelayMs: 60_000, maxDelayMs: 60_000, onRetry: probe.onRetry }).sendMessage('home', [], 'hi', { signal: ctl.signal });
    await probe.nth(1);
    ctl.abort();
    await expect(done).rejects.toMatchObject({ name: 'AbortError' });
    expect(w.chat).toHaveLength(1);
  });

  it('an already aborted signal sends nothing', async () => {
    const ctl = new AbortController();
    ctl.abort();
    await expect(service().sendMessage('home', [], 'hi', { signal: ctl.signal })).rejects.toMatchObject({ name: 'AbortError' });
    expect(w.requests).toHaveLength(0);
  });
});

describe('aiService tokens', () => {
  it('caches the token and fetches it once for concurrent messages (single flight)', async () => {
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    w.onToken = async (_req, res) => {
      await gate;
      issueToken(res);
    };
    const svc = service();
    const all = Promise.all([svc.sendMessage('home', [], 'a'), svc.sendMessage('whereToGo', [], 'b'), svc.getToken()]);
    await new Promise((r) => setTimeout(r, 50));
    release();
    await all;
    await svc.sendMessage('home', [], 'c');
    expect(w.token).toHaveLength(1);
    expect(new Set(w.chat.map((r) => r.headers.authorization)).size).toBe(1);
  });

  it('refreshes the token before it expires', async () => {
    let clock = Date.parse('2026-11-27T12:00:00Z');
    w.onToken = (_req, res) => {
      res.writeHead(200, { 'Content-Type': 'application/json' });
      res.end(JSON.stringify({ token: `t${w.token.length}`, expires_at: Math.floor(clock / 1000) + 600 }));
    };
    const svc = service({ now: () => clock, tokenRefreshMarginMs: 60_000 });
    expect(await svc.getToken()).toBe('t1');
    clock += 539_000; // 61 s before expiry: still good
    expect(await svc.getToken()).toBe('t1');
    clock += 2_000; // 59 s before expiry: inside the margin, refreshed although still valid
    expect(await svc.getToken()).toBe('t2');
    expect(w.token).toHaveLength(2);
    expect(w.token[0]!.headers.authorization).toBeUndefined();
    expect(w.token[1]!.headers.authorization).toBe('Bearer t1'); // renewal keeps the Worker session
  });

  it('a 401 on chat fetches a new token once and retries with it', async () => {
    w.onChat = (req, res, n) => (n === 1 ? sendError(res, req, 401, 'token expired') : sendSse(res, req, sseStream(['again'])));
    const reply = await service({ maxAttempts: 1 }).sendMessage('home', [], 'hi');
    expect(reply.content).toBe('again');
    expect(w.token).toHaveLength(2);
    expect(w.chat[0]!.headers.authorization).not.toBe(w.chat[1]!.headers.authorization);
    expect(w.token[1]!.headers.authorization).toBeUndefined(); // the rejected token is not presented again
  });

  it('a second 401 is an UnauthorizedError (no loop)', async () => {
    w.onChat = (req, res) => sendError(res, req, 401, 'bad token');
    const err = await service().sendMessage('home', [], 'hi').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UnauthorizedError);
    expect(w.chat).toHaveLength(2);
    expect(w.token).toHaveLength(2);
  });

  it('a refused token request (unknown client) is not retried', async () => {
    w.onToken = (req, res) => sendError(res, req, 403, 'unknown client id');
    const err = await service().sendMessage('home', [], 'hi').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UnauthorizedError);
    expect((err as UnauthorizedError).message).toBe('unknown client id');
    expect(w.token).toHaveLength(1);
    expect(w.chat).toHaveLength(0);
  });

  it('sends the invite code when the app has one', async () => {
    await service({ inviteCode: () => 'BETA-1' }).getToken();
    expect(JSON.parse(w.token[0]!.body)).toEqual({ client_id: 'fudbuddy-test', invite_code: 'BETA-1' });
  });
});
