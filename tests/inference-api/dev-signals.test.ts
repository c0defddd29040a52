// `npm run api` under tsx, stopped with Ctrl-C as a terminal sends it: SIGINT to the whole process group. tsx's own
// signal hook in the API process exits it once no user listener is left; the stream in flight must still complete.
import { spawn } from 'node:child_process';
import { afterEach, describe, expect, it } from 'vitest';
import { startStub, type StubHandle } from '../../services/model-stub/src/stub.js';
import { ROOT, waitFor } from './helpers.js';
import { DEV_TOKEN } from '../../services/inference-api/src/dev-token.js';

// The caller's environment minus anything that would configure tokens, so the dev-token path is taken.
function devEnv(extra: Record<string, string>): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, ...extra };
  for (const k of ['API_TOKENS', 'API_TOKENS_FILE', 'METRICS_TOKENS', 'METRICS_TOKENS_FILE']) delete env[k];
  return env;
}

let stub: StubHandle | undefined;
let groupPid: number | undefined;
afterEach(async () => {
  if (groupPid) {
    try {
      process.kill(-groupPid, 'SIGKILL');
    } catch {
      /* already gone */
    }
  }
  groupPid = undefined;
  await stub?.close();
});

describe('npm run api (tsx) and Ctrl-C', () => {
  it('SIGINT to the process group mid-stream: the stream completes and the API stops cleanly', async () => {
    stub = await startStub({ tokensPerSec: 20, completionTokens: 20 });
    const proc = spawn('npm', ['run', '--silent', 'api'], {
      cwd: ROOT,
      detached: true, // its own process group, as a terminal's foreground job
      env: devEnv({ HOST: '127.0.0.1', PORT: '0', UPSTREAM_BASE_URL: stub.baseURL, LOG_LEVEL: 'info' }),
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    groupPid = proc.pid;
    let out = '';
    proc.stdout!.on('data', (d: Buffer) => (out += d.toString()));
    proc.stderr!.on('data', (d: Buffer) => (out += d.toString()));
    const exit = new Promise<number | null>((resolve) => proc.on('exit', (code) => resolve(code)));

    const url = await waitFor(() => /"msg":"inference API listening".*?"url":"([^"]+)"/.exec(out)?.[1] ?? /"url":"([^"]+)".*"msg":"inference API listening"/.exec(out)?.[1], 60_000, 50);
    expect(url, out).toBeTruthy();
    const res = await fetch(`${url}/v1/chat/completions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${DEV_TOKEN}`, 'content-type': 'application/json' },
      body: JSON.stringify({ messages: [{ role: 'user', content: 'hi' }], stream: true }),
    });
    expect(res.status).toBe(200);
    const reader = res.body!.getReader();
    let text = new TextDecoder().decode((await reader.read()).value);
    process.kill(-groupPid!, 'SIGINT');
    for (let r = await reader.read(); !r.done; r = await reader.read()) text += new TextDecoder().decode(r.value);
    expect(text.endsWith('data: [DONE]\n\n'), text).toBe(true);
    expect(text.split('\n\n').filter((e) => e.includes('"content":"') && !e.includes('"content":""'))).toHaveLength(20);
    await exit; // npm itself dies of the SIGINT; what matters is that the API drained and said so
    expect(out).toContain('"msg":"shutting down"');
    expect(out).toMatch(/"clean":true[^\n]*"msg":"stopped"/);
  }, 90_000);
});
