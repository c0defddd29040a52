// GpuHost's own resource graph, replayed for real: the component runs under Pulumi mocks (no engine), every
// CopyToRemote/remote.Command it declares is recorded with its inputs and dependsOn, and this test then executes
// them in dependency order over real SSH on a throwaway Debian host (scp for the copies, the exact `create`
// strings and stdin for the commands) — twice. The second pass must change and restart nothing.
// Stand-in on the host: systemctl only (no systemd PID 1 here). Config: the CPU test-host shape (gpu none, no
// tailnet, model stub), which is what the real-engine e2e stack deploys too.
import { cpSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import * as pulumi from '@pulumi/pulumi';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { installMocks, isSecretEnvelope, value, type Registered } from '../support/pulumiMocks.js';
import { ensureTestHostRoot, REPO_ROOT, startTestHost, type TestHost } from '../support/testHost.js';

const mocks = await installMocks({ state: () => ({ stdout: '', stderr: '' }) }, 'fudbuddy', 'replay');
const { resources: recorded, deps, recordDeps } = mocks;
const plain = (v: unknown): unknown => (isSecretEnvelope(v) ? v.value : v);
const { GpuHost } = await import('../../components/gpuHost.js');

const API_TOKEN = 'replay-api-token-5e0c2b7d9a41f386';
const STUB_KEY = 'replay-stub-key-1f9d3c7b5a2e8046';
let host: TestHost;
let work: string;
let order: Registered[] = [];
let apiUrl = '';

function topo(recs: Registered[]): Registered[] {
  const byName = new Map(recs.map((r) => [r.name, r]));
  const out: Registered[] = [];
  const seen = new Set<string>();
  const visit = (r: Registered): void => {
    if (seen.has(r.name)) return;
    seen.add(r.name);
    for (const d of deps.get(r.name) ?? []) {
      const dep = byName.get(d);
      if (dep) visit(dep);
    }
    out.push(r);
  };
  // Copies first among equals: a command's staged input has no explicit dependsOn besides its copy.
  recs.forEach(visit);
  return out;
}

async function assetPath(source: unknown): Promise<string> {
  // FileAsset/FileArchive keep their path as a promise.
  const p = await (source as { path?: string | Promise<string> }).path;
  if (!p) throw new Error(`CopyToRemote source without a path: ${JSON.stringify(source)}`);
  return p;
}

async function replay(): Promise<{ name: string; out: string }[]> {
  const results: { name: string; out: string }[] = [];
  for (const r of order) {
    if (r.type === 'command:remote:CopyToRemote') {
      await host.copyTo(await assetPath(r.inputs.source), String(r.inputs.remotePath));
    } else if (r.type === 'command:remote:Command') {
      // The teardown step's create is a no-op; its delete (what `pulumi destroy` runs) has its own test below.
      if (r.name.endsWith('-teardown')) continue;
      const res = await host.ssh(String(r.inputs.create), { stdin: r.inputs.stdin === undefined ? undefined : String(plain(r.inputs.stdin)), timeoutMs: 180_000 });
      if (res.code !== 0) throw new Error(`${r.name} failed (${res.code}): ${res.stdout}\n${res.stderr}`);
      results.push({ name: r.name, out: res.stdout });
    }
  }
  return results;
}

beforeAll(async () => {
  await ensureTestHostRoot();
  host = await startTestHost({ standins: ['systemctl'] });
  work = mkdtempSync(path.join(tmpdir(), 'fudbuddy-replay-'));
  // Private copies of the artifacts (other suites may rebuild dist/ meanwhile).
  cpSync(path.join(REPO_ROOT, 'services/inference-api/dist/server.mjs'), path.join(work, 'server.mjs'));
  cpSync(path.join(REPO_ROOT, 'services/model-stub/dist/stub.mjs'), path.join(work, 'stub.mjs'));
  cpSync(path.join(REPO_ROOT, 'prompts'), path.join(work, 'prompts'), { recursive: true });
  const gpu = new GpuHost(
    'replay',
    {
      connection: { host: host.host, port: host.port, user: 'root', privateKey: pulumi.secret(host.privateKey), hostKey: host.hostKey },
      hostname: 'replay-host',
      gpu: 'none',
      tailscale: { enabled: false, bindAddress: host.host },
      inference: { backend: 'stub', stub: { bundlePath: path.join(work, 'stub.mjs'), servedModelName: 'fudbuddy-replay', apiKey: pulumi.secret(STUB_KEY) } },
      api: { bundlePath: path.join(work, 'server.mjs'), promptsDir: path.join(work, 'prompts'), tokens: [pulumi.secret(API_TOKEN)], env: { LOG_LEVEL: 'info' } },
      firewall: { sshSources: [`${host.hostSideAddress}/32`], extraAllow: [{ port: 8001, from: `${host.hostSideAddress}/32` }] },
    },
    { transformations: [recordDeps] },
  );
  apiUrl = await value(gpu.apiUrl);
  await mocks.settled();
  order = topo(recorded.filter((r) => r.name.startsWith('replay-')));
}, 15 * 60_000);

afterAll(async () => {
  await host?.stop();
  if (work) rmSync(work, { recursive: true, force: true });
});

describe("GpuHost's command graph replayed over real SSH (mock engine, stand-in systemctl)", () => {
  it('the first pass provisions the host: the API answers through the firewall', async () => {
    expect(order.length).toBeGreaterThan(10);
    const working = order.filter((r) => !r.name.endsWith('-teardown'));
    expect(working.findIndex((r) => r.name === 'replay-api-unit')).toBe(working.length - 1);
    const results = await replay();
    expect(results.find((r) => r.name === 'replay-api-unit')?.out).toContain('started fudbuddy-api.service');
    expect(apiUrl).toBe(`http://${host.host}:8001`);
    expect((await fetch(`${apiUrl}/healthz`)).status).toBe(200);
    const models = await fetch(`${apiUrl}/v1/models`, { headers: { authorization: `Bearer ${API_TOKEN}` } });
    expect(models.status).toBe(200);
    expect(JSON.stringify(await models.json())).toContain('fudbuddy-replay');
  }, 300_000);

  it('the second pass changes nothing and restarts nothing', async () => {
    const before = (await host.ssh('cat /run/standin-systemd/fudbuddy-api.service.pid')).stdout.trim();
    const results = await replay();
    for (const r of results) expect(r.out, r.name).toContain('FUDBUDDY_RESULT=unchanged');
    expect((await host.ssh('cat /run/standin-systemd/fudbuddy-api.service.pid')).stdout.trim()).toBe(before);
    expect((await fetch(`${apiUrl}/healthz`)).status).toBe(200);
  }, 300_000);

  it("destroy: the teardown step's delete stops and removes the services and config, and is idempotent", async () => {
    const teardown = order.find((r) => r.name === 'replay-teardown');
    expect(teardown, 'a teardown step').toBeDefined();
    const first = await host.ssh(String(teardown!.inputs.delete), { timeoutMs: 120_000 });
    expect(first.code, first.stderr).toBe(0);
    expect(first.stdout).toContain('changed: removed fudbuddy-api.service');
    expect(first.stdout).toContain('changed: removed fudbuddy-model-stub.service');
    expect(first.stdout).toContain('FUDBUDDY_RESULT=changed');
    await expect(fetch(`${apiUrl}/healthz`, { signal: AbortSignal.timeout(5000) })).rejects.toThrow();
    const left = await host.ssh('ls /etc/systemd/system | grep -E "^(fudbuddy|vllm)" || true; ls -d /etc/fudbuddy /etc/fudbuddy-api /opt/fudbuddy/api 2>/dev/null || true');
    expect(left.stdout.trim()).toBe('');
    const second = await host.ssh(String(teardown!.inputs.delete), { timeoutMs: 120_000 });
    expect(second.code, second.stderr).toBe(0);
    expect(second.stdout).toContain('FUDBUDDY_RESULT=unchanged');
  }, 300_000);
});
