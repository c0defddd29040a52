// A GPU host VM (qemu, real systemd; no GPU: the model stub stands in for vLLM) joins the real Headscale tailnet and
// serves the API on its tailnet address. Headscale, the edge and two laptops run in network namespaces
// (tests/support/tailnet.ts); the guest reaches Headscale and its embedded DERP through a qemu guestfwd and, with no
// UDP path to the other nodes, relays WireGuard over DERP (tests/support/vmTailnet.ts). The host is deployed as
// GpuHost deploys it, as `ubuntu` through sudo with the product's scripts and command builders: tailscale-install.sh
// (Tailscale pre-placed as its package installs it), tailscale-up.sh with a tagged single-use key from
// headscale-key.sh and --login-server, tailscale-status.sh, then the API unit in addressMode 'tailscale'. Then: the
// edge (tag:edge) reaches :8001 and a chat answers; an admin reaches the host's SSH but not :8001; a member gets
// nowhere; nobody reaches :8000; after a real reboot the API comes back on the tailnet address by itself.
// Timeouts are hang guards for a TCG guest on a busy 2-core box, not speed goals.
import { cpSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tailscaleUpArgs } from '../../components/host/tailnet.js';
import { API_PORT, MODEL_PORT } from '../../components/lib/aclPolicy.js';
import { hashDir, hashFile } from '../../components/lib/contentHash.js';
import { apiEnv, renderEnvFile, renderTokenFile } from '../../components/lib/envFile.js';
import { headscaleKeyScriptArgs, headscalePolicy } from '../../components/lib/headscale.js';
import { HOST_NODE } from '../../components/lib/hostNode.js';
import { HOST_PATHS } from '../../components/lib/hostPaths.js';
import { SCRIPTS_DIR } from '../../components/lib/scriptsDir.js';
import { EDGE_HTTP_PORT } from '../../components/lib/serveConfig.js';
import { asRoot, scriptCommand } from '../../components/lib/shell.js';
import { API_SERVICE_USER, API_UNIT, apiUnit, modelStubUnit, STUB_UNIT } from '../../components/lib/units.js';
import { eventually, startTailnet, type Tailnet, type TailnetNode } from '../support/tailnet.js';
import { REPO_ROOT } from '../support/testHost.js';
import type { Vm } from '../support/vm.js';
import { stageOnVm } from '../support/vmStage.js';
import { controlForward, preplaceTailscale } from '../support/vmTailnet.js';
import { bootTestVm, type TestVm, type VmSteps } from '../host/support/vmSteps.js';

const USER = 'ubuntu';
const HOSTNAME = 'gpu1';
const ADMIN = 'alice@example.com';
const MEMBER = 'bob@example.com';
// As index.ts registers it for a private Headscale stack.
const policyArgs = { admins: [ADMIN], serveClients: ['autogroup:member'], servePort: EDGE_HTTP_PORT };
const API_TOKEN = 'api-token-secret-4c1d8e7b2a9f3e60';
const STUB_KEY = 'stub-upstream-key-secret-6e2a9d41';
const MODEL = 'fudbuddy-test';

const t0 = Date.now();
let net: Tailnet;
let vm: Vm;
let t: TestVm;
let work: string;
const nodes: Record<string, TailnetNode> = {};
let gpuIp = '';
const figures: Record<string, string> = {};
const since = (t: number): string => `${((Date.now() - t) / 1000).toFixed(1)} s`;

let steps: VmSteps;
const runOk = async (script: string, args: string[] = [], stdin?: string): Promise<string> => (await steps.runOk(script, args, stdin)).stdout;
const sh: VmSteps['sh'] = (c) => steps.sh(c);
const stage = (local: string, id: string, hash: string, ext = ''): string => stageOnVm(vm, work, local, id, hash, ext);

function chat(from: TailnetNode, timeoutMs = 20_000): ReturnType<TailnetNode['request']> {
  return from.request(`http://${gpuIp}:${API_PORT}/v1/chat/completions`, {
    method: 'POST',
    headers: { authorization: `Bearer ${API_TOKEN}`, 'content-type': 'application/json' },
    body: JSON.stringify({ messages: [{ role: 'user', content: 'hi over the tailnet' }], max_tokens: 16 }),
    timeoutMs,
  });
}
/**
 * The API's /healthz from a node, retried until it says 200 (the first packet to a peer waits for a handshake, and
 * in a starved guest the API's 2 s probe of the model server can miss, answering 503 "degraded" for a while).
 */
