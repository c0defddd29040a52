// The Tailnet component with controlServer headscale, under Pulumi mocks (no engine, no SSH — mock): the Headscale
// CLI steps over SSH, their order (bootstrap policy → keys → hosts → full policy with tests), secrecy of the keys
// and that nothing of Tailscale's provider is used. The scripts themselves run against a real Headscale in
// tailscale-up.tailnet.test.ts and policy.tailnet.test.ts.
import * as pulumi from '@pulumi/pulumi';
import { beforeAll, describe, expect, it } from 'vitest';

interface Rec {
  type: string;
  name: string;
  inputs: Record<string, unknown>;
}
const resources: Rec[] = [];
const deps = new Map<string, string[]>();
const MINTED = 'hskey-auth-mock-0123456789abcdef';

await pulumi.runtime.setMocks(
  {
    newResource(args) {
      resources.push({ type: args.type, name: args.name, inputs: args.inputs as Record<string, unknown> });
      const state: Record<string, unknown> = { ...args.inputs };
      if (args.type === 'command:remote:Command') state.stdout = args.name.includes('-key-') ? `${MINTED}-${args.name}\n` : 'FUDBUDDY_RESULT=changed\n';
      return { id: `${args.name}-id`, state };
    },
    call: (args) => args.inputs,
  },
  'fudbuddy',
  'mocktest',
);
const { Tailnet } = await import('../../components/tailnet.js');

const value = <T>(o: pulumi.Output<T>): Promise<T> => new Promise((resolve) => o.apply((v) => resolve(v)));
const byName = (n: string): Rec => {
  const r = resources.find((x) => x.name === n);
  if (!r) throw new Error(`no resource ${n}: ${resources.map((x) => x.name).join(', ')}`);
  return r;
};
const recordDeps: pulumi.ResourceTransformation = (a) => {
  const list = (Array.isArray(a.opts.dependsOn) ? a.opts.dependsOn : a.opts.dependsOn ? [a.opts.dependsOn] : []) as pulumi.Resource[];
  void Promise.all(list.map((r) => value(r.urn))).then((urns) => deps.set(a.name, urns.map((u) => u.split('::').pop()!)));
  return undefined;
};

let tailnet: InstanceType<typeof Tailnet>;
let host: pulumi.ComponentResource;
beforeAll(async () => {
  tailnet = new Tailnet(
    'hs',
    {
      admins: ['alice@example.com'],
      nodes: [
        { name: 'gpu-1', role: 'gpu', tags: ['tag:gpu', 'tag:edge'] },
        { name: 'gpu-2', role: 'gpu' },
      ],
      funnel: false,
      serveClients: ['autogroup:member'],
      servePort: 80,
      headscale: { loginServer: 'https://hs.example.com', connection: { host: 'hs.example.com', user: 'ubuntu', privateKey: 'mock-ssh-key' } },
    },
    { transformations: [recordDeps] },
  );
  host = new pulumi.ComponentResource('test:host', 'joined-host');
  tailnet.applyPolicyTests([host]);
  await value(tailnet.authKeyFor('gpu-1'));
  await new Promise((r) => setTimeout(r, 200));
});

describe('Tailnet with controlServer headscale (SSH mocked)', () => {
  it('uses no Tailscale provider resource and exposes the login server', () => {
    expect(resources.filter((r) => r.type.startsWith('tailscale:'))).toEqual([]);
    expect(tailnet.loginServer).toBe('https://hs.example.com');
    expect(() => tailnet.device('gpu-1', host)).toThrow(/no Headscale counterpart/);
  });

  it('installs the Headscale scripts, then applies the policy without tests and without Funnel', () => {
    expect(String(byName('hs-headscale-install-scripts').inputs.create)).toMatch(/^sudo -n bash \/var\/tmp\/fudbuddy-headscale-\w+\/install-scripts.sh \/var\/tmp\/fudbuddy-headscale-\w+ \/opt\/fudbuddy\/bin$/);
    const policy = byName('hs-headscale-policy-base');
    expect(policy.inputs.create).toBe('sudo -n /opt/fudbuddy/bin/headscale-policy.sh --cli headscale');
    const bootstrap = JSON.parse(String(policy.inputs.stdin)) as typeof tailnet.policy;
    expect(bootstrap.tests).toEqual([]);
    expect(bootstrap.nodeAttrs).toEqual([]);
    expect(bootstrap.grants).toContainEqual({ src: ['autogroup:member'], dst: ['tag:edge'], ip: ['tcp:80'] });
    expect(deps.get('hs-headscale-policy-base')).toEqual(['hs-headscale-install-scripts']);
  });

  it('mints one single-use tagged key per node after the policy; the key is a secret, never logged', async () => {
    const key = byName('hs-key-gpu-1');
    expect(key.inputs.create).toBe('sudo -n /opt/fudbuddy/bin/headscale-key.sh --tags tag:edge,tag:gpu --expiration 3600s --cli headscale');
    expect(key.inputs.logging).toBe('none'); // a secret step: the key is stdout, stored as a secret
    expect(deps.get('hs-key-gpu-1')).toEqual(['hs-headscale-policy-base']);
    expect(byName('hs-key-gpu-2').inputs.create).toContain('--tags tag:gpu ');
    const k = tailnet.authKeyFor('gpu-1');
    expect(await pulumi.isSecret(k)).toBe(true);
    expect(await value(k)).toBe(`${MINTED}-hs-key-gpu-1`);
  });

  it('applies the full policy, tests included, after the hosts joined', () => {
    const full = byName('hs-headscale-policy-full');
    expect(JSON.parse(String(full.inputs.stdin))).toEqual(tailnet.policy);
    expect(tailnet.policy.tests.length).toBeGreaterThan(0);
    // Its order (after the base policy and every host) is checked on the whole program: tests/stack/program-headscale.test.ts.
  });

  it('refuses Funnel with Headscale, naming the key', () => {
    expect(
      () => new Tailnet('hs-bad', { admins: ['a@b.c'], nodes: [], funnel: true, headscale: { loginServer: 'http://h', connection: { host: 'h', user: 'root', privateKey: 'k' } } }),
    ).toThrow(/tailnet.funnel: Headscale has no Funnel/);
  });
});
