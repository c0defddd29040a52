// The real data path for integration tests: model stub ← inference API bundle (plain `node server.mjs`,
// a child process) ← edge Worker in workerd. Every server on an ephemeral loopback port.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { startStub, type StubHandle, type StubOptions } from '../../services/model-stub/src/stub.js';
import { ROOT, freshSecrets, secret, startWorker, type Secrets, type WorkerHandle } from './harness.js';

export const API_BUNDLE = path.join(ROOT, 'services/inference-api/dist/server.mjs');

export interface ApiHandle {
  url: string;
  child: ChildProcess;
  output(): string;
  close(): Promise<void>;
}

/** Starts the API bundle with `env`; resolves once it logs the URL it listens on. */
export async function startApi(env: Record<string, string>): Promise<ApiHandle> {
  if (!existsSync(API_BUNDLE)) throw new Error(`API bundle missing: run \`node scripts/build.mjs api\` (${API_BUNDLE})`);
  // Secrets go through the environment, never argv.
  const child = spawn(process.execPath, [API_BUNDLE], {
    cwd: ROOT,
    env: { PATH: process.env.PATH ?? '', HOST: '127.0.0.1', PORT: '0', PROMPTS_DIR: path.join(ROOT, 'prompts'), LOG_LEVEL: 'info', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`API did not start within 20 s:\n${output}`)), 20_000);
    const onData = (b: Buffer) => {
      output += b.toString();
      const m = /"url":"(http:\/\/127\.0\.0\.1:\d+)"/.exec(output);
      if (m?.[1]) {
        clearTimeout(timer);
        resolve(m[1]);
      }
    };
    child.stdout?.on('data', onData);
    child.stderr?.on('data', onData);
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`API exited with ${code} before listening:\n${output}`));
    });
  });
  child.removeAllListeners('exit');
  return {
    url,
    child,
    output: () => output,
    close: () =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null || child.signalCode !== null) return resolve();
        const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
        child.once('exit', () => {
          clearTimeout(timer);
          resolve();
        });
        child.kill('SIGTERM');
      }),
  };
}

export interface Stack {
  stub: StubHandle;
  api: ApiHandle;
  worker: WorkerHandle;
  /** The second stub that stands in for the public OpenAI API (fallback target), when asked for. */
  openaiStandIn?: StubHandle;
  secrets: Secrets;
  close(): Promise<void>;
}

export interface StackOptions {
  stub?: StubOptions;
  /** Start an OpenAI stand-in stub and give the Worker an OPENAI_API_KEY for it. */
  fallback?: boolean;
  worker?: Record<string, string | undefined>;
  api?: Record<string, string>;
}

export async function startStack(opts: StackOptions = {}): Promise<Stack> {
  const secrets = freshSecrets();
  const upstreamKey = secret();
  const started: Array<() => Promise<void>> = [];
  const close = async () => {
    for (const stop of started.reverse()) await stop().catch(() => undefined);
  };
  try {
    const stub = await startStub({ model: 'fudbuddy-stub', tokensPerSec: 0, apiKey: upstreamKey, ...opts.stub });
    started.push(() => stub.close());
    const api = await startApi({
      UPSTREAM_BASE_URL: stub.baseURL,
      UPSTREAM_API_KEY: upstreamKey,
      UPSTREAM_MODEL: 'fudbuddy-stub',
      API_TOKENS: secrets.ORIGIN_TOKEN,
      HEALTH_CACHE_MS: '0',
      ...opts.api,
    });
    started.push(() => api.close());
    let openaiStandIn: StubHandle | undefined;
    const fallbackBindings: Record<string, string> = {};
    if (opts.fallback) {
      fallbackBindings['OPENAI_API_KEY'] = `sk-standin-${secret(24)}`;
      openaiStandIn = await startStub({ model: 'openai-stand-in', tokensPerSec: 0, apiKey: fallbackBindings['OPENAI_API_KEY'] });
      started.push(() => openaiStandIn!.close());
      fallbackBindings['OPENAI_BASE_URL'] = openaiStandIn.baseURL;
      fallbackBindings['FALLBACK_MODEL'] = 'gpt-stand-in';
    }
    const worker = await startWorker({ bindings: { ORIGIN_URL: api.url, ...fallbackBindings, ...opts.worker }, secrets });
    started.push(() => worker.close());
    return { stub, api, worker, openaiStandIn, secrets: { ...secrets, ...fallbackBindings, UPSTREAM_API_KEY: upstreamKey }, close };
  } catch (err) {
    await close();
    throw err;
  }
}
