// The model stub: OpenAI-compatible, deterministic, fault switches by option, env and POST /__stub/mode, vLLM-named
// metrics, and statistics that show client aborts.
import { execFileSync, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import OpenAI from 'openai';
import { afterEach, describe, expect, it } from 'vitest';
import { startStub, type StubHandle, type StubOptions } from '../../services/model-stub/src/stub.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const stubs: StubHandle[] = [];
afterEach(async () => {
  await Promise.all(stubs.splice(0).map((s) => s.close()));
});
async function stub(opts: StubOptions = {}) {
  const s = await startStub({ tokensPerSec: 0, ...opts });
  stubs.push(s);
  return s;
}
const chat = (s: StubHandle, body: unknown, headers: Record<string, string> = {}) =>
  fetch(`${s.baseURL}/chat/completions`, { method: 'POST', headers, body: JSON.stringify(body) });
const hi = { messages: [{ role: 'user', content: 'hi' }] };

describe('model stub', () => {
  it('answers the openai SDK deterministically, stream and not', async () => {
    const s = await stub({ completionTokens: 5, model: 'stub-model' });
    const client = new OpenAI({ baseURL: s.baseURL, apiKey: 'unused', maxRetries: 0 });
    const a = await client.chat.completions.create({ model: 'stub-model', messages: [{ role: 'user', content: 'same' }] });
    const b = await client.chat.completions.create({ model: 'stub-model', messages: [{ role: 'user', content: 'same' }] });
    expect(a.choices[0]?.message.content).toBe(b.choices[0]?.message.content);
    expect(a.choices[0]?.message.content?.split(' ')).toHaveLength(5);
    expect(a.usage?.completion_tokens).toBe(5);
    const stream = await client.chat.completions.create({ model: 'stub-model', stream: true, stream_options: { include_usage: true }, messages: [{ role: 'user', content: 'same' }] });
    let text = '';
    let usage;
    for await (const c of stream) {
      text += c.choices[0]?.delta.content ?? '';
      usage = c.usage ?? usage;
    }
    expect(text).toBe(a.choices[0]?.message.content);
    expect(usage?.completion_tokens).toBe(5);
    expect((await client.models.list()).data[0]?.id).toBe('stub-model');
  });

  it('max_tokens shortens the reply with finish_reason length', async () => {
    const s = await stub({ completionTokens: 10 });
    const r = (await (await chat(s, { ...hi, max_tokens: 3 })).json()) as { choices: { finish_reason: string }[]; usage: { completion_tokens: number } };
    expect(r.usage.completion_tokens).toBe(3);
    expect(r.choices[0]?.finish_reason).toBe('length');
  });

  it('emits tokens at the configured rate (slow rate → a stream spread over time)', async () => {
    const s = await stub({ tokensPerSec: 20, completionTokens: 4 });
    const t0 = Date.now();
    await (await chat(s, { ...hi, stream: true })).text();
    // 4 tokens at 20/s need at least ~150 ms (3 gaps after the first); this checks the switch works, not speed.
    expect(Date.now() - t0).toBeGreaterThanOrEqual(150);
  });

  it('modes: down (503 everywhere), error500, slow, cut — by option and at runtime via POST /__stub/mode', async () => {
    const s = await stub({ mode: 'down' });
    expect((await chat(s, hi)).status).toBe(503);
    expect((await fetch(`${s.url}/health`)).status).toBe(503);
    expect((await fetch(`${s.baseURL}/models`)).status).toBe(503);

    const set = (mode: string) => fetch(`${s.url}/__stub/mode`, { method: 'POST', body: JSON.stringify({ mode }) });
    expect((await set('bogus')).status).toBe(400);
    expect((await set('error500')).status).toBe(200);
    expect((await chat(s, hi)).status).toBe(500);
    expect((await fetch(`${s.url}/health`)).status).toBe(200);

    s.setMode('cut');
    const cut = await chat(s, { ...hi, stream: true });
    await expect(cut.text()).rejects.toThrow();
    await expect(chat(s, hi).then((r) => r.text())).rejects.toThrow();

    await set('ok');
    expect((await chat(s, hi)).status).toBe(200);
    expect(((await (await fetch(`${s.url}/__stub/stats`)).json()) as { mode: string }).mode).toBe('ok');
  });

  it('slow mode delays the reply', async () => {
    const s = await stub({ mode: 'slow', slowMs: 200 });
    const t0 = Date.now();
    expect((await chat(s, hi)).status).toBe(200);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(190);
  });

  it('requires STUB_API_KEY when set', async () => {
    const s = await stub({ apiKey: 'k-123' });
    expect((await chat(s, hi)).status).toBe(401);
    expect((await chat(s, hi, { authorization: 'Bearer k-123' })).status).toBe(200);
    expect(s.stats().lastAuthorization).toBe('Bearer k-123');
  });

  it('stats record bodies and client aborts', async () => {
    const s = await stub({ tokensPerSec: 5, completionTokens: 50 });
    await chat(s, { ...hi, max_tokens: 1 }).then((r) => r.text());
    expect(s.stats()).toMatchObject({ requests: 1, completed: 1, clientAborts: 0, active: 0 });
    expect(s.stats().bodies[0]).toMatchObject({ max_tokens: 1 });
    const req = http.request(`${s.baseURL}/chat/completions`, { method: 'POST' });
    req.on('error', () => {});
    await new Promise<void>((resolve) => {
      req.on('response', (res) => res.once('data', () => resolve()));
      req.end(JSON.stringify({ ...hi, stream: true }));
    });
    expect(s.stats().active).toBe(1);
    req.destroy();
    const end = Date.now() + 2000;
    while (s.stats().clientAborts === 0 && Date.now() < end) await new Promise((r) => setTimeout(r, 10));
    expect(s.stats()).toMatchObject({ clientAborts: 1, active: 0 });
    s.resetStats();
    expect(s.stats().requests).toBe(0);
  });

  it('exposes vLLM-named metrics', async () => {
    const s = await stub();
    await chat(s, { ...hi, stream: true }).then((r) => r.text());
    const text = await (await fetch(`${s.url}/metrics`)).text();
    for (const name of ['vllm:num_requests_running', 'vllm:num_requests_waiting', 'vllm:gpu_cache_usage_perc', 'vllm:kv_cache_usage_perc', 'vllm:time_to_first_token_seconds', 'vllm:prompt_tokens_total', 'vllm:generation_tokens_total']) {
      expect(text, name).toMatch(new RegExp(`^# TYPE ${name} `, 'm'));
    }
    expect(text).toMatch(/vllm:generation_tokens_total\{model_name="fudbuddy"\} 16/);
    expect(text).toMatch(/vllm:time_to_first_token_seconds_count\{model_name="fudbuddy"\} 1/);
  });

  it('rejects bad JSON and unknown routes with OpenAI-style errors', async () => {
    const s = await stub();
    const bad = await fetch(`${s.baseURL}/chat/completions`, { method: 'POST', body: '{' });
    expect(bad.status).toBe(400);
    expect(((await bad.json()) as { error: { message: string } }).error.message).toMatch(/Invalid JSON/);
    expect((await fetch(`${s.baseURL}/embeddings`)).status).toBe(404);
  });
});

describe('stub entry point (env)', () => {
  const run = (entry: string[], env: Record<string, string>) => {
    const proc = spawn(process.execPath, entry, { cwd: ROOT, env: { PATH: process.env.PATH ?? '', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    proc.stdout.on('data', (d: Buffer) => (out += d.toString()));
    proc.stderr.on('data', (d: Buffer) => (err += d.toString()));
    const exit = new Promise<number | null>((r) => proc.on('exit', (c) => r(c)));
    return { proc, out: () => out, err: () => err, exit };
  };
  const bundle = path.join(ROOT, 'services/model-stub/dist/stub.mjs');

  it('bad STUB_MODE / STUB_TOKENS_PER_SEC exit 2 naming the variable', async () => {
    const tsx = [path.join(ROOT, 'node_modules/tsx/dist/cli.mjs'), 'services/model-stub/src/main.ts'];
    const a = run(tsx, { PORT: '0', STUB_MODE: 'explode' });
    expect(await a.exit).toBe(2);
    expect(a.err()).toMatch(/STUB_MODE/);
    const b = run(tsx, { PORT: '0', STUB_TOKENS_PER_SEC: 'fast' });
    expect(await b.exit).toBe(2);
    expect(b.err()).toMatch(/STUB_TOKENS_PER_SEC/);
  });

  it('the bundle (dist/stub.mjs) serves with env config and stops on SIGTERM', async () => {
    // global-setup builds only api and worker; build the stub bundle here so the test runs the current source.
    execFileSync(process.execPath, ['scripts/build.mjs', 'stub'], { cwd: ROOT });
    expect(existsSync(bundle)).toBe(true);
    const c = run([bundle], { PORT: '0', STUB_MODEL: 'env-model', STUB_MODE: 'error500' });
    const end = Date.now() + 5000;
    while (!c.out().includes('listening') && Date.now() < end) await new Promise((r) => setTimeout(r, 20));
    const { url } = JSON.parse(c.out().trim().split('\n')[0]!) as { url: string };
    const models = (await (await fetch(`${url}/v1/models`)).json()) as { data: { id: string }[] };
    expect(models.data[0]?.id).toBe('env-model');
    expect((await fetch(`${url}/v1/chat/completions`, { method: 'POST', body: JSON.stringify(hi) })).status).toBe(500);
    c.proc.kill('SIGTERM');
    expect(await c.exit).toBe(0);
  });
});
