// A provider credential past its recorded expiry stops the preview with the credential's key and the fix.
import { describe, expect, it } from 'vitest';
import { formatIssues, parseStackConfig } from '../../stacks/validate.js';
import { localValues, publicValues } from './fixtures.js';

const NOW = new Date('2026-12-01T12:00:00Z');

function withExpiries(values: Record<string, unknown>, expiries: Array<{ credential: string; expiresAt: string }>): Record<string, unknown> {
  const monitoring = (values.monitoring ?? {}) as Record<string, unknown>;
  return { ...values, monitoring: { ...monitoring, credentialExpiries: expiries } };
}

describe('credentials past their expiry fail the config check (fudbuddy:monitoring.credentialExpiries)', () => {
  it('an expired Tailscale API key and Cloudflare token are named by their config keys, with the fix', () => {
    const r = parseStackConfig(
      withExpiries(publicValues(), [
        { credential: 'tailscale-api-key', expiresAt: '2026-11-30T00:00:00Z' },
        { credential: 'cloudflare-api-token', expiresAt: '2026-12-01T12:00:00Z' },
        { credential: 'service-token-rotation', expiresAt: '2026-01-01T00:00:00Z' },
      ]),
      NOW,
    );
    if (r.ok) throw new Error('expected the expired credentials to be rejected');
    const ts = r.issues.find((i) => i.key === 'tailscale:apiKey');
    expect(ts?.message).toContain("expired on 2026-11-30T00:00:00Z (fudbuddy:monitoring.credentialExpiries[0] 'tailscale-api-key')");
    expect(ts?.fix).toContain('pulumi config set --secret tailscale:apiKey');
    expect(ts?.fix).toContain("'fudbuddy:monitoring.credentialExpiries[0].expiresAt'");
    expect(r.issues.find((i) => i.key === 'cloudflare:apiToken')?.message, 'an expiry equal to now is past').toContain('expired on 2026-12-01T12:00:00Z');
    // A planned rotation date is a reminder, not a credential the providers use.
    expect(r.issues.map((i) => i.key)).not.toContain('fudbuddy:serviceToken');
    expect(formatIssues(r.issues)).toContain('tailscale:apiKey expired on');
  });

  it('a future expiry passes, and so does an expired credential the stack does not use', () => {
    const future = parseStackConfig(withExpiries(publicValues(), [{ credential: 'tailscale-api-key', expiresAt: '2026-12-02T00:00:00Z' }]), NOW);
    expect(future.ok, future.ok ? '' : formatIssues(future.issues)).toBe(true);
    // The local stack runs without Tailscale and Cloudflare.
    const unused = parseStackConfig(
      withExpiries(localValues(), [
        { credential: 'tailscale-api-key', expiresAt: '2020-01-01T00:00:00Z' },
        { credential: 'cloudflare-api-token', expiresAt: '2020-01-01T00:00:00Z' },
      ]),
      NOW,
    );
    expect(unused.ok, unused.ok ? '' : formatIssues(unused.issues)).toBe(true);
  });
});
