// `npm run bench:e2e`: the latency budget of the whole path a browser's request takes, hop by hop, in one run:
//   stub direct → API → nginx (the edge site) → API → Worker (workerd via Miniflare) → nginx → API,
// plus Worker → API without nginx, to split the Worker's cost from nginx's. Non-streamed p50/p99 (wrk, interleaved
// rounds, median round) and streamed time to first token, each at concurrency 1 and 32. Prints the tables and
// rewrites the `e2e-latency` section of docs/benchmarks.md. Bounded (~2 minutes), loopback only.
import { execFileSync } from 'node:child_process';
import os from 'node:os';
import { buildNginxConfig } from '../components/lib/serveConfig.js';
import { ALLOWED_ORIGIN, getToken, startWorker, type WorkerHandle } from '../tests/edge-worker/harness.js';
import { startNginx, type NginxProcess } from '../tests/support/nginx.js';
import { freePort } from '../tests/support/net.js';
import { childrenOf, diff, sample } from './schedstat.js';
import { BODY, conditions, f, onExit, quantile, ROOT, startApi, startStub, stop, streamOnce, TOKEN, writeSection, wrk, type Proc, type WrkResult } from './harness.js';

const DURATION_S = Number(process.env.BENCH_DURATION_S ?? 2);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 2);
const TTFT_N = Number(process.env.BENCH_TTFT_N ?? 200);
const CONCURRENCY = [1, 32];
const GOALS = { stackP50: 3, stackTtft: 5, apiP50: 0.5, apiP99: 2 };

interface Target {
  name: string;
  url: string;
  headers: Record<string, string>;
  /** Worker: one browser session (token) and client IP per concurrent client, as real traffic would have. */
  sessions?: Record<string, string>[];
}

const CLIENTS = Math.max(...CONCURRENCY);

interface Stack {
  procs: Proc[];
  nginx: NginxProcess;
  worker: WorkerHandle;
  workerDirect: WorkerHandle;
  targets: Target[];
}

async function worker(originUrl: string): Promise<WorkerHandle> {
  return startWorker({
    bindings: {
      ORIGIN_URL: originUrl,
      // Quotas stay on (they are part of the hop) but high enough never to refuse the benchmark's load.
      RATE_LIMIT_RPM: '100000',
      IP_RATE_LIMIT_RPM: '100000',
      RATE_WINDOW_SECONDS: '1',
      TOKENS_PER_DAY: '1000000000',
    },
    secrets: { ORIGIN_TOKEN: TOKEN, JWT_SIGNING_KEY: 'bench-jwt-signing-key-0123456789abcdefghijkl', METRICS_TOKEN: 'bench-metrics-token-0123456789' },
  });
}

/** stub (rate tokens/s) → API → nginx → Worker, and a second Worker straight at the API. */
async function stack(rate: number, tokens: number): Promise<Stack> {
  const stub = await startStub(rate, tokens);
  // LOG_LEVEL=info as in production: one log line per request is part of the API's cost.
  const api = await startApi(stub.url, 'undici');
  const port = await freePort();
  const nginx = await startNginx(buildNginxConfig({ upstreams: [api.url.replace('http://', '')], listenPort: port }), port);
  onExit(() => nginx.proc.kill('SIGKILL'));
  const w = await worker(nginx.url);
  const wd = await worker(api.url);
  const service = { Authorization: `Bearer ${TOKEN}`, 'X-Client-Id': 'fudbuddy-web:bench-session' };
  const sessions = async (h: WorkerHandle) =>
    Promise.all(
      Array.from({ length: CLIENTS }, async (_, i) => {
        const ip = `198.51.100.${i + 1}`;
        return { Authorization: `Bearer ${await getToken(h, { ip })}`, Origin: ALLOWED_ORIGIN, 'CF-Connecting-IP': ip };
      }),
    );
  const [ws, wds] = [await sessions(w), await sessions(wd)];
  return {
    procs: [stub, api],
    nginx,
    worker: w,
    workerDirect: wd,
    targets: [
      { name: 'stub direct', url: stub.url, headers: {} },
      { name: 'API', url: api.url, headers: service },
      { name: 'nginx → API', url: nginx.url, headers: service },
      { name: 'Worker → nginx → API', url: w.url, headers: ws[0]!, sessions: ws },
      { name: 'Worker → API (no nginx)', url: wd.url, headers: wds[0]!, sessions: wds },
    ],
  };
}

async function close(s: Stack): Promise<void> {
  await Promise.all([s.worker.close(), s.workerDirect.close()]);
  await s.nginx.stop();
  await Promise.all(s.procs.map(stop));
}

