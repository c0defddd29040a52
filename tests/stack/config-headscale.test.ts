// controlServer: tailscale | headscale in the stack config: what Headscale needs, and what it cannot do (Funnel, so
// public exposure) refused at preview with a message naming the key.
import { describe, expect, it } from 'vitest';
import { parseStackConfig, type ConfigIssue } from '../../stacks/validate.js';
import { privateValues, publicValues } from './fixtures.js';

const HEADSCALE = { loginServer: 'https://hs.example.com', address: '203.0.113.5', user: 'ubuntu' };
const headscaleValues = (): Record<string, unknown> => ({ ...privateValues(), controlServer: 'headscale', headscale: HEADSCALE, tailnetDnsName: 'tailnet.example.com' });
function issuesOf(values: Record<string, unknown>): ConfigIssue[] {
  const r = parseStackConfig(values);
  if (r.ok) throw new Error('expected the config to be rejected');
  return r.issues;
}

describe('stack config: controlServer', () => {
  it('defaults to Tailscale, policy overwrite off', () => {
    const r = parseStackConfig(privateValues());
    if (!r.ok) throw new Error('rejected');
    expect(r.settings.controlServer).toBe('tailscale');
    expect(r.settings.tailnetPolicyOverwrite).toBe(false);
  });

  it('accepts a private Headscale stack with its own MagicDNS domain and fills the CLI default', () => {
    const r = parseStackConfig(headscaleValues());
    if (!r.ok) throw new Error(JSON.stringify(r.issues));
    expect(r.settings.headscale).toMatchObject({ ...HEADSCALE, port: 22, cli: 'headscale' });
  });

  it('refuses public exposure with Headscale, naming exposure', () => {
    const v = { ...publicValues(), controlServer: 'headscale', headscale: HEADSCALE };
    const i = issuesOf(v).find((x) => x.key === 'fudbuddy:exposure');
    expect(i?.message).toMatch(/must be "private" with controlServer "headscale": Headscale has no Funnel/);
    expect(i?.fix).toBe('pulumi config set fudbuddy:exposure <value>');
  });

  it('needs the headscale block, refuses it with Tailscale, and keeps the .ts.net check for Tailscale', () => {
    const missing = headscaleValues();
    delete missing.headscale;
    expect(issuesOf(missing).map((i) => i.key)).toContain('fudbuddy:headscale');
    expect(issuesOf({ ...privateValues(), headscale: HEADSCALE }).find((i) => i.key === 'fudbuddy:headscale')?.message).toMatch(/controlServer is "tailscale"/);
    expect(issuesOf({ ...privateValues(), tailnetDnsName: 'tailnet.example.com' }).find((i) => i.key === 'fudbuddy:tailnetDnsName')?.message).toMatch(/ending in \.ts\.net/);
    expect(issuesOf({ ...headscaleValues(), tailnetPolicyOverwrite: 'true' }).map((i) => i.key)).toContain('fudbuddy:tailnetPolicyOverwrite');
  });

  it('validates the login server URL (it goes into a host command line)', () => {
    for (const bad of ['ftp://hs.example.com', 'https://hs.example.com/?a=1&b=2', 'not a url']) {
      const keys = issuesOf({ ...headscaleValues(), headscale: { ...HEADSCALE, loginServer: bad } }).map((i) => i.key);
      expect(keys, bad).toContain('fudbuddy:headscale.loginServer');
    }
  });

  it("refuses an http:// login server that Tailscale's client would still reach over HTTPS (a name or a public IP)", () => {
    const message = (loginServer: string): string | undefined => {
      const r = parseStackConfig({ ...headscaleValues(), headscale: { ...HEADSCALE, loginServer } });
      return r.ok ? undefined : r.issues.find((i) => i.key === 'fudbuddy:headscale.loginServer')?.message;
    };
    for (const bad of ['http://headscale.example.com', 'http://hs.internal:8080', 'http://203.0.113.5:8080']) {
      expect(message(bad), bad).toMatch(/http:\/\/ works only with a private or loopback IP .*use https:\/\//);
    }
    for (const ok of ['https://headscale.example.com', 'http://10.77.0.1:8080', 'http://192.168.1.2', 'http://172.20.0.1:8080', 'http://127.0.0.1:8080', 'http://localhost:8080']) {
      expect(message(ok), ok).toBeUndefined();
    }
  });
});
