// Session-affine routing (components/lib/edgeRouting.ts) in a real nginx (2 workers) on loopback, in front of three
// loopback HTTP servers standing in for the GPU hosts' APIs (each answers with its name and can hold an answer
// open). Affinity, bounded load, failover, drain by reload, and a POST that reached a host is never replayed.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ROUTE_HEADER } from '../../components/lib/edgeRouting.js';
import { buildNginxConfig } from '../../components/lib/serveConfig.js';
import { freePort } from '../support/net.js';
import { eventually } from '../support/proc.js';
import { startNginx, type NginxProcess } from '../support/nginx.js';

const CONCURRENCY = 2;

interface Host {
  name: string;
  port: number;
  server: Server;
  /** Request ids this host received (a replayed request would show up on two hosts). */
  seen: string[];
  /** Answers held open (path /hold) until releaseAll(). Path /crash reads the request, then drops the connection. */
  held: ServerResponse[];
}

function handler(h: Host) {
  return (req: IncomingMessage, res: ServerResponse) => {
    h.seen.push(String(req.headers['x-request-id'] ?? ''));
    req.resume();
    req.on('end', () => {
      if (req.url === '/crash') {
        req.socket.destroy();
        return;
      }
      res.setHeader('x-host', h.name);
      if (req.url === '/own-502') {
        res.writeHead(502, { 'content-type': 'application/json' }).end(JSON.stringify({ error: { code: 'upstream_error', host: h.name } }));
        return;
      }
      if (req.url === '/hold') {
        res.writeHead(200, { 'content-type': 'text/event-stream' });
        res.write('data: held\n\n');
        h.held.push(res);
        return;
      }
      res.end(JSON.stringify({ host: h.name }));
    });
  };
}

async function listen(h: Host, port = 0): Promise<void> {
  h.server = createServer(handler(h));
  await new Promise<void>((r) => h.server.listen(port, '127.0.0.1', r));
  h.port = (h.server.address() as AddressInfo).port;
}

async function kill(h: Host): Promise<void> {
  const closed = new Promise<void>((r) => h.server.close(() => r()));
  h.server.closeAllConnections();
  h.held = [];
  await closed;
}

let hosts: Host[];
let nginx: NginxProcess;
let listenPort: number;
let nextId = 0;

const site = (drain: string[] = [], policy: 'session' | 'roundRobin' = 'session') =>
  buildNginxConfig({
    upstreams: hosts.map((h) => ({ address: `127.0.0.1:${h.port}`, drain: drain.includes(h.name) })),
    listenPort,
    routing: { policy, sessionConcurrency: CONCURRENCY, failTimeoutSeconds: 1 },
  });

async function send(session: string | undefined, opts: { path?: string; method?: string; header?: string } = {}) {
  const id = `req-${++nextId}`;
  // One connection per request: the tests reload nginx, whose old workers close their idle keep-alive connections,
  // and a POST that fetch sent on one of those just as it closed fails with "other side closed" (not retried).
  const headers: Record<string, string> = { 'content-type': 'application/json', 'x-request-id': id, connection: 'close' };
  if (session !== undefined) headers[opts.header ?? 'x-client-id'] = session;
  const method = opts.method ?? 'POST';
  const res = await fetch(`${nginx.url}${opts.path ?? '/v1/chat/completions'}`, { method, headers, body: method === 'POST' ? '{"messages":[]}' : undefined });
  return { id, res, status: res.status, host: res.headers.get('x-host'), route: res.headers.get(ROUTE_HEADER) };
}

/**
 * Where a session's requests land now (asserts they all land on one host). nginx frees a request's limit_conn slot
 * in its cleanup, which may run just after the client read the whole answer: with two workers the other one can
 * take the next turn first and count the finished request, so that turn overflows. A real session's next turn
 * comes seconds later; here a turn that overflowed is sent again (a hang guard of 20 tries). Callers hold fewer
 * than CONCURRENCY of the session's requests open meanwhile, so a real overflow cannot be retried away.
 */
