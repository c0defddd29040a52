// Bearer auth on every /v1 request, several tokens at once for rotation overlap, and who may read /metrics.
import OpenAI from 'openai';
import { describe, expect, it } from 'vitest';
import { TokenSet, bearerFrom } from '../../services/inference-api/src/auth.js';
import { stacksClosedAfterEach, TOKEN, TOKEN_B, userMsg, type Stack } from './helpers.js';
import { assertSchema } from './schema.js';

const stack = stacksClosedAfterEach();
const chat = (s: Stack, token: string | undefined) =>
  fetch(`${s.baseURL}/chat/completions`, {
    method: 'POST',
    headers: token === undefined ? {} : { authorization: token },
    body: JSON.stringify(userMsg()),
  });

describe('auth', () => {
  it('rejects missing, malformed and wrong tokens with 401 invalid_api_key', async () => {
    const s = await stack({});
    for (const h of [undefined, '', 'Bearer', `Basic ${TOKEN}`, `Bearer ${TOKEN}x`, `Bearer ${TOKEN.slice(0, -1)}`, 'Bearer wrong-token-1234567890']) {
      const res = await chat(s, h);
      expect(res.status, String(h)).toBe(401);
      expect(res.headers.get('www-authenticate')).toBe('Bearer');
      const body = (await res.json()) as { error: { code: string } };
      assertSchema('ErrorResponse', body);
      expect(body.error.code).toBe('invalid_api_key');
    }
    expect(s.stub.stats().requests).toBe(0);
    const models = await fetch(`${s.baseURL}/models`);
    expect(models.status).toBe(401);
  });

  it('the SDK surfaces a wrong key as AuthenticationError', async () => {
    const s = await stack({});
    const client = new OpenAI({ baseURL: s.baseURL, apiKey: 'not-the-right-token-000', maxRetries: 0 });
    await expect(client.chat.completions.create({ model: 'x', messages: [{ role: 'user', content: 'hi' }] })).rejects.toBeInstanceOf(OpenAI.AuthenticationError);
  });

  it('rotation overlap: both tokens accepted; after the old one is removed it gets 401', async () => {
    const overlap = await stack({ API_TOKENS: `${TOKEN}, ${TOKEN_B}` });
    expect((await chat(overlap, `Bearer ${TOKEN}`)).status).toBe(200);
    expect((await chat(overlap, `Bearer ${TOKEN_B}`)).status).toBe(200);
    const rotated = await stack({ API_TOKENS: TOKEN_B });
    expect((await chat(rotated, `Bearer ${TOKEN_B}`)).status).toBe(200);
    expect((await chat(rotated, `Bearer ${TOKEN}`)).status).toBe(401);
  });

  it('/healthz needs no token; /metrics needs a metrics token (API_TOKENS when METRICS_TOKENS is unset)', async () => {
    const s = await stack({});
    expect((await fetch(`${s.api.url}/healthz`)).status).toBe(200);
    expect((await fetch(`${s.api.url}/metrics`)).status).toBe(401);
    expect((await fetch(`${s.api.url}/metrics`, { headers: { authorization: `Bearer ${TOKEN}` } })).status).toBe(200);

    const metricsToken = 'metrics-token-cccccccccccc';
    const m = await stack({ METRICS_TOKENS: metricsToken });
    expect((await fetch(`${m.api.url}/metrics`, { headers: { authorization: `Bearer ${metricsToken}` } })).status).toBe(200);
    // A separate metrics token means the scraper's credential cannot call the model, and API callers cannot scrape.
    expect((await fetch(`${m.api.url}/metrics`, { headers: { authorization: `Bearer ${TOKEN}` } })).status).toBe(401);
    expect((await chat(m, `Bearer ${metricsToken}`)).status).toBe(401);
  });
});

describe('TokenSet', () => {
  it('accepts exactly the configured tokens', () => {
    const t = new TokenSet(['aaaaaaaaaaaaaaaa', 'bbbbbbbbbbbbbbbb']);
    expect(t.accepts('aaaaaaaaaaaaaaaa')).toBe(true);
    expect(t.accepts('bbbbbbbbbbbbbbbb')).toBe(true);
    expect(t.accepts('aaaaaaaaaaaaaaa')).toBe(false);
    expect(t.accepts('')).toBe(false);
    expect(t.accepts(undefined)).toBe(false);
  });
  it('parses the Bearer scheme', () => {
    expect(bearerFrom('Bearer abc')).toBe('abc');
    expect(bearerFrom('bearer   abc ')).toBe('abc');
    expect(bearerFrom('Bearer a b')).toBeUndefined();
    expect(bearerFrom('Token abc')).toBeUndefined();
  });
});
