// Runs the built edge Worker (services/edge-worker/dist/worker.js) in workerd through Miniflare, on an
// ephemeral loopback port, with fresh secrets per test, and captures what the Worker logs.
import { randomBytes } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { existsSync } from 'node:fs';
import type { Readable } from 'node:stream';
import { Miniflare } from 'miniflare';
import { miniflareWorkerOptions } from '../../components/lib/workerBindings.js';

export const ROOT = fileURLToPath(new URL('../..', import.meta.url));
export const WORKER_BUNDLE = path.join(ROOT, 'services/edge-worker/dist/worker.js');
export const ALLOWED_ORIGIN = 'http://localhost:5173';
export const FOREIGN_ORIGIN = 'https://evil.example';
export const CLIENT_ID = 'fudbuddy-test';

export const secret = (bytes = 32): string => randomBytes(bytes).toString('base64url');

export interface Secrets {
  ORIGIN_TOKEN: string;
  JWT_SIGNING_KEY: string;
  METRICS_TOKEN: string;
  [key: string]: string;
}

export function freshSecrets(): Secrets {
  return { ORIGIN_TOKEN: secret(), JWT_SIGNING_KEY: secret(), METRICS_TOKEN: secret() };
}

export interface WorkerHandle {
  url: string;
  secrets: Secrets;
  bindings: Record<string, string>;
  fetch(pathname: string, init?: RequestInit): Promise<Response>;
  /** Everything the Worker wrote to stdout/stderr so far. */
  logs(): string;
  /** What one quota key ("session:<id>", "ip:<addr>", "client:<id>", "fallback:global", ...) has spent and holds. */
  quota(key: string): Promise<{ used: number; reserved: number; holds: number }>;
  close(): Promise<void>;
}

export interface WorkerOptions {
  /** Vars and secrets; ORIGIN_URL is required. */
  bindings: Record<string, string | undefined>;
  secrets?: Secrets;
}

export async function startWorker(opts: WorkerOptions): Promise<WorkerHandle> {
  if (!existsSync(WORKER_BUNDLE)) throw new Error(`Worker bundle missing: run \`node scripts/build.mjs worker\` (${WORKER_BUNDLE})`);
  const secrets = opts.secrets ?? freshSecrets();
  const bindings: Record<string, string> = {
    ALLOWED_ORIGINS: ALLOWED_ORIGIN,
    CLIENT_IDS: CLIENT_ID,
    ENVIRONMENT: 'test',
    HEALTH_CACHE_SECONDS: '0',
    ...secrets,
  };
  for (const [k, v] of Object.entries(opts.bindings)) {
    if (v === undefined) delete bindings[k];
    else bindings[k] = v;
  }
  let output = '';
  const mf = new Miniflare({
    ...miniflareWorkerOptions(WORKER_BUNDLE),
    host: '127.0.0.1',
    port: 0,
    bindings,
    handleRuntimeStdio(stdout: Readable, stderr: Readable) {
      stdout.on('data', (b: Buffer) => (output += b.toString()));
      stderr.on('data', (b: Buffer) => (output += b.toString()));
    },
  });
  const url = (await mf.ready).href.replace(/\/$/, '');
  return {
    url,
    secrets,
    bindings,
    fetch: (pathname, init) => fetch(url + pathname, init),
    logs: () => output,
    quota: async (key) => {
      // Straight to the Durable Object over Miniflare's RPC proxy: the test reads the ledger, not the Worker's word.
      const ns = await mf.getDurableObjectNamespace('QUOTA');
      const stub = ns.get(ns.idFromName(key)) as unknown as { usage(): Promise<{ used: number; reserved: number; holds: number }> };
      return stub.usage();
    },
    close: () => mf.dispose(),
  };
}

export interface TokenOptions {
  origin?: string;
  clientId?: string;
  inviteCode?: string;
  ip?: string;
}

export async function getToken(worker: WorkerHandle, opts: TokenOptions = {}): Promise<string> {
  const res = await requestToken(worker, opts);
  if (res.status !== 200) throw new Error(`token request failed: ${res.status} ${await res.text()}`);
  const body = (await res.json()) as { token: string };
  return body.token;
}

export function requestToken(worker: WorkerHandle, opts: TokenOptions = {}): Promise<Response> {
  const body: Record<string, string> = { client_id: opts.clientId ?? CLIENT_ID };
  if (opts.inviteCode !== undefined) body['invite_code'] = opts.inviteCode;
  return worker.fetch('/v1/token', {
    method: 'POST',
    headers: { 'content-type': 'application/json', origin: opts.origin ?? ALLOWED_ORIGIN, ...(opts.ip ? { 'cf-connecting-ip': opts.ip } : {}) },
    body: JSON.stringify(body),
  });
}

export interface ChatOptions {
  token: string;
  path?: '/v1/chat' | '/v1/chat/completions';
  body?: unknown;
  stream?: boolean;
  headers?: Record<string, string>;
  signal?: AbortSignal;
}

export function chat(worker: WorkerHandle, opts: ChatOptions): Promise<Response> {
  const body = opts.body ?? { messages: [{ role: 'user', content: 'Where should I eat tonight?' }], chat_type: 'whereToGo', stream: opts.stream ?? false };
  return worker.fetch(opts.path ?? '/v1/chat/completions', {
    method: 'POST',
    headers: { 'content-type': 'application/json', origin: ALLOWED_ORIGIN, authorization: `Bearer ${opts.token}`, ...opts.headers },
    body: typeof body === 'string' ? body : JSON.stringify(body),
    signal: opts.signal,
  });
}

/** A loopback port that nothing listens on (bound, then released). */
export async function deadPort(): Promise<number> {
  const server = http.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/** Polls `check` (bounded) until it returns true. */
export async function eventually(check: () => boolean | Promise<boolean>, what: string, tries = 100, gapMs = 50): Promise<void> {
  for (let i = 0; i < tries; i++) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, gapMs));
  }
  throw new Error(`timed out waiting for: ${what}`);
}
