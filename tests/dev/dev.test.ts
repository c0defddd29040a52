import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import http from 'node:http';
import net, { type AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';

// `npm run dev` for real: every service on free ports, a chat through all three hops, Ctrl-C (SIGINT to
// the whole process group, as a terminal sends it) leaves no process behind, and a busy port is a clear
// message.
const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const WITH_WEB = existsSync(`${ROOT}/services/web/vite.config.ts`);

async function freePorts(n: number): Promise<number[]> {
  const servers = await Promise.all(
    Array.from({ length: n }, () => new Promise<net.Server>((resolve) => {
      const s = net.createServer();
      s.listen(0, '127.0.0.1', () => resolve(s));
    })),
  );
  const ports = servers.map((s) => (s.address() as AddressInfo).port);
  await Promise.all(servers.map((s) => new Promise<void>((resolve) => s.close(() => resolve()))));
  return ports;
}

/** All live descendants of `pid`, from /proc. */
function descendants(pid: number): number[] {
  const parent = new Map<number, number>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (fields[0] === 'Z') continue;
      parent.set(Number(entry), Number(fields[1]));
    } catch {
      // gone meanwhile
    }
  }
  const out: number[] = [];
  const walk = (p: number) => {
    for (const [child, pp] of parent) if (pp === p) {
      out.push(child);
      walk(child);
    }
  };
  walk(pid);
  return out;
}

const alive = (pid: number): boolean => {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2)[0] !== 'Z';
  } catch {
    return false;
  }
};

interface Dev {
  child: ChildProcess;
  output: () => string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

function runDev(env: Record<string, string>, viaNpm = true): Dev {
  let output = '';
  // detached: its own process group, so the test can signal the group the way a terminal's Ctrl-C does.
  const child = viaNpm
    ? spawn('npm', ['run', '--silent', 'dev'], { cwd: ROOT, env: { ...process.env, ...env }, detached: true, stdio: ['ignore', 'pipe', 'pipe'] })
    : spawn(process.execPath, ['scripts/dev.mjs'], { cwd: ROOT, env: { ...process.env, ...env }, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
  child.stdout?.on('data', (b: Buffer) => (output += b.toString()));
  child.stderr?.on('data', (b: Buffer) => (output += b.toString()));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
  return { child, output: () => output, exited };
}

async function waitFor(check: () => boolean, what: string, dev: Dev, ms = 90_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    if (check()) return;
    if (dev.child.exitCode !== null) throw new Error(`dev exited (${dev.child.exitCode}) before ${what}:\n${dev.output()}`);
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`timed out waiting for ${what}:\n${dev.output()}`);
}

describe('npm run dev', () => {
  const started: Dev[] = [];
  const busy: net.Server[] = [];
  afterEach(async () => {
    for (const dev of started.splice(0)) {
      if (dev.child.exitCode === null && dev.child.pid) {
        const pids = descendants(dev.child.pid);
        try {
          process.kill(-dev.child.pid, 'SIGKILL');
        } catch {
          // already gone
        }
        for (const p of pids) {
          try {
            process.kill(p, 'SIGKILL');
          } catch {
            // already gone
          }
        }
      }
    }
    for (const s of busy.splice(0)) await new Promise<void>((resolve) => s.close(() => resolve()));
  });

  it('comes up on free ports, a chat goes through Worker → API → stub, and Ctrl-C leaves no process behind', async () => {
    const [stub, api, worker, web, fallback] = await freePorts(5);
    const dev = runDev({
      DEV_STUB_PORT: String(stub),
      DEV_API_PORT: String(api),
      DEV_WORKER_PORT: String(worker),
      DEV_WEB_PORT: String(web),
      DEV_FALLBACK: 'stub',
      DEV_FALLBACK_PORT: String(fallback),
    });
    started.push(dev);
    await waitFor(() => dev.output().includes('dev: ready'), 'dev: ready', dev);
    expect(dev.output()).toContain(`http://127.0.0.1:${worker}`);

    const workerUrl = `http://127.0.0.1:${worker}`;
    const webOrigin = `http://localhost:${web}`;
    const tokenRes = await fetch(`${workerUrl}/v1/token`, { method: 'POST', headers: { 'content-type': 'application/json', origin: webOrigin }, body: JSON.stringify({ client_id: 'fudbuddy-dev' }) });
    expect(tokenRes.status).toBe(200);
    const { token } = (await tokenRes.json()) as { token: string };
    const chatRes = await fetch(`${workerUrl}/v1/chat`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', origin: webOrigin, authorization: `Bearer ${token}` },
      body: JSON.stringify({ messages: [{ role: 'user', content: 'Where should we go tonight?' }], chat_type: 'whereToGo', stream: true }),
    });
    expect(chatRes.status).toBe(200);
    expect(chatRes.headers.get('x-served-by')).toBe('origin');
    expect(chatRes.headers.get('access-control-allow-origin')).toBe(webOrigin);
    const text = await chatRes.text();
    const content = text
      .split('\n')
      .filter((l) => l.startsWith('data: {'))
      .map((l) => (JSON.parse(l.slice(6)) as { choices: Array<{ delta: { content?: string } }> }).choices[0]?.delta.content ?? '')
      .join('');
    expect(content.length).toBeGreaterThan(0);
    expect(text).toContain('data: [DONE]');
    // The third hop: the stub itself generated those tokens.
    const stubMetrics = await (await fetch(`http://127.0.0.1:${stub}/metrics`)).text();
    expect(stubMetrics).toMatch(/^vllm:generation_tokens_total\{[^}]*\} [1-9]/m);

    // DEV_FALLBACK=stub: with the model down, the answer comes from the OpenAI stand-in, marked.
    const down = await fetch(`http://127.0.0.1:${stub}/__stub/mode`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"mode":"down"}' });
    expect(down.status).toBe(200);
    const fallbackRes = await fetch(`${workerUrl}/v1/chat`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', origin: webOrigin, authorization: `Bearer ${token}` },
      body: JSON.stringify({ messages: [{ role: 'user', content: 'Anything fun?' }], chat_type: 'somethingFun' }),
    });
    expect(fallbackRes.status).toBe(200);
    expect(fallbackRes.headers.get('x-served-by')).toBe('fallback');
    expect(((await fallbackRes.json()) as { model: string }).model).toBe('openai-stand-in');

    if (WITH_WEB) {
      const page = await fetch(`http://127.0.0.1:${web}/`);
      expect(page.status).toBe(200);
      expect(await page.text()).toContain('<html');
    }
    // Nothing secret on the console.
    expect(dev.output()).not.toContain(token);

    const pids = descendants(dev.child.pid!);
    expect(pids.length).toBeGreaterThanOrEqual(4); // npm's shell/node, stub, API, workerd (+ web)
    // Secrets are generated as 32 random bytes (43 base64url characters): none may sit in any argv.
    for (const pid of pids) {
      let cmdline = '';
      try {
        cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8').replaceAll('\0', ' ');
      } catch {
        continue;
      }
      expect(cmdline).not.toMatch(/[A-Za-z0-9_-]{43}/);
    }
    process.kill(-dev.child.pid!, 'SIGINT');
    const { code, signal } = await dev.exited;
    expect(dev.output()).toContain('Ctrl-C: stopping');
    for (let i = 0; i < 50 && pids.some(alive); i++) await new Promise((r) => setTimeout(r, 100));
    expect(pids.filter(alive)).toEqual([]);
    expect(dev.output()).toContain('[dev] stopped');
    // npm itself dies of the SIGINT (as in a terminal); scripts/dev.mjs exits 0 after stopping everything.
    expect(code === 0 || signal === 'SIGINT').toBe(true);
    // And the ports are free again.
    for (const port of [stub, api, worker, fallback]) {
      const s = http.createServer();
      await new Promise<void>((resolve, reject) => {
        s.once('error', reject);
        s.listen(port, '127.0.0.1', () => resolve());
      });
      await new Promise<void>((resolve) => s.close(() => resolve()));
    }
  });

