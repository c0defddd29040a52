// Every kind of bad input gets a clear OpenAI-style 400/413 (never a 500, never a hang), and nothing reaches the model.
import http from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startStack, TOKEN, type Stack } from './helpers.js';
import { assertSchema } from './schema.js';

let s: Stack;
beforeAll(async () => {
  s = await startStack({ MAX_MESSAGES: 4, BODY_LIMIT: '8kb' });
});
afterAll(async () => s?.close());

const user = { role: 'user', content: 'hi' };

const cases: [string, unknown, RegExp, string | null][] = [
  ['a JSON array body', [user], /JSON object/, null],
  ['a JSON string body', '"hello"', /not valid JSON|JSON object/, null],
  ['missing messages', { chat_type: 'home' }, /messages is required/, 'messages'],
  ['messages not an array', { messages: 'hi' }, /messages must be an array/, 'messages'],
  ['empty messages', { messages: [] }, /must not be empty/, 'messages'],
  ['too many messages', { messages: Array(5).fill(user) }, /too many messages/, 'messages'],
  ['unknown role', { messages: [{ role: 'wizard', content: 'hi' }] }, /unknown role "wizard"/, 'messages[0].role'],
  ['tool role', { messages: [{ role: 'tool', content: 'hi' }] }, /unknown role "tool"/, 'messages[0].role'],
  ['content a number', { messages: [{ role: 'user', content: 42 }] }, /./, 'messages[0].content'],
  ['content missing', { messages: [{ role: 'user' }] }, /./, 'messages[0].content'],
  ['message not an object', { messages: ['hi'] }, /./, 'messages[0]'],
  ['only system messages', { messages: [{ role: 'system', content: 'x' }] }, /at least one user or assistant/, 'messages'],
  ['unknown chat_type', { messages: [user], chat_type: 'dessertOnly' }, /unknown chat_type "dessertOnly"/, 'chat_type'],
  ['unknown chatType', { messages: [user], chatType: 'x' }, /unknown chat_type/, 'chat_type'],
  ['chat_type not a string', { messages: [user], chat_type: 7 }, /./, 'chat_type'],
  ['temperature a string', { messages: [user], temperature: 'hot' }, /./, 'temperature'],
  ['stream not a boolean', { messages: [user], stream: 'yes' }, /./, 'stream'],
  ['max_tokens negative', { messages: [user], max_tokens: -5 }, /./, 'max_tokens'],
  ['max_tokens fractional', { messages: [user], max_tokens: 1.5 }, /./, 'max_tokens'],
  ['n > 1', { messages: [user], n: 3 }, /only n=1/, 'n'],
  ['tools', { messages: [user], tools: [{ type: 'function' }] }, /tools are not supported/, 'tools'],
  ['presence_penalty out of range', { messages: [user], presence_penalty: 5 }, /./, 'presence_penalty'],
  ['metadata with a nested object', { messages: [user], metadata: { a: { b: 1 } } }, /./, 'metadata.a'],
];

describe('bad input → 400 with a clear OpenAI-style error', () => {
  for (const [name, body, message, param] of cases) {
    it(name, async () => {
      const before = s.stub.stats().requests;
      const res = await s.post('/v1/chat/completions', typeof body === 'string' ? body : JSON.stringify(body));
      expect(res.status).toBe(400);
      const json = (await res.json()) as { error: { message: string; type: string; param: string | null } };
      assertSchema('ErrorResponse', json);
      expect(json.error.type).toBe('invalid_request_error');
      expect(json.error.message).toMatch(message);
      if (param !== null) expect(json.error.param).toBe(param);
      expect(s.stub.stats().requests).toBe(before);
    });
  }

  it('unknown X-Chat-Type header', async () => {
    const res = await s.post('/v1/chat', { messages: [user] }, { 'x-chat-type': 'nope' });
    expect(res.status).toBe(400);
    expect(((await res.json()) as { error: { param: string } }).error.param).toBe('chat_type');
  });

  it('malformed JSON', async () => {
    for (const raw of ['{', '{"messages": [}', 'not json at all', '{"messages":[{"role":"user","content":"hi"}]']) {
      const res = await s.post('/v1/chat/completions', raw);
      expect(res.status).toBe(400);
      const json = (await res.json()) as { error: { code: string } };
      expect(json.error.code).toBe('invalid_json');
    }
  });

  it('empty body', async () => {
    const res = await fetch(`${s.baseURL}/chat/completions`, { method: 'POST', headers: { authorization: `Bearer ${TOKEN}` } });
    expect(res.status).toBe(400);
    assertSchema('ErrorResponse', await res.json());
  });

  it('a body over BODY_LIMIT → 413 (by Content-Length and when chunked)', async () => {
    const big = JSON.stringify({ messages: [{ role: 'user', content: 'x'.repeat(9 * 1024) }] });
    const res = await s.post('/v1/chat/completions', big);
    expect(res.status).toBe(413);
    const json = (await res.json()) as { error: { code: string; message: string } };
    expect(json.error.code).toBe('request_too_large');
    expect(json.error.message).toMatch(/8192-byte limit/);

    // Chunked upload without Content-Length: the limit applies while reading.
    const status = await new Promise<number>((resolve, reject) => {
      const req = http.request(`${s.baseURL}/chat/completions`, { method: 'POST', headers: { authorization: `Bearer ${TOKEN}`, 'transfer-encoding': 'chunked' } }, (r) => {
        r.resume();
        resolve(r.statusCode ?? 0);
      });
      req.on('error', reject);
      for (let i = 0; i < 10; i++) req.write('x'.repeat(1024));
      req.end();
    });
    expect(status).toBe(413);
  });

  it('unknown routes and methods → 404 OpenAI-style', async () => {
    const a = await fetch(`${s.baseURL}/completions`, { method: 'POST', headers: { authorization: `Bearer ${TOKEN}` }, body: '{}' });
    expect(a.status).toBe(404);
    assertSchema('ErrorResponse', await a.json());
    const b = await fetch(`${s.baseURL}/chat/completions`, { headers: { authorization: `Bearer ${TOKEN}` } });
    expect(b.status).toBe(404);
  });

  it('still serves good requests after all of that', async () => {
    const res = await s.post('/v1/chat/completions', { messages: [user] });
    expect(res.status).toBe(200);
  });
});