async function latency(s: Stack): Promise<Record<string, Record<number, WrkResult>>> {
  const out: Record<string, Record<number, WrkResult>> = {};
  for (const c of CONCURRENCY) {
    const run = (t: Target, seconds: number) => wrk(`${t.url}/v1/chat/completions`, c, seconds, t.headers, BODY, c > 1 ? t.sessions : undefined);
    for (const t of s.targets) await run(t, 1); // warm-up
    const rounds: Record<string, WrkResult[]> = {};
    for (let round = 0; round < ROUNDS; round++) {
      for (const t of s.targets) {
        const r = await run(t, DURATION_S);
        (rounds[t.name] ??= []).push(r);
        console.log(`non-stream c=${c} round ${round + 1} ${t.name.padEnd(24)} p50 ${f(r.p50, 3)} p99 ${f(r.p99, 3)} ms ${f(r.rps, 0)} req/s errors ${r.errors}`);
      }
    }
    for (const t of s.targets) {
      const rs = rounds[t.name]!;
      const med = (k: 'p50' | 'p99' | 'rps') => quantile(rs.map((r) => r[k]), 0.5);
      (out[t.name] ??= {})[c] = { p50: med('p50'), p99: med('p99'), rps: med('rps'), errors: rs.reduce((a, r) => a + r.errors, 0) };
    }
  }
  return out;
}

/** TTFT with `c` parallel loops, TTFT_N streams in all after a warm-up; errors counted, not thrown. */
async function ttft(t: Target, c: number): Promise<{ p50: number; p99: number; errors: number }> {
  const lower = (h: Record<string, string>) => Object.fromEntries(Object.entries(h).map(([k, v]) => [k.toLowerCase(), v]));
  const headersOf = (loop: number) => lower(c > 1 && t.sessions ? t.sessions[loop % t.sessions.length]! : t.headers);
  for (let i = 0; i < 10; i++) await streamOnce(t.url, { headers: headersOf(0) });
  const xs: number[] = [];
  let errors = 0;
  const per = Math.ceil(TTFT_N / c);
  await Promise.all(
    Array.from({ length: c }, async (_, loop) => {
      for (let i = 0; i < per; i++) {
        try {
          const r = await streamOnce(t.url, { headers: headersOf(loop), timeoutMs: 20_000 });
          if (r.ttft >= 0 && r.done) xs.push(r.ttft);
          else errors++;
        } catch {
          errors++;
        }
      }
    }),
  );
  return { p50: quantile(xs, 0.5), p99: quantile(xs, 0.99), errors };
}

interface Profile {
  wallMs: number;
  /** p50 of a chat request the Worker refuses after verifying the JWT (bad body): no Durable Object, no origin. */
  floorP50: number;
  fullP50: number;
  rows: { name: string; cpuMs: number; waitMs: number }[];
}

/** N sequential non-streamed requests through the whole path, with each process's CPU and run-queue time. */
const PROFILE_N = 150;

