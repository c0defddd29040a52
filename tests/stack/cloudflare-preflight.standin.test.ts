// First contact with Cloudflare (scripts/cloudflare-preflight.mjs, run as the cloudflare-preflight step runs it:
// plain node, token in the environment) against the Cloudflare API STAND-IN (tests/support/cloudflareWorkersApi.ts):
// a token missing a permission and a zone that is not the domain's each fail with the config key that fixes it.
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startWorkersApi, type WorkersApiStandIn } from '../support/cloudflareWorkersApi.js';

const SCRIPT = fileURLToPath(new URL('../../scripts/cloudflare-preflight.mjs', import.meta.url));
const ACCOUNT = 'a'.repeat(32);
const ZONE = 'b'.repeat(32);
const OTHER_ZONE = 'c'.repeat(32);
const FULL = 'token-full-0123456789abcdef';
const NO_WORKERS_NO_PAGES = 'token-partial-0123456789abcdef';
let api: WorkersApiStandIn;

// Asynchronous: the stand-in answers from this process's event loop.
function preflight(env: { token: string; zoneId?: string; domain?: string; pages?: boolean }): Promise<{ code: number; out: string }> {
  return new Promise((resolve) => {
   execFile(process.execPath, [SCRIPT], {
    encoding: 'utf8',
    timeout: 30_000,
    env: {
      PATH: process.env.PATH,
      CLOUDFLARE_API_BASE_URL: api.url,
      CLOUDFLARE_API_TOKEN: env.token,
      CLOUDFLARE_ACCOUNT_ID: ACCOUNT,
      FUDBUDDY_ZONE_ID: env.zoneId ?? ZONE,
      FUDBUDDY_DOMAIN: env.domain ?? 'fudbuddy.example',
      FUDBUDDY_PAGES: env.pages === false ? '0' : '1',
    },
   }, (err, stdout, stderr) => resolve({ code: err ? Number((err as { code?: number }).code ?? -1) : 0, out: `${stdout}${stderr}` }));
  });
}

beforeAll(async () => {
  api = await startWorkersApi(
    { [FULL]: ['workers', 'zone', 'dns', 'pages'], [NO_WORKERS_NO_PAGES]: ['zone', 'dns'] },
    { [ZONE]: { name: 'fudbuddy.example', accountId: ACCOUNT }, [OTHER_ZONE]: { name: 'other.example', accountId: ACCOUNT } },
  );
});
afterAll(() => api?.close());

describe('cloudflare-preflight against the Cloudflare API stand-in', () => {
  it('passes for an active token with every permission and the domain\'s own zone (api.<domain> too)', async () => {
    const r = await preflight({ token: FULL, domain: 'api.fudbuddy.example' });
    expect(r.out).toContain('token active');
    expect(r.code).toBe(0);
  });

  it('names each missing permission under cloudflare:apiToken', async () => {
    const r = await preflight({ token: NO_WORKERS_NO_PAGES });
    expect(r.code).toBe(1);
    expect(r.out).toContain('cloudflare:apiToken lacks the permission Account · Workers Scripts · Edit');
    expect(r.out).toContain('cloudflare:apiToken lacks the permission Account · Cloudflare Pages · Edit');
    expect(r.out).not.toContain('DNS');
    expect(r.out).not.toContain(NO_WORKERS_NO_PAGES);
  });

  it("a zone that is not the domain's names fudbuddy:cloudflareZoneId and the zone it is", async () => {
    const r = await preflight({ token: FULL, zoneId: OTHER_ZONE });
    expect(r.code).toBe(1);
    expect(r.out).toContain(`fudbuddy:cloudflareZoneId ${OTHER_ZONE} is the zone of other.example, not of fudbuddy:domain fudbuddy.example`);
  });

  it('an unknown token is refused at the start, and nothing secret is printed', async () => {
    const r = await preflight({ token: 'not-a-token-0123456789' });
    expect(r.code).toBe(1);
    expect(r.out).toContain('cloudflare:apiToken is not accepted by Cloudflare (1000 Invalid API Token)');
    expect(r.out).not.toContain('not-a-token-0123456789');
  });
});
