import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { decodeJwt } from 'jose';
import OpenAI from 'openai';
import { afterEach, describe, expect, it } from 'vitest';
import { chat, eventually, getToken, startWorker, type WorkerHandle } from './harness.js';
import { startStack, type Stack } from './stack.js';

const decoder = new TextDecoder();

async function readAll(reader: ReadableStreamDefaultReader<Uint8Array>): Promise<{ text: string; reads: number }> {
  let text = '';
  let reads = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) return { text, reads };
    reads += 1;
    text += decoder.decode(value, { stream: true });
  }
}

/** A stand-in origin that sends one SSE chunk and then holds the stream open until the test releases it. */
async function heldOrigin(): Promise<{ url: string; release: () => void; close: () => Promise<void> }> {
  let release!: () => void;
  const released = new Promise<void>((resolve) => (release = resolve));
  const server = http.createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
      res.write('data: {"choices":[{"index":0,"delta":{"content":"first"}}]}\n\n');
      void released.then(() => {
        res.write('data: {"choices":[{"index":0,"delta":{"content":" second"}}]}\n\n');
        res.end('data: [DONE]\n\n');
      });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    release,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())).then(() => undefined),
  };
}

describe('edge Worker streaming (workerd)', () => {
  let stack: Stack | undefined;
  let worker: WorkerHandle | undefined;
  const cleanups: Array<() => Promise<void>> = [];
  afterEach(async () => {
    await stack?.close();
    await worker?.close();
    for (const c of cleanups.splice(0)) await c();
    stack = undefined;
    worker = undefined;
  });

  it('passes SSE through chunk by chunk: the first chunk reaches the client while the origin still holds the stream (stand-in origin)', async () => {
    const origin = await heldOrigin();
    cleanups.push(origin.close);
    worker = await startWorker({ bindings: { ORIGIN_URL: origin.url } });
    const token = await getToken(worker);
    const res = await chat(worker, { token, stream: true });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toContain('text/event-stream');
    expect(res.headers.get('x-served-by')).toBe('origin');
    const reader = res.body!.getReader();
    const first = await reader.read();
    // The origin has not sent the rest yet, so a buffering proxy could not have produced this.
    expect(decoder.decode(first.value)).toContain('"first"');
    origin.release();
    const rest = await readAll(reader);
    expect(rest.text).toContain('" second"');
    expect(rest.text).toContain('data: [DONE]');
  });

  it('streams through Worker → API → stub while the stub is still generating', async () => {
    stack = await startStack({ stub: { tokensPerSec: 10, completionTokens: 30 } });
    const token = await getToken(stack.worker);
    const res = await chat(stack.worker, { token, stream: true });
    expect(res.status).toBe(200);
    const reader = res.body!.getReader();
    const first = await reader.read();
    expect(decoder.decode(first.value)).toContain('data: ');
    // The stub is mid-generation when the first bytes arrive at the browser end.
    expect(stack.stub.stats().active).toBe(1);
    expect(stack.stub.stats().completed).toBe(0);
    const rest = await readAll(reader);
    expect(rest.reads).toBeGreaterThan(1);
    const contents = (decoder.decode(first.value) + rest.text)
      .split('\n')
      .filter((l) => l.startsWith('data: {'))
      .map((l) => JSON.parse(l.slice(6)) as { choices: Array<{ delta: { content?: string } }> })
      .map((c) => c.choices[0]?.delta.content ?? '')
      .join('');
    expect(contents.length).toBeGreaterThan(0);
    expect(rest.text.trimEnd().endsWith('data: [DONE]')).toBe(true);
    expect(stack.stub.stats().completed).toBe(1);
  });

  it('aborts the whole chain when the client goes away: the stub sees its connection closed', async () => {
    stack = await startStack({ stub: { tokensPerSec: 5, completionTokens: 100 } });
    const token = await getToken(stack.worker);
    const abort = new AbortController();
    const res = await chat(stack.worker, { token, stream: true, signal: abort.signal });
    const reader = res.body!.getReader();
    await reader.read();
    expect(stack.stub.stats().active).toBe(1);
    abort.abort();
    await eventually(() => stack!.stub.stats().clientAborts === 1, 'the stub to see the client abort', 200, 50);
    expect(stack.stub.stats().completed).toBe(0);
    expect(stack.stub.stats().active).toBe(0);
  });

  it('serves the FUD Buddy /v1/chat contract, streamed and not, through the API', async () => {
    stack = await startStack();
    const token = await getToken(stack.worker);
    const body = { messages: [{ role: 'user', content: 'What should I order at a ramen place?' }], chatType: 'whatToOrder' };
    const plain = await chat(stack.worker, { token, path: '/v1/chat', body });
    expect(plain.status).toBe(200);
    const json = (await plain.json()) as { object: string; choices: Array<{ message: { role: string; content: string } }>; usage: unknown };
    expect(json.choices[0]?.message.role).toBe('assistant');
    expect(json.usage).toBeTruthy();
    const streamed = await chat(stack.worker, { token, path: '/v1/chat', body: { ...body, stream: true } });
    expect(streamed.status).toBe(200);
    expect(streamed.headers.get('content-type')).toContain('text/event-stream');
    expect(await streamed.text()).toContain('data: [DONE]');
    // The chat type reached the API, which picked the matching system prompt for the stub.
    const sent = stack.stub.stats().bodies.at(-1) as { messages: Array<{ role: string; content: string }> };
    expect(sent.messages[0]?.role).toBe('system');
  });

  it('works with the official openai SDK as the client (token as the API key), streamed and not', async () => {
    stack = await startStack({ stub: { tokensPerSec: 0, completionTokens: 8 } });
    const token = await getToken(stack.worker);
    const client = new OpenAI({ baseURL: `${stack.worker.url}/v1`, apiKey: token, maxRetries: 0 });
    const completion = await client.chat.completions.create({ model: 'fudbuddy', messages: [{ role: 'user', content: 'Dinner ideas?' }] });
    expect(completion.choices[0]?.message.content?.length).toBeGreaterThan(0);
    const stream = await client.chat.completions.create({ model: 'fudbuddy', messages: [{ role: 'user', content: 'Dinner ideas?' }], stream: true });
    let text = '';
    for await (const chunk of stream) text += chunk.choices[0]?.delta?.content ?? '';
    expect(text.length).toBeGreaterThan(0);
    // The API saw the edge's client id together with the session, so its per-client limit is per session.
    expect(stack.api.output()).toContain(`"clientId":"fudbuddy-test:${String(decodeJwt(token).sub)}"`);
    const bad = new OpenAI({ baseURL: `${stack.worker.url}/v1`, apiKey: 'not-a-token', maxRetries: 0 });
    await expect(bad.chat.completions.create({ model: 'x', messages: [{ role: 'user', content: 'hi' }] })).rejects.toMatchObject({ status: 401 });
  });

  it('replaces a client-chosen X-Request-Id with its own (kept apart as client_request_id), so log correlation cannot be forged', async () => {
    stack = await startStack();
    const token = await getToken(stack.worker);
    const res = await chat(stack.worker, { token, headers: { 'x-request-id': 'req-abc.123' } });
    const ours = res.headers.get('x-request-id') ?? '';
    expect(ours).toMatch(/^[0-9a-f-]{36}$/);
    await res.arrayBuffer();
    // The origin logs the edge's id, never the client's.
    await eventually(() => stack!.api.output().includes(ours), 'the API to log the edge request id');
    expect(stack.api.output()).not.toContain('req-abc.123');
    expect(stack.worker.logs()).toContain(`"request_id":"${ours}","client_request_id":"req-abc.123"`);
    const bad = await chat(stack.worker, { token, headers: { 'x-request-id': 'spaces and <script>' } });
    expect(bad.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/);
    await bad.arrayBuffer();
    expect(stack.worker.logs()).not.toContain('<script>');
  });
});
