// API_TOKENS_FILE / METRICS_TOKENS_FILE: bearer tokens from a file, reloaded on SIGHUP (the handle's reload(), which
// main.ts calls on the signal) and on file change (fs.watch on the directory, rename-safe) without a restart.
// Real HTTP on loopback; the bundle-level SIGHUP tests are in token-rotation.test.ts.
import { mkdtempSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../services/inference-api/src/config.js';
import { parseTokenText } from '../../services/inference-api/src/token-file.js';
import { readSse, ROOT, stacksClosedAfterEach, TOKEN, TOKEN_B, userMsg, waitFor, type Stack } from './helpers.js';

const TOKEN_C = 'test-token-cccccccccccccccc';
const METRICS_TOKEN = 'metrics-token-mmmmmmmmmmmmmm';
let dir: string;
beforeAll(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'fud-tokens-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

let n = 0;
/** A fresh directory per test holding `tokens`; returns its path. */
function tokenFile(content: string): string {
  const d = mkdtempSync(path.join(dir, `t${n++}-`));
  const f = path.join(d, 'tokens');
  writeFileSync(f, content);
  return f;
}
/** Replaces the file the way write-secret-file.sh does: a temp file in the same directory, then rename. */
function replaceAtomically(file: string, content: string): void {
  const tmp = path.join(path.dirname(file), `.fudbuddy.${n++}`);
  writeFileSync(tmp, content);
  renameSync(tmp, file);
}
// Token files replace API_TOKENS here: the helper's default token is switched off.
const stack = stacksClosedAfterEach({ env: { API_TOKENS: undefined } });
const status = async (s: Stack, token: string, p = '/v1/models') =>
  (await fetch(`${s.api.url}${p}`, { headers: { authorization: `Bearer ${token}` } })).status;
const FAILED = 'bearer token file reload failed; keeping the last good tokens';
const reloadErrors = (s: Stack) => s.logObjects().filter((l) => l.msg === FAILED).length;

describe('token file format', () => {
  it('one per line or comma-separated; blank lines and # comments ignored', () => {
    expect(parseTokenText(`# rotated 2026-11-27\n\n${TOKEN}\n${TOKEN_B}, ${TOKEN_C}  # new one\n  \n`)).toEqual([TOKEN, TOKEN_B, TOKEN_C]);
    expect(parseTokenText(`${TOKEN},${TOKEN_B}`)).toEqual([TOKEN, TOKEN_B]);
    expect(parseTokenText(`${TOKEN}\r\n`)).toEqual([TOKEN]);
  });

  it('a short token or no token at all is an error naming the line, never the value', () => {
    expect(() => parseTokenText(`${TOKEN}\nshort-secret-1\n`)).toThrow('line 2: each token must be at least 16 characters');
    try {
      parseTokenText('# header\nshort-secret-1');
    } catch (err) {
      expect((err as Error).message).not.toContain('short-secret-1');
    }
    expect(() => parseTokenText('# only a comment\n\n')).toThrow(/no token/);
    expect(() => parseTokenText('')).toThrow(/no token/);
  });
});

describe('config: API_TOKENS or API_TOKENS_FILE, exactly one', () => {
  const base = { PROMPTS_DIR: `${ROOT}/prompts` };
  const message = (env: Record<string, string>): string => {
    try {
      loadConfig({ ...base, ...env });
    } catch (err) {
      expect(err).toBeInstanceOf(ConfigError);
      return (err as Error).message;
    }
    throw new Error('expected a ConfigError');
  };

  it('reads the file at start (relative paths resolved)', () => {
    const f = tokenFile(`${TOKEN}\n${TOKEN_B}\n`);
    const c = loadConfig({ ...base, API_TOKENS_FILE: f });
    expect(c.API_TOKENS).toEqual([TOKEN, TOKEN_B]);
    expect(c.API_TOKENS_FILE).toBe(f);
    expect(loadConfig({ ...base, API_TOKENS_FILE: path.relative(process.cwd(), f) }).API_TOKENS_FILE).toBe(f);
  });

  it('both, neither, a missing, empty or bad file: the error names the variable and shows no token', () => {
    expect(message({ API_TOKENS: TOKEN, API_TOKENS_FILE: tokenFile(TOKEN) })).toMatch(/API_TOKENS_FILE: set either API_TOKENS or API_TOKENS_FILE, not both/);
    expect(message({})).toMatch(/API_TOKENS: is required .*or set API_TOKENS_FILE/);
    expect(message({ API_TOKENS_FILE: path.join(dir, 'nope', 'tokens') })).toMatch(/API_TOKENS_FILE: cannot read .*ENOENT/);
    expect(message({ API_TOKENS_FILE: tokenFile('# nothing yet\n') })).toMatch(/API_TOKENS_FILE: .*no token/);
    const bad = message({ API_TOKENS_FILE: tokenFile(`${TOKEN}\nleaky-short\n`) });
    expect(bad).toMatch(/API_TOKENS_FILE: .*line 2: each token must be at least 16 characters/);
    expect(bad).not.toContain('leaky-short');
    expect(bad).not.toContain(TOKEN);
    expect(message({ API_TOKENS: TOKEN, METRICS_TOKENS: METRICS_TOKEN, METRICS_TOKENS_FILE: tokenFile(METRICS_TOKEN) })).toMatch(/METRICS_TOKENS_FILE: set either/);
    expect(message({ API_TOKENS: TOKEN, METRICS_TOKENS_FILE: path.join(dir, 'missing') })).toMatch(/METRICS_TOKENS_FILE: cannot read/);
  });
});

describe('reload without a restart (real HTTP on loopback)', () => {
  it('a token added to the file is accepted after the file is replaced (fs.watch), a removed one gets 401', async () => {
    const f = tokenFile(`${TOKEN}\n`);
    const s = await stack({ API_TOKENS_FILE: f });
    expect(await status(s, TOKEN)).toBe(200);
    expect(await status(s, TOKEN_B)).toBe(401);

    replaceAtomically(f, `# overlap\n${TOKEN_B}\n${TOKEN}\n`);
    expect(await waitFor(async () => (await status(s, TOKEN_B)) === 200, 3000)).toBe(true);
    expect(await status(s, TOKEN)).toBe(200);

    replaceAtomically(f, `${TOKEN_B}\n`);
    expect(await waitFor(async () => (await status(s, TOKEN)) === 401, 3000)).toBe(true);
    expect(await status(s, TOKEN_B)).toBe(200);
    // Chat routes (the lean path) use the same live set.
    const chat = await fetch(`${s.api.url}/v1/chat/completions`, { method: 'POST', headers: { authorization: `Bearer ${TOKEN}` }, body: JSON.stringify(userMsg()) });
    expect(chat.status).toBe(401);
    const ok = await fetch(`${s.api.url}/v1/chat/completions`, { method: 'POST', headers: { authorization: `Bearer ${TOKEN_B}` }, body: JSON.stringify(userMsg()) });
    expect(ok.status).toBe(200);
  });

  it('reload() (what SIGHUP runs) applies an in-place edit; a stream already running is untouched', async () => {
    const f = tokenFile(`${TOKEN}\n`);
    const s = await stack({ API_TOKENS_FILE: f }, { tokensPerSec: 40, completionTokens: 30 });
    const streaming = s.post('/v1/chat/completions', { ...userMsg(), stream: true });
    const res = await streaming;
    expect(res.status).toBe(200);
    // Rotate while the stream is running: its token leaves the set.
    expect(s.stub.stats().active).toBe(1);
    writeFileSync(f, `${TOKEN_C}\n`);
    await s.api.reload();
    expect(await status(s, TOKEN_C)).toBe(200);
    expect(await status(s, TOKEN)).toBe(401);
    const events = await readSse(res);
    expect(events.at(-1)).toBe('[DONE]');
    const chunks = events.slice(0, -1).map((e) => JSON.parse(e) as { choices: { delta: { content?: string } }[] });
    expect(chunks.map((c) => c.choices[0]?.delta.content ?? '').join('').trim().split(/\s+/)).toHaveLength(30);
    expect(s.api.server.listening).toBe(true);
  });

  it('a broken, empty or deleted file keeps the last good set, logs an error and no token value', async () => {
    const f = tokenFile(`${TOKEN}\n${TOKEN_B}\n`);
    const s = await stack({ API_TOKENS_FILE: f });
    expect(reloadErrors(s)).toBe(0);

    replaceAtomically(f, `${TOKEN_C}\nshort-leaked\n`);
    expect(await waitFor(() => reloadErrors(s) >= 1, 3000)).toBe(true);
    expect(await status(s, TOKEN)).toBe(200);
    expect(await status(s, TOKEN_C)).toBe(401);

    writeFileSync(f, '');
    await s.api.reload();
    expect(reloadErrors(s)).toBeGreaterThanOrEqual(2);
    expect(await status(s, TOKEN_B)).toBe(200);

    rmSync(f);
    await s.api.reload();
    expect(await status(s, TOKEN)).toBe(200);

    const failures = s.logObjects().filter((l) => l.msg === FAILED);
    expect(failures.length).toBeGreaterThanOrEqual(3);
    expect(failures[0]).toMatchObject({ level: 50, variable: 'API_TOKENS_FILE', keeping: 2 });
    expect(failures.map((l) => String(l.err)).join('\n')).toMatch(/line 2: each token must be at least 16 characters[\s\S]*no token[\s\S]*ENOENT/);
    const all = s.logs.join('\n');
    for (const secret of [TOKEN, TOKEN_B, TOKEN_C, 'short-leaked']) expect(all).not.toContain(secret);
    // Ops see it without reading logs: every failed reload is counted (alert FudbuddyTokenReloadFailed).
    const metrics = await (await fetch(`${s.api.url}/metrics`, { headers: { authorization: `Bearer ${TOKEN}` } })).text();
    expect(Number(/^fudbuddy_api_token_reload_errors_total (\d+)/m.exec(metrics)?.[1])).toBe(failures.length);
  });

  it('METRICS_TOKENS_FILE reloads the /metrics tokens; without it /metrics follows the live API tokens', async () => {
    const mf = tokenFile(`${METRICS_TOKEN}\n`);
    const s = await stack({ API_TOKENS: TOKEN, METRICS_TOKENS_FILE: mf });
    expect(await status(s, METRICS_TOKEN, '/metrics')).toBe(200);
    expect(await status(s, TOKEN, '/metrics')).toBe(401);
    replaceAtomically(mf, `${TOKEN_C}\n`);
    expect(await waitFor(async () => (await status(s, TOKEN_C, '/metrics')) === 200, 3000)).toBe(true);
    expect(await status(s, METRICS_TOKEN, '/metrics')).toBe(401);

    const af = tokenFile(`${TOKEN}\n`);
    const t = await stack({ API_TOKENS_FILE: af });
    expect(await status(t, TOKEN, '/metrics')).toBe(200);
    writeFileSync(af, `${TOKEN_B}\n`);
    await t.api.reload();
    expect(await status(t, TOKEN_B, '/metrics')).toBe(200);
    expect(await status(t, TOKEN, '/metrics')).toBe(401);
  });
});
