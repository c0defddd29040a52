// `npm run bench:routing`: does session-affine routing keep the prefix cache warm? Three model stubs with the
// prefix-cache SIMULATION on (services/model-stub/src/prefixCacheSim.ts) behind the real edge nginx site
// (components/lib/serveConfig.ts) on loopback; multi-turn chat sessions arrive at a fixed rate and each turn
// resends the whole conversation, as the web client does. Same run: round-robin vs session-affine, then both
// again with one host SIGKILLed halfway (failed requests counted: in flight at the kill vs after it).
// Prints the table and rewrites the `routing` section of docs/benchmarks.md. Bounded: ~2 minutes, loopback only.
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import { buildNginxConfig } from '../components/lib/serveConfig.js';
import type { RoutingPolicy } from '../components/lib/edgeRouting.js';
import { startNginx } from '../tests/support/nginx.js';
import { freePort } from '../tests/support/net.js';
import { conditions, f, onExit, quantile, ROOT, startStub, stop, streamOnce, writeSection, type Proc } from './harness.js';

const HOSTS = 3;
const PHASE_S = Number(process.env.BENCH_PHASE_S ?? 20);
const SESSION_RATE = Number(process.env.BENCH_SESSION_RATE ?? 3); // new sessions per second
const TURNS = Number(process.env.BENCH_TURNS ?? 5);
const THINK_MS = Number(process.env.BENCH_THINK_MS ?? 300);
// The simulated GPU: prefill 4000 tokens/s, KV cache of 4096 blocks × 16 tokens, replies of 200 tokens at 1000/s
// (a chat answer is a paragraph or two; each becomes part of the next turn's prompt).
const SIM = { STUB_PREFIX_SIM_MS_PER_TOKEN: process.env.BENCH_MS_PER_TOKEN ?? '0.25', STUB_PREFIX_SIM_BLOCKS: process.env.BENCH_CACHE_BLOCKS ?? '4096', STUB_PREFIX_SIM_BLOCK_TOKENS: '16' };
const REPLY_TOKENS = 200;
const TOKEN_RATE = 1000;
const CHAT_TYPES = ['whereToGo', 'whatToOrder', 'somethingFun', 'home'];
const PROMPTS = Object.fromEntries(CHAT_TYPES.map((t) => [t, readFileSync(`${ROOT}/prompts/${t}.md`, 'utf8')]));

interface Turn {
  session: number;
  turn: number;
  startedAt: number;
  ok: boolean;
  ttft: number;
  promptTokens: number;
  cachedTokens: number;
  /** Why it failed (HTTP status, cut stream, connection error). */
  error?: string;
}

const agent = new http.Agent({ keepAlive: true, maxSockets: Infinity });

// A deterministic user message per session and turn (~50 tokens), so each conversation is its own prefix.
function userMessage(session: number, turn: number): string {
  const words = ['ramen', 'tacos', 'quiet', 'cheap', 'outdoor', 'vegan', 'spicy', 'late', 'kids', 'walkable', 'dessert', 'rooftop'];
  const pick = (i: number) => words[(session * 7 + turn * 3 + i * 5) % words.length];
  return `Session ${session}, turn ${turn}: we want something ${Array.from({ length: 24 }, (_, i) => pick(i)).join(' ')} near the river.`;
}

async function session(url: string, id: number, t0: number, out: Turn[]): Promise<void> {
  const chatType = CHAT_TYPES[id % CHAT_TYPES.length]!;
  const messages: { role: string; content: string }[] = [{ role: 'system', content: PROMPTS[chatType]! }];
  for (let turn = 1; turn <= TURNS; turn++) {
    messages.push({ role: 'user', content: userMessage(id, turn) });
    const startedAt = performance.now() - t0;
    try {
      const r = await streamOnce(url, {
        agent,
        // What the Worker sends: <client_id>:<session>. The edge hashes it.
        headers: { 'x-client-id': `fudbuddy-web:bench-${id}`, 'x-chat-type': chatType },
        body: { model: 'fudbuddy', messages, stream_options: { include_usage: true } },
        timeoutMs: 30_000,
      });
      const ok = r.done && r.contentChunks === REPLY_TOKENS;
      const error = ok ? undefined : `stream ended after ${r.contentChunks} tokens`;
      out.push({ session: id, turn, startedAt, ok, ttft: r.ttft, promptTokens: r.usage?.prompt_tokens ?? 0, cachedTokens: r.usage?.prompt_tokens_details?.cached_tokens ?? 0, error });
      if (!ok) return; // a broken answer ends the conversation, as it would for a user
      messages.push({ role: 'assistant', content: JSON.parse(`"${r.text}"`) as string });
    } catch (err) {
      out.push({ session: id, turn, startedAt, ok: false, ttft: -1, promptTokens: 0, cachedTokens: 0, error: (err as Error).message });
      return;
    }
    await new Promise((r) => setTimeout(r, THINK_MS));
  }
}

