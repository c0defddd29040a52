// First contact with an expired provider credential: monitoring already alerts 14 and 3 days ahead
// (monitoring.credentialExpiries); once the date is past, every call of the provider fails with a bare 401 deep in
// an update, so the preview stops first, naming the credential's config key and the command that fixes it.
import type { ConfigIssue } from './validate.js';

/** The credentialExpiries names whose credential this program uses, and the config key each one is. */
export const EXPIRING_CREDENTIALS = {
  'tailscale-api-key': { key: 'tailscale:apiKey', where: 'Tailscale admin console → Settings → Keys' },
  'cloudflare-api-token': { key: 'cloudflare:apiToken', where: 'Cloudflare dashboard → My Profile → API Tokens' },
} as const;
export type ExpiringCredential = keyof typeof EXPIRING_CREDENTIALS;

/** Issues for the listed credentials in use whose expiry is not after `now`. */
export function expiredCredentialIssues(
  expiries: ReadonlyArray<{ credential: string; expiresAt: string }>,
  inUse: ReadonlySet<ExpiringCredential>,
  now: Date,
): ConfigIssue[] {
  const issues: ConfigIssue[] = [];
  expiries.forEach((e, i) => {
    if (!(e.credential in EXPIRING_CREDENTIALS) || !inUse.has(e.credential as ExpiringCredential)) return;
    const at = new Date(e.expiresAt);
    if (Number.isNaN(at.getTime()) || at.getTime() > now.getTime()) return;
    const c = EXPIRING_CREDENTIALS[e.credential as ExpiringCredential];
    issues.push({
      key: c.key,
      message:
        `expired on ${e.expiresAt} (fudbuddy:monitoring.credentialExpiries[${i}] '${e.credential}'): the provider would refuse every call. ` +
        `Create a new one (${c.where}), set it, and move the recorded expiry`,
      fix: `pulumi config set --secret ${c.key} <new value> && pulumi config set --path 'fudbuddy:monitoring.credentialExpiries[${i}].expiresAt' '<its expiry, RFC 3339>'`,
    });
  });
  return issues;
}
