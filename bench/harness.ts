// What the benchmark scripts share: starting the built services as child processes (and always stopping them),
// wrk runs parsed into figures, streamed requests timed to the first token, quantiles, and rewriting one
// marked section of docs/benchmarks.md.
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

export const ROOT = fileURLToPath(new URL('..', import.meta.url));
export const TOKEN = 'bench-token-0123456789abcdef';
export const tmp = mkdtempSync(path.join(os.tmpdir(), 'fud-bench-'));
const children: ChildProcess[] = [];
const cleanups: (() => void)[] = [];

function cleanup(): void {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  for (const f of cleanups.splice(0)) f();
  rmSync(tmp, { recursive: true, force: true });
}
process.on('exit', cleanup);
process.on('SIGINT', () => process.exit(130));

/** Run at exit too (e.g. stop an nginx that is not a Node child). */
export const onExit = (f: () => void) => cleanups.push(f);

export interface Proc {
  proc: ChildProcess;
  url: string;
}

export async function start(script: string | string[], env: Record<string, string>, marker: string): Promise<Proc> {
  const args = Array.isArray(script) ? script : [script];
  const proc = spawn(process.execPath, args, { cwd: ROOT, env: { PATH: process.env.PATH ?? '', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  children.push(proc);
  let stderr = '';
  proc.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  return new Promise((resolve, reject) => {
    let buf = '';
    const timer = setTimeout(() => reject(new Error(`${script} did not start: ${stderr}`)), 10_000);
    const onData = (d: Buffer) => {
      buf += d.toString();
      const line = buf.split('\n').find((l) => l.includes(marker));
      if (!line) return;
      clearTimeout(timer);
      // Keep draining stdout (request logs) so the child never blocks on a full pipe.
      proc.stdout!.off('data', onData);
      proc.stdout!.resume();
      resolve({ proc, url: (JSON.parse(line) as { url: string }).url });
    };
    proc.stdout!.on('data', onData);
    proc.on('exit', (code) => reject(new Error(`${script} exited ${code}: ${stderr}`)));
  });
}

export const stop = (p: Proc) => new Promise<void>((r) => (p.proc.exitCode !== null || p.proc.signalCode !== null ? r() : (p.proc.once('exit', () => r()), p.proc.kill('SIGTERM'))));

export const STUB = path.join(ROOT, 'services/model-stub/dist/stub.mjs');
export const API = path.join(ROOT, 'services/inference-api/dist/server.mjs');
export const startStub = (rate: number, tokens: number, env: Record<string, string> = {}) =>
  start(STUB, { PORT: '0', STUB_TOKENS_PER_SEC: String(rate), STUB_COMPLETION_TOKENS: String(tokens), ...env }, 'model-stub listening');
// The SDK variant is the same API code with bench/sdk-upstream.ts swapped in, run through tsx (not shipped).
const SDK_API = ['--import', 'tsx', path.join(ROOT, 'bench/sdk-api.ts')];
export const startApi = (stubUrl: string, client: 'undici' | 'openai', env: Record<string, string> = {}) =>
  start(
    client === 'undici' ? API : SDK_API,
    {
      PORT: '0',
      UPSTREAM_BASE_URL: `${stubUrl}/v1`,
      API_TOKENS: TOKEN,
      PROMPTS_DIR: path.join(ROOT, 'prompts'),
      RATE_LIMIT_RPM: '0',
      IP_RATE_LIMIT_RPM: '0',
      MAX_INFLIGHT: '8192',
      MAX_QUEUE: '0',
      LOG_LEVEL: 'info',
      ...env,
    },
    'inference API listening',
  );

export function rssMb(p: Proc): number {
  const status = readFileSync(`/proc/${p.proc.pid}/status`, 'utf8');
  return Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0) / 1024;
}

export const BODY = JSON.stringify({ model: 'fudbuddy', messages: [{ role: 'user', content: 'Where should we eat tonight? Two people, cheap, spicy.' }] });

export interface WrkResult {
  p50: number;
  p99: number;
  rps: number;
  errors: number;
}

// Async on purpose: while wrk runs, this process must keep draining the services' stdout pipes (request logs), or
// a full pipe stalls their log writes and the tail latency measures that instead of the gateway.
/**
 * POSTs `body` for `seconds` over `connections` connections. `rotate`: header sets taken in turn, request by
 * request (e.g. one browser session each, so a per-session Durable Object is not the only thing measured).
 */
export async function wrk(url: string, connections: number, seconds: number, headers: Record<string, string> = { Authorization: `Bearer ${TOKEN}` }, body = BODY, rotate: Record<string, string>[] = []): Promise<WrkResult> {
  const script = path.join(tmp, `post-${Math.random().toString(36).slice(2)}.lua`);
  const hdrs = Object.entries({ 'Content-Type': 'application/json', ...headers })
    .map(([k, v]) => `wrk.headers["${k}"] = "${v}"`)
    .join('\n');
  const sets = rotate.map((h) => `{ ${Object.entries(h).map(([k, v]) => `["${k}"] = "${v}"`).join(', ')} }`).join(',\n  ');
  const rotation = rotate.length
    ? `local sets = {\n  ${sets}\n}\nlocal i = 0\nrequest = function()\n  i = i + 1\n  for k, v in pairs(sets[(i % #sets) + 1]) do wrk.headers[k] = v end\n  return wrk.format()\nend\n`
    : '';
  writeFileSync(script, `wrk.method = "POST"\nwrk.body = [[${body}]]\n${hdrs}\n${rotation}`);
  const { stdout: out } = await promisify(execFile)('wrk', ['-t1', `-c${connections}`, `-d${seconds}s`, '--latency', '-s', script, url], { encoding: 'utf8' });
  const ms = (v: string, unit: string) => Number(v) * (unit === 'us' ? 0.001 : unit === 's' ? 1000 : 1);
  const pct = (p: string) => {
    const m = new RegExp(`^\\s+${p}%\\s+([\\d.]+)(us|ms|s)\\s*$`, 'm').exec(out);
    if (!m) throw new Error(`cannot parse wrk output:\n${out}`);
    return ms(m[1]!, m[2]!);
  };
  const non2xx = Number(/Non-2xx or 3xx responses: (\d+)/.exec(out)?.[1] ?? 0);
  const sockErr = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(out);
  const errors = non2xx + (sockErr ? sockErr.slice(1).map(Number).reduce((a, b) => a + b, 0) : 0);
  return { p50: pct('50'), p99: pct('99'), rps: Number(/Requests\/sec:\s+([\d.]+)/.exec(out)?.[1] ?? 0), errors };
}

export const agent = new http.Agent({ keepAlive: true, maxSockets: Infinity });

export interface StreamResult {
  ttft: number;
  contentChunks: number;
  done: boolean;
  status: number;
  /** The last usage object the stream carried (include_usage), if any. */
  usage?: { prompt_tokens: number; completion_tokens: number; prompt_tokens_details?: { cached_tokens?: number } };
  headers: http.IncomingHttpHeaders;
  text: string;
}

export interface StreamOptions {
  agent?: http.Agent;
  headers?: Record<string, string>;
  /** The request body (stream: true is added); default BODY. */
  body?: Record<string, unknown>;
  onFirst?: (ms: number) => void;
  timeoutMs?: number;
}

/** ms from sending the request to the first chunk with non-empty content; resolves after the stream ends. */
export function streamOnce(url: string, opts: StreamOptions = {}): Promise<StreamResult> {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    let ttft = -1;
    let contentChunks = 0;
    let buf = '';
    let text = '';
    let usage: StreamResult['usage'];
    let done = false;
    const headers = { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json', ...opts.headers };
    const req = http.request(`${url}/v1/chat/completions`, { method: 'POST', agent: opts.agent ?? agent, headers }, (res) => {
      if (res.statusCode !== 200) {
        res.resume();
        reject(new Error(`HTTP ${res.statusCode}`));
        return;
      }
      res.setEncoding('utf8');
      res.on('data', (d: string) => {
        buf += d;
        let i: number;
        while ((i = buf.indexOf('\n\n')) >= 0) {
          const ev = buf.slice(0, i);
          buf = buf.slice(i + 2);
          if (ev === 'data: [DONE]') {
            done = true;
            continue;
          }
          if (ev.includes('"content":"') && !ev.includes('"content":""')) {
            contentChunks++;
            if (ttft < 0) {
              ttft = performance.now() - t0;
              opts.onFirst?.(ttft);
            }
            text += /"content":"((?:[^"\\]|\\.)*)"/.exec(ev)?.[1] ?? '';
          }
          if (ev.includes('"usage":{')) usage = (JSON.parse(ev.slice(6)) as { usage: StreamResult['usage'] }).usage;
        }
      });
      res.on('end', () => resolve({ ttft, contentChunks, done, status: res.statusCode!, usage, headers: res.headers, text }));
      res.on('error', reject);
    });
    req.on('error', reject);
    // Bounded: a stream that stalls counts as incomplete instead of stalling the benchmark.
    req.setTimeout(opts.timeoutMs ?? 60_000, () => req.destroy(new Error('stream timed out')));
    req.end(JSON.stringify({ ...(opts.body ?? (JSON.parse(BODY) as Record<string, unknown>)), stream: true }));
  });
}

export const quantile = (xs: number[], q: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(q * s.length))] ?? NaN;
};

export const f = (n: number, d = 2) => (Number.isFinite(n) ? n.toFixed(d) : 'n/a');

/** Run conditions for a section's first line. */
export function conditions(): string {
  return `${os.cpus().length} × ${os.cpus()[0]?.model.trim()}, Node ${process.versions.node}`;
}

/** Rewrites only the `<!-- section:NAME:start/end -->` block of docs/benchmarks.md (added at the end if missing). */
export function writeSection(name: string, section: string): void {
  const docPath = path.join(ROOT, 'docs/benchmarks.md');
  const doc = readFileSync(docPath, 'utf8');
  const startTag = `<!-- section:${name}:start -->`;
  const endTag = `<!-- section:${name}:end -->`;
  const re = new RegExp(`(${startTag}\\n)[\\s\\S]*?(\\n${endTag})`);
  const next = re.test(doc) ? doc.replace(re, (_m, a: string, b: string) => `${a}${section}${b}`) : `${doc.trimEnd()}\n\n${startTag}\n${section}\n${endTag}\n`;
  writeFileSync(docPath, next);
  console.log(`docs/benchmarks.md: ${name} section updated`);
}
