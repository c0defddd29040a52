// Upstream faults: down, slow (timeouts), 500, cut mid-stream, refused connections. Always a clear error, never a hang.
import OpenAI from 'openai';
import { describe, expect, it } from 'vitest';
import { readSse, stacksClosedAfterEach, TOKEN, userMsg, type Stack } from './helpers.js';
import { assertSchema } from './schema.js';

const stack = stacksClosedAfterEach();
const metricsText = async (s: Stack) => (await fetch(`${s.api.url}/metrics`, { headers: { authorization: `Bearer ${TOKEN}` } })).text();
const errorOf = async (res: Response) => {
  const body = (await res.json()) as { error: { code: string; type: string } };
  assertSchema('ErrorResponse', body);
  return body.error;
};

describe('upstream down (503 on everything)', () => {
  it('chat → 503 + Retry-After, healthz → 503 degraded, stream → 503 before any event', async () => {
    const s = await stack({ HEALTH_CACHE_MS: 0 });
    s.stub.setMode('down');
    const res = await s.post('/v1/chat/completions', userMsg());
    expect(res.status).toBe(503);
    expect(res.headers.get('retry-after')).toBeTruthy();
    expect((await errorOf(res)).code).toBe('upstream_busy');
    const st = await s.post('/v1/chat/completions', { ...userMsg(), stream: true });
    expect(st.status).toBe(503);
    const health = await fetch(`${s.api.url}/healthz`, { headers: { authorization: `Bearer ${TOKEN}` } });
    expect(health.status).toBe(503);
    expect(await health.json()).toMatchObject({ status: 'degraded', upstream: 'down', model: 'fudbuddy' });
    // Without a token (the public Funnel URL): ok/degraded only.
    const anonymous = await fetch(`${s.api.url}/healthz`);
    expect(anonymous.status).toBe(503);
    expect(await anonymous.json()).toEqual({ status: 'degraded' });
    expect(await metricsText(s)).toMatch(/fudbuddy_api_upstream_up 0/);
    s.stub.setMode('ok');
    const healthy = await fetch(`${s.api.url}/healthz`, { headers: { authorization: `Bearer ${TOKEN}` } });
    expect(healthy.status).toBe(200);
    const h = (await healthy.json()) as Record<string, unknown>;
    expect(h).toMatchObject({ status: 'ok', upstream: 'ok', model: 'fudbuddy' });
    expect(typeof h.version).toBe('string');
    expect(typeof h.uptime_s).toBe('number');
  });

  it('the health probe is cached, so health checks cost no upstream calls', async () => {
    const s = await stack({ HEALTH_CACHE_MS: 60_000 });
    expect((await fetch(`${s.api.url}/healthz`)).status).toBe(200);
    s.stub.setMode('down');
    // Still the cached answer: the stub, now down, would have made it 503.
    expect((await fetch(`${s.api.url}/healthz`)).status).toBe(200);
  });

  it('connection refused (nothing listening) → 503 upstream_unavailable, counted as connect error', async () => {
    const s = await stack();
    await s.stub.close();
    const res = await s.post('/v1/chat/completions', userMsg());
    expect(res.status).toBe(503);
    expect((await errorOf(res)).code).toBe('upstream_unavailable');
    expect(await metricsText(s)).toMatch(/fudbuddy_api_upstream_errors_total\{kind="connect"\} 1/);
  });
});

describe('upstream error500', () => {
  it('→ 502 upstream_error (stream and not), counted as status error', async () => {
    const s = await stack();
    s.stub.setMode('error500');
    const res = await s.post('/v1/chat/completions', userMsg());
    expect(res.status).toBe(502);
    expect((await errorOf(res)).code).toBe('upstream_error');
    const st = await s.post('/v1/chat', { ...userMsg(), stream: true });
    expect(st.status).toBe(502);
    expect(await metricsText(s)).toMatch(/fudbuddy_api_upstream_errors_total\{kind="status"\} 2/);
  });
});

