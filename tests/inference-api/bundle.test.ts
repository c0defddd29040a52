// The deployable artifact: dist/server.mjs run with plain `node` from a directory without node_modules, as a child
// process — startup config errors, SIGTERM drain mid-stream, SIGHUP prompt reload, what reaches stdout.
import { existsSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import OpenAI from 'openai';
import { describe, expect, it } from 'vitest';
import { bundleFixture, type BundleChild } from './bundle-process.js';
import { TOKEN, waitFor } from './helpers.js';

const bundle = bundleFixture('fud-bundle-');
const spawnBundle = (env: Record<string, string>): BundleChild => bundle.spawn(env);

const goodEnv = (extra: Record<string, string> = {}) => ({
  PORT: '0',
  UPSTREAM_BASE_URL: bundle.stub.baseURL,
  API_TOKENS: TOKEN,
  PROMPTS_DIR: bundle.promptsDir,
  ...extra,
});

async function startBundle(extra: Record<string, string> = {}): Promise<BundleChild & { url: string }> {
  const c = spawnBundle(goodEnv(extra));
  const line = await waitFor(() => c.stdout.find((l) => l.includes('inference API listening')), 10_000, 25);
  if (!line) throw new Error(`bundle did not start:\n${c.stdout.join('\n')}\n${c.stderr()}`);
  return { ...c, url: (JSON.parse(line) as { url: string }).url };
}

describe('bundle runs with plain node, no node_modules', () => {
  it('serves the SDK and /healthz', async () => {
    expect(existsSync(path.join(bundle.dir, 'node_modules'))).toBe(false);
    const c = await startBundle();
    expect((await fetch(`${c.url}/healthz`)).status).toBe(200);
    const client = new OpenAI({ baseURL: `${c.url}/v1`, apiKey: TOKEN, maxRetries: 0 });
    const r = await client.chat.completions.create({ model: 'x', messages: [{ role: 'user', content: 'hi' }], max_tokens: 3 });
    expect(r.choices[0]?.message.content?.split(' ')).toHaveLength(3);
    c.proc.kill('SIGTERM');
    expect(await c.exit).toEqual({ code: 0, signal: null });
  });
});

describe('SIGTERM', () => {
  it('mid-stream: the stream completes, new connections are refused, exit code 0', async () => {
    const c = await startBundle();
    const res = await fetch(`${c.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${TOKEN}` },
      body: JSON.stringify({ messages: [{ role: 'user', content: 'hi' }], stream: true }),
    });
    const reader = res.body!.getReader();
    const first = await reader.read();
    expect(new TextDecoder().decode(first.value)).toMatch(/^data: /);
    c.proc.kill('SIGTERM');
    expect(await waitFor(() => c.stdout.some((l) => l.includes('"draining"')), 5000)).toBe(true);
    await expect(fetch(`${c.url}/healthz`)).rejects.toThrow();
    let text = new TextDecoder().decode(first.value);
    for (let r = await reader.read(); !r.done; r = await reader.read()) text += new TextDecoder().decode(r.value);
    expect(text.endsWith('data: [DONE]\n\n')).toBe(true);
    const contentChunks = text.split('\n\n').filter((e) => e.includes('"content":"') && !e.includes('"content":""'));
    expect(contentChunks).toHaveLength(20);
    expect(await c.exit).toEqual({ code: 0, signal: null });
    expect(c.stdout.some((l) => l.includes('"clean":true'))).toBe(true);
  });

  it('a stream longer than SHUTDOWN_GRACE_MS is cut at the deadline; still exit code 0', async () => {
    const c = await startBundle({ SHUTDOWN_GRACE_MS: '300' });
    const res = await fetch(`${c.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${TOKEN}` },
      body: JSON.stringify({ messages: [{ role: 'user', content: 'hi' }], stream: true }),
    });
    const reader = res.body!.getReader();
    await reader.read();
    c.proc.kill('SIGTERM');
    let text = '';
    await expect(
      (async () => {
        for (let r = await reader.read(); !r.done; r = await reader.read()) text += new TextDecoder().decode(r.value);
      })(),
    ).rejects.toThrow();
    expect(text).not.toContain('[DONE]');
    expect(await c.exit).toEqual({ code: 0, signal: null });
    expect(c.stdout.some((l) => l.includes('drain deadline reached'))).toBe(true);
  });
});