async function homeOf(session: string, turns = 3): Promise<string> {
  const seen = new Set<string>();
  for (let i = 0; i < turns; i++) {
    let r = await send(session);
    for (let retry = 0; r.route === 'overflow' && retry < 20; retry++) {
      await r.res.arrayBuffer();
      await new Promise((res) => setTimeout(res, 50));
      r = await send(session);
    }
    expect(r.route).toBe('home');
    expect(r.status).toBe(200);
    await r.res.arrayBuffer();
    seen.add(r.host!);
  }
  expect([...seen]).toHaveLength(1);
  return [...seen][0]!;
}

/** Opens a held (streamed) request and resolves once its first event arrived, i.e. the host holds it. */
async function hold(session: string | undefined) {
  const r = await send(session, { path: '/hold' });
  expect(r.status).toBe(200);
  const reader = r.res.body!.getReader();
  expect(new TextDecoder().decode((await reader.read()).value)).toContain('held');
  const rest = (async () => {
    let text = '';
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return text;
      text += new TextDecoder().decode(value);
    }
  })();
  return { ...r, rest };
}

function releaseAll(): void {
  for (const h of hosts) for (const res of h.held.splice(0)) res.end('data: done\n\n');
}

beforeAll(async () => {
  hosts = ['gpu-a', 'gpu-b', 'gpu-c'].map((name) => ({ name, port: 0, server: undefined as unknown as Server, seen: [], held: [] }));
  for (const h of hosts) await listen(h);
  listenPort = await freePort();
  nginx = await startNginx(site(), listenPort);
}, 30_000);

afterEach(() => releaseAll());

afterAll(async () => {
  releaseAll();
  await nginx?.stop();
  for (const h of hosts ?? []) if (h.server.listening) await kill(h);
});

const sessions = Array.from({ length: 48 }, (_, i) => `fudbuddy-web:session-${i}`);