const healthz = (from: TailnetNode, ms = 120_000): Promise<string> =>
  eventually(
    async () => {
      const r = await from.get(`http://${gpuIp}:${API_PORT}/healthz`, { timeoutMs: 3000 });
      return r?.startsWith('200 ') ? r : undefined;
    },
    `${from.name} -> ${HOSTNAME}:${API_PORT}/healthz 200`,
    ms,
    250,
  );

beforeAll(async () => {
  net = await startTailnet({ policy: headscalePolicy(policyArgs, { withTests: false }) });
  const alice = await net.createUser('alice', ADMIN);
  const bob = await net.createUser('bob', MEMBER);
  const plan: [string, { tags?: string[]; user?: number }][] = [
    ['edge', { tags: ['tag:edge'] }],
    ['alice-laptop', { user: alice }],
    ['bob-laptop', { user: bob }],
  ];
  await Promise.all(
    plan.map(async ([name, owner]) => {
      const node = await net.addNode(name);
      const r = await net.join(node, await net.preAuthKey(owner));
      if (r.code !== 0) throw new Error(`${name} did not join: ${r.stderr}\n${node.log().slice(-3000)}`);
      nodes[name] = node;
    }),
  );
  t = await bootTestVm('tn', { guestForwards: [controlForward(net)] });
  ({ vm, work, steps } = t);
  cpSync(path.join(REPO_ROOT, 'prompts'), path.join(work, 'prompts'), { recursive: true });
  figures['VM boot to SSH'] = `${vm.bootSeconds} s`;
  await preplaceTailscale(vm);
}, 25 * 60_000);

afterAll(async () => {
  await t?.stop();
  await net?.stop();
  figures['total (this file)'] = since(t0);
  console.log(`vm-tailnet figures:\n${Object.entries(figures).map(([k, v]) => `  ${k}: ${v}`).join('\n')}`);
});

