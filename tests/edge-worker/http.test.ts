import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ALLOWED_ORIGIN, FOREIGN_ORIGIN, chat, getToken } from './harness.js';
import { startStack, type Stack } from './stack.js';

// The HTTP surface: CORS, bad bodies, routing, health and metrics. One stack (fresh secrets) for the suite.
type ErrorBody = { error: { message: string; type: string; code: string; param: string | null } };

async function expectJsonError(res: Response, status: number, code: string): Promise<ErrorBody> {
  expect(res.status).toBe(status);
  expect(res.headers.get('content-type')).toContain('application/json');
  const body = (await res.json()) as ErrorBody;
  expect(body.error.code).toBe(code);
  expect(typeof body.error.message).toBe('string');
  expect(body.error).toHaveProperty('param');
  return body;
}

describe('edge Worker HTTP surface (workerd, real API and stub)', () => {
  let stack: Stack;
  let token: string;
  beforeAll(async () => {
    stack = await startStack({ worker: { MAX_BODY_BYTES: '4096', RATE_LIMIT_RPM: '1000', IP_RATE_LIMIT_RPM: '1000' } });
    token = await getToken(stack.worker);
  });
  afterAll(async () => {
    await stack?.close();
  });

  it('answers a CORS preflight from an allowed origin with the headers the client needs', async () => {
    const res = await stack.worker.fetch('/v1/chat/completions', {
      method: 'OPTIONS',
      headers: { origin: ALLOWED_ORIGIN, 'access-control-request-method': 'POST', 'access-control-request-headers': 'authorization, content-type, x-request-id, x-chat-type' },
    });
    expect(res.status).toBe(204);
    expect(res.headers.get('access-control-allow-origin')).toBe(ALLOWED_ORIGIN);
    expect(res.headers.get('access-control-allow-methods')).toContain('POST');
    const allowed = (res.headers.get('access-control-allow-headers') ?? '').toLowerCase().split(/,\s*/);
    expect(allowed).toEqual(expect.arrayContaining(['authorization', 'content-type', 'x-request-id', 'x-chat-type']));
    expect(res.headers.get('access-control-allow-credentials')).toBeNull();
    expect(res.headers.get('vary')).toContain('Origin');
  });

  it('refuses a CORS preflight from a foreign origin, with no CORS headers', async () => {
    const res = await stack.worker.fetch('/v1/token', { method: 'OPTIONS', headers: { origin: FOREIGN_ORIGIN, 'access-control-request-method': 'POST' } });
    expect(res.status).toBe(403);
    expect(res.headers.get('access-control-allow-origin')).toBeNull();
    expect(res.headers.get('access-control-allow-headers')).toBeNull();
  });

  it('exposes X-Request-Id, X-Served-By and Retry-After to allowed origins and sets security headers', async () => {
    const res = await chat(stack.worker, { token });
    expect(res.status).toBe(200);
    await res.arrayBuffer();
    expect(res.headers.get('access-control-allow-origin')).toBe(ALLOWED_ORIGIN);
    const exposed = (res.headers.get('access-control-expose-headers') ?? '').toLowerCase();
    for (const h of ['x-request-id', 'x-served-by', 'retry-after']) expect(exposed).toContain(h);
    expect(res.headers.get('x-content-type-options')).toBe('nosniff');
    expect(res.headers.get('strict-transport-security')).toContain('max-age=');
    expect(res.headers.get('x-frame-options')).toBe('DENY');
    expect(res.headers.get('referrer-policy')).toBe('no-referrer');
    expect(res.headers.get('cache-control')).toBe('no-store');
  });

  it('refuses a chat from a foreign origin even with a valid token', async () => {
    const res = await chat(stack.worker, { token, headers: { origin: FOREIGN_ORIGIN } });
    await expectJsonError(res, 403, 'origin_not_allowed');
    expect(res.headers.get('access-control-allow-origin')).toBeNull();
  });

  it('turns malformed bodies into 4xx JSON before they reach the origin', async () => {
    const before = stack.stub.stats().requests;
    const send = (body: string, headers: Record<string, string> = {}) => chat(stack.worker, { token, body, headers });
    await expectJsonError(await send('{"messages": [ {"role": "user", '), 400, 'invalid_json');
    await expectJsonError(await send(''), 400, 'invalid_json');
    await expectJsonError(await send('[1,2,3]'), 400, 'invalid_body');
    await expectJsonError(await send('null'), 400, 'invalid_body');
    const noMessages = await expectJsonError(await send('{"chat_type":"home"}'), 400, 'invalid_body');
    expect(noMessages.error.param).toBe('messages');
    await expectJsonError(await send('{"messages":[]}'), 400, 'invalid_body');
    await expectJsonError(await send('{"messages":[{"role":"wizard","content":"hi"}]}'), 400, 'invalid_body');
    await expectJsonError(await send('{"messages":[{"role":"user","content":42}]}'), 400, 'invalid_body');
    await expectJsonError(await send('{"messages":[{"role":"user","content":"hi"}],"stream":"yes"}'), 400, 'invalid_body');
    const chatType = await expectJsonError(await send('{"messages":[{"role":"user","content":"hi"}],"chat_type":"gossip"}'), 400, 'invalid_chat_type');
    expect(chatType.error.param).toBe('chat_type');
    await expectJsonError(await send('{"messages":[{"role":"user","content":"hi"}]}', { 'x-chat-type': 'gossip' }), 400, 'invalid_chat_type');
    await expectJsonError(await send('{"messages":[{"role":"user","content":"hi"}]}', { 'content-type': 'text/plain' }), 415, 'unsupported_media_type');
    await expectJsonError(await send(Buffer.from([0x7b, 0xff, 0xfe, 0x7d]).toString('latin1')), 400, 'invalid_json');
    expect(stack.stub.stats().requests).toBe(before);
  });

  it('turns oversized bodies into 413 JSON, with or without a Content-Length', async () => {
    const big = JSON.stringify({ messages: [{ role: 'user', content: 'x'.repeat(10_000) }] });
    await expectJsonError(await chat(stack.worker, { token, body: big }), 413, 'body_too_large');
    // Chunked upload: the Worker counts the bytes itself instead of trusting the header.
    const chunks = [big.slice(0, 3000), big.slice(3000, 6000), big.slice(6000)];
    const stream = new ReadableStream<Uint8Array>({
      pull(controller) {
        const next = chunks.shift();
        if (next === undefined) controller.close();
        else controller.enqueue(new TextEncoder().encode(next));
      },
    });
    const res = await stack.worker.fetch('/v1/chat/completions', {
      method: 'POST',
      headers: { 'content-type': 'application/json', origin: ALLOWED_ORIGIN, authorization: `Bearer ${token}` },
      body: stream,
      duplex: 'half',
    } as RequestInit);
    await expectJsonError(res, 413, 'body_too_large');
    const tokenRes = await stack.worker.fetch('/v1/token', { method: 'POST', headers: { 'content-type': 'application/json', origin: ALLOWED_ORIGIN }, body: JSON.stringify({ client_id: 'x'.repeat(8000) }) });
    await expectJsonError(tokenRes, 413, 'body_too_large');
  });

  it('answers unknown routes with 404 and wrong methods with 405, as JSON', async () => {
    await expectJsonError(await stack.worker.fetch('/v1/nope'), 404, 'not_found');
    await expectJsonError(await stack.worker.fetch('/v1/chat'), 405, 'method_not_allowed');
    await expectJsonError(await stack.worker.fetch('/v1/token'), 405, 'method_not_allowed');
  });

  it('GET /healthz: the public sees ok/degraded only; the metrics token sees the origin detail', async () => {
    const operator = { authorization: `Bearer ${stack.worker.secrets.METRICS_TOKEN}` };
    const ok = await stack.worker.fetch('/healthz');
    expect(ok.status).toBe(200);
    expect(await ok.json()).toEqual({ status: 'ok' });
    const detailed = await stack.worker.fetch('/healthz', { headers: operator });
    expect(await detailed.json()).toMatchObject({ status: 'ok', edge: 'ok', origin: 'ok', origins: { total: 1, ok: 1 } });
    const wrongToken = await stack.worker.fetch('/healthz', { headers: { authorization: 'Bearer not-the-metrics-token' } });
    expect(await wrongToken.json()).toEqual({ status: 'ok' });
    stack.stub.setMode('down');
    try {
      const degraded = await stack.worker.fetch('/healthz');
      expect(degraded.status).toBe(503);
      expect(await degraded.json()).toEqual({ status: 'degraded' });
      const detail = await stack.worker.fetch('/healthz', { headers: operator });
      expect(await detail.json()).toMatchObject({ status: 'degraded', edge: 'ok', origin: 'degraded' });
    } finally {
      stack.stub.setMode('ok');
    }
  });

  it('GET /metrics needs METRICS_TOKEN and reports requests by who served them', async () => {
    await expectJsonError(await stack.worker.fetch('/metrics'), 401, 'invalid_token');
    await expectJsonError(await stack.worker.fetch('/metrics', { headers: { authorization: 'Bearer wrong-token' } }), 401, 'invalid_token');
    const res = await stack.worker.fetch('/metrics', { headers: { authorization: `Bearer ${stack.secrets.METRICS_TOKEN}` } });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toContain('text/plain');
    const text = await res.text();
    expect(text).toMatch(/^fudbuddy_edge_requests_total\{served_by="origin",status="200"\} [1-9]\d*$/m);
    expect(text).toContain('# TYPE fudbuddy_edge_origin_failures_total counter');
    expect(text).toContain('# TYPE fudbuddy_edge_breaker_open gauge');
  });
});
