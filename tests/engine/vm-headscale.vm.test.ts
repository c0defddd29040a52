// Real engine, the private-exposure stack over a real Headscale tailnet, on two qemu VMs with real systemd, deployed
// as `ubuntu` through sudo (stack e2e-headscale): a GPU host VM (model stub, gpu: none) and an edge-node VM (nginx +
// `tailscale serve --http=80`), which is also the stack's "Headscale host": the program applies the policy and
// mints the single-use tagged keys with Headscale's CLI there over SSH. `pulumi up` from bare VMs joins both to the
// tailnet with --login-server; Prometheus & co. (no Grafana) on the edge scrape the GPU host; an admin's laptop on the tailnet then gets a streamed chat through the edge's serve
// port → nginx → the GPU host's API on its tailnet address; the policy holds; a second `up` changes nothing and runs
// nothing on either VM; `destroy` leaves nothing of ours.
// Real: the Pulumi engine, Headscale v0.29.3 and tailscaled v1.102.5 (scripts/tailnet-toolchain.sh), systemd 252,
// sudo, apt (Debian's nginx through apt-cacher-ng), ufw. Stand-ins: the command provider (this repo's, real SSH;
// docs/engine-tests.md) and the model stub for vLLM (no GPU). Test plumbing (tests/support/vmTailnet.ts): Tailscale
// pre-placed as its package installs it (pkgs.tailscale.com is unreachable), the guests' route to Headscale (a qemu
// guestfwd; WireGuard relays over Headscale's DERP), and the edge VM's Headscale socket, an SSH forward of the real
// server's, which runs in a namespace on this machine so the laptop (a namespace node) reaches it too.
// Timeouts are hang guards for TCG guests on a busy 2-core box, not speed goals.
import { execFileSync } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { API_PORT, MODEL_PORT } from '../../components/lib/aclPolicy.js';
import { MONITORING_PORTS } from '../../components/lib/monitoringFiles.js';
import { EXAMPLE_PASSPHRASE } from '../../stacks/exampleStacks.js';
import { eventually, startTailnet, type Tailnet, type TailnetNode } from '../support/tailnet.js';
import { ensureVmImage, startVm, type Vm } from '../support/vm.js';
import { controlForward, headscaleCliOnVm, preplaceTailscale } from '../support/vmTailnet.js';
import { createWorkspace, expectOk, REPO_ROOT, type Workspace } from './support/engine.js';
import { footprintLeft, remoteTimeline, serverFootprintLeft, stackRunner, sudoRunsSince, vmNow, type StackRunner } from './support/vmEngine.js';

const STACK = 'e2e-headscale';
const ADMIN = 'alice@example.com';
const EDGE = 'fudbuddy-edge';
const GPU = 'fudbuddy-gpu1';
const EDGE_HOST_HEADER = `${EDGE}.tailnet.test`;

let ws: Workspace;
let stack: StackRunner;
let net: Tailnet;
let gpu: Vm;
let edge: Vm;
let laptop: TailnetNode;
let cli: { stop(): void } | undefined;
let serviceToken = '';
let metricsToken = '';
const ips: Record<string, string> = {};
const figures: Record<string, string> = {};
const t0 = Date.now();
const since = (t: number): string => `${((Date.now() - t) / 1000).toFixed(1)} s`;

interface HsNode {
  given_name: string;
  ip_addresses: string[];
  tags?: string[];
}
/** The Headscale CLI against the run's server; its stdout, or an error with its stderr. */
const headscale = async (args: string[]): Promise<string> => {
  const r = await net.headscale(args);
  if (r.code !== 0) throw new Error(`headscale ${args.join(' ')}: ${r.stderr || r.stdout}`);
  return r.stdout;
};
const hsNodes = async (): Promise<HsNode[]> => JSON.parse(await headscale(['nodes', 'list', '-o', 'json'])) as HsNode[];

