// Abort propagation: when the client leaves, the API drops the upstream request at once so the GPU stops generating.
// The stub's own statistics show when its connection was closed.
import http from 'node:http';
import { describe, expect, it } from 'vitest';
import { stacksClosedAfterEach, TOKEN, userMsg, waitFor, type Stack } from './helpers.js';

const stack = stacksClosedAfterEach();

/** Starts a request with a raw socket so the test controls exactly when the client disappears. */
function rawRequest(s: Stack, body: unknown): { req: http.ClientRequest; firstBytes: Promise<string> } {
  const req = http.request(`${s.baseURL}/chat/completions`, {
    method: 'POST',
    headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
  });
  req.on('error', () => {});
  const firstBytes = new Promise<string>((resolve) => {
    req.on('response', (res) => {
      res.once('data', (d: Buffer) => resolve(d.toString()));
      res.on('error', () => {});
    });
  });
  req.end(JSON.stringify(body));
  return { req, firstBytes };
}

describe('abort propagation', () => {
  it('streaming: the stub sees its connection closed within a second of the client leaving', async () => {
    // 5 tokens/s × 50 tokens: the reply would take 10 s if nobody stopped it.
    const s = await stack({}, { tokensPerSec: 5, completionTokens: 50 });
    const { req, firstBytes } = rawRequest(s, { ...userMsg(), stream: true });
    expect(await firstBytes).toMatch(/^data: /);
    expect(s.stub.stats().active).toBe(1);
    const leftAt = Date.now();
    req.destroy();
    const aborted = await waitFor(() => s.stub.stats().clientAborts === 1, 1000, 10);
    expect(aborted, 'stub connection still open 1 s after the client left').toBe(true);
    expect(s.stub.stats().lastClientAbortAt! - leftAt).toBeLessThan(1000);
    expect(s.stub.stats().completed).toBe(0);
    // Metrics record the request as client-closed (499) and the in-flight slot is free again.
    const metrics = await waitFor(async () => {
      const t = await (await fetch(`${s.api.url}/metrics`, { headers: { authorization: `Bearer ${TOKEN}` } })).text();
      return /fudbuddy_api_requests_total\{route="\/v1\/chat\/completions",status="499",chat_type="home"\} 1/.test(t) && /fudbuddy_api_inflight_requests 0/.test(t) ? t : '';
    });
    expect(metrics).not.toBe('');
  });

  it('streaming via fetch AbortController (how browsers and SDKs cancel)', async () => {
    const s = await stack({}, { tokensPerSec: 5, completionTokens: 50 });
    const ac = new AbortController();
    const res = await fetch(`${s.baseURL}/chat/completions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${TOKEN}` },
      body: JSON.stringify({ ...userMsg(), stream: true }),
      signal: ac.signal,
    });
    const reader = res.body!.getReader();
    await reader.read();
    ac.abort();
    expect(await waitFor(() => s.stub.stats().clientAborts === 1, 1000, 10)).toBe(true);
  });

  it('non-streaming: leaving before the reply also closes the upstream request', async () => {
    const s = await stack({}, { mode: 'slow', slowMs: 5000 });
    const { req } = rawRequest(s, userMsg());
    expect(await waitFor(() => s.stub.stats().active === 1)).toBe(true);
    req.destroy();
    expect(await waitFor(() => s.stub.stats().clientAborts === 1, 1000, 10)).toBe(true);
  });

  it('leaving while queued for an in-flight slot never reaches the model', async () => {
    const s = await stack({ MAX_INFLIGHT: 1, MAX_QUEUE: 4, QUEUE_TIMEOUT_MS: 10_000 }, { mode: 'slow', slowMs: 600 });
    const first = s.post('/v1/chat/completions', userMsg());
    expect(await waitFor(() => s.stub.stats().active === 1)).toBe(true);
    const { req } = rawRequest(s, userMsg());
    const metrics = () => fetch(`${s.api.url}/metrics`, { headers: { authorization: `Bearer ${TOKEN}` } }).then((r) => r.text());
    expect(await waitFor(async () => /fudbuddy_api_queue_length 1/.test(await metrics()))).toBe(true);
    req.destroy();
    expect(await waitFor(async () => /fudbuddy_api_queue_length 0/.test(await metrics()))).toBe(true);
    expect((await first).status).toBe(200);
    expect(s.stub.stats().requests).toBe(1);
  });
});
