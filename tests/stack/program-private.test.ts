// The whole program under Pulumi mocks (stand-in engine/providers), private exposure: two GPU hosts, no edge box
// (the first GPU host plays the edge with `tailscale serve`), no Cloudflare at all.
import { beforeAll, describe, expect, it } from 'vitest';
import { ALL_MARKERS, MARK, privateValues } from './fixtures.js';
import { byType, isSecretOutput, one, plainText, runProgram, unwrap, type ProgramRun } from './harness.js';

let run: ProgramRun;
beforeAll(async () => {
  run = await runProgram(privateValues(), { stack: 'private', extraConfig: { 'tailscale:apiKey': MARK.tailscaleApiKey } });
}, 60_000);

describe('private stack (mock engine)', () => {
  it('creates tailnet, two GPU hosts and the edge role, and nothing on Cloudflare', () => {
    expect(byType(run, 'fudbuddy:host:GpuHost').map((r) => r.name)).toEqual(['gpu1', 'gpu2']);
    expect(byType(run, 'fudbuddy:edge:EdgeNode')).toHaveLength(1);
    expect(run.resources.filter((r) => r.type.startsWith('cloudflare:'))).toEqual([]);
    expect(byType(run, 'fudbuddy:edge:EdgeWorker')).toEqual([]);
    expect(byType(run, 'fudbuddy:web:WebClient')).toEqual([]);
    // No separate edge box: nothing installs or joins Tailscale for the edge (the GPU host already did).
    expect(run.resources.filter((r) => r.name.startsWith('edge-tailscale'))).toEqual([]);
  });

  it('runs the edge on the first GPU host with tailscale serve (no Funnel)', () => {
    const proxy = one(run, 'command:remote:Command', 'edge-proxy');
    const conn = unwrap(proxy.inputs.connection) as Record<string, unknown>;
    expect(conn.host).toBe('203.0.113.10');
    expect(String(proxy.inputs.delete)).toContain('tailscale serve reset');
    // nginx in front of both hosts' APIs on their tailnet addresses.
    const conf = String(unwrap(proxy.inputs.stdin));
    expect(conf.match(/server 100\.64\.0\.\d+:8001/g)).toHaveLength(2);
    const acl = JSON.parse(String(one(run, 'tailscale:index/acl:Acl').inputs.acl)) as { nodeAttrs: unknown[] };
    expect(acl.nodeAttrs).toEqual([]);
  });

  it('gives the first GPU host a key with tag:gpu and tag:edge, the second one tag:gpu only', () => {
    const keys = byType(run, 'tailscale:index/tailnetKey:TailnetKey').map((k) => (k.inputs.tags as string[]).slice().sort());
    expect(keys).toContainEqual(['tag:edge', 'tag:gpu', 'tag:monitoring']);
    expect(keys).toContainEqual(['tag:gpu']);
  });

  it('only mints keys for tags the policy owns', () => {
    const acl = JSON.parse(String(one(run, 'tailscale:index/acl:Acl').inputs.acl)) as { tagOwners: Record<string, string[]> };
    for (const k of byType(run, 'tailscale:index/tailnetKey:TailnetKey')) {
      for (const t of k.inputs.tags as string[]) expect(Object.keys(acl.tagOwners), `${k.name}: ${t}`).toContain(t);
    }
  });

  it('exports the tailnet-only serve URL as the API URL, no web URL', () => {
    expect(run.exports).toMatchObject({
      exposure: 'private',
      apiUrl: 'https://fudbuddy-gpu1.tail1234.ts.net',
      healthUrl: 'https://fudbuddy-gpu1.tail1234.ts.net/healthz',
      edgeUrl: 'https://fudbuddy-gpu1.tail1234.ts.net',
      modelServed: 'fudbuddy-chat',
    });
    expect(run.exports.webUrl).toBeNull();
    expect((run.exports.tailnetNames as { gpuHosts: string[] }).gpuHosts).toHaveLength(2);
  });

  it('keeps every marker secret', async () => {
    for (const r of run.resources) {
      const text = plainText(r.inputs);
      for (const m of ALL_MARKERS) expect(text, `${r.type} ${r.name}`).not.toContain(m);
    }
    const exported = JSON.stringify(run.exports);
    for (const m of ALL_MARKERS) expect(exported).not.toContain(m);
    for (const v of Object.values(run.module)) expect(await isSecretOutput(v)).toBe(false);
  });
});