describe('session-affine edge routing in real nginx (loopback stand-ins for the GPU hosts)', () => {
  it('keeps every turn of a session on one host and spreads sessions over the hosts', async () => {
    const homes = new Map<string, string>();
    for (const s of sessions) homes.set(s, await homeOf(s));
    const perHost = new Set(homes.values());
    expect(perHost.size).toBe(3);
    // Same answer on a second pass: the ring is deterministic, not per connection or per worker.
    for (const s of sessions.slice(0, 6)) expect(await homeOf(s, 1)).toBe(homes.get(s));
    const r = await send(sessions[0]);
    expect(r.route).toBe('home');
  });

  it('keys on the tailnet user that tailscale serve names when there is no X-Client-Id', async () => {
    const users = Array.from({ length: 12 }, (_, i) => `user${i}@example.com`);
    const homes = new Set<string>();
    for (const u of users) {
      const seen = new Set<string>();
      for (let t = 0; t < 3; t++) {
        const r = await send(u, { header: 'tailscale-user-login' });
        expect(r.route).toBe('home');
        seen.add(r.host!);
      }
      expect(seen.size).toBe(1);
      homes.add([...seen][0]!);
    }
    expect(homes.size).toBeGreaterThan(1);
  });

  it('sends requests without a session to the least-busy host', async () => {
    const a = await hold(undefined);
    expect(a.route).toBe('any');
    // Each held stream makes its host the busiest: the next keyless request goes to an idle one.
    const b = await hold(undefined);
    const c = await hold(undefined);
    expect(new Set([a.host, b.host, c.host]).size).toBe(3);
    releaseAll();
    for (const r of [a, b, c]) expect(await r.rest).toContain('done');
  });

  it('bounds one session: requests beyond sessionConcurrency in flight go to the least-busy host, none fails', async () => {
    const s = sessions[1]!;
    const home = await homeOf(s, 1);
    const open = [];
    for (let i = 0; i < CONCURRENCY + 2; i++) open.push(await hold(s));
    const routes = open.map((r) => r.route);
    expect(routes.filter((r) => r === 'home')).toHaveLength(CONCURRENCY);
    expect(routes.filter((r) => r === 'overflow')).toHaveLength(2);
    for (const r of open.filter((o) => o.route === 'home')) expect(r.host).toBe(home);
    // Overflow is least-busy among themselves: the two land on different hosts.
    const overflowHosts = open.filter((o) => o.route === 'overflow').map((o) => o.host);
    expect(new Set(overflowHosts).size).toBe(2);
    releaseAll();
    for (const r of open) expect(await r.rest).toContain('done');
    // Once the session is below its bound again it is back home.
    expect(await homeOf(s, 1)).toBe(home);
  });

  it('moves only a dead host’s sessions, each to one new host, with no failed request; they return after it is back', async () => {
    const homes = new Map<string, string>();
    for (const s of sessions) homes.set(s, await homeOf(s, 1));
    const victim = hosts.find((h) => h.name === homes.get(sessions[0]!))!;
    await kill(victim);
    const moved = new Map<string, string>();
    for (const s of sessions) {
      const now = await homeOf(s, 2); // every request answered 200 (asserted inside), all turns on one host
      if (homes.get(s) === victim.name) {
        expect(now).not.toBe(victim.name);
        moved.set(s, now);
      } else {
        expect(now).toBe(homes.get(s));
      }
    }
    expect(moved.size).toBeGreaterThan(0);
    await listen(victim, victim.port);
    // fail_timeout is 1 s here, on nginx's whole-second clock (now - checked must exceed it): after 2 s the host is
    // tried again, and its sessions come home. Each worker reads that clock from its own cached time, so on a loaded
    // box the first try may still come a little later: polled, with a hang guard.
    await new Promise((r) => setTimeout(r, 2100));
    for (const s of moved.keys()) {
      const home = await eventually(async () => ((await homeOf(s, 1)) === victim.name ? victim.name : undefined), `${s} back on ${victim.name}`, 10_000, 250);
      expect(home).toBe(victim.name);
    }
  });

  it('drains a host by reload: its running stream finishes, its sessions move, the others stay, nothing fails', async () => {
    const homes = new Map<string, string>();
    for (const s of sessions) homes.set(s, await homeOf(s, 1));
    const drained = homes.get(sessions[3]!)!;
    const running = await hold(sessions[3]!);
    expect(running.host).toBe(drained);
    await nginx.reload(site([drained]));
    for (const s of sessions) {
      const now = await homeOf(s, 2);
      if (homes.get(s) === drained) expect(now).not.toBe(drained);
      else expect(now).toBe(homes.get(s));
    }
    releaseAll();
    expect(await running.rest).toContain('done');
    await nginx.reload(site());
    expect(await homeOf(sessions[3]!, 1)).toBe(drained);
  });

  it('roundRobin policy (the comparison baseline) spreads one session over every host', async () => {
    await nginx.reload(site([], 'roundRobin'));
    try {
      const seen = new Set<string>();
      for (let i = 0; i < 6; i++) {
        const r = await send(sessions[4]);
        expect(r.route).toBe('rr');
        seen.add(r.host!);
      }
      expect(seen.size).toBe(3);
    } finally {
      await nginx.reload(site());
    }
  });
  it('never replays a POST that reached a host (nginx answers JSON 502, a host’s own 502 passes through); a GET that failed the same way moves on', async () => {
    const s = sessions[2]!;
    const home = await homeOf(s, 1);
    const post = await send(s, { path: '/crash' });
    expect(post.status).toBe(502);
    // nginx's own answer, as OpenAI-style JSON like the API's errors (not nginx's HTML page).
    expect(post.res.headers.get('content-type')).toBe('application/json');
    expect(await post.res.json()).toEqual({ error: { message: expect.stringContaining('edge proxy'), type: 'upstream_error', code: 'edge_upstream_failed', param: null } });
    expect(post.res.headers.get('retry-after')).toBe('2');
    const postSeenBy = hosts.filter((h) => h.seen.includes(post.id)).map((h) => h.name);
    expect(postSeenBy).toEqual([home]);
    // A host's own 502 passes through untouched (only nginx's own errors become the edge's JSON), and is not retried.
    const own = await send(s, { path: '/own-502' });
    expect(own.status).toBe(502);
    expect(await own.res.json()).toEqual({ error: { code: 'upstream_error', host: home } });
    expect(hosts.filter((h) => h.seen.includes(own.id)).map((h) => h.name)).toEqual([home]);
    // The contrast that shows the rule is nginx's non-idempotent one, not "no retries at all".
    const get = await send(s, { path: '/crash', method: 'GET' });
    const getSeenBy = hosts.filter((h) => h.seen.includes(get.id)).map((h) => h.name);
    expect(getSeenBy.length).toBeGreaterThan(1);
    expect(getSeenBy).toContain(home);
    expect(get.status).toBe(502); // every host dropped it
    await get.res.arrayBuffer();
  });

});
