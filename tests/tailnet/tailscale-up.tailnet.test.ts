// components/scripts/tailscale-up.sh and the Headscale scripts (headscale-key.sh, headscale-policy.sh) against a
// real Headscale and real tailscaled (tests/support/tailnet.ts): join, an unchanged re-run, a tag change applied by
// re-authentication, a used or expired key refused with a clear error (never echoing the key), and a freshly minted
// key joining after that.
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { headscaleKeyScriptArgs, headscalePolicy } from '../../components/lib/headscale.js';
import { REPO_ROOT } from '../support/testHost.js';
import { startTailnet, type CmdResult, type Tailnet, type TailnetNode } from '../support/tailnet.js';

const SCRIPTS = join(REPO_ROOT, 'components/scripts');
const policyArgs = { admins: ['alice@example.com'], serveClients: ['autogroup:member'] };

let net: Tailnet;
let gpu: TailnetNode;

async function mint(tags: string[], expirySeconds = 3600): Promise<string> {
  const r = await net.onHeadscaleHost('headscale-key.sh', headscaleKeyScriptArgs(tags, expirySeconds));
  expect(r.code, r.stderr).toBe(0);
  const key = r.stdout.trim();
  expect(key).toMatch(/^\S{20,}$/);
  expect(r.stdout.split('\n').filter(Boolean)).toHaveLength(1);
  return key;
}

function up(node: TailnetNode, tags: string, key: string): Promise<CmdResult> {
  return node.exec(['bash', join(SCRIPTS, 'tailscale-up.sh'), '--hostname', node.name, '--advertise-tags', tags, `--login-server=${net.loginServer}`, '--accept-dns=false'], {
    stdin: key,
    timeoutMs: 180_000,
  });
}

async function self(node: TailnetNode): Promise<{ HostName: string; Tags?: string[]; BackendState: string }> {
  const st = JSON.parse((await node.tailscale(['status', '--json'])).stdout) as { BackendState: string; Self: { HostName: string; Tags?: string[] } };
  return { ...st.Self, BackendState: st.BackendState };
}

beforeAll(async () => {
  net = await startTailnet();
  await net.createUser('alice', 'alice@example.com');
  const applied = await net.onHeadscaleHost('headscale-policy.sh', [], headscalePolicy(policyArgs, { withTests: false }));
  expect(applied.code, applied.stderr).toBe(0);
  expect(applied.stdout).toContain('FUDBUDDY_RESULT=changed');
  gpu = await net.addNode('gpu1');
}, 180_000);

afterAll(async () => {
  await net?.stop();
});

