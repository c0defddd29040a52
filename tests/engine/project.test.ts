// Real engine on the project itself (Pulumi.yaml + index.ts + components/): `pulumi preview --stack beta` offline,
// and config errors as ops see them. The e2e stack's deploys run on qemu VMs with real systemd
// (tests/engine/vm-host.vm.test.ts, vm-headscale.vm.test.ts; `npm run test:vm`).
// Stand-ins, outside the production path (toolchain cache only): the command provider is this repo's stand-in
// (upstream module not served here); tailscale/cloudflare answer previews only (the real providers are not
// buildable here).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EXAMPLE_PASSPHRASE } from '../../stacks/exampleStacks.js';
import { createWorkspace, expectOk, parseJson, REPO_ROOT, type RunResult, type Workspace } from './support/engine.js';

interface PreviewJson {
  steps?: Array<{ op: string; urn: string; newState?: { type?: string } }>;
  changeSummary?: Record<string, number>;
  diagnostics?: Array<{ message: string; severity: string }>;
}

/** A workspace holding a copy of Pulumi.yaml and Pulumi.<stack>.yaml and a link to index.ts, with the stack initialized. */
async function projectStack(passphrase: string, stack: string): Promise<{ ws: Workspace; run: (args: string[], timeoutMs?: number, stdin?: string) => Promise<RunResult> }> {
  const ws = createWorkspace(passphrase, { from: REPO_ROOT, copy: ['Pulumi.yaml', `Pulumi.${stack}.yaml`], link: ['index.ts'] });
  const run = (args: string[], timeoutMs?: number, stdin?: string) => ws.pulumi([...args, '--stack', stack], { timeoutMs, stdin });
  expectOk(await ws.pulumi(['stack', 'init', stack, '--secrets-provider', 'passphrase']), `stack init ${stack}`);
  return { ws, run };
}

describe('real engine: the project, stack beta, offline preview (tailscale/cloudflare preview-only stand-ins, command stand-in)', () => {
  let ws: Workspace;
  let pulumi: Awaited<ReturnType<typeof projectStack>>['run'];

  beforeAll(async () => {
    ({ ws, run: pulumi } = await projectStack(EXAMPLE_PASSPHRASE, 'beta'));
  }, 300_000);
  afterAll(() => ws?.dispose());

  it('previews every component with dummy credentials, offline, without printing a secret', async () => {
    const r = await pulumi(['preview', '--json'], 600_000);
    if (r.code !== 0) throw new Error(`preview --stack beta failed (exit ${r.code}):\n${r.output.slice(-6000)}`);
    const plan = parseJson<PreviewJson>(r.stdout);
    // urn:pulumi:<stack>::<project>::<parent types $-joined>::<name>: the planned resource's type is the last one.
    const types = new Set((plan.steps ?? []).map((s) => s.urn.split('::')[2]!.split('$').pop()!));
    const expected = [
      'fudbuddy:host:GpuHost',
      'fudbuddy:edge:EdgeNode',
      'fudbuddy:edge:EdgeWorker',
      'fudbuddy:tailnet:Tailnet',
      'command:remote:Command',
      'tailscale:index/acl:Acl',
      'cloudflare:index/workersScript:WorkersScript',
    ];
    expect(expected.filter((t) => !types.has(t)), `planned types: ${[...types].sort().join(', ')}`).toEqual([]);
    expect(plan.changeSummary?.create ?? 0).toBeGreaterThan(expected.length);
    const token = expectOk(await pulumi(['config', 'get', 'serviceToken']), 'config get').stdout.trim();
    expect(token.length).toBeGreaterThan(20);
    expect(r.output).not.toContain(token);
  }, 600_000);

  it('a bad config value fails the preview with a message naming the key', async () => {
    expectOk(await pulumi(['config', 'set', '--path', 'fudbuddy:gpuHosts[0].port', '70000']), 'config set bad port');
    const r = await pulumi(['preview'], 600_000);
    expect(r.code).not.toBe(0);
    expect(r.output).toContain('fudbuddy:gpuHosts[0].port');
  }, 600_000);
});
