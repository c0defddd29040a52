// Per-client and per-IP rate limits (429 + Retry-After) and the in-flight cap with its short queue (503 + Retry-After).
import { describe, expect, it } from 'vitest';
import { InflightGate, QueueFullError, QueueTimeoutError, RateLimiter, takeRequest } from '../../services/inference-api/src/limits.js';
import { stacksClosedAfterEach, userMsg, waitFor, type Stack } from './helpers.js';
import { assertSchema } from './schema.js';

const stack = stacksClosedAfterEach();
const metricsText = async (s: Stack) => (await fetch(`${s.api.url}/metrics`, { headers: { authorization: 'Bearer test-token-aaaaaaaaaaaaaaaa' } })).text();

describe('rate limits', () => {
  it('per client (X-Client-Id): the third request in a minute gets 429 + Retry-After; other clients are unaffected', async () => {
    const s = await stack({ RATE_LIMIT_RPM: 2, IP_RATE_LIMIT_RPM: 0 });
    const as = (id: string) => s.post('/v1/chat/completions', userMsg(), { 'x-client-id': id });
    expect((await as('alice')).status).toBe(200);
    expect((await as('alice')).status).toBe(200);
    const limited = await as('alice');
    expect(limited.status).toBe(429);
    const retry = Number(limited.headers.get('retry-after'));
    expect(retry).toBeGreaterThanOrEqual(1);
    expect(retry).toBeLessThanOrEqual(30);
    const body = (await limited.json()) as { error: { type: string; code: string } };
    assertSchema('ErrorResponse', body);
    expect(body.error).toMatchObject({ type: 'rate_limit_error', code: 'rate_limit_exceeded' });
    expect((await as('bob')).status).toBe(200);
    expect(await metricsText(s)).toMatch(/fudbuddy_api_rate_limited_total\{scope="client"\} 1/);
    expect(s.stub.stats().requests).toBe(3);
  });

  it('without X-Client-Id the client is the IP', async () => {
    const s = await stack({ RATE_LIMIT_RPM: 1, IP_RATE_LIMIT_RPM: 0 });
    expect((await s.post('/v1/chat/completions', userMsg())).status).toBe(200);
    expect((await s.post('/v1/chat/completions', userMsg())).status).toBe(429);
  });

  it('edge traffic (X-Client-Id) is limited per client, not per address: busy clients on the edge address cannot starve a new one', async () => {
    // Every public user reaches the API from the edge's address. Before issue 14 the per-IP bucket was shared by all
    // of them: 13 clients within their own limits used it up and a 14th client's first chat got 429.
    const s = await stack({ RATE_LIMIT_RPM: 3, IP_RATE_LIMIT_RPM: 20 });
    const statuses: number[] = [];
    for (let c = 0; c < 13; c++) for (let i = 0; i < 3; i++) statuses.push((await s.post('/v1/chat/completions', userMsg(), { 'x-client-id': `client-${c}:s` })).status);
    expect(statuses.every((st) => st === 200)).toBe(true);
    expect((await s.post('/v1/chat/completions', userMsg(), { 'x-client-id': 'client-14:s' })).status).toBe(200);
    // Each client is still bound by its own limit.
    expect((await s.post('/v1/chat/completions', userMsg(), { 'x-client-id': 'client-0:s' })).status).toBe(429);
  });

  it('per IP: a direct caller without X-Client-Id keeps the per-address limit', async () => {
    const s = await stack({ RATE_LIMIT_RPM: 100, IP_RATE_LIMIT_RPM: 3 });
    const statuses = [];
    for (let i = 0; i < 5; i++) statuses.push((await s.post('/v1/chat/completions', userMsg())).status);
    expect(statuses).toEqual([200, 200, 200, 429, 429]);
    expect(await metricsText(s)).toMatch(/fudbuddy_api_rate_limited_total\{scope="ip"\} 2/);
  });

  it('takeRequest (pure, fake clock): client-keyed with an id, IP then IP-as-client without one', () => {
    const t = 0;
    const limiters = { client: new RateLimiter(2, () => t), ip: new RateLimiter(3, () => t) };
    expect(takeRequest(limiters, '10.0.0.1', 'a:1')).toBeUndefined();
    expect(takeRequest(limiters, '10.0.0.1', 'a:1')).toBeUndefined();
    expect(takeRequest(limiters, '10.0.0.1', 'a:1')).toMatchObject({ scope: 'client' });
    // The edge-keyed requests drew nothing from the address's bucket.
    expect(takeRequest(limiters, '10.0.0.1', undefined)).toBeUndefined();
    expect(takeRequest(limiters, '10.0.0.1', undefined)).toBeUndefined();
    expect(takeRequest(limiters, '10.0.0.1', undefined)).toMatchObject({ scope: 'client', retryAfterSeconds: expect.any(Number) });
  });

  it('token bucket refills over time and reports the wait (fake clock)', () => {
    let now = 0;
    const rl = new RateLimiter(60, () => now);
    for (let i = 0; i < 60; i++) expect(rl.take('k')).toBe(0);
    expect(rl.take('k')).toBe(1);
    now += 1000;
    expect(rl.take('k')).toBe(0);
    expect(rl.take('k')).toBeGreaterThan(0);
    expect(new RateLimiter(0).take('k')).toBe(0);
  });
});

describe('in-flight cap', () => {
  it('MAX_INFLIGHT=1, no queue: a second concurrent request gets 503 + Retry-After', async () => {
    const s = await stack({ MAX_INFLIGHT: 1, MAX_QUEUE: 0 }, { mode: 'slow', slowMs: 800 });
    const first = s.post('/v1/chat/completions', userMsg());
    expect(await waitFor(() => s.stub.stats().active === 1)).toBe(true);
    const second = await s.post('/v1/chat/completions', userMsg());
    expect(second.status).toBe(503);
    expect(Number(second.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    const body = (await second.json()) as { error: { code: string } };
    assertSchema('ErrorResponse', body);
    expect(body.error.code).toBe('server_busy');
    expect((await first).status).toBe(200);
    expect(s.stub.stats().requests).toBe(1);
  });

  it('a short queue: a waiting request gets the slot when it frees', async () => {
    const s = await stack({ MAX_INFLIGHT: 1, MAX_QUEUE: 1, QUEUE_TIMEOUT_MS: 10_000 }, { mode: 'slow', slowMs: 300 });
    const first = s.post('/v1/chat/completions', userMsg());
    expect(await waitFor(() => s.stub.stats().active === 1)).toBe(true);
    const second = s.post('/v1/chat/completions', userMsg());
    expect(await waitFor(async () => /fudbuddy_api_queue_length 1/.test(await metricsText(s)))).toBe(true);
    const third = await s.post('/v1/chat/completions', userMsg());
    expect(third.status).toBe(503);
    expect((await first).status).toBe(200);
    expect((await second).status).toBe(200);
    expect(s.stub.stats().requests).toBe(2);
  });

  it('InflightGate: hands slots over in order, times out and refuses when full', async () => {
    const gate = new InflightGate(1, 1, 50);
    const r1 = await gate.acquire();
    const waiting = gate.acquire();
    await expect(gate.acquire()).rejects.toBeInstanceOf(QueueFullError);
    r1();
    const r2 = await waiting;
    expect(gate.inflight).toBe(1);
    await expect(gate.acquire()).rejects.toBeInstanceOf(QueueTimeoutError);
    r2();
    r2(); // double release is harmless
    expect(gate.inflight).toBe(0);
  });
});
