// Real engine on the project itself (Pulumi.yaml + index.ts + components/): `pulumi preview --stack beta` offline,
// config errors as ops see them, and the e2e stack's up → up (no changes) → destroy against a throwaway SSH host.
// Stand-ins, all outside the production path (toolchain cache and the test host only):
//   - the command provider is this repo's stand-in (upstream module not served here), real SSH underneath;
//   - tailscale/cloudflare answer previews only (preview-only stand-in; the real providers are not buildable here);
//   - the test host has no systemd PID 1: tests/host/standins/systemctl stands in for systemctl.
import { createHash, randomBytes } from 'node:crypto';
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
  /** Engine output of every `up` so far: none may show a secret. */
  const engineOutputs: string[] = [];
  /** Every secret the stack was ever given (rotations add to it). */
  const everySecret = new Set<string>();
  /** Every secret config value of the stack now (`config --json --show-secrets`; strings inside secret objects too), plus the SSH key body. */
  const secretsOf = async (): Promise<string[]> => {
    const cfg = parseJson<Record<string, { value?: unknown; objectValue?: unknown; secret?: boolean }>>(
      expectOk(await pulumi(['config', '--json', '--show-secrets']), 'config --json').stdout,
    );
    const leaves = (v: unknown): string[] =>
      typeof v === 'string' ? [v] : v && typeof v === 'object' ? Object.values(v).flatMap(leaves) : [];
    const values = Object.values(cfg).filter((e) => e.secret).flatMap((e) => leaves(e.objectValue ?? e.value));
    for (const v of values) for (const line of v.split('\n')) if (line.length >= 16 && !line.startsWith('-----')) everySecret.add(line);
    return [...everySecret];
  };
  const upLogged = async (what: string, ok = true): Promise<RunResult> => {
    // A run expected to fail goes on past the first error, so every independent step runs (and fails) too.
    const r = await pulumi(['up', '--yes', '--skip-preview', ...(ok ? [] : ['--continue-on-error'])], 1_800_000);
    engineOutputs.push(r.output);
    return ok ? expectOk(r, what) : r;
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
    serviceToken = expectOk(await pulumi(['config', 'get', 'serviceToken']), 'config get serviceToken').stdout.trim();
    await secretsOf();
  }, 900_000);

  afterAll(async () => {
    if (ws && host) await pulumi(['destroy', '--yes', '--skip-preview'], 900_000).catch(() => undefined);
    await host?.stop();
    ws?.dispose();
  }, 900_000);

  it('up provisions the host: the stub and the API run as services and the API answers /healthz and a chat on the host', async () => {
    deployedInputs = inputsHash();
    await upLogged('up --stack e2e');
    const health = await host.ssh(`curl -sS -o /dev/null -w '%{http_code}' http://${host.host}:8001/healthz`);
    expect(health.stdout).toBe('200');
    const body = JSON.stringify({ chat_type: 'home', messages: [{ role: 'user', content: 'Where should we eat tonight?' }] });
    const chat = await host.ssh(`curl -sS -H 'Content-Type: application/json' -H "Authorization: Bearer $(cat)" -d '${body}' http://${host.host}:8001/v1/chat`, { stdin: serviceToken });
    const reply = JSON.parse(chat.stdout) as { choices: Array<{ message: { role: string; content: string } }> };
    expect(reply.choices[0]!.message.role).toBe('assistant');
    expect(reply.choices[0]!.message.content.length).toBeGreaterThan(0);
  }, 1_800_000);

  const expectNoSecretAnywhere = async () => {
    const exported = expectOk(await pulumi(['stack', 'export']), 'stack export').stdout;
    const backend = ws.backendText();
    const secrets = await secretsOf();
    expect(secrets.length).toBeGreaterThanOrEqual(3); // serviceToken, upstreamApiKey, the SSH key's lines
    for (const secret of secrets) {
      expect(exported, 'a secret in `pulumi stack export`').not.toContain(secret);
      expect(backend, 'a secret in a backend file').not.toContain(secret);
      for (const out of engineOutputs) expect(out, 'a secret in the output of `pulumi up`').not.toContain(secret);
    }
    return exported;
  };

  it('neither the whole stack export, nor any backend file, nor the output of up holds a secret', async () => {
    const exported = await expectNoSecretAnywhere();
    // Under the upstream rule a command's stdout/stderr are secret only through additionalSecretOutputs: every
    // command fed a secret on stdin must have them as ciphertext in the state.
    const state = parseJson<{ deployment: { resources: Array<{ type: string; urn: string; inputs?: Record<string, unknown>; outputs?: Record<string, unknown> }> } }>(exported);
    const secretFed = state.deployment.resources.filter((r) => r.type === 'command:remote:Command' && JSON.stringify(r.inputs?.stdin ?? '').includes('4dabf18193072939515e22adb298388d'));
    expect(secretFed.map((r) => r.urn.split('::').pop())).toEqual(expect.arrayContaining([expect.stringMatching(/-api-env$/), expect.stringMatching(/-api-tokens$/), expect.stringMatching(/-stub-env$/)]));
    for (const r of secretFed) {
      for (const k of ['stdout', 'stderr']) expect(JSON.stringify(r.outputs?.[k] ?? ''), `${r.urn} ${k}`).toContain('4dabf18193072939515e22adb298388d');
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

  it('each secret-writing step, failed on purpose during a rotation, shows its command and output but no secret, in output or state', async () => {
    // Rotate both secrets: their steps' stdin changes, so the next up runs them again.
    for (const k of ['serviceToken', 'upstreamApiKey']) {
      expectOk(await pulumi(['config', 'set', '--secret', k, `rotated-${k}-${randomBytes(16).toString('hex')}`]), `config set ${k}`);
    }
    await secretsOf();
    // A file where a step's directory must be makes write-secret-file.sh fail (mkdir -p: File exists).
    const block = (dirs: string[]) => host.ssh(dirs.map((d) => `mv ${d} ${d}.aside && touch ${d}`).join(' && '));
    const unblock = (dirs: string[]) => host.ssh(dirs.map((d) => `rm -f ${d} && mv ${d}.aside ${d}`).join(' && '));
    // api-env runs after the token steps, so it can only fail once they pass: two rounds.
    const rounds = [
      { dirs: ['/etc/fudbuddy-api', '/etc/fudbuddy'], failing: { 'api-tokens': '/etc/fudbuddy-api/tokens', 'stub-env': '/etc/fudbuddy/model-stub.env' } },
      { dirs: ['/etc/fudbuddy'], failing: { 'api-env': '/etc/fudbuddy/api.env', 'stub-env': '/etc/fudbuddy/model-stub.env' } },
    ];
    for (const round of rounds) {
      expect((await block(round.dirs)).code).toBe(0);
      const up = await upLogged('up onto a blocked host', false);
      expect((await unblock(round.dirs)).code).toBe(0);
      expect(up.code, up.output.slice(-3000)).not.toBe(0);
      for (const [step, dest] of Object.entries(round.failing)) {
        // As upstream, the failure shows the command line and its output whatever `logging` says.
        expect(up.output).toMatch(new RegExp(`command:remote:Command \\([^)]*-${step}\\):\\s+error: Process exited with status \\d+: running "[^"]*write-secret-file\\.sh ${dest.replace(/\./g, '\\.')}`));
      }
      expect(up.output).toContain('File exists');
      await expectNoSecretAnywhere();
    }
    // Unblocked, the rotation converges and the API takes the new token.
    await upLogged('up after unblocking');
    const token = expectOk(await pulumi(['config', 'get', 'serviceToken']), 'config get serviceToken').stdout.trim();
    const health = await host.ssh(`curl -sS -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $(cat)" http://${host.host}:8001/v1/models`, { stdin: token });
    expect(health.stdout).toBe('200');
    await expectNoSecretAnywhere();
  }, 3_600_000);

  it('destroy removes what up installed', async () => {
    expectOk(await pulumi(['destroy', '--yes', '--skip-preview'], 900_000), 'destroy --stack e2e');
    const health = await host.ssh(`curl -sS -o /dev/null -w '%{http_code}' --max-time 5 http://${host.host}:8001/healthz || true`);
    const units = await host.ssh('ls /etc/systemd/system | grep -E "^(fudbuddy|model-stub|vllm)" || true');
    expect(health.stdout, `the API still answers after destroy; units left: ${units.stdout.trim() || 'none'}`).not.toBe('200');
    expect(units.stdout.trim(), 'unit files left after destroy').toBe('');
  }, 900_000);
});
