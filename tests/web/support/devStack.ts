// Runs `npm run dev` (scripts/dev.mjs) on free loopback ports for the browser tests, and stops every
// process it started (the whole process group) afterwards, also when a test fails.
import { spawn, type ChildProcess } from 'node:child_process';
import { freePort } from '../../support/net.js';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../../..', import.meta.url));


export interface DevStack {
  webUrl: string;
  workerUrl: string;
  stubUrl: string;
  /** The OpenAI stand-in stub, when started with DEV_FALLBACK=stub. */
  fallbackUrl: string;
  ports: { stub: number; api: number; worker: number; web: number; fallback: number };
  output(): string;
  stop(): Promise<void>;
}

async function reachable(url: string): Promise<boolean> {
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(2000) });
    await res.body?.cancel();
    return true;
  } catch {
    return false;
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export async function startDevStack(extraEnv: Record<string, string> = {}, readyWithinMs = 90_000): Promise<DevStack> {
  const ports = { stub: await freePort(), api: await freePort(), worker: await freePort(), web: await freePort(), fallback: await freePort() };
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    DEV_STUB_PORT: String(ports.stub),
    DEV_API_PORT: String(ports.api),
    DEV_WORKER_PORT: String(ports.worker),
    DEV_WEB_PORT: String(ports.web),
    DEV_FALLBACK_PORT: String(ports.fallback),
    ...extraEnv,
  };
  for (const k of Object.keys(env)) if (k.startsWith('VITE_') && !(k in extraEnv)) delete env[k];
  let out = '';
  const child: ChildProcess = spawn(process.execPath, ['scripts/dev.mjs'], { cwd: root, env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
  child.stdout?.on('data', (b: Buffer) => (out += b.toString()));
  child.stderr?.on('data', (b: Buffer) => (out += b.toString()));
  let exited: number | string | null | undefined;
  const exit = new Promise<void>((resolve) =>
    child.once('exit', (code, signal) => {
      exited = code ?? signal;
      resolve();
    }),
  );

  const stop = async () => {
    if (exited !== undefined || child.pid === undefined) return;
    try {
      process.kill(-child.pid, 'SIGINT'); // what Ctrl-C does; dev.mjs stops its children
    } catch {
      return;
    }
    const done = await Promise.race([exit.then(() => true), sleep(15_000).then(() => false)]);
    if (!done) {
      try {
        process.kill(-child.pid, 'SIGKILL');
      } catch {
        /* already gone */
      }
      await exit;
    }
  };

  const webUrl = `http://localhost:${ports.web}`;
  const workerUrl = `http://127.0.0.1:${ports.worker}`;
  const deadline = Date.now() + readyWithinMs;
  try {
    for (;;) {
      if (exited !== undefined) throw new Error(`scripts/dev.mjs exited (${String(exited)}) before it was ready:\n${out}`);
      // dev.mjs prints "dev: ready" and the URLs once every piece answered its health check.
      if (out.includes('dev: ready') && out.includes(webUrl) && (await reachable(webUrl))) break;
      if (Date.now() > deadline) throw new Error(`scripts/dev.mjs not ready within ${readyWithinMs} ms:\n${out}`);
      await sleep(250);
    }
  } catch (err) {
    await stop();
    throw err;
  }
  return {
    webUrl,
    workerUrl,
    stubUrl: `http://127.0.0.1:${ports.stub}`,
    fallbackUrl: `http://127.0.0.1:${ports.fallback}`,
    ports,
    output: () => out,
    stop,
  };
}

export async function setStubMode(stubUrl: string, mode: 'ok' | 'down' | 'slow' | 'error500' | 'cut'): Promise<void> {
  const res = await fetch(`${stubUrl}/__stub/mode`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ mode }),
  });
  if (!res.ok) throw new Error(`stub ${stubUrl} refused mode ${mode}: ${res.status} ${await res.text()}`);
}