describe('upstream slow', () => {
  it('non-streaming beyond UPSTREAM_TIMEOUT_MS → 504; the upstream request is abandoned', async () => {
    const s = await stack({ UPSTREAM_TIMEOUT_MS: 200 }, { mode: 'slow', slowMs: 2000 });
    const res = await s.post('/v1/chat/completions', userMsg());
    expect(res.status).toBe(504);
    expect((await errorOf(res)).code).toBe('upstream_timeout');
    expect(await metricsText(s)).toMatch(/fudbuddy_api_upstream_errors_total\{kind="timeout"\} 1/);
  });

  it('streaming with no first token within UPSTREAM_FIRST_TOKEN_TIMEOUT_MS → 504 JSON (headers not yet sent)', async () => {
    const s = await stack({ UPSTREAM_FIRST_TOKEN_TIMEOUT_MS: 200 }, { mode: 'slow', slowMs: 2000 });
    const res = await s.post('/v1/chat/completions', { ...userMsg(), stream: true });
    expect(res.status).toBe(504);
    expect((await errorOf(res)).code).toBe('upstream_timeout');
  });

  it('an idle gap mid-stream beyond UPSTREAM_IDLE_TIMEOUT_MS → error event, then close', async () => {
    // 2 tokens/s = 500 ms gaps against a 150 ms idle timeout; the first token is allowed 5 s.
    const s = await stack({ UPSTREAM_IDLE_TIMEOUT_MS: 150, UPSTREAM_FIRST_TOKEN_TIMEOUT_MS: 5000 }, { tokensPerSec: 2, completionTokens: 4 });
    const res = await s.post('/v1/chat/completions', { ...userMsg(), stream: true });
    expect(res.status).toBe(200);
    const events = await readSse(res);
    expect(events.at(-1)).not.toBe('[DONE]');
    const last = JSON.parse(events.at(-1)!) as { error: { code: string } };
    assertSchema('ErrorResponse', last);
    expect(last.error.code).toBe('upstream_timeout');
  });
});

describe('upstream cut mid-stream', () => {
  it('streaming: the client gets the tokens so far, then an error event and the end (SDK raises)', async () => {
    const s = await stack({}, { mode: 'cut', cutAfterTokens: 2 });
    const res = await s.post('/v1/chat/completions', { ...userMsg(), stream: true });
    expect(res.status).toBe(200);
    const events = await readSse(res);
    const parsed = events.map((e) => JSON.parse(e) as { choices?: { delta: { content?: string } }[]; error?: { code: string } });
    expect(parsed.filter((p) => p.choices?.[0]?.delta.content).length).toBe(2);
    expect(parsed.at(-1)?.error?.code).toBe('upstream_stream_error');
    expect(await metricsText(s)).toMatch(/fudbuddy_api_upstream_errors_total\{kind="stream"\} 1/);

    const client = new OpenAI({ baseURL: s.baseURL, apiKey: TOKEN, maxRetries: 0 });
    const stream = await client.chat.completions.create({ model: 'x', stream: true, messages: [{ role: 'user', content: 'hi' }] });
    const got: string[] = [];
    await expect(
      (async () => {
        for await (const c of stream) got.push(c.choices[0]?.delta.content ?? '');
      })(),
    ).rejects.toBeInstanceOf(OpenAI.APIError);
    expect(got.join('').length).toBeGreaterThan(0);
  });

  it('non-streaming: a truncated body → 502 upstream_stream_error', async () => {
    const s = await stack({}, { mode: 'cut' });
    const res = await s.post('/v1/chat/completions', userMsg());
    expect(res.status).toBe(502);
    expect((await errorOf(res)).code).toBe('upstream_stream_error');
  });

  it('the API keeps serving once the upstream recovers', async () => {
    const s = await stack({}, { mode: 'cut' });
    await s.post('/v1/chat/completions', { ...userMsg(), stream: true }).then((r) => r.text());
    s.stub.setMode('ok');
    const res = await s.post('/v1/chat/completions', { ...userMsg(), stream: true });
    expect((await readSse(res)).at(-1)).toBe('[DONE]');
  });
});