interface PhaseResult {
  policy: RoutingPolicy;
  kill: boolean;
  turns: Turn[];
  killAt?: number;
  seconds: number;
}

async function phase(policy: RoutingPolicy, kill: boolean): Promise<PhaseResult> {
  const stubs: Proc[] = [];
  for (let i = 0; i < HOSTS; i++) stubs.push(await startStub(TOKEN_RATE, REPLY_TOKENS, SIM));
  const port = await freePort();
  const site = buildNginxConfig({ upstreams: stubs.map((s) => s.url.replace('http://', '')), listenPort: port, routing: { policy } });
  const nginx = await startNginx(site, port);
  onExit(() => nginx.proc.kill('SIGKILL'));
  const turns: Turn[] = [];
  const t0 = performance.now();
  let killAt: number | undefined;
  const killer = kill
    ? new Promise<void>((r) =>
        setTimeout(() => {
          killAt = performance.now() - t0;
          stubs[1]!.proc.kill('SIGKILL');
          r();
        }, (PHASE_S * 1000) / 2),
      )
    : Promise.resolve();
  const n = Math.round(PHASE_S * SESSION_RATE);
  await Promise.all([
    killer,
    ...Array.from({ length: n }, (_, i) => new Promise((r) => setTimeout(r, (i * 1000) / SESSION_RATE)).then(() => session(nginx.url, i, t0, turns))),
  ]);
  const seconds = (performance.now() - t0) / 1000;
  await nginx.stop();
  await Promise.all(stubs.map(stop));
  return { policy, kill, turns, killAt, seconds };
}

function summary(p: PhaseResult) {
  const ok = p.turns.filter((t) => t.ok);
  const later = ok.filter((t) => t.turn >= 2);
  const hit = (ts: Turn[]) => ts.reduce((a, t) => a + t.cachedTokens, 0) / Math.max(1, ts.reduce((a, t) => a + t.promptTokens, 0));
  const failed = p.turns.filter((t) => !t.ok);
  const failedAfterKill = p.killAt === undefined ? 0 : failed.filter((t) => t.startedAt > p.killAt!).length;
  return {
    requests: p.turns.length,
    failed: failed.length,
    failedAfterKill,
    p50: quantile(ok.map((t) => t.ttft), 0.5),
    p99: quantile(ok.map((t) => t.ttft), 0.99),
    p50Later: quantile(later.map((t) => t.ttft), 0.5),
    p99Later: quantile(later.map((t) => t.ttft), 0.99),
    hitLater: hit(later),
    hitAll: hit(ok),
  };
}

