// Shared test plumbing: a real stub + a real API on ephemeral loopback ports, captured pino output, bounded waits.
import { cpSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach } from 'vitest';
import { configFrom } from '../../services/inference-api/src/config.js';
import type { AppOptions } from '../../services/inference-api/src/app.js';
import { startServer, type ServerHandle } from '../../services/inference-api/src/server.js';
import { startStub, type StubHandle, type StubOptions } from '../../services/model-stub/src/stub.js';

export const ROOT = fileURLToPath(new URL('../..', import.meta.url));
export const TOKEN = 'test-token-aaaaaaaaaaaaaaaa';
export const TOKEN_B = 'test-token-bbbbbbbbbbbbbbbb';

export function tempPromptsDir(): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'fud-prompts-'));
  cpSync(path.join(ROOT, 'prompts'), dir, { recursive: true });
  return dir;
}

export interface Stack {
  stub: StubHandle;
  api: ServerHandle;
  baseURL: string;
  promptsDir: string;
  logs: string[];
  /** Parsed log lines. */
  logObjects(): Record<string, unknown>[];
  post(path: string, body: unknown, headers?: Record<string, string>): Promise<Response>;
  close(): Promise<void>;
}

export async function startStack(
  env: Record<string, string | number | undefined> = {},
  stubOpts: StubOptions = {},
  appOpts: AppOptions = {},
): Promise<Stack> {
  const stub = await startStub({ tokensPerSec: 0, ...stubOpts });
  const promptsDir = tempPromptsDir();
  const logs: string[] = [];
  const config = configFrom({
    HOST: '127.0.0.1',
    PORT: 0,
    UPSTREAM_BASE_URL: stub.baseURL,
    API_TOKENS: TOKEN,
    PROMPTS_DIR: promptsDir,
    LOG_LEVEL: 'debug',
    ...env,
  });
  const api = await startServer(config, { ...appOpts, logDestination: { write: (line: string) => void logs.push(line) } });
  const baseURL = `${api.url}/v1`;
  return {
    stub,
    api,
    baseURL,
    promptsDir,
    logs,
    logObjects: () => logs.map((l) => JSON.parse(l) as Record<string, unknown>),
    post: (p, body, headers = {}) =>
      fetch(`${api.url}${p}`, {
        method: 'POST',
        headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json', ...headers },
        body: typeof body === 'string' ? body : JSON.stringify(body),
      }),
    close: async () => {
      await api.shutdown(0);
      await stub.close();
      rmSync(promptsDir, { recursive: true, force: true });
    },
  };
}

type StackEnv = Record<string, string | number | undefined>;

/**
 * For a test file: a `stack()` starter whose stacks are all closed after each test (also when it fails).
 * `defaults` apply to every stack it starts; per-call values override them.
 */
export function stacksClosedAfterEach(defaults: { env?: StackEnv; stub?: StubOptions; app?: AppOptions } = {}): (env?: StackEnv, stubOpts?: StubOptions) => Promise<Stack> {
  const open: Stack[] = [];
  afterEach(async () => {
    await Promise.all(open.splice(0).map((s) => s.close()));
  });
  return async (env = {}, stubOpts = {}) => {
    const s = await startStack({ ...defaults.env, ...env }, { ...defaults.stub, ...stubOpts }, defaults.app);
    open.push(s);
    return s;
  };
}

/** Polls `check` until it returns truthy or `timeoutMs` passes; returns the last value. */
export async function waitFor<T>(check: () => T | Promise<T>, timeoutMs = 2000, intervalMs = 20): Promise<T> {
  const end = Date.now() + timeoutMs;
  let v = await check();
  while (!v && Date.now() < end) {
    await new Promise((r) => setTimeout(r, intervalMs));
    v = await check();
  }
  return v;
}

export const userMsg = (content = 'Where should I eat tonight?') => ({ messages: [{ role: 'user', content }] });

/** Reads an SSE body into its data payloads. */
export async function readSse(res: Response): Promise<string[]> {
  const text = await res.text();
  return text
    .split('\n\n')
    .filter((e) => e.startsWith('data: '))
    .map((e) => e.slice(6));
}
