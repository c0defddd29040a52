// The whole program under Pulumi mocks (stand-in engine/providers), public exposure:
// tailnet → GPU host → edge box (Funnel) → Worker → Pages.
import { beforeAll, describe, expect, it } from 'vitest';
import { ALL_MARKERS, MARK, publicValues } from './fixtures.js';
import { checkPolicy, isAllowed } from '../../components/lib/policyCheck.js';
import { WORKER_COMPATIBILITY_DATE } from '../../components/lib/workerBindings.js';
import { aclOf, byType, isSecretEnvelope, isSecretOutput, one, payloadFiles, plainText, runProgram, unwrap, type ProgramRun } from './harness.js';

/** Credentials to alert on before they expire (as in Pulumi.beta.yaml). */
const CREDENTIALS = [
  { credential: 'tailscale-api-key', expiresAt: '2036-02-25T00:00:00Z' },
  { credential: 'cloudflare-api-token', expiresAt: '2036-05-27T00:00:00Z' },
  { credential: 'service-token-rotation', expiresAt: '2026-12-27T00:00:00Z' },
];

let run: ProgramRun;
beforeAll(async () => {
  // tailnetClients is set on purpose: public exposure must ignore it (the Worker reaches the edge through Funnel).
  const values = { ...publicValues(), tailnetClients: ['autogroup:member'], monitoring: { credentialExpiries: CREDENTIALS } };
  run = await runProgram(values, {
    stack: 'beta',
    extraConfig: { 'cloudflare:apiToken': MARK.cloudflareApiToken, 'tailscale:apiKey': MARK.tailscaleApiKey },
  });
}, 60_000);

const binding = (name: string) => {
  const script = one(run, 'cloudflare:index/workersScript:WorkersScript');
  // A list holding a secret is secret as a whole in Pulumi: vars travel inside the same envelope.
  const list = unwrap(script.inputs.bindings) as Record<string, unknown>[];
  return list.find((b) => b.name === name);
};

