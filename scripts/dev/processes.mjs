// Child processes of `npm run dev`: output prefixed per service, readiness by HTTP health checks, and a
/* global AbortSignal */
// shutdown that leaves nothing behind.
import { spawn } from 'node:child_process';
import { setTimeout as sleep } from 'node:timers/promises';

const COLORS = { stub: 35, api: 36, worker: 33, web: 32, fallback: 34, dev: 1 };

export function prefixer(name, stream) {
  const color = process.stdout.isTTY ? COLORS[name] ?? 0 : 0;
  const tag = color ? `\u001b[${color}m[${name}]\u001b[0m ` : `[${name}] `;
  let pending = '';
  return (chunk) => {
    pending += chunk.toString();
    let nl;
    while ((nl = pending.indexOf('\n')) >= 0) {
      stream.write(tag + pending.slice(0, nl) + '\n');
      pending = pending.slice(nl + 1);
    }
  };
}

export function say(message) {
  prefixer('dev', process.stdout)(message + '\n');
}

/** Spawns a service; secrets travel in `env`, never in argv. */
export function startChild(name, args, { env, cwd }) {
  const child = spawn(process.execPath, args, { cwd, env, stdio: ['ignore', 'pipe', 'pipe'] });
  child.stdout.on('data', prefixer(name, process.stdout));
  child.stderr.on('data', prefixer(name, process.stderr));
  return { name, child };
}

export async function waitHealthy(name, url, { child, timeoutMs = 60_000 } = {}) {
  const deadline = Date.now() + timeoutMs;
  let last = 'no answer yet';
  while (Date.now() < deadline) {
    if (child && (child.exitCode !== null || child.signalCode !== null)) {
      throw new Error(`${name} exited (code ${child.exitCode ?? child.signalCode}) before it became healthy; see its output above`);
    }
    try {
      const res = await fetch(url, { signal: AbortSignal.timeout(2000) });
      await res.arrayBuffer();
      if (res.status === 200) return;
      last = `HTTP ${res.status}`;
    } catch (err) {
      last = err?.cause?.code ?? err?.name ?? 'error';
    }
    await sleep(150);
  }
  throw new Error(`${name} did not become healthy at ${url} within ${Math.round(timeoutMs / 1000)} s (last: ${last})`);
}

/** SIGTERM, then SIGKILL after `graceMs`; resolves when the process is gone. */
export function stopChild({ child }, graceMs = 5000) {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) return resolve();
    const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
    child.once('exit', () => {
      clearTimeout(timer);
      resolve();
    });
    child.kill('SIGTERM');
  });
}