  it('SIGINT to scripts/dev.mjs alone (an IDE stop button) also stops every service it started', async () => {
    const [stub, api, worker, web] = await freePorts(4);
    const dev = runDev({ DEV_STUB_PORT: String(stub), DEV_API_PORT: String(api), DEV_WORKER_PORT: String(worker), DEV_WEB_PORT: String(web) }, false);
    started.push(dev);
    await waitFor(() => dev.output().includes('dev: ready'), 'dev: ready', dev);
    const pids = descendants(dev.child.pid!);
    expect(pids.length).toBeGreaterThanOrEqual(3); // stub, API, workerd (+ web)
    process.kill(dev.child.pid!, 'SIGINT'); // the dev process only: it must stop the others itself
    const { code } = await dev.exited;
    expect(code).toBe(0);
    for (let i = 0; i < 50 && pids.some(alive); i++) await new Promise((r) => setTimeout(r, 100));
    expect(pids.filter(alive)).toEqual([]);
  });

  it('says clearly which port is busy, starts nothing and exits non-zero', async () => {
    const [stub, api, worker, web] = await freePorts(4);
    const blocker = net.createServer();
    await new Promise<void>((resolve) => blocker.listen(api, '127.0.0.1', resolve));
    busy.push(blocker);
    const dev = runDev({ DEV_STUB_PORT: String(stub), DEV_API_PORT: String(api), DEV_WORKER_PORT: String(worker), DEV_WEB_PORT: String(web) }, false);
    started.push(dev);
    const { code } = await dev.exited;
    expect(code).toBe(1);
    const out = dev.output();
    expect(out).toContain(`port ${api}`);
    expect(out).toContain('already in use');
    expect(out).toContain('DEV_API_PORT');
    expect(out).not.toMatch(/^\s+at /m); // no stack trace
    expect(out).not.toContain('dev: ready');
    expect(descendants(dev.child.pid!)).toEqual([]);
  });

  it('rejects a malformed port variable with a message naming it', async () => {
    const dev = runDev({ DEV_WORKER_PORT: 'eighty' }, false);
    started.push(dev);
    expect((await dev.exited).code).toBe(1);
    expect(dev.output()).toContain('DEV_WORKER_PORT must be a port number');
  });
});