async function profile(s: Stack, n = PROFILE_N): Promise<Profile> {
  const t = s.targets.find((x) => x.name === 'Worker → nginx → API')!;
  const groups: [string, number[]][] = [
    ['workerd (Worker + Durable Objects)', childrenOf(process.pid, 'workerd')],
    ['nginx (master + workers)', [s.nginx.proc.pid!, ...childrenOf(s.nginx.proc.pid!)]],
    ['inference API', [s.procs[1]!.proc.pid!]],
    ['model stub', [s.procs[0]!.proc.pid!]],
    ['benchmark client (+ Miniflare\'s Node side)', [process.pid]],
  ];
  const send = () => fetch(`${t.url}/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json', ...t.headers }, body: BODY }).then((r) => r.arrayBuffer());
  const refused = () => fetch(`${t.url}/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json', ...t.headers }, body: '{' }).then((r) => r.arrayBuffer());
  const p50Of = async (fn: () => Promise<unknown>) => {
    const xs: number[] = [];
    for (let i = 0; i < 100; i++) {
      const t0 = performance.now();
      await fn();
      xs.push(performance.now() - t0);
    }
    return quantile(xs, 0.5);
  };
  for (let i = 0; i < 20; i++) await send();
  const floorP50 = await p50Of(refused);
  const fullP50 = await p50Of(send);
  const before = groups.map(([, pids]) => sample(pids));
  const t0 = performance.now();
  for (let i = 0; i < n; i++) await send();
  const wallMs = (performance.now() - t0) / n;
  const rows = groups.map(([name, pids], i) => {
    const d = diff(before[i]!, sample(pids));
    return { name, cpuMs: d.cpuNs / 1e6 / n, waitMs: d.waitNs / 1e6 / n };
  });
  return { wallMs, rows, floorP50, fullP50 };
}

async function main(): Promise<void> {
  const started = Date.now();
  const loadStart = os.loadavg()[0]!.toFixed(1);
  execFileSync(process.execPath, ['scripts/build.mjs', 'api', 'stub', 'worker'], { cwd: ROOT, stdio: 'inherit' });

  const fast = await stack(0, 16); // non-streamed: the stub answers at once, so the figures are the hops' cost
  const lat = await latency(fast);
  const prof = await profile(fast);
  for (const r of prof.rows) console.log(`profile ${r.name.padEnd(44)} cpu ${f(r.cpuMs, 3)} ms/request, waiting for a CPU ${f(r.waitMs, 3)} ms/request`);
  await close(fast);

  const streaming = await stack(1000, 8); // TTFT: first token 1 ms after the role chunk
  const tt: Record<string, Record<number, { p50: number; p99: number; errors: number }>> = {};
  for (const c of CONCURRENCY) {
    for (const t of streaming.targets) {
      const r = await ttft(t, c);
      (tt[t.name] ??= {})[c] = r;
      console.log(`TTFT c=${c} ${t.name.padEnd(24)} p50 ${f(r.p50, 3)} p99 ${f(r.p99, 3)} ms errors ${r.errors}`);
    }
  }
  const names = streaming.targets.map((t) => t.name);
  await close(streaming);

  const fa = (v: number) => (v < 0 ? '<0 (noise)' : f(v, 2));
  const base = names[0]!;
  const latRow = (n: string) =>
    `| ${n} | ${CONCURRENCY.map((c) => `${f(lat[n]![c]!.p50, 2)} / ${f(lat[n]![c]!.p99, 2)} | ${n === base ? '—' : `${fa(lat[n]![c]!.p50 - lat[base]![c]!.p50)} / ${fa(lat[n]![c]!.p99 - lat[base]![c]!.p99)}`}`).join(' | ')} |`;
  const ttRow = (n: string) =>
    `| ${n} | ${CONCURRENCY.map((c) => `${f(tt[n]![c]!.p50, 2)} / ${f(tt[n]![c]!.p99, 2)} | ${n === base ? '—' : fa(tt[n]![c]!.p50 - tt[base]![c]!.p50)}`).join(' | ')} |`;
  const hop = (from: string, to: string, c: number) => `${fa(lat[to]![c]!.p50 - lat[from]![c]!.p50)} / ${fa(lat[to]![c]!.p99 - lat[from]![c]!.p99)}`;
  const full = 'Worker → nginx → API';
  const stackAdd = lat[full]![1]!.p50 - lat[base]![1]!.p50;
  const stackTtft = tt[full]![1]!.p50 - tt[base]![1]!.p50;
  const apiAdd = { p50: lat['API']![1]!.p50 - lat[base]![1]!.p50, p99: lat['API']![1]!.p99 - lat[base]![1]!.p99 };
  const verdict = (v: number, goal: number) => `${f(v, 2)} ms (goal < ${goal} ms: ${v < goal ? 'met' : '**missed**'})`;
  const errors = Object.values(lat).flatMap((byC) => Object.values(byC)).reduce((a, r) => a + r.errors, 0);
  const ttErrors = Object.values(tt).flatMap((byC) => Object.values(byC)).reduce((a, r) => a + r.errors, 0);
  const totalS = (Date.now() - started) / 1000;

  // A starved box (more time waiting for a CPU than on one) changes how the table reads.
  const starved = prof.rows.reduce((n, r) => n + r.waitMs, 0) > prof.rows.reduce((n, r) => n + r.cpuMs, 0);
  const section = [
    `Command: \`npm run bench:e2e\` (bench/e2e-bench.ts; ${totalS.toFixed(0)} s). Measured ${new Date().toISOString().slice(0, 16)}Z on ${conditions()}, ` +
      `shared with other work (load average ${loadStart} at start, ${os.loadavg()[0]!.toFixed(1)} at the end).`,
    `Everything on loopback on one 2-core box: stub, API bundle (LOG_LEVEL=info), nginx with the edge site (2 workers, session-affine, one upstream), the Worker bundle in workerd (Miniflare; ` +
      'quotas on, in local Durable Objects). wrk -t1, ' +
      `${ROUNDS} interleaved rounds of ${DURATION_S} s per point after a 1 s warm-up, median round; TTFT: ${TTFT_N} streams per point after 10 warm-up, spread over c parallel loops. ` +
      'The stub answers at once (non-streamed, 16 tokens) or at 1000 tokens/s (TTFT), so the figures are the hops\' own cost.',
    '',
    '**Non-streamed latency, ms: p50 / p99 and added vs. the stub direct**',
    '',
    `| path | ${CONCURRENCY.map((c) => `c=${c} p50 / p99 | c=${c} added p50 / p99`).join(' | ')} |`,
    `|---|${CONCURRENCY.map(() => '---|---').join('|')}|`,
    ...names.map(latRow),
    '',
    '**Per hop (non-streamed, added p50 / p99, ms)**',
    '',
    '| hop | c=1 | c=32 |',
    '|---|---|---|',
    `| API (vs stub) | ${CONCURRENCY.map((c) => hop(base, 'API', c)).join(' | ')} |`,
    `| nginx (vs API) | ${CONCURRENCY.map((c) => hop('API', 'nginx → API', c)).join(' | ')} |`,
    `| Worker (vs nginx → API) | ${CONCURRENCY.map((c) => hop('nginx → API', full, c)).join(' | ')} |`,
    `| Worker (vs API, no nginx) | ${CONCURRENCY.map((c) => hop('API', 'Worker → API (no nginx)', c)).join(' | ')} |`,
    '',
    '**Streamed time to first token, ms: p50 / p99 and added p50 vs. the stub direct**',
    '',
    `| path | ${CONCURRENCY.map((c) => `c=${c} p50 / p99 | c=${c} added p50`).join(' | ')} |`,
    `|---|${CONCURRENCY.map(() => '---|---').join('|')}|`,
    ...names.map(ttRow),
    '',
    `**Against the goals (c=1):** whole stack adds ${verdict(stackAdd, GOALS.stackP50)} p50 non-streamed and ${verdict(stackTtft, GOALS.stackTtft)} to TTFT; ` +
      `the API alone adds ${verdict(apiAdd.p50, GOALS.apiP50)} p50 and ${verdict(apiAdd.p99, GOALS.apiP99)} p99.`,
    '',
    `**Where the time goes** (${PROFILE_N} sequential non-streamed requests through Worker → nginx → API with Node's fetch, wall ${f(prof.wallMs, 2)} ms per request; ` +
      'per process, summed over its threads from /proc/<pid>/task/*/schedstat):',
    '',
    '| process | on a CPU, ms per request | runnable but waiting for a CPU, ms per request |',
    '|---|---|---|',
    ...prof.rows.map((r) => `| ${r.name} | ${f(r.cpuMs, 3)} | ${f(r.waitMs, 3)} |`),
    '',
    `Inside the Worker hop: a chat request it refuses right after verifying the JWT (bad body: no Durable Object, no origin) takes ${f(prof.floorP50, 2)} ms p50 ` +
      `end to end, a full one ${f(prof.fullP50, 2)} ms p50; the difference is the two quota checks (one Durable Object each for the session and the IP, each a storage write) ` +
      'before the origin is called and the proxying through nginx → API → stub; after the answer, in waitUntil, the Worker still records the request in the EdgeStats Durable Object and the tokens in both quota objects (three more writes) while the next request arrives.',
    '',
    `**Reading it.** The figures are what this 2-core box gave with the load average above: ${
      starved
        ? 'every process waits for a CPU longer than it runs (table above), so the c=1 p99 column and the whole c=32 column measure the queue for the two cores, not the hops'
        : 'at c=1 the processes mostly ran as soon as they were runnable (table above), so that column is the hops\' own cost (its p99 is a few outliers of a 2-s round); at c=32 client, workerd, nginx, API and stub share the two cores, so that column measures the queue for them more than the hops'
    }; \`npm run bench:api\` on a quiet box ` +
      'measured the API alone at 0.32 ms p50 / 2.46 ms p99 added (its section above). The hops this repository runs on the edge box and GPU host, ' +
      `nginx + API, add ${f(lat['nginx → API']![1]!.p50 - lat[base]![1]!.p50, 2)} ms p50 at c=1 here. The Worker hop misses the budget by an order of magnitude ` +
      `locally: workerd spends ${f(prof.rows[0]!.cpuMs, 1)} ms of CPU per chat request (JWT check and routing alone: the refused request above; the rest is the ` +
      'quota Durable Objects with their SQLite writes, the proxied fetch and the after-answer writes) and waits for a CPU besides; at c=32 its single ' +
      'local process is the bottleneck (req/s above). On Cloudflare the Worker runs on Cloudflare\'s CPUs and its Durable Objects are remote, so this ' +
      'local figure neither proves nor rules out the production cost; the refused-vs-full difference points at the Durable Object round trips on the request path ' +
      '(two before the origin is called) as the Worker\'s largest share.',
    '',
    `Errors: ${errors} in the wrk runs (non-2xx or socket errors), ${ttErrors} in the streams.`,
  ].join('\n');
  console.log(`\n${section}\n`);
  writeSection('e2e-latency', section);
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    console.error(err);
    process.exit(1);
  },
);
