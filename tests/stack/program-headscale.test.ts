// The whole program under Pulumi mocks (stand-in engine/providers) with controlServer headscale: a private stack
// with two GPU hosts and an edge box, the tailnet run by a self-hosted Headscale reached over SSH.
import { beforeAll, describe, expect, it } from 'vitest';
import { MARK, privateValues } from './fixtures.js';
import { one, runProgram, unwrap, type ProgramRun } from './harness.js';

let run: ProgramRun;
const LOGIN = 'https://headscale.example.com';
beforeAll(async () => {
  run = await runProgram(
    {
      ...privateValues(),
      controlServer: 'headscale',
      headscale: { loginServer: LOGIN, address: '203.0.113.5', user: 'ubuntu' },
      tailnetDnsName: 'tailnet.example.com',
      edgeNode: { address: '198.51.100.20', user: 'pi', tailnetHostname: 'fudbuddy-edge' },
    },
    { stack: 'private', extraConfig: {} },
  );
}, 60_000);

const cmd = (name: string) => one(run, 'command:remote:Command', name);

describe('private stack over Headscale (mock engine)', () => {
  it("uses no Tailscale provider resource: the policy and keys go through Headscale's CLI over SSH", () => {
    expect(run.resources.filter((r) => r.type.startsWith('tailscale:'))).toEqual([]);
    const policy = cmd('tailnet-headscale-policy-base');
    expect((unwrap(policy.inputs.connection) as Record<string, unknown>).host).toBe('203.0.113.5');
    expect(String(policy.inputs.create)).toBe('sudo -n /opt/fudbuddy/bin/headscale-policy.sh --cli headscale');
    for (const host of ['fudbuddy-gpu1', 'fudbuddy-gpu2', 'fudbuddy-edge']) {
      expect(String(cmd(`tailnet-key-${host}`).inputs.create)).toMatch(/headscale-key\.sh --tags tag:[a-z,:-]+ --expiration 3600s --cli headscale$/);
    }
  });

  it('hosts join with --login-server, the edge box too', () => {
    for (const name of ['gpu1-tailscale-up', 'gpu2-tailscale-up', 'edge-tailscale-up']) {
      expect(String(cmd(name).inputs.create)).toContain(`--login-server=${LOGIN}`);
    }
  });

  it('serves the private API over plain HTTP inside the tailnet; the policy grants :80 and has no Funnel', () => {
    expect(run.exports.edgeUrl).toBe('http://fudbuddy-edge.tailnet.example.com');
    expect(run.exports.apiUrl).toBe('http://fudbuddy-edge.tailnet.example.com');
    const full = JSON.parse(String(unwrap(cmd('tailnet-headscale-policy-full').inputs.stdin))) as {
      grants: { src: string[]; dst: string[]; ip: string[] }[];
      nodeAttrs: unknown[];
      tests: unknown[];
    };
    expect(full.grants).toContainEqual({ src: ['autogroup:member'], dst: ['tag:edge'], ip: ['tcp:80'] });
    expect(full.nodeAttrs).toEqual([]);
    expect(full.tests.length).toBeGreaterThan(0);
    expect(JSON.parse(String(unwrap(cmd('tailnet-headscale-policy-base').inputs.stdin))).tests).toEqual([]);
  });

  it('applies the full policy (its tests) only after every host joined', () => {
    expect(run.dependsOn.get('tailnet-headscale-policy-full')).toEqual(expect.arrayContaining(['tailnet-headscale-policy-base', 'gpu1', 'gpu2', 'edge']));
  });

  it('keeps the SSH key out of every command string', () => {
    for (const r of run.resources.filter((x) => x.type === 'command:remote:Command')) {
      expect(JSON.stringify([r.inputs.create, r.inputs.delete ?? ''])).not.toContain(MARK.sshPrivateKey.slice(40, 60));
    }
  });
});
