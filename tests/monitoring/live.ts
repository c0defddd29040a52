// Real processes for the monitoring suites, each on an ephemeral loopback port and cleaned up by its close():
// the inference API bundle (services/inference-api/dist/server.mjs), the vLLM metrics proxy, the edge Worker in
// workerd (Miniflare), and a real Prometheus.
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { freshSecrets, startWorker as startEdgeWorker } from '../edge-worker/harness.js';
import { freePort } from '../support/net.js';
import { ROOT, SCRIPTS } from './support.js';

export const API_BUNDLE = path.join(ROOT, 'services/inference-api/dist/server.mjs');

export interface Proc {
  url: string;
  port: number;
  proc: ChildProcess;
  output(): string;
  close(): Promise<void>;
}

function kill(proc: ChildProcess): Promise<void> {
  if (proc.exitCode !== null || proc.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const t = setTimeout(() => proc.kill('SIGKILL'), 5_000);
    proc.once('exit', () => {
      clearTimeout(t);
      resolve();
    });
    proc.kill('SIGTERM');
  });
}

/** Spawns `cmd` and waits (bounded) until `ready` finds the listening port in its output. */
function spawnUntil(cmd: string, args: string[], env: NodeJS.ProcessEnv, ready: (out: string) => number | undefined, what: string): Promise<Proc> {
  const proc = spawn(cmd, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      void kill(proc);
      reject(new Error(`${what} did not start within 20 s:\n${out}`));
    }, 20_000);
    const onData = (b: Buffer) => {
      out += b.toString();
      const port = ready(out);
      if (port !== undefined) {
        clearTimeout(timer);
        resolve({ url: `http://127.0.0.1:${port}`, port, proc, output: () => out, close: () => kill(proc) });
      }
    };
    proc.stdout!.on('data', onData);
    proc.stderr!.on('data', onData);
    proc.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`${what} exited (${code}) before listening:\n${out}`));
    });
  });
}

/** The API bundle exactly as deployed (`node server.mjs`), env-configured, on an ephemeral port. */
export function startApiBundle(env: Record<string, string>): Promise<Proc> {
  if (!existsSync(API_BUNDLE)) throw new Error(`API bundle missing: node scripts/build.mjs api (${API_BUNDLE})`);
  return spawnUntil(
    process.execPath,
    [API_BUNDLE],
    { PATH: process.env.PATH ?? '', HOST: '127.0.0.1', PORT: '0', PROMPTS_DIR: path.join(ROOT, 'prompts'), LOG_LEVEL: 'info', ...env },
    (out) => {
      const m = /"url":"http:\/\/127\.0\.0\.1:(\d+)"[^\n]*inference API listening|inference API listening[^\n]*"url":"http:\/\/127\.0\.0\.1:(\d+)"/.exec(out);
      return m ? Number(m[1] ?? m[2]) : undefined;
    },
    'inference API bundle',
  );
}

/** components/scripts/monitoring/vllm-metrics-proxy.mjs as the host runs it. */
export function startMetricsProxy(env: Record<string, string>): Promise<Proc> {
  return spawnUntil(
    process.execPath,
    [path.join(SCRIPTS, 'vllm-metrics-proxy.mjs')],
    { PATH: process.env.PATH ?? '', LISTEN_HOST: '127.0.0.1', LISTEN_PORT: '0', ...env },
    (out) => {
      const m = /listening on 127\.0\.0\.1:(\d+)/.exec(out);
      return m ? Number(m[1]) : undefined;
    },
    'vllm metrics proxy',
  );
}


/** A real Prometheus (Debian's /usr/bin/prometheus) with the given config file, loopback only. */
export async function startPrometheus(configFile: string, dataDir: string): Promise<Proc> {
  const port = await freePort();
  return spawnUntil(
    '/usr/bin/prometheus',
    [`--config.file=${configFile}`, `--storage.tsdb.path=${dataDir}`, `--web.listen-address=127.0.0.1:${port}`, '--log.level=info'],
    { PATH: process.env.PATH ?? '' },
    (out) => (out.includes('Server is ready to receive web requests') ? port : undefined),
    'prometheus',
  );
}

export const randomToken = (): string => randomBytes(24).toString('base64url');

/** The edge Worker bundle in workerd with METRICS_TOKEN set (only /metrics is used here; no origin behind it). */
export async function startWorker(metricsToken: string): Promise<{ url: string; close(): Promise<void> }> {
  const worker = await startEdgeWorker({ bindings: { ORIGIN_URL: 'http://127.0.0.1:9' }, secrets: { ...freshSecrets(), METRICS_TOKEN: metricsToken } });
  return { url: worker.url, close: () => worker.close() };
}
