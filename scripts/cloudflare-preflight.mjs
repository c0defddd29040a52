#!/usr/bin/env node
// cloudflare-preflight.mjs — the first contact with Cloudflare, before the Worker, Pages or DNS are touched: is the
// token active, can it read what the deploy writes (a token missing a permission gets 403 / 10000 "Authentication
// error" from each API it lacks), and is the zone the domain's? Each problem names the config key that fixes it.
// Read probes only: an Edit permission cannot be seen without writing, so the message asks for Edit.
// Run by the `cloudflare-preflight` local.Command (components/edgeWorker.ts) with the token in its environment
// (CLOUDFLARE_API_TOKEN, never argv); prints no secret. Exit 0 when everything is usable, 1 with the problems.

export const CLOUDFLARE_API = 'https://api.cloudflare.com/client/v4';

/**
 * @param {{ apiBase?: string, token: string, accountId: string, zoneId: string, domain: string, pages: boolean, fetch?: typeof fetch }} o
 * @returns {Promise<string[]>} one line per problem, each starting with the config key
 */
export async function cloudflarePreflight(o) {
  const f = o.fetch ?? fetch;
  const api = o.apiBase ?? CLOUDFLARE_API;
  const call = async (path) => {
    try {
      const res = await f(`${api}${path}`, { headers: { authorization: `Bearer ${o.token}` } });
      const body = await res.json().catch(() => ({}));
      return { status: res.status, ok: res.ok && body.success !== false, result: body.result, errors: body.errors ?? [] };
    } catch (e) {
      return { status: 0, ok: false, result: undefined, errors: [{ code: 0, message: `unreachable: ${e?.cause?.code ?? e?.message ?? e}` }] };
    }
  };
  const why = (r) => r.errors.map((e) => `${e.code} ${e.message}`).join('; ') || `HTTP ${r.status}`;
  const problems = [];
  const verify = await call('/user/tokens/verify');
  if (!verify.ok) return [`cloudflare:apiToken is not accepted by Cloudflare (${why(verify)}): create an API token and run pulumi config set --secret cloudflare:apiToken <token>`];
  if (verify.result?.status !== 'active') problems.push(`cloudflare:apiToken is ${verify.result?.status ?? 'not active'}: create a new token and run pulumi config set --secret cloudflare:apiToken <token>`);
  const lacks = (permission) =>
    `cloudflare:apiToken lacks the permission ${permission}: edit the token (Cloudflare dashboard → My Profile → API Tokens) and add it`;
  const zone = await call(`/zones/${encodeURIComponent(o.zoneId)}`);
  if (zone.status === 403) problems.push(lacks('Zone · Zone · Read'));
  else if (!zone.ok) problems.push(`fudbuddy:cloudflareZoneId ${o.zoneId} is not a zone this token can see (${why(zone)}): pulumi config set fudbuddy:cloudflareZoneId <the zone id of ${o.domain}>`);
  else {
    const name = zone.result?.name ?? '';
    if (o.domain !== name && !o.domain.endsWith(`.${name}`)) {
      problems.push(`fudbuddy:cloudflareZoneId ${o.zoneId} is the zone of ${name}, not of fudbuddy:domain ${o.domain}: pulumi config set fudbuddy:cloudflareZoneId <the zone id of ${o.domain}>`);
    }
    const owner = zone.result?.account?.id;
    if (owner && owner !== o.accountId) {
      problems.push(`fudbuddy:cloudflareAccountId ${o.accountId} does not own zone ${name} (account ${owner}): pulumi config set fudbuddy:cloudflareAccountId ${owner}`);
    }
  }
  const probes = [
    [`/accounts/${encodeURIComponent(o.accountId)}/workers/scripts`, 'Account · Workers Scripts · Edit'],
    [`/zones/${encodeURIComponent(o.zoneId)}/dns_records?per_page=1`, 'Zone · DNS · Edit'],
    ...(o.pages ? [[`/accounts/${encodeURIComponent(o.accountId)}/pages/projects`, 'Account · Cloudflare Pages · Edit']] : []),
  ];
  for (const [path, permission] of probes) {
    const r = await call(path);
    if (r.status === 403) problems.push(lacks(permission));
    else if (!r.ok) problems.push(`cloudflare:apiToken could not be checked for ${permission} (${why(r)})`);
  }
  return problems;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const env = process.env;
  const missing = ['CLOUDFLARE_API_TOKEN', 'CLOUDFLARE_ACCOUNT_ID', 'FUDBUDDY_ZONE_ID', 'FUDBUDDY_DOMAIN'].filter((k) => !env[k]);
  if (missing.length) {
    console.error(`cloudflare-preflight: ${missing.join(', ')} not set (the cloudflare-preflight step sets them)`);
    process.exit(2);
  }
  const problems = await cloudflarePreflight({
    apiBase: env.CLOUDFLARE_API_BASE_URL || undefined,
    token: env.CLOUDFLARE_API_TOKEN,
    accountId: env.CLOUDFLARE_ACCOUNT_ID,
    zoneId: env.FUDBUDDY_ZONE_ID,
    domain: env.FUDBUDDY_DOMAIN,
    pages: env.FUDBUDDY_PAGES === '1',
  });
  for (const p of problems) console.error(p);
  if (problems.length) process.exit(1);
  console.log('cloudflare: token active; zone, Workers, DNS' + (env.FUDBUDDY_PAGES === '1' ? ', Pages' : '') + ' reachable');
}
