// Real engine + real SSH: the Pulumi CLI built from Go modules runs tests/engine/fixtures/remote-command against
// a throwaway Debian host (tests/support/testHost.ts). The command provider is this repo's stand-in
// (scripts/pulumi-toolchain/plugins): the upstream provider module is not served here (docs/engine-tests.md).
import { createHash, randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureTestHostRoot, startTestHost, type TestHost } from '../support/testHost.js';
import { createWorkspace, expectOk, parseJson, REPO_ROOT, type Workspace } from './support/engine.js';

const FIXTURE = join(REPO_ROOT, 'tests', 'engine', 'fixtures', 'remote-command');
const DIR = '/root/engine-fixture';

describe('real engine: command resources over SSH (stand-in command provider)', () => {
  const marker = `marker-${randomBytes(12).toString('hex')}`;
  const echoMarker = `echo-${randomBytes(12).toString('hex')}`;
  let host: TestHost;
  let ws: Workspace;
  const pulumi = (args: string[], timeoutMs?: number) => ws.pulumi([...args, '--stack', 'dev'], { timeoutMs });
  const onHost = async (cmd: string) => (await host.ssh(cmd)).stdout.trim();

  beforeAll(async () => {
    ws = createWorkspace(`pass-${randomBytes(8).toString('hex')}`, { from: FIXTURE, copy: ['Pulumi.yaml', 'index.ts', 'payload'] });
    await ensureTestHostRoot();
    host = await startTestHost();
    expectOk(await ws.pulumi(['stack', 'init', 'dev', '--secrets-provider', 'passphrase']), 'stack init');
    expectOk(await pulumi(['config', 'set', 'host', host.host]), 'config set host');
    expectOk(await pulumi(['config', 'set', 'port', String(host.port)]), 'config set port');
    expectOk(await ws.pulumi(['config', 'set', '--secret', 'privateKey', '--stack', 'dev'], { stdin: host.privateKey }), 'config set privateKey');
    expectOk(await pulumi(['config', 'set', '--secret', 'marker', marker]), 'config set marker');
    expectOk(await pulumi(['config', 'set', '--secret', 'echoMarker', echoMarker]), 'config set echoMarker');
  }, 900_000);

  afterAll(async () => {
    if (ws && host) await pulumi(['destroy', '--yes', '--skip-preview'], 600_000).catch(() => undefined);
    await host?.stop();
    ws?.dispose();
  }, 900_000);

  it('preview plans every resource and runs nothing on the host', async () => {
    const r = expectOk(await pulumi(['preview', '--json'], 600_000), 'preview');
    const plan = parseJson<{ changeSummary: Record<string, number> }>(r.stdout);
    expect(plan.changeSummary.create).toBe(7); // stack + 6 resources
    expect(await onHost(`test -e ${DIR} && echo present || echo absent`)).toBe('absent');
  }, 600_000);

  it('up copies the files, runs the commands with the secret on stdin, and exports their output', async () => {
    const up = expectOk(await pulumi(['up', '--yes', '--skip-preview'], 600_000), 'up');
    // As the upstream provider: `environment` goes as SSH env requests; stock sshd accepts LC_* (AcceptEnv).
    expect(await onHost(`cat ${DIR}/env-probe`)).toBe('probe=set');
    expect(await onHost(`cat ${DIR}/greeting.txt`)).toBe('greeting: hello');
    // Upstream copy semantics over SFTP: a directory source lands under its own name; new files get 0666 minus the
    // session's umask (022 on this host), whatever their local mode.
    expect(await onHost(`sh ${DIR}/payload/payload/hello.sh`)).toBe('payload ok');
    expect(await onHost(`stat -c %a ${DIR}/payload/payload/hello.sh`)).toBe('644');
    // The guarded echo printed the secret but logged nothing: the engine output never shows it.
    expect(up.output).not.toContain(echoMarker);
    expect(await onHost(`cat ${DIR}/marker.sha`)).toBe(createHash('sha256').update(marker).digest('hex'));
    expect(await onHost(`wc -l < ${DIR}/runs.log`)).toBe('1');
    const outs = parseJson<Record<string, string>>(expectOk(await pulumi(['stack', 'output', '--json', '--show-secrets']), 'stack output').stdout);
    expect(outs.runStdout).toBe('greeting: hello\npayload ok');
    expect(outs.localStdout).toBe('local ok');
  }, 600_000);

  it('the state holds the secrets only encrypted (marker and private key never in plaintext)', async () => {
    const exported = expectOk(await pulumi(['stack', 'export']), 'stack export').stdout;
    const keyBody = host.privateKey.split('\n').filter((l) => l && !l.startsWith('-----'))[1]!;
    for (const text of [exported, ws.backendText()]) {
      expect(text).not.toContain(marker);
      expect(text).not.toContain(echoMarker);
      expect(text).not.toContain(keyBody);
    }
    expect(exported).toContain('4dabf18193072939515e22adb298388d'); // Pulumi's secret signature: values are ciphertext
  }, 120_000);

  it('a second up reports no changes and runs no command', async () => {
    expectOk(await pulumi(['preview', '--expect-no-changes'], 600_000), 'preview --expect-no-changes');
    expectOk(await pulumi(['up', '--yes', '--skip-preview'], 600_000), 'second up');
    const history = parseJson<Array<{ resourceChanges?: Record<string, number> }>>(expectOk(await pulumi(['stack', 'history', '--json']), 'history').stdout);
    expect(Object.keys(history[0]!.resourceChanges ?? {})).toEqual(['same']);
    expect(await onHost(`wc -l < ${DIR}/runs.log`)).toBe('1');
  }, 600_000);

  it('a changed input replaces the copy and re-runs the dependent command (triggers)', async () => {
    expectOk(await pulumi(['config', 'set', 'greeting', 'changed']), 'config set greeting');
    expectOk(await pulumi(['up', '--yes', '--skip-preview'], 600_000), 'up after change');
    expect(await onHost(`cat ${DIR}/greeting.txt`)).toBe('greeting: changed');
    // Replacement = create the new one, then delete the old one (its delete removes runs.log): one fresh run.
    expect(await onHost(`cat ${DIR}/runs.log 2>/dev/null | wc -l`)).toMatch(/^[01]$/);
    const outs = parseJson<Record<string, string>>(expectOk(await pulumi(['stack', 'output', '--json', '--show-secrets']), 'stack output').stdout);
    expect(outs.runStdout).toBe('greeting: changed\npayload ok');
  }, 600_000);

  it('an AssetArchive copy source is refused in the preview, as the upstream provider refuses it', async () => {
    expectOk(await pulumi(['config', 'set', 'tryAssetArchive', 'true']), 'config set tryAssetArchive');
    const r = await pulumi(['preview'], 600_000);
    expectOk(await pulumi(['config', 'rm', 'tryAssetArchive']), 'config rm tryAssetArchive');
    expect(r.code).not.toBe(0);
    expect(r.output).toContain('archive must be a path to a file or directory');
  }, 600_000);

  it('an environment variable sshd refuses fails the resource, as upstream', async () => {
    expectOk(await pulumi(['config', 'set', 'tryRefusedEnv', 'true']), 'config set tryRefusedEnv');
    const up = await pulumi(['up', '--yes', '--skip-preview'], 600_000);
    expectOk(await pulumi(['config', 'rm', 'tryRefusedEnv']), 'config rm tryRefusedEnv');
    expect(up.code).not.toBe(0);
    expect(up.output).toContain('could not set environment variable "FUD_PROBE"');
    expect(up.output).toContain("Unable to set 'FUD_PROBE'");
    expectOk(await pulumi(['up', '--yes', '--skip-preview'], 600_000), 'up without the refused variable');
  }, 900_000);

  it('stdout fed a secret on stdin is plaintext unless additionalSecretOutputs names it (upstream secrecy rule)', async () => {
    expectOk(await pulumi(['config', 'set', 'demoPlainStdout', 'true']), 'config set demoPlainStdout');
    const up = expectOk(await pulumi(['up', '--yes', '--skip-preview'], 600_000), 'up with the unguarded echo');
    const state = parseJson<{ deployment: { resources: Array<{ urn: string; outputs?: Record<string, unknown> }> } }>(
      expectOk(await pulumi(['stack', 'export']), 'stack export').stdout,
    );
    const outputsOf = (name: string) => state.deployment.resources.find((r) => r.urn.endsWith(`::${name}`))?.outputs ?? {};
    expect(outputsOf('fixture-echo-plain').stdout).toBe(echoMarker);
    expect(JSON.stringify(outputsOf('fixture-echo-guarded').stdout)).toContain('4dabf18193072939515e22adb298388d');
    expectOk(await pulumi(['config', 'rm', 'demoPlainStdout']), 'config rm demoPlainStdout');
    expectOk(await pulumi(['up', '--yes', '--skip-preview'], 600_000), 'up removing the unguarded echo');
    // With default logging the unguarded command also streamed its output (the secret) to the engine; the CLI
    // masks values it knows as secrets, so the line shows as [secret]. A value derived from a secret would not be.
    expect(up.output).toMatch(/fixture-echo-plain created \([\d.]+s\) \[secret\]/);
    expect(up.output).not.toContain(echoMarker);
  }, 900_000);

  it('an unreachable SSH address fails the update and names the address', async () => {
    expectOk(await pulumi(['config', 'set', 'port', '1']), 'config set bad port');
    const r = await pulumi(['preview'], 600_000);
    // A preview dials nothing; an up must fail to connect and say where.
    expect(r.code).toBe(0);
    const up = await pulumi(['up', '--yes', '--skip-preview', '--target', 'urn:pulumi:dev::fud-engine-fixture::command:remote:Command::fixture-dir'], 600_000);
    expect(up.code).not.toBe(0);
    // Upstream dialWithRetry: dialErrorLimit 3 = 4 dials, then "after 3 failed attempts: <last dial error>".
    expect(up.output).toMatch(new RegExp(`after 3 failed attempts: dial tcp ${host.host.replace(/\./g, '\\.')}:1: `));
    expectOk(await pulumi(['config', 'set', 'port', String(host.port)]), 'restore port');
  }, 600_000);

  it('destroy runs the delete commands and removes what up installed', async () => {
    expectOk(await pulumi(['destroy', '--yes', '--skip-preview'], 600_000), 'destroy');
    expect(await onHost(`test -e ${DIR} && echo present || echo absent`)).toBe('absent');
    const exported = parseJson<{ deployment: { resources?: unknown[] } }>(expectOk(await pulumi(['stack', 'export']), 'stack export').stdout);
    expect(exported.deployment.resources ?? []).toHaveLength(0);
  }, 600_000);
});