describe('Headscale scripts and tailscale-up.sh against a real control server', () => {
  it('headscale-policy.sh: an unchanged policy is a no-op', async () => {
    const again = await net.onHeadscaleHost('headscale-policy.sh', [], headscalePolicy(policyArgs, { withTests: false }));
    expect(again.code, again.stderr).toBe(0);
    expect(again.stdout).toContain('FUDBUDDY_RESULT=unchanged');
  });

  it('joins with a tagged key from headscale-key.sh; an unchanged re-run needs no key', async () => {
    const key = await mint(['tag:gpu']);
    const first = await up(gpu, 'tag:gpu', key);
    expect(first.code, first.stderr).toBe(0);
    expect(first.stdout).toContain('changed: joined the tailnet as gpu1 (tag:gpu)');
    expect(first.stdout + first.stderr).not.toContain(key);
    expect(await self(gpu)).toMatchObject({ BackendState: 'Running', HostName: 'gpu1', Tags: ['tag:gpu'] });

    const again = await up(gpu, 'tag:gpu', '');
    expect(again.code, again.stderr).toBe(0);
    expect(again.stdout).toContain('FUDBUDDY_RESULT=unchanged');
  }, 240_000);

  it('a tag change is applied: the node re-authenticates with the new key and stays one node', async () => {
    const key = await mint(['tag:edge', 'tag:gpu']);
    const r = await up(gpu, 'tag:edge,tag:gpu', key);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain('re-authenticated (was gpu1 tag:gpu)');
    expect((await self(gpu)).Tags?.sort()).toEqual(['tag:edge', 'tag:gpu']);
    const nodes = JSON.parse((await net.headscale(['nodes', 'list', '-o', 'json'])).stdout) as { name: string; given_name?: string }[];
    expect(nodes).toHaveLength(1);
  }, 240_000);

  it('a used key is refused with a clear error that never shows the key; a newly minted key then works', async () => {
    const used = await mint(['tag:gpu']);
    const other = await net.addNode('gpu2');
    const ok1 = await up(other, 'tag:gpu', used);
    expect(ok1.code, ok1.stderr).toBe(0);
    // Back to tag:gpu on gpu1 with the key gpu2 has just used.
    const r = await up(gpu, 'tag:gpu', used);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain('refused the auth key for gpu1 (tag:gpu)');
    // Headscale's key is a command output: a refresh would not re-mint it, so the message says to replace it.
    expect(r.stderr).toContain('pulumi up --replace');
    expect(r.stderr).not.toContain('--refresh');
    expect(r.stdout + r.stderr).not.toContain(used);
    // Nothing lost: the refused key is not left retrying; the node is back on its own node key with its old tags.
    expect(r.stderr).toContain('the node stays on the tailnet with its old tags (tag:edge,tag:gpu)');
    const after = JSON.parse((await gpu.tailscale(['status', '--json'])).stdout) as { BackendState: string; Self: { Tags?: string[] }; Health?: string[] };
    expect(after.BackendState).toBe('Running');
    expect(after.Self.Tags?.sort()).toEqual(['tag:edge', 'tag:gpu']);
    expect((after.Health ?? []).filter((h) => h.includes('login error'))).toEqual([]);
    const fresh = await mint(['tag:gpu']);
    const ok2 = await up(gpu, 'tag:gpu', fresh);
    expect(ok2.code, ok2.stderr).toBe(0);
    expect((await self(gpu)).Tags).toEqual(['tag:gpu']);
  }, 300_000);

  it('an expired key is refused with a clear error on a new node; a newly minted key joins it', async () => {
    const key = await mint(['tag:gpu']);
    const list = JSON.parse((await net.headscale(['preauthkeys', 'list', '-o', 'json'])).stdout) as { id: string | number; key: string; used?: boolean }[];
    // The list shows keys by prefix only; the newest unused one is ours.
    const ours = list.filter((k) => !k.used).sort((a, b) => Number(b.id) - Number(a.id))[0]!;
    const exp = await net.headscale(['preauthkeys', 'expire', '--id', String(ours.id)]);
    expect(exp.code, exp.stderr).toBe(0);
    const node = await net.addNode('gpu3');
    const r = await up(node, 'tag:gpu', key);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/tailscale up (refused the auth key|failed) for gpu3/);
    expect(r.stdout + r.stderr).not.toContain(key);
    const ok = await up(node, 'tag:gpu', await mint(['tag:gpu']));
    expect(ok.code, ok.stderr).toBe(0);
    expect(await self(node)).toMatchObject({ BackendState: 'Running', Tags: ['tag:gpu'] });
  }, 300_000);

  it('headscale-key.sh refuses a tag the live policy does not own (Headscale itself would mint it), naming it', async () => {
    const r = await net.onHeadscaleHost('headscale-key.sh', ['--tags', 'tag:gpu,tag:nobody', '--expiration', '60s']);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain("refusing to mint a key with tag:nobody: not in the live policy's tagOwners");
    expect(r.stdout).toBe('');
  });
  it('headscale-policy.sh: the full policy is refused while its tests name a login with no device, and the live policy stays', async () => {
    const before = (await net.headscale(['policy', 'get'])).stdout;
    // alice (the admin) has no device in this tailnet: Headscale cannot evaluate the policy's admin tests.
    const r = await net.onHeadscaleHost('headscale-policy.sh', [], headscalePolicy(policyArgs));
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain('its tests name a login or tag with no device yet');
    expect(r.stderr).toContain('alice@example.com');
    expect((await net.headscale(['policy', 'get'])).stdout).toBe(before);
  });
});
