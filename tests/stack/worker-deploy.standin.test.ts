// The edge Worker's deploy semantics against a STAND-IN of Cloudflare's Workers Scripts API
// (tests/support/cloudflareWorkersApi.ts, enforcing the documented upload/delete rules): the EdgeWorker component
// runs under Pulumi mocks, and what it registers is uploaded as the Cloudflare provider would send it
// (tests/support/workersScriptUpload.ts). create → update (secret rotation) → update (code change) → destroy must
// all be accepted; the Durable Object migration is sent once, as wrangler does, never again on an update.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { installMocks, unwrap, type MockRun } from '../support/pulumiMocks.js';
import { startWorkersApi, type WorkersApiStandIn } from '../support/cloudflareWorkersApi.js';
import { cloudflareCall, workersScriptUpload } from '../support/workersScriptUpload.js';

const mocks: MockRun = await installMocks({}, 'fudbuddy', 'standin');
const { EdgeWorker } = await import('../../components/edgeWorker.js');
const { workerMigrations, WORKER_MIGRATION_HISTORY, DURABLE_OBJECTS } = await import('../../components/lib/workerBindings.js');

const TOKEN = 'cf-standin-token-0123456789';
const SCRIPT = 'fudbuddy-edge';
const dir = mkdtempSync(path.join(tmpdir(), 'worker-deploy-'));
let api: WorkersApiStandIn;
let n = 0;

function bundle(version: string): string {
  const p = path.join(dir, `worker-${version}.js`);
  const classes = DURABLE_OBJECTS.map((d) => `export class ${d.className} {}`).join('\n');
  writeFileSync(p, `export default { fetch() { return new Response('${version}'); } };\n${classes}\n`);
  return p;
}

/** Runs the component as `pulumi up` would after a deploy left `deployedMigrationTag`; returns the script's inputs. */
async function program(opts: { deployedMigrationTag?: string; originToken: string; bundlePath: string }): Promise<Record<string, unknown>> {
  const name = `edge${n++}`;
  new EdgeWorker(name, {
    accountId: 'acc123',
    zoneId: 'zone123',
    scriptName: SCRIPT,
    hostname: 'api.example.com',
    routing: 'customDomain',
    vars: {
      originUrls: ['https://edge.tail1234.ts.net'],
      allowedOrigins: ['https://example.com'],
      clientIds: ['fudbuddy-web'],
      fallbackModel: 'gpt-4o-mini',
      openaiBaseUrl: 'https://api.openai.com/v1',
      tokenTtlSeconds: 600,
      rateLimitRpm: 30,
      tokensPerDay: 100000,
      ipRateLimitRpm: 60,
      originTimeoutMs: 30000,
      breakerFailures: 5,
      breakerOpenSeconds: 30,
      environment: 'standin',
    },
    secrets: { originToken: opts.originToken, jwtSigningKey: 'j'.repeat(48) },
    observability: { enabled: false, headSamplingRate: 1 },
    bundlePath: opts.bundlePath,
    deployedMigrationTag: opts.deployedMigrationTag,
    preflight: { domain: 'example.com', pages: false },
  });
  await mocks.settled();
  return mocks.byName(`${name}-script`).inputs;
}

const put = (inputs: Record<string, unknown>) => cloudflareCall(api.url, TOKEN, 'PUT', `/accounts/acc123/workers/scripts/${SCRIPT}`, workersScriptUpload(inputs));
const tagOf = (r: { result: unknown }) => (r.result as { migration_tag: string | null }).migration_tag ?? undefined;

beforeAll(async () => {
  api = await startWorkersApi([TOKEN]);
});
afterAll(() => api?.close());

describe('edge Worker deploys against the Cloudflare Workers API stand-in', () => {
  it('create → update (secret rotation) → update (code change) → destroy are all accepted', async () => {
    const create = await put(await program({ originToken: 'origin-token-1', bundlePath: bundle('v1') }));
    expect(create.errors).toEqual([]);
    const tag = tagOf(create);
    expect(tag).toBe(WORKER_MIGRATION_HISTORY.at(-1)!.tag);
    expect([...api.scripts.get(SCRIPT)!.doClasses].sort()).toEqual(DURABLE_OBJECTS.map((d) => d.className).sort());

    const rotated = await program({ deployedMigrationTag: tag, originToken: 'origin-token-2', bundlePath: bundle('v1') });
    expect(rotated.migrations, 'an up-to-date Worker gets no migration (wrangler sends none either)').toBeUndefined();
    const rotation = await put(rotated);
    expect(rotation.errors).toEqual([]);
    expect(api.scripts.get(SCRIPT)!.bindings.find((b) => b.name === 'ORIGIN_TOKEN')?.text).toBe('origin-token-2');

    const code = await put(await program({ deployedMigrationTag: tagOf(rotation), originToken: 'origin-token-2', bundlePath: bundle('v2') }));
    expect(code.errors).toEqual([]);
    expect(api.scripts.get(SCRIPT)!.modules['worker.js']).toContain("'v2'");
    expect(api.scripts.get(SCRIPT)!.uploads).toBe(3);

    const last = await program({ deployedMigrationTag: tagOf(code), originToken: 'origin-token-2', bundlePath: bundle('v2') });
    expect(unwrap(last.force), 'destroy must force off a script that implements Durable Objects').toBe(true);
    const destroy = await cloudflareCall(api.url, TOKEN, 'DELETE', `/accounts/acc123/workers/scripts/${SCRIPT}?force=${String(unwrap(last.force))}`);
    expect(destroy.errors).toEqual([]);
    expect(api.scripts.has(SCRIPT)).toBe(false);
  });

  it('the stand-in refuses what Cloudflare refuses: the create migration re-sent on an update (10079), an unforced delete', async () => {
    const first = await program({ originToken: 't', bundlePath: bundle('v1') });
    expect((await put(first)).errors).toEqual([]);
    const again = await put(first);
    expect(again.success).toBe(false);
    expect(again.errors[0]).toMatchObject({ code: 10079, message: expect.stringContaining('Migration tag precondition failed') });
    const unforced = await cloudflareCall(api.url, TOKEN, 'DELETE', `/accounts/acc123/workers/scripts/${SCRIPT}`);
    expect(unforced.errors[0]?.message).toContain('implements Durable Object namespaces');
    const badToken = await cloudflareCall(api.url, 'wrong', 'DELETE', `/accounts/acc123/workers/scripts/${SCRIPT}?force=true`);
    expect(badToken.errors[0]?.code).toBe(10000);
    expect((await cloudflareCall(api.url, TOKEN, 'DELETE', `/accounts/acc123/workers/scripts/${SCRIPT}?force=true`)).errors).toEqual([]);
  });
});

describe('workerMigrations: what to send for the deployed tag (wrangler getMigrationsToUpload)', () => {
  const history = [
    { tag: 'v1', newSqliteClasses: ['A'] },
    { tag: 'v2', newSqliteClasses: ['B'] },
  ];
  it('a new script gets every step and no oldTag; an up-to-date one nothing; an older one the pending steps', () => {
    expect(workerMigrations(undefined, history)).toEqual({ newTag: 'v2', steps: [{ newSqliteClasses: ['A'] }, { newSqliteClasses: ['B'] }] });
    expect(workerMigrations('v2', history)).toBeUndefined();
    expect(workerMigrations('v1', history)).toEqual({ oldTag: 'v1', newTag: 'v2', steps: [{ newSqliteClasses: ['B'] }] });
  });
  it('a deployed tag the history does not know is an error naming the tag', () => {
    expect(() => workerMigrations('v9', history)).toThrow(/migration tag 'v9'/);
  });
});
