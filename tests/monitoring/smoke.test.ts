// The CI smoke check: the workflow's shape (self-hosted runner on the edge box, after deploys and on a schedule) and
// its script run for real against the inference API bundle's /healthz (healthy, then with the model server down).
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { startStub, type StubHandle } from '../../services/model-stub/src/stub.js';
import { randomToken, startApiBundle, type Proc } from './live.js';
import { requireTool, ROOT, run, runAsync, SCRIPTS } from './support.js';

requireTool('curl', 'curl');
const script = path.join(SCRIPTS, 'smoke-healthz.sh');
// Async: the model stub runs in this process and must keep answering the API's health probes meanwhile.
const smoke = (urls: string[], env: Record<string, string> = {}) =>
  runAsync('bash', [script, ...urls], { env: { PATH: process.env.PATH ?? '', SMOKE_ATTEMPTS: '2', SMOKE_DELAY: '0', ...env } });

describe('.github/workflows/smoke.yml', () => {
  const wf = parse(readFileSync(path.join(ROOT, '.github/workflows/smoke.yml'), 'utf8'));

  it('runs on the self-hosted edge runner after deploys, after green CI on main, every 15 minutes and by hand', () => {
    expect(wf.on.repository_dispatch.types).toEqual(['fudbuddy-deployed']);
    expect(wf.on.workflow_run).toMatchObject({ workflows: ['ci'], types: ['completed'], branches: ['main'] });
    expect(wf.on.schedule[0].cron).toBe('*/15 * * * *');
    expect(wf.on).toHaveProperty('workflow_dispatch');
    const job = wf.jobs.healthz;
    expect(job['runs-on']).toEqual(['self-hosted', 'linux', 'fudbuddy-edge']);
    expect(job.if).toContain("conclusion == 'success'");
    expect(job.if).toContain('head_repository.full_name == github.repository');
    expect(wf.permissions).toEqual({ contents: 'read' });
  });

  it('calls the smoke script with the public and the tailnet health URLs, and no secrets', () => {
    const text = readFileSync(path.join(ROOT, '.github/workflows/smoke.yml'), 'utf8');
    const step = wf.jobs.healthz.steps.find((s: { run?: string }) => s.run?.includes('smoke-healthz.sh'));
    expect(step.env.PUBLIC_URL).toBe('${{ vars.FUDBUDDY_HEALTH_URL }}');
    expect(step.env.TAILNET_URL).toBe('${{ vars.FUDBUDDY_TAILNET_HEALTH_URL }}');
    expect(text).not.toContain('secrets.');
    // The step's shell passes shellcheck too.
    const sc = run(requireTool('shellcheck', 'shellcheck'), ['-s', 'bash', '-'], { input: `#!/usr/bin/env bash\n${step.run}` });
    expect(sc.status, sc.stdout).toBe(0);
  });
});

describe('smoke-healthz.sh against the real API /healthz', () => {
  let stub: StubHandle;
  let api: Proc;
  beforeAll(async () => {
    stub = await startStub({ host: '127.0.0.1', port: 0 });
    api = await startApiBundle({ UPSTREAM_BASE_URL: stub.baseURL, API_TOKENS: randomToken(), HEALTH_CACHE_MS: '0' });
  }, 60_000);
  afterAll(async () => {
    await Promise.allSettled([api?.close(), stub?.close()]);
  });

  it('passes when /healthz is 200', async () => {
    const r = await smoke([`${api.url}/healthz`]);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toContain(`ok: ${api.url}/healthz -> 200`);
  });

  it('fails naming the URL when the origin is degraded (model server down -> 503)', async () => {
    stub.setMode('down');
    try {
      const r = await smoke([`${api.url}/healthz`]);
      expect(r.status).toBe(1);
      expect(r.stderr).toContain('-> 503 (attempt 2/2)');
      expect(r.stderr).toContain(`UNHEALTHY: ${api.url}/healthz`);
    } finally {
      stub.setMode('ok');
    }
  });

  it('fails when nothing answers, and rejects bad arguments', async () => {
    const dead = await smoke(['http://127.0.0.1:9/healthz']);
    expect(dead.status).toBe(1);
    expect(dead.stderr).toContain('no answer');
    expect((await smoke([])).status).toBe(2);
    expect((await smoke(['ftp://x'])).status).toBe(2);
    expect((await smoke([`${api.url}/healthz`], { SMOKE_ATTEMPTS: '0' })).status).toBe(2);
  });
});