/** A chat from the laptop through the edge's serve port (the private exposure's front door). */
const chatThroughEdge = (stream: boolean, timeoutMs = 30_000) =>
  laptop.request(`http://${ips[EDGE]}/v1/chat/completions`, {
    method: 'POST',
    headers: { host: EDGE_HOST_HEADER, authorization: `Bearer ${serviceToken}`, 'content-type': 'application/json' },
    body: JSON.stringify({ messages: [{ role: 'user', content: 'Where should we eat tonight?' }], max_tokens: 16, stream }),
    timeoutMs,
  });

beforeAll(async () => {
  ws = createWorkspace(EXAMPLE_PASSPHRASE, { from: REPO_ROOT, copy: ['Pulumi.yaml', `Pulumi.${STACK}.yaml`], link: ['index.ts'] });
  stack = stackRunner(ws, STACK);
  expectOk(await ws.pulumi(['stack', 'init', STACK, '--secrets-provider', 'passphrase']), 'stack init');
  // The operator's tailnet before the first deploy: Headscale, the admin's login and the admin's laptop (Headscale
  // runs the policy's tests against real nodes: each tailnetAdmins login needs a device).
  net = await startTailnet();
  const alice = await net.createUser('alice', ADMIN);
  laptop = await net.addNode('alice-laptop');
  const joined = await net.join(laptop, await net.preAuthKey({ user: alice }));
  if (joined.code !== 0) throw new Error(`the laptop did not join: ${joined.stderr}`);
  await ensureVmImage();
  const tag = process.pid % 100000;
  const booted = Date.now();
  [gpu, edge] = await Promise.all([
    startVm(`hg${tag}`, { guestForwards: [controlForward(net)] }),
    startVm(`he${tag}`, { guestForwards: [controlForward(net)] }),
  ]);
  figures['two VMs boot to SSH (in parallel)'] = since(booted);
  await Promise.all([preplaceTailscale(gpu), preplaceTailscale(edge)]);
  cli = await headscaleCliOnVm(edge, net);
  // One deploy key for the stack: the GPU VM's key is authorized on the edge VM too, as an operator would.
  const pub = execFileSync('ssh-keygen', ['-y', '-f', gpu.privateKeyPath], { encoding: 'utf8' });
  expect((await edge.ssh('cat >> ~/.ssh/authorized_keys', { stdin: pub })).code).toBe(0);
  for (const [key, vm] of [['gpuHosts[0]', gpu], ['edgeNode', edge], ['headscale', edge]] as const) {
    await stack.set(`fudbuddy:${key}.port`, String(vm.port));
    await stack.set(`fudbuddy:${key}.hostKey`, vm.hostKey);
  }
  expectOk(await stack.pulumi(['config', 'set', '--secret', 'fudbuddy:sshPrivateKey'], 60_000, gpu.privateKey), 'config set sshPrivateKey');
  serviceToken = expectOk(await stack.pulumi(['config', 'get', 'serviceToken']), 'config get').stdout.trim();
  metricsToken = expectOk(await stack.pulumi(['config', 'get', 'metricsToken']), 'config get').stdout.trim();
}, 1_800_000);

afterAll(async () => {
  cli?.stop();
  await Promise.all([gpu?.stop(), edge?.stop()]);
  await net?.stop();
  ws?.dispose();
  figures['total (this file)'] = since(t0);
  console.log(`vm-headscale figures:\n${Object.entries(figures).map(([k, v]) => `  ${k}: ${v}`).join('\n')}`);
}, 180_000);

