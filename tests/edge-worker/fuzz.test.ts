import http from 'node:http';
import type { AddressInfo } from 'node:net';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ALLOWED_ORIGIN, getToken, startWorker, type WorkerHandle } from './harness.js';

// No input makes the Worker answer 5xx, hang or crash. The origin is a stand-in that answers every
// request with a small completion, so every 5xx would be the Worker's own.
describe('edge Worker input fuzzing (workerd, fast-check, stand-in origin)', () => {
  let worker: WorkerHandle;
  let origin: http.Server;
  let token: string;
  beforeAll(async () => {
    origin = http.createServer((req, res) => {
      req.resume();
      req.on('end', () => {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ id: 'x', object: 'chat.completion', choices: [], usage: { total_tokens: 1 } }));
      });
    });
    await new Promise<void>((resolve) => origin.listen(0, '127.0.0.1', resolve));
    const { port } = origin.address() as AddressInfo;
    worker = await startWorker({ bindings: { ORIGIN_URL: `http://127.0.0.1:${port}`, RATE_LIMIT_RPM: '100000', IP_RATE_LIMIT_RPM: '100000', MAX_BODY_BYTES: '8192' } });
    token = await getToken(worker);
  });
  afterAll(async () => {
    await worker?.close();
    if (origin) await new Promise<void>((resolve) => origin.close(() => resolve()));
  });

  const message = fc.record(
    { role: fc.oneof(fc.constantFrom('user', 'assistant', 'system', 'tool', 'developer'), fc.string()), content: fc.oneof(fc.string(), fc.integer(), fc.constant(null), fc.array(fc.anything(), { maxLength: 3 })) },
    { requiredKeys: [] },
  );
  const chatBody = fc.oneof(
    fc.json(),
    fc.string(),
    fc.record(
      {
        messages: fc.oneof(fc.array(message, { maxLength: 5 }), fc.anything()),
        chat_type: fc.oneof(fc.constantFrom('home', 'whereToGo', 'whatToOrder', 'somethingFun'), fc.string(), fc.anything()),
        chatType: fc.anything(),
        stream: fc.oneof(fc.boolean(), fc.anything()),
        temperature: fc.oneof(fc.double(), fc.anything()),
        max_tokens: fc.oneof(fc.integer(), fc.anything()),
        metadata: fc.anything(),
      },
      { requiredKeys: [] },
    ).map((o) => JSON.stringify(o)),
  );

  it('never answers 5xx to arbitrary chat bodies, headers and paths', async () => {
    await fc.assert(
      fc.asyncProperty(
        chatBody,
        fc.constantFrom('/v1/chat', '/v1/chat/completions'),
        fc.constantFrom('application/json', 'text/plain', 'application/json; charset=utf-8', ''),
        fc.option(fc.string({ maxLength: 40 }), { nil: undefined }),
        async (body, path, contentType, chatTypeHeader) => {
          const headers: Record<string, string> = { origin: ALLOWED_ORIGIN, authorization: `Bearer ${token}` };
          if (contentType) headers['content-type'] = contentType;
          if (chatTypeHeader !== undefined && /^[\x20-\x7e]*$/.test(chatTypeHeader)) headers['x-chat-type'] = chatTypeHeader;
          const res = await worker.fetch(path, { method: 'POST', headers, body });
          const text = await res.text();
          expect(res.status, text).toBeLessThan(500);
          if (res.status >= 400) expect(JSON.parse(text)).toHaveProperty('error.code');
        },
      ),
      { numRuns: 150 },
    );
  });

  it('never answers 5xx to arbitrary token requests and bearer strings', async () => {
    await fc.assert(
      fc.asyncProperty(fc.oneof(fc.json(), fc.string()), fc.string({ maxLength: 200 }), async (body, bearer) => {
        const tokenRes = await worker.fetch('/v1/token', { method: 'POST', headers: { origin: ALLOWED_ORIGIN, 'content-type': 'application/json' }, body });
        expect(tokenRes.status).toBeLessThan(500);
        await tokenRes.arrayBuffer();
        const auth = /^[\x20-\x7e]*$/.test(bearer) ? `Bearer ${bearer}` : 'Bearer x';
        const chatRes = await worker.fetch('/v1/chat', { method: 'POST', headers: { origin: ALLOWED_ORIGIN, 'content-type': 'application/json', authorization: auth }, body: '{"messages":[{"role":"user","content":"hi"}]}' });
        expect(chatRes.status).toBe(401);
        await chatRes.arrayBuffer();
      }),
      { numRuns: 100 },
    );
  });
});
