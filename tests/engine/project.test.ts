// Real engine on the project itself (Pulumi.yaml + index.ts + components/): `pulumi preview --stack beta` offline,
// config errors as ops see them, and the e2e stack's up → up (no changes) → destroy against a throwaway SSH host.
// Stand-ins, all outside the production path (toolchain cache and the test host only):
//   - the command provider is this repo's stand-in (upstream module not served here), real SSH underneath;
//   - tailscale/cloudflare answer previews only (preview-only stand-in; the real providers are not buildable here);
//   - the test host has no systemd PID 1: tests/host/standins/systemctl stands in for systemctl.
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EXAMPLE_PASSPHRASE } from '../../stacks/exampleStacks.js';
import { ensureTestHostRoot, startTestHost, type TestHost } from '../support/testHost.js';
import { createWorkspace, expectOk, parseJson, REPO_ROOT, type RunResult, type Workspace } from './support/engine.js';

interface PreviewJson {
  steps?: Array<{ op: string; urn: string; newState?: { type?: string } }>;
  changeSummary?: Record<string, number>;
  diagnostics?: Array<{ message: string; severity: string }>;
}

/** Content of the local files the e2e stack copies to the host (bundles, prompts). */
function inputsHash(): string {
  const h = createHash('sha256');
  for (const f of ['services/inference-api/dist/server.mjs', 'services/model-stub/dist/stub.mjs']) h.update(readFileSync(join(REPO_ROOT, f)));
  for (const f of readdirSync(join(REPO_ROOT, 'prompts')).sort()) h.update(f).update(readFileSync(join(REPO_ROOT, 'prompts', f)));
  return h.digest('hex');
}

/** A workspace holding a copy of Pulumi.yaml and Pulumi.<stack>.yaml and a link to index.ts, with the stack initialized. */
async function projectStack(passphrase: string, stack: string): Promise<{ ws: Workspace; run: (args: string[], timeoutMs?: number, stdin?: string) => Promise<RunResult> }> {
  const ws = createWorkspace(passphrase, { from: REPO_ROOT, copy: ['Pulumi.yaml', `Pulumi.${stack}.yaml`], link: ['index.ts'] });
  const run = (args: string[], timeoutMs?: number, stdin?: string) => ws.pulumi([...args, '--stack', stack], { timeoutMs, stdin });
  expectOk(await ws.pulumi(['stack', 'init', stack, '--secrets-provider', 'passphrase']), `stack init ${stack}`);
  return { ws, run };
}

describe('real engine: the project, stack beta, offline preview (tailscale/cloudflare preview-only stand-ins, command stand-in)', () => {
  let ws: Workspace;
  let pulumi: Awaited<ReturnType<typeof projectStack>>['run'];

  beforeAll(async () => {
    ({ ws, run: pulumi } = await projectStack(EXAMPLE_PASSPHRASE, 'beta'));
  }, 300_000);
  afterAll(() => ws?.dispose());

  it('previews every component with dummy credentials, offline, without printing a secret', async () => {
    const r = await pulumi(['preview', '--json'], 600_000);
    if (r.code !== 0) throw new Error(`preview --stack beta failed (exit ${r.code}):\n${r.output.slice(-6000)}`);
    const plan = parseJson<PreviewJson>(r.stdout);
    // urn:pulumi:<stack>::<project>::<parent types $-joined>::<name>: the planned resource's type is the last one.
    const types = new Set((plan.steps ?? []).map((s) => s.urn.split('::')[2]!.split('$').pop()!));
    const expected = [
      'fudbuddy:host:GpuHost',
      'fudbuddy:edge:EdgeNode',
      'fudbuddy:edge:EdgeWorker',
      'fudbuddy:tailnet:Tailnet',
      'command:remote:Command',
      'tailscale:index/acl:Acl',
      'cloudflare:index/workersScript:WorkersScript',
    ];
    expect(expected.filter((t) => !types.has(t)), `planned types: ${[...types].sort().join(', ')}`).toEqual([]);
    expect(plan.changeSummary?.create ?? 0).toBeGreaterThan(expected.length);
    const token = expectOk(await pulumi(['config', 'get', 'serviceToken']), 'config get').stdout.trim();
    expect(token.length).toBeGreaterThan(20);
    expect(r.output).not.toContain(token);
  }, 600_000);

  it('a bad config value fails the preview with a message naming the key', async () => {
    expectOk(await pulumi(['config', 'set', '--path', 'fudbuddy:gpuHosts[0].port', '70000']), 'config set bad port');
    const r = await pulumi(['preview'], 600_000);
    expect(r.code).not.toBe(0);
    expect(r.output).toContain('fudbuddy:gpuHosts[0].port');
  }, 600_000);
});