describe('real engine: a private stack over a real Headscale tailnet on two VMs, as ubuntu (command stand-in, model stub)', () => {
  it('up from bare VMs: both join with tagged single-use keys, and a streamed chat answers through the edge', async () => {
    const [gpuSince, edgeSince] = await Promise.all([vmNow(gpu), vmNow(edge)]);
    const up = await stack.timed('up from bare VMs', ['up', '--yes', '--skip-preview'], 2_400_000);
    figures['pulumi up from bare VMs'] = `${up.seconds.toFixed(1)} s`;
    console.log(`GPU VM step timeline (s after its first remote command):\n${await remoteTimeline(gpu, gpuSince)}`);
    console.log(`edge VM step timeline (s after its first remote command):\n${await remoteTimeline(edge, edgeSince)}`);

    // Headscale's own view: each host joined once, with its key's tag.
    const nodes = await hsNodes();
    for (const [name, tags] of [[GPU, ['tag:gpu']], [EDGE, ['tag:edge', 'tag:monitoring']]] as const) {
      const n = nodes.find((x) => x.given_name === name);
      expect([...(n?.tags ?? [])].sort(), `${name} in ${JSON.stringify(nodes)}`).toEqual(tags);
      ips[name] = n!.ip_addresses.find((a) => a.startsWith('100.'))!;
    }
    expect((await gpu.ssh('systemctl is-active tailscaled fudbuddy-model-stub.service fudbuddy-api.service')).stdout.trim()).toBe('active\nactive\nactive');
    // The API listens on the GPU host's tailnet address only.
    expect((await gpu.ssh('ss -Htln')).stdout).toContain(`${ips[GPU]}:${API_PORT}`);
    expect((await edge.ssh('systemctl is-active tailscaled nginx')).stdout.trim()).toBe('active\nactive');

    // The admin's laptop → the edge's serve port (plain HTTP inside the tailnet) → nginx → the GPU host's API.
    const first = Date.now();
    const health = await eventually(
      async () => {
        const r = await laptop.get(`http://${ips[EDGE]}/healthz`, { timeoutMs: 5000, host: EDGE_HOST_HEADER });
        return r?.startsWith('200 ') ? r : undefined;
      },
      'laptop -> edge /healthz 200',
      300_000,
      500,
    );
    expect(health).toMatch(/^200 /);
    figures['up done -> /healthz 200 through the edge (handshakes over DERP)'] = since(first);
    const r = await chatThroughEdge(true);
    expect(r?.status, r?.body).toBe(200);
    const events = r!.body.split('\n').filter((l) => l.startsWith('data: '));
    expect(events.length).toBeGreaterThan(2);
    expect(events.at(-1)).toBe('data: [DONE]');
    const text = events.slice(0, -1).map((l) => (JSON.parse(l.slice(6)) as { choices: { delta?: { content?: string } }[] }).choices[0]?.delta?.content ?? '').join('');
    expect(text.length).toBeGreaterThan(0);
    figures['streamed chat laptop -> edge -> GPU (16 tokens)'] = `${r!.ms} ms`;
  }, 2_700_000);

  it('the policy the stack applied (tests included) holds: the admin gets SSH but not the API, nobody the model port', async () => {
    const live = JSON.parse(await headscale(['policy', 'get'])) as { tests?: unknown[] };
    expect(live.tests?.length).toBeGreaterThan(0);
    const ssh = await eventually(async () => (await laptop.banner(ips[GPU]!, 22, 4000)) ?? undefined, 'laptop -> gpu:22', 120_000, 500);
    expect(ssh).toMatch(/^SSH-2\.0-OpenSSH/);
    expect(await laptop.get(`http://${ips[GPU]}:${API_PORT}/healthz`, { timeoutMs: 4000 })).toBeNull();
    expect(await laptop.banner(ips[GPU]!, MODEL_PORT, 4000)).toBeNull();
    // The edge's path to the API is the one the policy grants (a refusal above was the policy, not a dead relay).
    expect((await chatThroughEdge(false))?.status).toBe(200);
  }, 600_000);

  it('monitoring on the edge: Prometheus scrapes the GPU host over the tailnet and probes the edge, every rule group healthy', async () => {
    const promApi = async (q: string): Promise<unknown> => JSON.parse((await edge.ssh(`curl -fsS 'http://127.0.0.1:${MONITORING_PORTS.prometheus}/api/v1/${q}'`)).stdout || 'null');
    const health = async (): Promise<Record<string, string>> => {
      const r = (await promApi('targets')) as { data?: { activeTargets: { labels: { job: string; instance: string }; health: string }[] } } | null;
      return Object.fromEntries((r?.data?.activeTargets ?? []).map((t) => [`${t.labels.job} ${t.labels.instance}`, t.health]));
    };
    const started = Date.now();
    const all = await eventually(
      async () => {
        const h = await health();
        return Object.keys(h).length > 0 && Object.values(h).every((v) => v === 'up') ? h : undefined;
      },
      'every Prometheus target up',
      300_000,
      2000,
    ).catch(async (e: Error) => {
      throw new Error(`${e.message}: ${JSON.stringify(await health())}`);
    });
    figures['up done -> every Prometheus target up'] = since(started);
    console.log(`Prometheus targets on the edge:\n${Object.keys(all).map((k) => `  ${k}`).join('\n')}`);
    // The GPU host's exporters are scraped across the tailnet (its tailnet address), the edge proxy through blackbox.
    expect(Object.keys(all).some((k) => k.includes(ips[GPU]!) || k.includes(GPU))).toBe(true);
    const rules = (await promApi('rules')) as { data: { groups: { name: string; rules: { health: string }[] }[] } };
    expect(rules.data.groups.length).toBeGreaterThan(0);
    for (const g of rules.data.groups) for (const r of g.rules) expect(r.health, g.name).toBe('ok');
    // No Grafana (monitoring.grafana false): nothing of it was installed or listens.
    expect((await edge.ssh(`dpkg -s grafana >/dev/null 2>&1 && echo installed; ss -Hltn | grep -c ':${MONITORING_PORTS.grafana} ' || true`)).stdout.trim()).toBe('0');
  }, 600_000);

  it('the state holds no secret in plaintext: service and metrics tokens, deploy key, the minted auth keys', async () => {
    const exported = expectOk(await stack.pulumi(['stack', 'export']), 'stack export').stdout;
    const keyBody = gpu.privateKey.split('\n').filter((l) => l && !l.startsWith('-----'))[1]!;
    const minted = (JSON.parse(await headscale(['preauthkeys', 'list', '-o', 'json'])) as { key?: string }[])
      .map((k) => k.key ?? '')
      .filter((k) => k.length >= 16);
    for (const s of [serviceToken, metricsToken, keyBody, ...minted]) {
      expect(exported).not.toContain(s);
      expect(ws.backendText()).not.toContain(s);
    }
  }, 300_000);

  it('a second up reports no changes and runs no command on either VM', async () => {
    const [gpuSince, edgeSince] = await Promise.all([vmNow(gpu), vmNow(edge)]);
    const up = await stack.timed('no-op up', ['up', '--yes', '--skip-preview'], 900_000);
    figures['no-op up'] = `${up.seconds.toFixed(1)} s`;
    const changed = up.output.split('\n').filter((l) => /^\s*(\+-|~|\+|-)\s+command:/.test(l) || /\[diff: /.test(l));
    expect(Object.keys(await stack.changesOfLastUpdate()), changed.join('\n')).toEqual(['same']);
    const runs = [await sudoRunsSince(gpu, gpuSince), await sudoRunsSince(edge, edgeSince)];
    figures['no-op up: remote commands (GPU VM, edge VM)'] = runs.join(', ');
    expect(runs).toEqual([0, 0]);
  }, 900_000);

  it('destroy closes the edge, stops the monitoring server and removes its secrets, and leaves nothing of ours on the GPU host', async () => {
    // Before: the server's list is there (so its absence afterwards means something).
    const before = (await serverFootprintLeft(edge)).split('\n');
    expect(before).toEqual(expect.arrayContaining(['prometheus.service active', '/etc/prometheus/fudbuddy-secrets', '/etc/prometheus/alertmanager.yml']));
    const down = await stack.timed('destroy', ['destroy', '--yes', '--skip-preview'], 900_000);
    figures['destroy'] = `${down.seconds.toFixed(1)} s`;
    expect(await footprintLeft(gpu)).toBe('');
    expect(await serverFootprintLeft(edge)).toBe('');
    expect((await edge.ssh('test -e /etc/nginx/conf.d/fudbuddy-edge.conf && echo left; sudo -n tailscale serve status 2>&1')).stdout).not.toMatch(/left|proxy/);
    expect(await laptop.get(`http://${ips[EDGE]}/healthz`, { timeoutMs: 4000, host: EDGE_HOST_HEADER })).toBeNull();
  }, 900_000);
});