describe('public stack (mock engine)', () => {
  it('creates the expected resources for public exposure', () => {
    const types = new Set(run.resources.map((r) => r.type));
    for (const t of [
      'fudbuddy:tailnet:Tailnet',
      'tailscale:index/acl:Acl',
      'fudbuddy:host:GpuHost',
      'fudbuddy:edge:EdgeNode',
      'fudbuddy:edge:EdgeWorker',
      'cloudflare:index/workersScript:WorkersScript',
      'cloudflare:index/workersCustomDomain:WorkersCustomDomain',
      'fudbuddy:web:WebClient',
      'cloudflare:index/pagesProject:PagesProject',
      'cloudflare:index/pagesDomain:PagesDomain',
      'fudbuddy:monitoring:Monitoring',
    ]) {
      expect(types, t).toContain(t);
    }
    expect(byType(run, 'fudbuddy:host:GpuHost')).toHaveLength(1);
    // One key per node: the GPU host, and the edge box (tag:edge + tag:monitoring).
    expect(byType(run, 'tailscale:index/tailnetKey:TailnetKey')).toHaveLength(2);
  });

  it("wires the Worker's ORIGIN_URL to the edge node's Funnel URL", () => {
    expect(binding('ORIGIN_URL')).toMatchObject({ type: 'plain_text', text: 'https://fudbuddy-edge.tail1234.ts.net' });
    expect(run.exports.edgeUrl).toBe('https://fudbuddy-edge.tail1234.ts.net');
    const proxy = one(run, 'command:remote:Command', 'edge-proxy');
    expect(String(proxy.inputs.create)).toContain('edge-proxy.sh');
    // Destroy resets serve/funnel through a constant-input step: the proxy step itself deletes nothing, so a
    // replacement (new nginx config) never resets the door it just opened.
    expect(proxy.inputs.delete).toBeUndefined();
    const teardown = one(run, 'command:remote:Command', 'edge-teardown');
    expect(String(teardown.inputs.delete)).toContain('tailscale funnel reset');
    expect(teardown.inputs.create).toBe('true');
    expect(teardown.inputs.triggers ?? []).toEqual([]);
  });

  it("puts the Worker's service token into the API's tokens (with the previous one during a rotation)", () => {
    expect(isSecretEnvelope(one(run, 'cloudflare:index/workersScript:WorkersScript').inputs.bindings)).toBe(true);
    const origin = binding('ORIGIN_TOKEN');
    expect(origin?.type).toBe('secret_text');
    expect(unwrap(origin?.text)).toBe(MARK.serviceToken);
    // The API's tokens go to the host on stdin of a secret step, into their own file (API_TOKENS_FILE; a change
    // reloads the API, no restart); the API env file only names that file.
    const tokenSteps = run.resources.filter((r) => r.type === 'command:remote:Command' && String(r.inputs.create).includes('write-secret-file.sh /etc/fudbuddy-api/tokens '));
    expect(tokenSteps, 'one step writing the API token file').toHaveLength(1);
    expect(String(tokenSteps[0]!.inputs.create)).toContain('--reload fudbuddy-api.service');
    expect(isSecretEnvelope(tokenSteps[0]!.inputs.stdin)).toBe(true);
    const tokens = String(unwrap(tokenSteps[0]!.inputs.stdin)).split('\n').filter((l) => l !== '' && !l.startsWith('#'));
    expect(tokens).toEqual([MARK.serviceToken, MARK.serviceTokenPrevious]);
    const apiEnv = run.resources.map((r) => String(unwrap(r.inputs.stdin) ?? '')).find((t) => t.includes('API_TOKENS_FILE='));
    expect(apiEnv).toContain("API_TOKENS_FILE='/etc/fudbuddy-api/tokens'");
    expect(apiEnv).not.toContain(MARK.serviceToken);
  });

  it('binds the JWT keys (current and previous), Durable Objects and the v1 migration', () => {
    expect(unwrap(binding('JWT_SIGNING_KEY')?.text)).toBe(MARK.jwtSigningKey);
    expect(unwrap(binding('JWT_SIGNING_KEY_PREVIOUS')?.text)).toBe(MARK.jwtSigningKeyPrevious);
    expect(binding('QUOTA')).toMatchObject({ type: 'durable_object_namespace', className: 'QuotaCounter' });
    expect(binding('STATS')).toMatchObject({ type: 'durable_object_namespace', className: 'EdgeStats' });
    const script = one(run, 'cloudflare:index/workersScript:WorkersScript');
    expect(script.inputs).toMatchObject({ mainModule: 'worker.js', compatibilityDate: WORKER_COMPATIBILITY_DATE, scriptName: 'fudbuddy-api-beta' });
    // Before a first deploy (no edgeWorkerMigrationTag output yet) the upload carries every migration step.
    expect(script.inputs.migrations).toEqual({ newTag: 'v1', steps: [{ newSqliteClasses: ['QuotaCounter', 'EdgeStats'] }] });
    expect(script.inputs.force).toBe(true);
    // First contact is checked before the upload, with the token in the environment only.
    const preflight = one(run, 'command:local:Command', 'api-cloudflare-preflight');
    expect(preflight.inputs.create).toBe('node scripts/cloudflare-preflight.mjs');
    expect(isSecretEnvelope(preflight.inputs.environment)).toBe(true);
    expect((unwrap(preflight.inputs.environment) as Record<string, unknown>).CLOUDFLARE_API_TOKEN).toBe(MARK.cloudflareApiToken);
    expect(String(preflight.inputs.create)).not.toContain(MARK.cloudflareApiToken);
    expect(run.dependsOn.get('api-script')).toContain('api-cloudflare-preflight');
    expect(binding('ALLOWED_ORIGINS')?.text).toBe('https://app.fudbuddy.example');
    expect(one(run, 'cloudflare:index/workersCustomDomain:WorkersCustomDomain').inputs.hostname).toBe('api.fudbuddy.example');
  });

  it("builds the web client against the Worker's URL (VITE_AI_API_BASE_URL) and deploys it with the token in env only", () => {
    const build = one(run, 'command:local:Command', 'web-build');
    expect(build.inputs.environment).toMatchObject({
      VITE_AI_API_BASE_URL: 'https://api.fudbuddy.example',
      VITE_AI_CLIENT_ID: 'fudbuddy-web',
      VITE_AI_ENV: 'beta',
    });
    const deploy = one(run, 'command:local:Command', 'web-deploy');
    expect(String(deploy.inputs.create)).toContain('pages deploy');
    expect(String(deploy.inputs.create)).not.toContain(MARK.cloudflareApiToken);
    expect(isSecretEnvelope(deploy.inputs.environment)).toBe(true);
    expect((unwrap(deploy.inputs.environment) as Record<string, unknown>).CLOUDFLARE_API_TOKEN).toBe(MARK.cloudflareApiToken);
    // Only a new dist (the build's hash), project or account publishes; a token rotation updates to a no-op.
    expect(deploy.inputs.triggers).toEqual([one(run, 'command:local:Command', 'web-build').inputs.stdout ?? 'a'.repeat(64), 'fudbuddy-web-beta', expect.any(String)]);
    expect(deploy.inputs.update).toBe('true');
    expect(run.dependsOn.get('web-deploy')).toEqual(expect.arrayContaining(['web-project', 'web-build']));
    expect(run.exports.webUrl).toBe('https://app.fudbuddy.example');
  });

  it('joins the edge box with a key carrying tag:edge (the tag the ACL grants and Funnel is given to)', () => {
    const acl = JSON.parse(String(one(run, 'tailscale:index/acl:Acl').inputs.acl)) as { grants: { src: string[]; dst: string[]; ip: string[] }[]; nodeAttrs: { target: string[]; attr: string[] }[] };
    expect(acl.grants).toContainEqual(expect.objectContaining({ src: ['tag:edge'], dst: ['tag:gpu'], ip: ['tcp:8001'] }));
    expect(acl.nodeAttrs).toContainEqual({ target: ['tag:edge'], attr: ['funnel'] });
    const edgeKey = run.resources.find((r) => r.type === 'tailscale:index/tailnetKey:TailnetKey' && (r.inputs.tags as string[]).includes('tag:edge'));
    expect(edgeKey?.inputs).toMatchObject({ reusable: false, preauthorized: true });
    const up = one(run, 'command:remote:Command', 'edge-tailscale-up');
    expect(String(up.inputs.create)).toContain('--advertise-tags tag:edge');
    expect(String(up.inputs.create)).toContain('--hostname fudbuddy-edge');
    expect(unwrap(up.inputs.stdin)).toBe(`tskey-auth-mock-${edgeKey!.name}`);
  });

  it('grants no tailnet user the edge HTTPS port (Funnel needs no grant) and no Loki access with logs off', () => {
    const acl = aclOf(run);
    expect(checkPolicy(acl)).toEqual([]);
    expect(acl.grants.filter((g) => g.ip.includes('tcp:443'))).toEqual([]);
    expect(isAllowed(acl, 'ops@example.com', 'tag:edge:443')).toBe(false);
    expect(acl.tests.find((t) => t.src === 'ops@example.com')?.deny).toContain('tag:edge:443');
    expect(acl.grants.filter((g) => g.dst.includes('tag:monitoring'))).toEqual([]);
    expect(isAllowed(acl, 'tag:gpu', 'tag:monitoring:3100')).toBe(false);
  });

  it('hands monitoring.credentialExpiries to the monitoring server (the credential-expiry alerts have series to watch)', () => {
    const server = one(run, 'command:remote:Command', 'monitoring-server');
    const prom = payloadFiles(String(unwrap(server.inputs.stdin)))['credentials.prom'];
    expect(prom, 'credentials.prom in the monitoring server payload').toBeDefined();
    for (const c of CREDENTIALS) {
      expect(prom).toContain(`fudbuddy_credential_expiry_timestamp_seconds{credential="${c.credential}"} ${Date.parse(c.expiresAt) / 1000}`);
    }
  });

  it('only mints keys for tags the policy owns (Tailscale refuses a key with an unowned tag)', () => {
    const acl = JSON.parse(String(one(run, 'tailscale:index/acl:Acl').inputs.acl)) as { tagOwners: Record<string, string[]> };
    for (const k of byType(run, 'tailscale:index/tailnetKey:TailnetKey')) {
      for (const t of k.inputs.tags as string[]) expect(Object.keys(acl.tagOwners), `${k.name}: ${t}`).toContain(t);
    }
  });

  it('exports the public API URL, web URL, health URL, tailnet names and model', () => {
    expect(run.exports).toMatchObject({
      exposure: 'public',
      apiUrl: 'https://api.fudbuddy.example',
      healthUrl: 'https://api.fudbuddy.example/healthz',
      modelServed: 'fudbuddy-chat',
      tailnetNames: { gpuHosts: ['fudbuddy-gpu1.tail1234.ts.net'], edge: 'fudbuddy-edge.tail1234.ts.net' },
    });
  });

  it('orders a token rotation: the Worker script waits for every GPU host (API accepts the new token first)', () => {
    expect(run.dependsOn.get('api-script')).toEqual(expect.arrayContaining(['gpu1', 'edge']));
    // ... and the web client is built only once the Worker is up.
    expect(run.dependsOn.get('web-build')).toEqual(['api']);
  });

  it('keeps every marker secret: wrapped in registered inputs, absent from exports', async () => {
    for (const r of run.resources) {
      const text = plainText(r.inputs);
      for (const m of ALL_MARKERS) expect(text, `${r.type} ${r.name} leaks ${m}`).not.toContain(m);
    }
    const exported = JSON.stringify(run.exports);
    for (const m of ALL_MARKERS) expect(exported).not.toContain(m);
    for (const [k, v] of Object.entries(run.module)) expect(await isSecretOutput(v), `export ${k}`).toBe(false);
  });
});