describe('real engine: the project, stack e2e on an SSH test host: up, up again, destroy (command stand-in, systemctl stand-in on the host)', () => {
  let ws: Workspace;
  let host: TestHost;
  let pulumi: Awaited<ReturnType<typeof projectStack>>['run'];
  let serviceToken = '';
  let deployedInputs = '';
  const secretsOf = async (): Promise<string[]> => {
    const out: string[] = [];
    for (const k of ['serviceToken', 'upstreamApiKey']) out.push(expectOk(await pulumi(['config', 'get', k]), `config get ${k}`).stdout.trim());
    return out;
  };

  beforeAll(async () => {
    await ensureTestHostRoot();
    host = await startTestHost({ standins: ['systemctl'] });
    ({ ws, run: pulumi } = await projectStack(EXAMPLE_PASSPHRASE, 'e2e'));
    const set = async (path: string, value: string) => expectOk(await pulumi(['config', 'set', '--path', path, value]), `config set ${path}`);
    await set('fudbuddy:gpuHosts[0].address', host.host);
    await set('fudbuddy:gpuHosts[0].port', String(host.port));
    await set('fudbuddy:gpuHosts[0].bindAddress', host.host);
    await set('fudbuddy:gpuHosts[0].hostKey', host.hostKey);
    expectOk(await pulumi(['config', 'set', '--secret', 'fudbuddy:sshPrivateKey'], 60_000, host.privateKey), 'config set sshPrivateKey');
    serviceToken = (await secretsOf())[0]!;
  }, 900_000);

  afterAll(async () => {
    if (ws && host) await pulumi(['destroy', '--yes', '--skip-preview'], 900_000).catch(() => undefined);
    await host?.stop();
    ws?.dispose();
  }, 900_000);

  it('up provisions the host: the stub and the API run as services and the API answers /healthz and a chat on the host', async () => {
    deployedInputs = inputsHash();
    expectOk(await pulumi(['up', '--yes', '--skip-preview'], 1_800_000), 'up --stack e2e');
    const health = await host.ssh(`curl -sS -o /dev/null -w '%{http_code}' http://${host.host}:8001/healthz`);
    expect(health.stdout).toBe('200');
    const body = JSON.stringify({ chat_type: 'home', messages: [{ role: 'user', content: 'Where should we eat tonight?' }] });
    const chat = await host.ssh(`curl -sS -H 'Content-Type: application/json' -H "Authorization: Bearer $(cat)" -d '${body}' http://${host.host}:8001/v1/chat`, { stdin: serviceToken });
    const reply = JSON.parse(chat.stdout) as { choices: Array<{ message: { role: string; content: string } }> };
    expect(reply.choices[0]!.message.role).toBe('assistant');
    expect(reply.choices[0]!.message.content.length).toBeGreaterThan(0);
  }, 1_800_000);

  it('the state file holds no secret in plaintext', async () => {
    const exported = expectOk(await pulumi(['stack', 'export']), 'stack export').stdout;
    const keyBody = host.privateKey.split('\n').filter((l) => l && !l.startsWith('-----'))[1]!;
    for (const secret of [...(await secretsOf()), keyBody]) {
      expect(exported).not.toContain(secret);
      expect(ws.backendText()).not.toContain(secret);
    }
  }, 300_000);

  it('a second up reports no changes and runs no command', async () => {
    // Other processes sharing this working tree may rebuild the bundles between the two ups (a developer machine
    // running other suites); new content is a real change, so converge first and then require a no-op.
    if (deployedInputs !== inputsHash()) expectOk(await pulumi(['up', '--yes', '--skip-preview'], 1_800_000), 'up after a bundle rebuild');
    expectOk(await pulumi(['preview', '--expect-no-changes'], 900_000), 'preview --expect-no-changes');
    expectOk(await pulumi(['up', '--yes', '--skip-preview'], 900_000), 'second up');
    const history = parseJson<Array<{ resourceChanges?: Record<string, number> }>>(expectOk(await pulumi(['stack', 'history', '--json']), 'history').stdout);
    expect(history[0]!.resourceChanges ?? {}, 'second up changed something').not.toHaveProperty('update');
    expect(Object.keys(history[0]!.resourceChanges ?? {})).toEqual(['same']);
  }, 1_800_000);

  it('destroy removes what up installed', async () => {
    expectOk(await pulumi(['destroy', '--yes', '--skip-preview'], 900_000), 'destroy --stack e2e');
    const health = await host.ssh(`curl -sS -o /dev/null -w '%{http_code}' --max-time 5 http://${host.host}:8001/healthz || true`);
    const units = await host.ssh('ls /etc/systemd/system | grep -E "^(fudbuddy|model-stub|vllm)" || true');
    expect(health.stdout, `the API still answers after destroy; units left: ${units.stdout.trim() || 'none'}`).not.toBe('200');
    expect(units.stdout.trim(), 'unit files left after destroy').toBe('');
  }, 900_000);
});
