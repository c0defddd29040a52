// Pure builders of the edge node, Worker and web client components.
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { buildEdgeProxyScript, buildNginxConfig, serveCommand } from '../../components/lib/serveConfig.js';
import { buildWorkerBindings, buildWorkerVars, WORKER_MIGRATION_HISTORY, type WorkerVars } from '../../components/lib/workerBindings.js';
import { buildCommand, buildViteEnv, deployCommand, hashTree } from '../../components/lib/webDeploy.js';
import { stagedScripts } from '../../components/edgeNode.js';

const vars: WorkerVars = {
  originUrls: ['https://fudbuddy-edge.tail1234.ts.net'],
  allowedOrigins: ['https://app.example.com'],
  clientIds: ['web', 'ios'],
  fallbackModel: 'gpt-4o-mini',
  openaiBaseUrl: 'https://api.openai.com/v1',
  tokenTtlSeconds: 600,
  rateLimitRpm: 20,
  tokensPerDay: 1000,
  ipRateLimitRpm: 60,
  originTimeoutMs: 30000,
  breakerFailures: 5,
  breakerOpenSeconds: 30,
  environment: 'beta',
};

describe('worker bindings', () => {
  it('maps vars to plain_text and secrets to secret_text, leaving absent optional secrets out', () => {
    const b = buildWorkerBindings(vars, { originToken: 'S1', jwtSigningKey: 'S2', inviteCodes: 'S3' });
    const byName = Object.fromEntries(b.map((x) => [x.name, x]));
    expect(byName.CLIENT_IDS).toEqual({ name: 'CLIENT_IDS', type: 'plain_text', text: 'web,ios' });
    expect(byName.TOKEN_TTL_SECONDS?.text).toBe('600');
    expect(byName.ORIGIN_TOKEN).toEqual({ name: 'ORIGIN_TOKEN', type: 'secret_text', text: 'S1' });
    expect(byName.INVITE_CODES?.type).toBe('secret_text');
    expect(byName.JWT_SIGNING_KEY_PREVIOUS).toBeUndefined();
    expect(byName.OPENAI_API_KEY).toBeUndefined();
    expect(byName.QUOTA).toEqual({ name: 'QUOTA', type: 'durable_object_namespace', className: 'QuotaCounter' });
    expect(byName.STATS).toEqual({ name: 'STATS', type: 'durable_object_namespace', className: 'EdgeStats' });
    expect(new Set(b.map((x) => x.name)).size).toBe(b.length);
    // Every secret value is only ever in a secret_text binding.
    for (const x of b) if (x.type !== 'secret_text') expect(['S1', 'S2', 'S3']).not.toContain(x.text);
    expect(WORKER_MIGRATION_HISTORY).toEqual([{ tag: 'v1', newSqliteClasses: ['QuotaCounter', 'EdgeStats'] }]);
  });

  it('every binding name is one the Worker reads (services/edge-worker/src/env.ts, config.ts, defaults.ts)', async () => {
    const { readFileSync } = await import('node:fs');
    const { WORKER_SETTINGS } = await import('../../services/edge-worker/src/defaults.js');
    const read = (f: string) => readFileSync(new URL(`../../services/edge-worker/src/${f}`, import.meta.url), 'utf8');
    const declared = read('env.ts') + read('config.ts');
    const b = buildWorkerBindings(vars, { originToken: 'a', jwtSigningKey: 'b', jwtSigningKeyPrevious: 'c', openaiApiKey: 'd', inviteCodes: 'e', metricsToken: 'f' });
    for (const x of b) expect(x.name in WORKER_SETTINGS || new RegExp(`\\b${x.name}\\??:`).test(declared), x.name).toBe(true);
  });

  it('rejects a non-https origin, no origin, and a TTL above 900 s', () => {
    expect(() => buildWorkerVars({ ...vars, originUrls: ['http://x'] })).toThrow(/https/);
    expect(() => buildWorkerVars({ ...vars, originUrls: [] })).toThrow(/origin/);
    expect(() => buildWorkerVars({ ...vars, tokenTtlSeconds: 901 })).toThrow(/900/);
  });
});