describe('a GPU host VM on a real Headscale tailnet (guestfwd + DERP; model stub instead of vLLM)', () => {
  it('base: scripts, packages, firewall with tailscale0 allowed, Node', async () => {
    const remote = stage(SCRIPTS_DIR, 'scripts', hashDir(SCRIPTS_DIR));
    const r = await vm.ssh(asRoot(USER, `bash ${remote}/install-scripts.sh ${remote}`), { timeoutMs: 300_000 });
    expect(r.code, r.stderr).toBe(0);
    await runOk('base-setup.sh');
    // As GpuHost's firewall step with the tailnet enabled: SSH from the machine only, tailscale0 open (the policy filters it).
    await runOk('firewall.sh', ['--ssh-port', String(vm.port), '--ssh-from', `${vm.hostSideAddress}/32`]);
    expect(await sh('sudo -n ufw status')).toMatch(/Anywhere on tailscale0\s+ALLOW/);
    await runOk('node-install.sh', [String(HOST_NODE.major)]);
  }, 1_200_000);

  it('tailscale-install.sh finds the pre-placed package and starts its unit under systemd', async () => {
    const out = await runOk('tailscale-install.sh');
    expect(out).toMatch(/ok: tailscale 1\.102\.5\S* installed/);
    expect(out).toContain('changed: tailscaled enabled and started');
    expect(await sh('systemctl is-active tailscaled; systemctl is-enabled tailscaled')).toBe('active\nenabled');
    expect(await sh('systemctl show -p FragmentPath --value tailscaled')).toBe('/lib/systemd/system/tailscaled.service');
    expect(await runOk('tailscale-install.sh')).toContain('ok: tailscaled running');
  }, 300_000);

  it('tailscale-up.sh joins with a single-use tag:gpu key from headscale-key.sh, through the guestfwd to Headscale', async () => {
    const minted = await net.onHeadscaleHost('headscale-key.sh', headscaleKeyScriptArgs(['tag:gpu'], 3600));
    expect(minted.code, minted.stderr).toBe(0);
    const key = minted.stdout.trim();
    const args = tailscaleUpArgs(HOSTNAME, { tags: ['tag:gpu'], extraUpFlags: [`--login-server=${net.loginServer}`] });
    const started = Date.now();
    const r = await vm.ssh(scriptCommand(USER, 'tailscale-up.sh', args), { stdin: key, timeoutMs: 400_000 });
    figures['VM join (tailscale-up.sh)'] = since(started);
    expect(r.code, `${r.stdout}\n${r.stderr}\n${await sh('sudo -n journalctl -u tailscaled --no-pager -n 40 || true')}`).toBe(0);
    expect(r.stdout).toContain(`changed: joined the tailnet as ${HOSTNAME} (tag:gpu)`);
    expect(r.stdout + r.stderr).not.toContain(key);

    const status = JSON.parse((await runOk('tailscale-status.sh')).trim().split('\n').pop()!) as { ip: string; dnsName: string };
    expect(status.ip).toMatch(/^100\.(6[4-9]|[7-9]\d|1[01]\d|12[0-7])\.\d+\.\d+$/);
    expect(status.dnsName).toBe(`${HOSTNAME}.tailnet.test`);
    gpuIp = status.ip;
    // The first packet from the edge to the new node: a disco ping, relayed by Headscale's DERP (no UDP path).
    const pinged = Date.now();
    const pong = await eventually(async () => {
      const p = await nodes.edge!.tailscale(['ping', '-c', '1', '--until-direct=false', '--timeout', '5s', gpuIp], { timeoutMs: 15_000 });
      return p.code === 0 ? p.stdout : undefined;
    }, 'edge -> gpu tailscale ping', 120_000, 250);
    figures['first packet edge -> gpu after the join (tailscale ping, over DERP)'] = since(pinged);
    expect(pong).toMatch(/pong from gpu1 .*via DERP\(headscale\)/);
    // Headscale's own view: the node, its address and the key's tag.
    const hsNodes = JSON.parse((await net.headscale(['nodes', 'list', '-o', 'json'])).stdout) as { given_name: string; ip_addresses: string[]; tags?: string[] }[];
    const mine = hsNodes.find((n) => n.given_name === HOSTNAME);
    expect(mine?.ip_addresses).toContain(gpuIp);
    expect(mine?.tags).toEqual(['tag:gpu']);
    // Single use: the same key does not join a second time.
    const reuse = await net.addNode('reuse');
    const again = await net.join(reuse, key);
    expect(again.code).not.toBe(0);
    // Re-running with no key changes nothing (the node is up as wanted).
    expect(await runOk('tailscale-up.sh', args, '')).toContain(`ok: tailscale up as ${HOSTNAME} (tag:gpu)`);
  }, 600_000);

  it("the stub and the API (addressMode 'tailscale') run, the API bound to the tailnet address only", async () => {
    const stubPath = t.bundle('stub');
    await runOk('install-file.sh', [stage(stubPath, 'stub', hashFile(stubPath), '.mjs'), HOST_PATHS.stubBundle, '--restart', STUB_UNIT]);
    await runOk('write-secret-file.sh', [HOST_PATHS.stubEnv, '--restart', STUB_UNIT], renderEnvFile({ HOST: '127.0.0.1', PORT: String(MODEL_PORT), STUB_MODEL: MODEL, STUB_API_KEY: STUB_KEY }));
    await runOk('install-unit.sh', [STUB_UNIT], modelStubUnit({ hostname: HOSTNAME }));

    const apiPath = t.bundle('api');
    const prompts = path.join(work, 'prompts');
    await runOk('install-file.sh', [stage(apiPath, 'api', hashFile(apiPath), '.mjs'), HOST_PATHS.apiBundle, '--restart', API_UNIT]);
    await runOk('install-file.sh', [stage(prompts, 'prompts', hashDir(prompts)), HOST_PATHS.prompts, '--reload', API_UNIT]);
    await runOk('write-secret-file.sh', [HOST_PATHS.apiTokens, '--owner', `root:${API_SERVICE_USER}`, '--mode', '0640', '--reload', API_UNIT], renderTokenFile([API_TOKEN], 'api.tokens'));
    const env = apiEnv({ bindAddress: gpuIp, port: API_PORT, upstreamModel: MODEL, upstreamApiKey: STUB_KEY, tokensFile: HOST_PATHS.apiTokens, promptsDir: HOST_PATHS.prompts });
    await runOk('write-secret-file.sh', [HOST_PATHS.apiEnv, '--restart', API_UNIT], renderEnvFile(env, 'api'));
    const unit = apiUnit({ hostname: HOSTNAME, bindAddress: gpuIp, port: API_PORT, addressMode: 'tailscale', modelUnit: STUB_UNIT });
    expect(unit).toContain(`wait-for-address.sh tailscale ${gpuIp} `);
    const r = await vm.ssh(scriptCommand(USER, 'install-unit.sh', [API_UNIT]), { stdin: unit, timeoutMs: 600_000 });
    expect(r.code, `${r.stdout}${r.stderr}${await sh(`sudo -n journalctl -u ${API_UNIT} --no-pager -n 30 || true`)}`).toBe(0);
    expect(await sh(`systemctl is-active ${STUB_UNIT} ${API_UNIT}`)).toBe('active\nactive');
    // Listening on the tailnet address and nowhere else; the model only on loopback.
    const listening = await sh('ss -Htln');
    expect(listening).toContain(`${gpuIp}:${API_PORT}`);
    expect(listening).not.toMatch(new RegExp(`(0\\.0\\.0\\.0|\\*|10\\.0\\.2\\.15):${API_PORT}\\b`));
    expect(listening).toMatch(new RegExp(`127\\.0\\.0\\.1:${MODEL_PORT}\\b`));
  }, 1_200_000);

  it('the edge (tag:edge) reaches the API on :8001 over DERP, and a chat answers through it', async () => {
    const first = Date.now();
    expect(await healthz(nodes.edge!)).toMatch(/^200 /);
    figures['first answer edge -> gpu over DERP (handshake included)'] = since(first);
    // No UDP path between the guest and the namespaces: the peer is reached through the DERP relay.
    const st = JSON.parse((await nodes.edge!.tailscale(['status', '--json'])).stdout) as { Peer: Record<string, { HostName: string; CurAddr: string; Relay: string }> };
    const peer = Object.values(st.Peer).find((p) => p.HostName === HOSTNAME);
    expect(peer).toMatchObject({ CurAddr: '', Relay: 'headscale' });

    const unauthenticated = await nodes.edge!.request(`http://${gpuIp}:${API_PORT}/v1/models`, {});
    expect(unauthenticated?.status).toBe(401);
    const times: number[] = [];
    for (let i = 0; i < 5; i++) {
      const r = await chat(nodes.edge!);
      expect(r?.status, r?.body).toBe(200);
      times.push(r!.ms);
      const body = JSON.parse(r!.body) as { model: string; choices: { message: { content: string } }[] };
      expect(body.model).toBe(MODEL);
      expect(body.choices[0]!.message.content.length).toBeGreaterThan(0);
    }
    times.sort((a, b) => a - b);
    // Request sent → answer complete, timed inside the edge's namespace: DERP both ways, the API, the stub on a TCG guest.
    figures['chat edge -> API over DERP (5 runs, non-streamed, 16 tokens)'] = `median ${times[2]} ms, min ${times[0]} ms, max ${times[4]} ms`;
  }, 600_000);

  it('the policy holds: admin reaches SSH but not :8001, a member reaches nothing, nobody reaches :8000', async () => {
    const { edge, 'alice-laptop': alice, 'bob-laptop': bob } = nodes as Record<string, TailnetNode>;
    // The full policy (its tests included) applies now that every node it names exists, the VM among them.
    const full = await net.onHeadscaleHost('headscale-policy.sh', [], headscalePolicy(policyArgs));
    expect(full.code, full.stderr).toBe(0);
    expect(await healthz(edge!)).toMatch(/^200 /);
    // The admin's path to the host works (sshd answers through tailscale0): a refusal on :8001 is the policy.
    const ssh = await eventually(async () => (await alice!.banner(gpuIp, 22, 3000)) ?? undefined, 'alice -> gpu:22', 120_000, 250);
    expect(ssh).toMatch(/^SSH-2\.0-OpenSSH/);
    expect(await alice!.get(`http://${gpuIp}:${API_PORT}/healthz`, { timeoutMs: 4000 })).toBeNull();
    expect(await bob!.get(`http://${gpuIp}:${API_PORT}/healthz`, { timeoutMs: 4000 })).toBeNull();
    expect(await bob!.banner(gpuIp, 22, 4000)).toBeNull();
    for (const from of [edge!, alice!, bob!]) expect(await from.banner(gpuIp, MODEL_PORT, 4000)).toBeNull();
    // The allowed path still answers after the denials (they were not a dead relay).
    expect((await chat(edge!))?.status).toBe(200);
  }, 600_000);

  it('after a real reboot, tailscaled rejoins and the API waits for the tailnet address and answers again', async () => {
    const seconds = await vm.reboot({ timeoutMs: 900_000 });
    figures['reboot to SSH'] = `${seconds} s`;
    const back = Date.now();
    const state = await vm.ssh('systemctl is-system-running --wait', { timeoutMs: 600_000 });
    expect(['running', 'degraded'], await sh('systemctl --failed --no-legend || true')).toContain(state.stdout.trim());
    expect(await sh(`systemctl is-active tailscaled ${API_UNIT}`)).toBe('active\nactive');
    expect(await sh('tailscale ip -4')).toBe(gpuIp);
    const r = await eventually(async () => {
      const c = await chat(nodes.edge!, 5000);
      return c?.status === 200 ? c : undefined;
    }, 'a chat after the reboot', 300_000, 500);
    expect(r.status).toBe(200);
    figures['reboot: SSH back -> chat answers through the tailnet'] = since(back);
  }, 1_800_000);
});
