// The tailnet policy the program registers, enforced by real tailscaled nodes joined to a real Headscale
// (tests/support/tailnet.ts). Allowed paths are probed first, with retries (the first handshake over DERP takes a
// few seconds); only once every allowed path answered are the denied paths probed, each from a node that has just
// proved it can reach the same peer.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { API_PORT, MODEL_PORT } from '../../components/lib/aclPolicy.js';
import { headscalePolicy } from '../../components/lib/headscale.js';
import { monitoringTailnetAccess } from '../../components/monitoring.js';
import { EDGE_HTTP_PORT, EDGE_PROXY_PORT, serveCommand } from '../../components/lib/serveConfig.js';
import { eventually, startTailnet, type Tailnet, type TailnetNode } from '../support/tailnet.js';

const ADMIN = 'alice@example.com';
const MEMBER = 'bob@example.com';
// As index.ts registers it for a private Headscale stack: serve clients on the edge's plain-HTTP serve port.
const SERVE_PORT = EDGE_HTTP_PORT;
const policyArgs = { admins: [ADMIN], serveClients: ['autogroup:member'], servePort: SERVE_PORT };

let net: Tailnet;
const nodes: Record<string, TailnetNode> = {};
const ip: Record<string, string> = {};

async function reaches(from: string, to: string, port: number): Promise<string> {
  return eventually(async () => (await nodes[from]!.connect(ip[to]!, port, 2000)) ?? undefined, `${from} -> ${to}:${port}`, 60_000, 250);
}

/**
 * A tailnet user's GET of the edge's serve URL, http://<edge MagicDNS name>/healthz (plain HTTP: Headscale has no
 * certificates). `tailscale serve` routes by that name, so the request goes to the edge's tailnet address with it
 * as Host (these clients run no resolver).
 */
async function served(from: string): Promise<string> {
  return eventually(
    async () => (await nodes[from]!.get(`http://${ip.edge}:${SERVE_PORT}/healthz`, { timeoutMs: 2000, host: edgeDnsName })) ?? undefined,
    `${from} -> edge serve`,
    60_000,
    250,
  );
}
let edgeDnsName = '';

beforeAll(async () => {
  net = await startTailnet();
  // Policy identities are logins: headscale matches them against the users' emails.
  const alice = await net.createUser('alice', ADMIN);
  const bob = await net.createUser('bob', MEMBER);
  // Tests in a policy are evaluated against existing nodes, so the nodes join under the policy without its tests.
  const bootstrap = await net.setPolicy(headscalePolicy(policyArgs, { withTests: false }));
  expect(bootstrap.code, bootstrap.stderr).toBe(0);

  const plan: [string, { tags?: string[]; user?: number }][] = [
    ['edge', { tags: ['tag:edge'] }],
    ['gpu1', { tags: ['tag:gpu'] }],
    ['gpu2', { tags: ['tag:gpu'] }],
    ['alice-laptop', { user: alice }],
    ['bob-laptop', { user: bob }],
  ];
  await Promise.all(
    plan.map(async ([name, owner]) => {
      const node = await net.addNode(name);
      const r = await net.join(node, await net.preAuthKey(owner));
      if (r.code !== 0) throw new Error(`${name} did not join: ${r.stderr}\n${node.log().slice(-3000)}`);
      nodes[name] = node;
      ip[name] = await node.ip();
    }),
  );
  await Promise.all([
    nodes.gpu1!.listen([API_PORT, MODEL_PORT, 22]),
    nodes.gpu2!.listen([API_PORT, MODEL_PORT, 22]),
    nodes.edge!.listen([22]),
    // The edge's loopback proxy stand-in (nginx in production) behind the real `tailscale serve --http`.
    nodes.edge!.listenHttp('127.0.0.1', EDGE_PROXY_PORT),
  ]);
  edgeDnsName = (JSON.parse((await nodes.edge!.tailscale(['status', '--json'])).stdout) as { Self: { DNSName: string } }).Self.DNSName.replace(/\.$/, '');
  expect(edgeDnsName).toBe('edge.tailnet.test');
  const [cli, ...serveArgs] = serveCommand('serve', 'http');
  expect(cli).toBe('tailscale');
  const serve = await nodes.edge!.tailscale(serveArgs, { timeoutMs: 30_000 });
  if (serve.code !== 0) throw new Error(`tailscale serve --http failed: ${serve.stderr}`);
}, 240_000);

afterAll(async () => {
  await net?.stop();
});