describe('SIGHUP', () => {
  it('reloads the prompts', async () => {
    const c = await startBundle();
    writeFileSync(path.join(bundle.promptsDir, 'home.md'), 'Prompt after SIGHUP.');
    c.proc.kill('SIGHUP');
    expect(await waitFor(() => c.stdout.some((l) => l.includes('SIGHUP: reloading prompts')), 5000)).toBe(true);
    // The new text is loaded (by the signal or the file watcher, whichever is first): a `prompt loaded` line with its
    // size, not the one from start-up.
    const newSize = `"bytes":${Buffer.byteLength('Prompt after SIGHUP.')}`;
    expect(await waitFor(() => c.stdout.some((l) => l.includes('"chatType":"home"') && l.includes(newSize) && l.includes('prompt loaded')), 5000)).toBe(true);
    const before = bundle.stub.stats().requests;
    await fetch(`${c.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${TOKEN}` },
      body: JSON.stringify({ messages: [{ role: 'user', content: 'hi' }], max_tokens: 1 }),
    });
    expect(bundle.stub.stats().requests).toBe(before + 1);
    expect((bundle.stub.stats().bodies.at(-1) as { messages: { content: string }[] }).messages[0]?.content).toBe('Prompt after SIGHUP.');
    c.proc.kill('SIGTERM');
    expect((await c.exit).code).toBe(0);
  });
});

describe('config errors at start', () => {
  const cases: [Record<string, string>, string][] = [
    [{ API_TOKENS: '' }, 'API_TOKENS'],
    [{ PORT: 'http' }, 'PORT'],
    [{ UPSTREAM_BASE_URL: 'nowhere' }, 'UPSTREAM_BASE_URL'],
    [{ MAX_INFLIGHT: '-3' }, 'MAX_INFLIGHT'],
    [{ BODY_LIMIT: '10 gigabytes' }, 'BODY_LIMIT'],
    [{ PROMPTS_DIR: '/nonexistent/prompts' }, 'PROMPTS_DIR'],
    [{ LOG_LEVEL: 'chatty' }, 'LOG_LEVEL'],
  ];
  for (const [env, name] of cases) {
    it(`bad ${name}: exits 2 and stderr names ${name}`, async () => {
      const c = spawnBundle(goodEnv(env));
      const { code } = await c.exit;
      expect(code).toBe(2);
      expect(c.stderr()).toMatch(new RegExp(`\\b${name}: `));
      expect(c.stdout.some((l) => l.includes('listening'))).toBe(false);
    });
  }

  it('FUDBUDDY_DEV=1 (npm run api) on loopback falls back to the local dev token; on other addresses it does not', async () => {
    const env = goodEnv({ FUDBUDDY_DEV: '1' });
    delete (env as Record<string, string | undefined>).API_TOKENS;
    const dev = spawnBundle(env);
    const line = await waitFor(() => dev.stdout.find((l) => l.includes('inference API listening')), 10_000, 25);
    const url = (JSON.parse(line!) as { url: string }).url;
    expect(dev.stderr()).toMatch(/dev mode on loopback/);
    const ok = await fetch(`${url}/v1/models`, { headers: { authorization: 'Bearer fudbuddy-local-dev-token' } });
    expect(ok.status).toBe(200);
    dev.proc.kill('SIGTERM');
    expect((await dev.exit).code).toBe(0);

    const exposed = spawnBundle({ ...env, HOST: '0.0.0.0' });
    expect((await exposed.exit).code).toBe(2);
    expect(exposed.stderr()).toMatch(/API_TOKENS: is required/);
  });

  it('a taken port: exits 1 with a clear message', async () => {
    const c = spawnBundle(goodEnv({ PORT: String(bundle.stub.port) }));
    expect((await c.exit).code).toBe(1);
    expect(c.stderr()).toMatch(/cannot start: .*EADDRINUSE/);
  });
});

describe('stdout logs of the real process', () => {
  it('contain no message content, no completion text and no bearer token', async () => {
    const c = await startBundle({ LOG_LEVEL: 'debug' });
    const secret = 'confidential-lasagna-question-42';
    const res = await fetch(`${c.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${TOKEN}` },
      body: JSON.stringify({ messages: [{ role: 'user', content: secret }], max_tokens: 5 }),
    });
    const out = ((await res.json()) as { choices: { message: { content: string } }[] }).choices[0]!.message.content;
    c.proc.kill('SIGTERM');
    await c.exit;
    const all = c.stdout.join('\n');
    expect(all).toContain('"route":"/v1/chat/completions"');
    expect(all).not.toContain(secret);
    expect(all).not.toContain(out);
    expect(all).not.toContain(TOKEN);
  });
});
