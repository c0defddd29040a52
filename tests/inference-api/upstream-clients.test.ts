// Both upstream clients (undici, the API's, and the openai SDK one the benchmark compares against) behave the same
// for the client: same responses, same errors for the same faults, same abort propagation. Plus the SSE splitter.
import http from 'node:http';
import { describe, expect, it } from 'vitest';
import { sseData } from '../../services/inference-api/src/upstream.js';
import type { AppOptions } from '../../services/inference-api/src/app.js';
import { OpenAIUpstream } from '../../bench/sdk-upstream.js';
import { readSse, stacksClosedAfterEach, TOKEN, userMsg, waitFor } from './helpers.js';
import { assertSchema } from './schema.js';

const CLIENTS: [string, AppOptions][] = [
  ['undici (the API)', {}],
  ['openai SDK (bench/sdk-upstream.ts)', { upstream: (o) => new OpenAIUpstream(o) }],
];

describe.each(CLIENTS)('upstream client: %s', (_name, app) => {
  const stack = stacksClosedAfterEach({ app, stub: { completionTokens: 5 } });
  const code = async (r: Response) => ((await r.json()) as { error: { code: string } }).error.code;

  it('non-streaming and streaming replies conform and agree', async () => {
    const s = await stack();
    const r = await s.post('/v1/chat/completions', userMsg());
    const body = (await r.json()) as { choices: { message: { content: string } }[] };
    assertSchema('CreateChatCompletionResponse', body);
    const events = await readSse(await s.post('/v1/chat/completions', { ...userMsg(), stream: true, stream_options: { include_usage: true } }));
    expect(events.at(-1)).toBe('[DONE]');
    const chunks = events.slice(0, -1).map((e) => JSON.parse(e) as { choices: { delta: { content?: string } }[]; usage?: { completion_tokens: number } });
    for (const c of chunks) assertSchema('CreateChatCompletionStreamResponse', c);
    expect(chunks.map((c) => c.choices[0]?.delta.content ?? '').join('')).toBe(body.choices[0]?.message.content);
    expect(chunks.at(-1)?.usage?.completion_tokens).toBe(5);
  });

  it('faults map to the same errors', async () => {
    const s = await stack({ UPSTREAM_FIRST_TOKEN_TIMEOUT_MS: 200, UPSTREAM_TIMEOUT_MS: 200 }, { slowMs: 1500, cutAfterTokens: 2 });
    s.stub.setMode('error500');
    const e500 = await s.post('/v1/chat/completions', userMsg());
    expect([e500.status, await code(e500)]).toEqual([502, 'upstream_error']);
    s.stub.setMode('down');
    const down = await s.post('/v1/chat/completions', { ...userMsg(), stream: true });
    expect([down.status, await code(down)]).toEqual([503, 'upstream_busy']);
    s.stub.setMode('slow');
    const slow = await s.post('/v1/chat/completions', { ...userMsg(), stream: true });
    expect([slow.status, await code(slow)]).toEqual([504, 'upstream_timeout']);
    s.stub.setMode('cut');
    const cut = await readSse(await s.post('/v1/chat/completions', { ...userMsg(), stream: true }));
    expect((JSON.parse(cut.at(-1)!) as { error: { code: string } }).error.code).toBe('upstream_stream_error');
    await s.stub.close();
    const refused = await s.post('/v1/chat/completions', userMsg());
    expect([refused.status, await code(refused)]).toEqual([503, 'upstream_unavailable']);
  });

  it('a client leaving closes the upstream connection within a second', async () => {
    const s = await stack({}, { tokensPerSec: 5, completionTokens: 50 });
    const req = http.request(`${s.baseURL}/chat/completions`, { method: 'POST', headers: { authorization: `Bearer ${TOKEN}` } });
    req.on('error', () => {});
    await new Promise<void>((resolve) => {
      req.on('response', (res) => res.once('data', () => resolve()));
      req.end(JSON.stringify({ ...userMsg(), stream: true }));
    });
    req.destroy();
    expect(await waitFor(() => s.stub.stats().clientAborts === 1, 1000, 10)).toBe(true);
  });
});

describe('sseData', () => {
  async function* chunks(parts: string[]) {
    for (const p of parts) yield Buffer.from(p);
  }
  const collect = async (parts: string[]) => {
    const out: string[] = [];
    for await (const d of sseData(chunks(parts))) out.push(d);
    return out;
  };
  it('reassembles events split across chunks, handles CRLF, comments, multi-line data and no space after colon', async () => {
    expect(await collect(['data: {"a"', ':1}\n', '\ndata: [DONE]\n\n'])).toEqual(['{"a":1}', '[DONE]']);
    expect(await collect(['data: x\r\n\r\n: keep-alive\r\n\r\ndata:y\n\n'])).toEqual(['x', 'y']);
    expect(await collect(['event: message\ndata: a\ndata: b\n\n'])).toEqual(['a\nb']);
    expect(await collect(['data: incomplete'])).toEqual([]);
  });
  it('decodes multi-byte UTF-8 split between chunks', async () => {
    const bytes = Buffer.from('data: café 🍕\n\n');
    const out: string[] = [];
    async function* split() {
      for (let i = 0; i < bytes.length; i++) yield bytes.subarray(i, i + 1);
    }
    for await (const d of sseData(split())) out.push(d);
    expect(out).toEqual(['café 🍕']);
  });
});