async function main(): Promise<void> {
  const started = Date.now();
  const loadStart = os.loadavg()[0]!.toFixed(1);
  execFileSync(process.execPath, ['scripts/build.mjs', 'stub'], { cwd: ROOT, stdio: 'inherit' });
  const results: PhaseResult[] = [];
  for (const kill of [false, true]) {
    for (const policy of ['roundRobin', 'session'] as RoutingPolicy[]) {
      const r = await phase(policy, kill);
      const s = summary(r);
      console.log(
        `${policy.padEnd(10)} kill=${kill ? 'yes' : 'no '} requests ${s.requests} failed ${s.failed} (after kill ${s.failedAfterKill}) ` +
          `TTFT p50 ${f(s.p50)} p99 ${f(s.p99)} ms | turns≥2 p50 ${f(s.p50Later)} p99 ${f(s.p99Later)} ms, cache hit ${f(100 * s.hitLater, 1)} % (${f(r.seconds, 1)} s)`,
      );
      for (const t of r.turns.filter((x) => !x.ok)) {
        console.log(`  failed: session ${t.session} turn ${t.turn}, sent ${f(t.startedAt - (r.killAt ?? 0), 1)} ms ${r.killAt === undefined ? 'into the phase' : 'after the kill'}: ${t.error}`);
      }
      results.push(r);
    }
  }
  const name = (p: PhaseResult) => `${p.policy === 'session' ? 'session-affine' : 'round-robin'}${p.kill ? ', host 2 killed at ' + f((p.killAt ?? 0) / 1000, 1) + ' s' : ''}`;
  const rows = results.map((p) => {
    const s = summary(p);
    const failed = p.kill ? `${s.failed} (${s.failed - s.failedAfterKill} in flight at the kill, ${s.failedAfterKill} after)` : String(s.failed);
    return `| ${name(p)} | ${s.requests} | ${failed} | ${f(s.p50)} / ${f(s.p99)} | ${f(s.p50Later)} / ${f(s.p99Later)} | ${f(100 * s.hitLater, 1)} % | ${f(100 * s.hitAll, 1)} % |`;
  });
  const [rr, affine] = [summary(results[0]!), summary(results[1]!)];
  const failures = results
    .filter((p) => p.kill)
    .map((p) => {
      const after = p.turns.filter((t) => !t.ok && t.startedAt > p.killAt!);
      const list = after.map((t) => `+${f(t.startedAt - p.killAt!, 1)} ms (${t.error})`).join(', ');
      return `${name(p)}: ${after.length ? `sent after the kill and failed: ${list}` : 'no request sent after the kill failed'}.`;
    });
  const totalS = (Date.now() - started) / 1000;
  const section = [
    `Command: \`npm run bench:routing\` (bench/routing-bench.ts; ${totalS.toFixed(0)} s). Measured ${new Date().toISOString().slice(0, 16)}Z on ${conditions()}, ` +
      `shared with other work (load average ${loadStart} at start, ${os.loadavg()[0]!.toFixed(1)} at the end).`,
    `Three model stubs with the **prefix-cache simulation** (not a GPU: prefill ${f(1000 / Number(SIM.STUB_PREFIX_SIM_MS_PER_TOKEN), 0)} tokens/s on one lane per host, ` +
      `LRU cache of ${SIM.STUB_PREFIX_SIM_BLOCKS} blocks × 16 tokens, replies of ${REPLY_TOKENS} tokens at ${TOKEN_RATE} tokens/s) behind the real edge nginx site (2 workers) on loopback. ` +
      `${SESSION_RATE} new sessions/s for ${PHASE_S} s, ${TURNS} turns each, ${THINK_MS} ms between a reply and the next turn; every turn resends the conversation ` +
      '(system prompt from prompts/ + history), streamed, keyed by `X-Client-Id: fudbuddy-web:<session>`. Each row starts with fresh stubs (cold caches).',
    '',
    '| routing | requests | failed | TTFT p50 / p99 ms (all turns) | TTFT p50 / p99 ms (turns ≥ 2) | prompt tokens from cache (turns ≥ 2) | (all turns) |',
    '|---|---|---|---|---|---|---|',
    ...rows,
    '',
    `**Affine vs round-robin, turns ≥ 2: TTFT p50 ${f(rr.p50Later / affine.p50Later, 1)}× lower, p99 ${f(rr.p99Later / affine.p99Later, 1)}× lower; ` +
      `cache hit ${f(100 * affine.hitLater, 1)} % vs ${f(100 * rr.hitLater, 1)} %.** Round-robin still hits on the system prompts (cached on every host) ` +
      'and on the earlier turns a host happened to serve, which is why its rate is well above 1/3.',
    '',
    'A failed request is one that did not end with all its tokens and [DONE] (the session then stops, as a user would). With the host killed, ' +
      'the streams running on it at that instant fail (the client sees them cut; nginx never replays a POST that reached a host), and in some runs one request sent a few ms after the kill fails with 502: nginx wrote it on an idle keep-alive connection to the killed host before it saw that connection close, and cannot tell it from a request the host received; ' +
      'its sessions move to the next host on the ring with their next turn (a connect error is retried there) and rebuild their cache on it.',
    '',
    ...failures,
  ].join('\n');
  console.log(`\n${section}\n`);
  writeSection('routing', section);
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    console.error(err);
    process.exit(1);
  },
);
