import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { readFileSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { ALLOWED_ORIGIN, WORKER_BUNDLE, chat, getToken, requestToken, secret, startWorker, type WorkerHandle } from './harness.js';
import { startStack, type Stack } from './stack.js';

// Secrets never reach logs or responses; message content never reaches the Worker's logs.
const CONTENT = 'my-very-private-dinner-question-7f3a';

async function dump(res: Response): Promise<string> {
  return `${res.status}\n${[...res.headers].map(([k, v]) => `${k}: ${v}`).join('\n')}\n\n${await res.text()}`;
}

describe('edge Worker keeps secrets and content out of logs and responses (workerd, real API and stub)', () => {
  let stack: Stack | undefined;
  let worker: WorkerHandle | undefined;
  let server: http.Server | undefined;
  afterEach(async () => {
    await stack?.close();
    await worker?.close();
    if (server) await new Promise<void>((resolve) => server!.close(() => resolve()));
    stack = undefined;
    worker = undefined;
    server = undefined;
  });

  it('through tokens, chats, fallback, errors, health and metrics', async () => {
    const invite = secret(12);
    const jwtPrevious = secret();
    stack = await startStack({ fallback: true, worker: { INVITE_CODES: invite, JWT_SIGNING_KEY_PREVIOUS: jwtPrevious } });
    const w = stack.worker;
    const seen: string[] = [];
    const body = { messages: [{ role: 'user', content: CONTENT }], chat_type: 'home' };

    seen.push(await dump(await requestToken(w)));
    seen.push(await dump(await requestToken(w, { inviteCode: 'wrong' })));
    const token = await getToken(w, { inviteCode: invite });
    seen.push(await dump(await chat(w, { token, body })));
    seen.push(await dump(await chat(w, { token, body: { ...body, stream: true } })));
    seen.push(await dump(await chat(w, { token: token + 'x', body })));
    seen.push(await dump(await chat(w, { token, body: '{bad json' })));
    stack.stub.setMode('down');
    seen.push(await dump(await chat(w, { token, body })));
    seen.push(await dump(await chat(w, { token, body: { ...body, stream: true } })));
    seen.push(await dump(await w.fetch('/healthz')));
    seen.push(await dump(await w.fetch('/metrics', { headers: { authorization: `Bearer ${stack.secrets.METRICS_TOKEN}` } })));
    seen.push(await dump(await w.fetch('/metrics', { headers: { authorization: 'Bearer nope' } })));
    seen.push(await dump(await w.fetch('/v1/chat', { method: 'OPTIONS', headers: { origin: ALLOWED_ORIGIN, 'access-control-request-method': 'POST' } })));
    // Wait for a positive marker before asserting absence: every proxied chat's own "chat finished" line (logged in
    // waitUntil once its stream ended), found by the request id the response carried.
    const proxiedIds = seen.filter((t) => /^x-served-by: /m.test(t)).map((t) => /^x-request-id: (.+)$/m.exec(t)![1]!);
    expect(proxiedIds.length).toBeGreaterThanOrEqual(4);
    const finished = (id: string) => w.logs().split('\n').some((l) => l.includes('"msg":"chat finished"') && l.includes(id));
    const deadline = Date.now() + 10_000;
    while (!proxiedIds.every(finished) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    expect(proxiedIds.filter((id) => !finished(id))).toEqual([]);

    const secrets = { ...stack.secrets, INVITE_CODES: invite, JWT_SIGNING_KEY_PREVIOUS: jwtPrevious };
    const logs = w.logs();
    expect(logs).toContain('"msg":"chat finished"'); // the capture works
    for (const [name, value] of Object.entries(secrets)) {
      expect(value.length, name).toBeGreaterThan(8);
      for (const text of seen) expect(text.includes(value), `${name} in a response`).toBe(false);
      expect(logs.includes(value), `${name} in the Worker log`).toBe(false);
    }
    expect(logs.includes(token), 'the issued token in the Worker log').toBe(false);
    expect(logs.includes(CONTENT), 'message content in the Worker log').toBe(false);
    expect(stack.api.output().includes(secrets.ORIGIN_TOKEN), 'service token in the API log').toBe(false);
  });

  it('never passes an OpenAI error body on (it can quote the API key)', async () => {
    const apiKey = `sk-${secret(24)}`;
    // A stand-in for OpenAI that, like the real one, quotes the key it was given in its 401.
    server = http.createServer((req, res) => {
      req.resume();
      res.writeHead(401, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ error: { message: `Incorrect API key provided: ${req.headers.authorization}`, type: 'invalid_request_error', code: 'invalid_api_key' } }));
    });
    await new Promise<void>((resolve) => server!.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    const dead = await new Promise<number>((resolve) => {
      const s = http.createServer().listen(0, '127.0.0.1', () => {
        const p = (s.address() as AddressInfo).port;
        s.close(() => resolve(p));
      });
    });
    worker = await startWorker({ bindings: { ORIGIN_URL: `http://127.0.0.1:${dead}`, OPENAI_API_KEY: apiKey, OPENAI_BASE_URL: `http://127.0.0.1:${port}/v1` } });
    const token = await getToken(worker);
    const res = await chat(worker, { token });
    expect(res.status).toBe(503);
    const text = await dump(res);
    expect(text).toContain('fallback_unavailable');
    expect(text.includes(apiKey)).toBe(false);
    expect(worker.logs().includes(apiKey)).toBe(false);
  });

  it('the Worker bundle carries the prompts but no secret-looking values', () => {
    const bundle = readFileSync(WORKER_BUNDLE, 'utf8');
    const home = readFileSync(new URL('../../prompts/home.md', import.meta.url), 'utf8');
    expect(bundle).toContain(JSON.stringify(home).slice(1, 60));
    expect(bundle).not.toMatch(/sk-[A-Za-z0-9]{20,}/);
  });
});
