// Token rotation on the deployable artifact: dist/server.mjs run with plain `node` as a child process, tokens in
// API_TOKENS_FILE, a real SIGHUP (what `systemctl reload fudbuddy-api` sends). The file is a symlink into another
// directory, so the directory watcher cannot see the edits and only the signal can make the process re-read it.
import { mkdirSync, mkdtempSync, symlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { bundleFixture, type BundleChild } from './bundle-process.js';
import { readSse, TOKEN, TOKEN_B, waitFor } from './helpers.js';

const TOKEN_NEW = 'rotated-token-nnnnnnnnnnnnnnnn';
const bundle = bundleFixture('fud-rotation-');
const spawnBundle = (env: Record<string, string>): BundleChild =>
  bundle.spawn({ PORT: '0', UPSTREAM_BASE_URL: bundle.stub.baseURL, PROMPTS_DIR: bundle.promptsDir, LOG_LEVEL: 'debug', ...env });

/** Tokens live in `real/tokens`; the API is pointed at `link/tokens`, a symlink to it. */
function symlinkedTokenFile(content: string): { real: string; link: string } {
  const base = mkdtempSync(path.join(bundle.dir, 'tokens-'));
  mkdirSync(path.join(base, 'real'));
  mkdirSync(path.join(base, 'link'));
  const real = path.join(base, 'real', 'tokens');
  const link = path.join(base, 'link', 'tokens');
  writeFileSync(real, content);
  symlinkSync(real, link);
  return { real, link };
}

const models = async (url: string, token: string) => (await fetch(`${url}/v1/models`, { headers: { authorization: `Bearer ${token}` } })).status;

describe('bundle: API_TOKENS_FILE reloaded on SIGHUP, no restart', () => {
  it('a new token is accepted and a removed one refused after SIGHUP; a running stream finishes; a broken file keeps the set', async () => {
    const { real, link } = symlinkedTokenFile(`${TOKEN}\n`);
    const c = spawnBundle({ API_TOKENS_FILE: link });
    const line = await waitFor(() => c.stdout.find((l) => l.includes('inference API listening')), 10_000, 25);
    if (!line) throw new Error(`bundle did not start:\n${c.stdout.join('\n')}\n${c.stderr()}`);
    const url = (JSON.parse(line) as { url: string }).url;
    const pid = c.proc.pid;
    expect(await models(url, TOKEN)).toBe(200);
    expect(await models(url, TOKEN_NEW)).toBe(401);

    // Step 1 of a rotation: the new token joins, the old one stays.
    writeFileSync(real, `# overlap\n${TOKEN_NEW}\n${TOKEN}\n`);
    // Without the signal nothing changes (the watcher sees only link/, which did not change). Proven by order, not
    // by a sleep: stdout is one ordered stream, so once the SIGHUP line is there, a watcher reload would be before it.
    expect(await models(url, TOKEN_NEW)).toBe(401);
    const reloads = () => c.stdout.filter((l) => l.includes('bearer tokens reloaded')).length;
    c.proc.kill('SIGHUP');
    expect(await waitFor(() => reloads() === 1, 5000)).toBe(true);
    const sighupAt = c.stdout.findIndex((l) => l.includes('SIGHUP: reloading'));
    expect(sighupAt).toBeGreaterThanOrEqual(0);
    expect(c.stdout.slice(0, sighupAt).some((l) => l.includes('bearer tokens reloaded'))).toBe(false);
    expect(await models(url, TOKEN_NEW)).toBe(200);
    expect(await models(url, TOKEN)).toBe(200);

    // A stream with the old token is running when the old token is dropped.
    const stream = await fetch(`${url}/v1/chat/completions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${TOKEN}` },
      body: JSON.stringify({ messages: [{ role: 'user', content: 'hi' }], stream: true }),
    });
    expect(stream.status).toBe(200);
    writeFileSync(real, `${TOKEN_NEW}\n`);
    c.proc.kill('SIGHUP');
    expect(await waitFor(() => reloads() === 2, 5000)).toBe(true);
    expect(bundle.stub.stats().active).toBe(1);
    expect(await models(url, TOKEN)).toBe(401);
    expect(await models(url, TOKEN_NEW)).toBe(200);
    const events = await readSse(stream);
    expect(events.at(-1)).toBe('[DONE]');
    expect(events.length).toBeGreaterThanOrEqual(21);

    // A broken file (a token too short) and an empty one: the last good set stays, the errors name the variable.
    writeFileSync(real, `${TOKEN_B}\nbroken-short\n`);
    c.proc.kill('SIGHUP');
    const failures = () => c.stdout.filter((l) => l.includes('keeping the last good tokens'));
    expect(await waitFor(() => failures().length === 1, 5000)).toBe(true);
    writeFileSync(real, '');
    c.proc.kill('SIGHUP');
    expect(await waitFor(() => failures().length === 2, 5000)).toBe(true);
    expect(await models(url, TOKEN_NEW)).toBe(200);
    expect(await models(url, TOKEN_B)).toBe(401);
    expect(JSON.parse(failures()[0]!)).toMatchObject({ level: 50, variable: 'API_TOKENS_FILE', keeping: 1 });

    // One process all along, and no token value in anything it wrote.
    expect(c.proc.pid).toBe(pid);
    expect(c.proc.exitCode).toBeNull();
    c.proc.kill('SIGTERM');
    expect((await c.exit).code).toBe(0);
    const all = c.stdout.join('\n') + c.stderr();
    for (const secret of [TOKEN, TOKEN_B, TOKEN_NEW, 'broken-short']) expect(all).not.toContain(secret);
  });
});

describe('bundle: token file config errors at start', () => {
  const cases: [string, () => Record<string, string>, RegExp][] = [
    ['a missing file', () => ({ API_TOKENS_FILE: path.join(bundle.dir, 'no-such-dir', 'tokens') }), /API_TOKENS_FILE: cannot read .*ENOENT/],
    ['an empty file', () => ({ API_TOKENS_FILE: symlinkedTokenFile('\n# none\n').real }), /API_TOKENS_FILE: .*no token/],
    ['a short token', () => ({ API_TOKENS_FILE: symlinkedTokenFile(`${TOKEN}\ntoo-short-sec\n`).real }), /API_TOKENS_FILE: .*line 2: each token must be at least 16/],
    ['both variables', () => ({ API_TOKENS: TOKEN, API_TOKENS_FILE: symlinkedTokenFile(TOKEN).real }), /API_TOKENS_FILE: set either API_TOKENS or API_TOKENS_FILE, not both/],
    ['neither variable', () => ({}), /API_TOKENS: is required/],
    ['a bad METRICS_TOKENS_FILE', () => ({ API_TOKENS: TOKEN, METRICS_TOKENS_FILE: path.join(bundle.dir, 'none') }), /METRICS_TOKENS_FILE: cannot read/],
  ];
  for (const [what, env, expected] of cases) {
    it(`${what}: exits 2, stderr names the variable, no token shown`, async () => {
      const c = spawnBundle(env());
      expect((await c.exit).code).toBe(2);
      expect(c.stderr()).toMatch(expected);
      expect(c.stderr()).not.toContain('too-short-sec');
      expect(c.stderr()).not.toContain(TOKEN);
      expect(c.stdout.some((l) => l.includes('listening'))).toBe(false);
    });
  }
});