describe('the registered policy, enforced by real tailscaled over Headscale', () => {
  it('nodes carry the tags of their keys; user nodes carry none', async () => {
    const st = JSON.parse((await nodes.edge!.tailscale(['status', '--json'])).stdout) as {
      Self: { Tags?: string[] };
      Peer: Record<string, { HostName: string; Tags?: string[] }>;
    };
    expect(st.Self.Tags).toEqual(['tag:edge']);
    const peers = Object.values(st.Peer);
    expect(peers.find((p) => p.HostName === 'gpu1')?.Tags).toEqual(['tag:gpu']);
  });

  it('allows: edge -> gpu:8001, admin -> gpu:22 and edge:22, members -> the edge serve URL on :80 (probed with retries)', async () => {
    expect(await reaches('edge', 'gpu1', API_PORT)).toBe(`ok ${API_PORT}`);
    expect(await reaches('edge', 'gpu2', API_PORT)).toBe(`ok ${API_PORT}`);
    expect(await reaches('alice-laptop', 'gpu1', 22)).toBe('ok 22');
    expect(await reaches('alice-laptop', 'edge', 22)).toBe('ok 22');
    expect(await served('bob-laptop')).toBe('200 http ok /healthz');
    expect(await served('alice-laptop')).toBe('200 http ok /healthz');
  }, 180_000);

  it('denies: member/admin/another gpu -> gpu:8001, anyone -> 8000, edge -> gpu:22, member -> ssh', async () => {
    // Positive markers first: each source below has just reached a peer, so a silence is the policy, not a cold tunnel.
    await reaches('edge', 'gpu1', API_PORT);
    await reaches('alice-laptop', 'gpu1', 22);
    await served('bob-laptop');
    const denied: [string, string, number][] = [
      ['bob-laptop', 'gpu1', API_PORT],
      ['alice-laptop', 'gpu1', API_PORT],
      ['gpu2', 'gpu1', API_PORT],
      ['edge', 'gpu1', MODEL_PORT],
      ['alice-laptop', 'gpu1', MODEL_PORT],
      ['gpu2', 'gpu1', MODEL_PORT],
      ['edge', 'gpu1', 22],
      ['bob-laptop', 'gpu1', 22],
      ['gpu1', 'edge', 22],
    ];
    const results = await Promise.all(denied.map(async ([from, to, port]) => [`${from} -> ${to}:${port}`, await nodes[from]!.connect(ip[to]!, port, 4000)] as const));
    expect(results.filter(([, got]) => got !== null)).toEqual([]);
    // Tagged hosts are no serve clients (tailnetClients are users): the GPU host gets no answer from the edge URL.
    expect(await nodes.gpu1!.get(`http://${ip.edge}:${SERVE_PORT}/healthz`, { timeoutMs: 4000, host: edgeDnsName })).toBeNull();
    // And the allowed path still works after the denials (the filter dropped packets, the tunnel is up).
    expect(await nodes.edge!.connect(ip.gpu1!, API_PORT, 4000)).toBe(`ok ${API_PORT}`);
  }, 120_000);

  it("the policy's own tests pass in `headscale policy check` and `policy set`", async () => {
    const full = headscalePolicy(policyArgs);
    const check = await net.checkPolicy(full);
    expect(check.stderr + check.stdout).toContain('Policy is valid');
    expect(check.code).toBe(0);
    const set = await net.setPolicy(full);
    expect(set.code, set.stderr).toBe(0);
    // The full policy (with tests) is live and still enforced.
    expect(await reaches('edge', 'gpu1', API_PORT)).toBe(`ok ${API_PORT}`);
  }, 60_000);

  it('a deliberately widened policy (members -> gpu:8001) fails its own tests in headscale', async () => {
    const widened = JSON.parse(headscalePolicy(policyArgs)) as { grants: { src: string[]; dst: string[]; ip: string[] }[] };
    widened.grants.push({ src: ['autogroup:member'], dst: ['tag:gpu'], ip: [`tcp:${API_PORT}`] });
    const text = JSON.stringify(widened);
    const check = await net.checkPolicy(text);
    expect(check.code).not.toBe(0);
    // The admin is a member: the policy's own test "admin -> gpu:8001 denied" is what catches the widening.
    expect(check.stderr + check.stdout).toContain(`${ADMIN} -> tag:gpu:${API_PORT}: expected DENIED, got ALLOWED`);
    const set = await net.setPolicy(text);
    expect(set.code).not.toBe(0);
    // Refused, so the enforced policy did not widen: the admin still cannot reach the API.
    await reaches('alice-laptop', 'gpu1', 22);
    expect(await nodes['alice-laptop']!.connect(ip.gpu1!, API_PORT, 4000)).toBeNull();
  }, 60_000);

  it('monitoring on the edge (tag:edge + tag:monitoring on one device): Headscale checks tests per device, and the stack sends tests that hold', async () => {
    // As index.ts plans it with monitoring on: the edge's key carries both tags.
    const hsNodes = JSON.parse((await net.headscale(['nodes', 'list', '-o', 'json'])).stdout) as { id: number | string; given_name: string }[];
    const edgeId = String(hsNodes.find((n) => n.given_name === 'edge')!.id);
    const withMonitoring = { ...policyArgs, monitoring: monitoringTailnetAccess({ logs: false }) };
    // The live policy must own tag:monitoring before a node may carry it (as the stack's bootstrap policy does).
    const owned = await net.setPolicy(headscalePolicy(withMonitoring, { withTests: false }));
    expect(owned.code, owned.stderr).toBe(0);
    const retag = await net.headscale(['nodes', 'tag', '-i', edgeId, '-t', 'tag:edge,tag:monitoring']);
    expect(retag.code, retag.stderr).toBe(0);
    // Per tag (as our local checker and the policy's text read), tag:monitoring alone must not reach the API ...
    const perTag = await net.checkPolicy(headscalePolicy(withMonitoring));
    expect(perTag.code).not.toBe(0);
    // ... but the device with it also carries tag:edge, which does: that deny cannot hold on this tailnet.
    expect(perTag.stderr + perTag.stdout).toContain(`tag:monitoring -> tag:gpu:${API_PORT}: expected DENIED, got ALLOWED`);
    const nodeTags = [['tag:gpu'], ['tag:gpu'], ['tag:edge', 'tag:monitoring']];
    const forDevices = headscalePolicy(withMonitoring, { nodeTags });
    const check = await net.checkPolicy(forDevices);
    expect(check.stderr + check.stdout).toContain('Policy is valid');
    // What was left out is only that deny: the monitoring tag's scrape ports and its other denies are still tested.
    const tests = (JSON.parse(forDevices) as { tests: { src: string; accept?: string[]; deny?: string[] }[] }).tests.find((t) => t.src === 'tag:monitoring');
    expect(tests?.accept).toEqual(expect.arrayContaining(['tag:gpu:9100']));
    expect(tests?.deny).toEqual([`tag:gpu:${MODEL_PORT}`, 'tag:gpu:22']);
  }, 60_000);
});