describe('edge node builders', () => {
  it('proxies every upstream, streams (no buffering) and never replays a POST that reached a host', () => {
    const conf = buildNginxConfig({ upstreams: ['100.64.0.1:8001', '100.64.0.2:8001'], bodyLimit: '2mb' });
    expect(conf).toContain('server 100.64.0.1:8001 max_fails=3');
    expect(conf).toContain('server 100.64.0.2:8001 max_fails=3');
    expect(conf).toContain('listen 127.0.0.1:8080;');
    expect(conf).toContain('proxy_buffering off;');
    expect(conf).toContain('client_max_body_size 2m;');
    expect(conf).toMatch(/proxy_next_upstream error timeout;/);
    expect(conf).not.toContain('non_idempotent');
    expect(() => buildNginxConfig({ upstreams: [] })).toThrow(/upstream/);
    expect(() => buildNginxConfig({ upstreams: ['x; evil'] })).toThrow(/host:port/);
  });

  it('uses the current tailscale serve/funnel syntax, always to the loopback proxy', () => {
    expect(serveCommand('funnel')).toEqual(['tailscale', 'funnel', '--bg', '--yes', '--https=443', 'http://127.0.0.1:8080']);
    expect(serveCommand('serve')[1]).toBe('serve');
    // Headscale issues no certificates: plain HTTP serve on :80 (tests/tailnet runs this argv for real); never Funnel.
    expect(serveCommand('serve', 'http')).toEqual(['tailscale', 'serve', '--bg', '--yes', '--http=80', 'http://127.0.0.1:8080']);
    expect(() => serveCommand('funnel', 'http')).toThrow(/Funnel serves HTTPS only/);
    expect(buildEdgeProxyScript('serve', 'http')).toContain('want="serve http:80 http://127.0.0.1:8080"');
  });

  it('generates edge scripts that pass bash -n and shellcheck, and turn the other mode off', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'edge-script-'));
    try {
      for (const mode of ['serve', 'funnel'] as const) {
        const f = path.join(dir, `edge-proxy-${mode}.sh`);
        const script = buildEdgeProxyScript(mode);
        writeFileSync(f, script);
        execFileSync('bash', ['-n', f]);
        const sc = spawnSync('shellcheck', ['-S', 'style', f], { encoding: 'utf8' });
        expect(sc.status, sc.stdout).toBe(0);
        expect(script).toContain('set -euo pipefail');
        expect(script).toContain(`tailscale ${mode === 'funnel' ? 'serve' : 'funnel'} reset`);
        expect(script).toContain(serveCommand(mode).join(' '));
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("stages the host layer's lib.sh and tailscale scripts with the edge script; the hash follows the mode", () => {
    const a = stagedScripts('serve');
    const b = stagedScripts('funnel');
    expect(a.hash).toMatch(/^[0-9a-f]{64}$/);
    expect(a.hash).not.toBe(b.hash);
    expect(a.names).toEqual(
      ['edge-proxy.sh', 'install-scripts.sh', 'lib.sh', 'tailscale-install.sh', 'tailscale-up.sh'],
    );
    // A real directory (the command provider copies path archives only), named by content, holding exactly those files.
    expect(a.dir).not.toBe(b.dir);
    expect(readdirSync(a.dir).sort()).toEqual(a.names);
    expect(readFileSync(path.join(a.dir, 'edge-proxy.sh'), 'utf8')).toBe(buildEdgeProxyScript('serve'));
    expect(stagedScripts('serve').dir).toBe(a.dir);
  });
});

describe('web deploy builders', () => {
  it('puts only public values into VITE_* and requires an https API URL', () => {
    expect(buildViteEnv({ apiBaseUrl: 'https://api.x.com', clientId: 'web', environment: 'beta' })).toEqual({
      VITE_AI_API_BASE_URL: 'https://api.x.com',
      VITE_AI_CLIENT_ID: 'web',
      VITE_AI_ENV: 'beta',
    });
    expect(buildViteEnv({ apiBaseUrl: 'https://a', clientId: 'w', environment: 'e', sentryDsn: 'https://k@o.ingest.sentry.io/1' }).VITE_SENTRY_DSN).toBeDefined();
    expect(() => buildViteEnv({ apiBaseUrl: 'http://api.x.com', clientId: 'w', environment: 'e' })).toThrow(/https/);
  });

  it('deploys with wrangler reading the token from the environment, never argv', () => {
    const cmd = deployCommand('fudbuddy-web-beta', 'main');
    expect(cmd).toContain('pages deploy services/web/dist --project-name=fudbuddy-web-beta --branch=main');
    expect(cmd).not.toMatch(/token|CLOUDFLARE_API/i);
    expect(() => deployCommand('Bad Name', 'main')).toThrow();
    expect(() => deployCommand('ok', 'main; rm -rf /')).toThrow();
    expect(buildCommand()).toMatch(/sha256sum/);
  });

  it('hashes the web sources by content (a change rebuilds, build output does not)', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'web-hash-'));
    try {
      execFileSync('mkdir', ['-p', `${dir}/services/web/src`, `${dir}/services/web/dist`]);
      writeFileSync(`${dir}/services/web/src/a.ts`, 'one');
      const h1 = hashTree(dir, ['services/web']);
      writeFileSync(`${dir}/services/web/dist/bundle.js`, 'built');
      expect(hashTree(dir, ['services/web'])).toBe(h1);
      writeFileSync(`${dir}/services/web/src/a.ts`, 'two');
      expect(hashTree(dir, ['services/web'])).not.toBe(h1);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
