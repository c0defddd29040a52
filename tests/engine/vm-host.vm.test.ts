// Real engine, stack e2e, on a qemu VM with real systemd (scripts/vm.sh), deployed as `ubuntu` through sudo like a
// stock cloud box: `pulumi up` from a bare VM whose OS asks for a reboot (a real one, in the middle of the up),
// the API answering a streamed chat (official openai SDK) through the VM's port forward, a second up that changes
// nothing and runs nothing on the host, rotations (under load; with failing steps), a broken unit, a connection
// change, no secret in state or output, and destroy.
// Stand-ins: the command provider (this repo's, real SSH underneath; see docs/engine-tests.md) and the model stub
// in place of vLLM (no GPU). No tailnet here (the e2e stack has tailscaleEnabled: false): the API binds the VM's own
// address; a VM on the real tailnet is tests/tailnet/vm-tailnet.vm.test.ts (its scripts, not yet through the engine).
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { KEPT } from '../../components/lib/hostFootprint.js';
import { EXAMPLE_PASSPHRASE } from '../../stacks/exampleStacks.js';
import { ensureVmImage, startVm, type Vm } from '../support/vm.js';
import { createWorkspace, expectOk, parseJson, REPO_ROOT, type Workspace } from './support/engine.js';
import { secretAudit, type SecretAudit } from './support/secretAudit.js';
import { footprintLeft, remoteTimeline, stackRunner, sudoRunsSince, vmNow, type StackRunner } from './support/vmEngine.js';

const GUEST_IP = '10.0.2.15';
const STACK = 'e2e';

describe('real engine on a qemu VM with real systemd, as ubuntu: up from bare, chat, no-op up, destroy (command stand-in, model stub)', () => {
  let ws: Workspace;
  let vm: Vm;
  let serviceToken = '';
  let stack: StackRunner;
  let audit: SecretAudit;
  const pulumi: StackRunner['pulumi'] = (...a) => stack.pulumi(...a);
  const timed: StackRunner['timed'] = (...a) => stack.timed(...a);
  const changesOfLastUpdate = (): Promise<Record<string, number>> => stack.changesOfLastUpdate();

  beforeAll(async () => {
    ws = createWorkspace(EXAMPLE_PASSPHRASE, { from: REPO_ROOT, copy: ['Pulumi.yaml', `Pulumi.${STACK}.yaml`], link: ['index.ts'] });
    stack = stackRunner(ws, STACK);
    audit = secretAudit(ws, stack);
    expectOk(await ws.pulumi(['stack', 'init', STACK, '--secrets-provider', 'passphrase']), 'stack init');
    await ensureVmImage();
    // A second forward to sshd: the "changed host port" test moves the stack onto it.
    vm = await startVm(`en${process.pid % 100000}`, { forwards: [8001, 22] });
    console.log(`VM boot to SSH: ${vm.bootSeconds} s`);
    const set = stack.set;
    await set('fudbuddy:gpuHosts[0].address', vm.host);
    await set('fudbuddy:gpuHosts[0].port', String(vm.port));
    await set('fudbuddy:gpuHosts[0].user', vm.user);
    await set('fudbuddy:gpuHosts[0].bindAddress', GUEST_IP);
    await set('fudbuddy:gpuHosts[0].hostKey', vm.hostKey);
    // As an operator of a fresh cloud box would: let the first up reboot it when the OS asks (default false).
    await set('fudbuddy:gpuHosts[0].rebootIfRequired', 'true');
    expectOk(await pulumi(['config', 'set', '--secret', 'fudbuddy:sshPrivateKey'], 60_000, vm.privateKey), 'config set sshPrivateKey');
    serviceToken = expectOk(await pulumi(['config', 'get', 'serviceToken']), 'config get').stdout.trim();
    await audit.collect();
  }, 1_800_000);

  afterAll(async () => {
    await vm?.stop();
    ws?.dispose();
  }, 120_000);

  it('up from a bare VM as ubuntu whose OS asks for a reboot: it reboots mid-up and carries on; the stub and API run under systemd and a streamed chat answers', async () => {
    // What Debian's and Ubuntu's package hooks leave after a kernel update (unattended-upgrades on a fresh box).
    expect((await vm.ssh("sudo -n sh -c 'echo linux-image-amd64 > /var/run/reboot-required.pkgs && touch /var/run/reboot-required'")).code).toBe(0);
    const bootBefore = (await vm.ssh('cat /proc/sys/kernel/random/boot_id')).stdout.trim();
    const since = await vmNow(vm);
    await timed('up from bare VM (with its reboot)', ['up', '--yes', '--skip-preview'], 2_400_000);
    // Per-phase figures (docs/benchmarks.md): when each remote step started on the VM, from sudo's own log.
    const timeline = await remoteTimeline(vm, since);
    console.log(`up step timeline (s after the first remote command):\n${timeline}`);
    expect((await vm.ssh('cat /proc/sys/kernel/random/boot_id')).stdout.trim(), 'the VM did not reboot').not.toBe(bootBefore);
    expect((await vm.ssh('test -e /var/run/reboot-required || test -e /var/lib/fudbuddy/reboot-from; echo $?')).stdout.trim()).toBe('1');
    // What the two steps printed, as the state keeps it.
    const state = parseJson<{ deployment: { resources: Array<{ urn: string; outputs?: { stdout?: unknown } }> } }>(expectOk(await pulumi(['stack', 'export']), 'export').stdout);
    const stdoutOf = (id: string) => String(state.deployment.resources.find((r) => r.urn.endsWith(`::testhost-${id}`))?.outputs?.stdout ?? '');
    expect(stdoutOf('os-reboot')).toContain('changed: reboot scheduled for OS updates (linux-image-amd64)');
    expect(stdoutOf('os-booted')).toContain('changed: the host came back from its reboot');
    expect((await vm.ssh('systemctl is-active fudbuddy-model-stub.service fudbuddy-api.service')).stdout.trim()).toBe('active\nactive');
    const base = `http://127.0.0.1:${vm.forwards[8001]}`;
    // The API's upstream probe has a 2 s budget; a starved TCG guest may miss the first one (a hang guard, 120 s).
    const h0 = Date.now();
    let health = 0;
    while ((health = (await fetch(`${base}/healthz`)).status) !== 200 && Date.now() - h0 < 120_000) await new Promise((r) => setTimeout(r, 2000));
    console.log(`/healthz 200 after ${((Date.now() - h0) / 1000).toFixed(1)} s`);
    expect(health).toBe(200);
    const client = new OpenAI({ baseURL: `${base}/v1`, apiKey: serviceToken, maxRetries: 0 });
    const stream = await client.chat.completions.create({ model: 'fudbuddy', messages: [{ role: 'user', content: 'Where should we eat tonight?' }], stream: true });
    let text = '';
    let chunks = 0;
    for await (const c of stream) {
      chunks++;
      text += c.choices[0]?.delta?.content ?? '';
    }
    expect(chunks).toBeGreaterThan(1);
    expect(text.length).toBeGreaterThan(0);
  }, 2_400_000);

  it('neither the stack export, nor a backend file, nor the output of up holds a secret; secret-fed commands keep their output as ciphertext', async () => {
    const exported = await audit.expectNoSecretAnywhere();
    const fed = audit.expectSecretFedOutputsEncrypted(exported);
    expect(fed).toEqual(expect.arrayContaining([expect.stringMatching(/-api-env$/), expect.stringMatching(/-api-tokens$/), expect.stringMatching(/-stub-env$/)]));
  }, 300_000);

  it('a second up reports no changes and runs no command on the host', async () => {
    const since = await vmNow(vm);
    await timed('no-op up', ['up', '--yes', '--skip-preview'], 900_000);
    expect(Object.keys(await changesOfLastUpdate())).toEqual(['same']);
    const sudoRuns = await sudoRunsSince(vm, since);
    console.log(`no-op up: ${sudoRuns} remote commands (sudo runs on the VM)`);
    expect(sudoRuns).toBe(0);
  }, 900_000);

  it('a service-token rotation (runbook: new token + previous, up) under a steady stream of chats: 0 failed', async () => {
    const newToken = `rotated-${serviceToken.slice(0, 8)}-7d2f4b9c1e6a8035`;
    const base = `http://127.0.0.1:${vm.forwards[8001]}/v1`;
    const chatOnce = async (token: string): Promise<boolean> => {
      try {
        const s = await new OpenAI({ baseURL: base, apiKey: token, maxRetries: 0 }).chat.completions.create({
          model: 'fudbuddy',
          messages: [{ role: 'user', content: 'hi' }],
          stream: true,
          max_tokens: 8,
        });
        let n = 0;
        for await (const c of s) n += c.choices[0]?.delta?.content ? 1 : 0;
        return n > 0;
      } catch {
        return false;
      }
    };
    expectOk(await pulumi(['config', 'set', '--secret', 'fudbuddy:serviceTokenPrevious', serviceToken]), 'config set previous');
    expectOk(await pulumi(['config', 'set', '--secret', 'fudbuddy:serviceToken', newToken]), 'config set new');
    let sent = 0;
    let failed = 0;
    let done = false;
    const load = (async () => {
      while (!done) {
        sent++;
        if (!(await chatOnce(serviceToken))) failed++;
      }
    })();
    await timed('rotation up', ['up', '--yes', '--skip-preview'], 900_000);
    done = true;
    await load;
    console.log(`rotation under load: ${sent} chats sent, ${failed} failed`);
    expect(sent).toBeGreaterThan(0);
    expect(failed).toBe(0);
    expect(await chatOnce(newToken)).toBe(true);
    // Next run drops the previous token: the old one is refused, the new one works.
    expectOk(await pulumi(['config', 'rm', 'fudbuddy:serviceTokenPrevious']), 'config rm previous');
    await timed('rotation finish up', ['up', '--yes', '--skip-preview'], 900_000);
    expect(await chatOnce(newToken)).toBe(true);
    const old = await fetch(`${base}/models`, { headers: { authorization: `Bearer ${serviceToken}` } });
    expect(old.status).toBe(401);
    serviceToken = newToken;
  }, 1_800_000);

  it('each secret-writing step, failed on purpose during a rotation, shows its command and output but no secret, in output or state', async () => {
    // Rotate both secrets: their steps' stdin changes, so the next up runs them again.
    for (const k of ['serviceToken', 'upstreamApiKey']) {
      expectOk(await pulumi(['config', 'set', '--secret', k, `rotated-${k}-${randomBytes(16).toString('hex')}`]), `config set ${k}`);
    }
    // Round 1: a file where a step's directory must be makes write-secret-file.sh fail (mkdir -p: File exists).
    // Round 2: api-env runs after the token steps, so it can only fail once they pass; the token step's reload
    // needs /etc/fudbuddy readable (systemd re-reads the unit's EnvironmentFile=/etc/fudbuddy/api.env for
    // ExecReload), so there the files stay readable but cannot be replaced (chattr +i: rename over them fails).
    const asRoot = (cmds: string[]) => vm.ssh(`sudo -n sh -c '${cmds.join(' && ')}'`);
    const rounds = [
      {
        block: ['/etc/fudbuddy-api', '/etc/fudbuddy'].map((d) => `mv ${d} ${d}.aside && touch ${d}`),
        unblock: ['/etc/fudbuddy-api', '/etc/fudbuddy'].map((d) => `rm -f ${d} && mv ${d}.aside ${d}`),
        failing: { 'api-tokens': '/etc/fudbuddy-api/tokens', 'stub-env': '/etc/fudbuddy/model-stub.env' },
        error: 'File exists',
      },
      {
        block: ['chattr +i /etc/fudbuddy/api.env /etc/fudbuddy/model-stub.env'],
        unblock: ['chattr -i /etc/fudbuddy/api.env /etc/fudbuddy/model-stub.env'],
        failing: { 'api-env': '/etc/fudbuddy/api.env', 'stub-env': '/etc/fudbuddy/model-stub.env' },
        error: 'Operation not permitted',
      },
    ];
    for (const round of rounds) {
      expect((await asRoot(round.block)).code).toBe(0);
      // Past the first error, so every independent step runs (and fails) too.
      const up = await pulumi(['up', '--yes', '--skip-preview', '--continue-on-error'], 900_000);
      expect((await asRoot(round.unblock)).code).toBe(0);
      expect(up.code, up.output.slice(-3000)).not.toBe(0);
      for (const [step, dest] of Object.entries(round.failing)) {
        // As upstream, the failure shows the command line and its output whatever `logging` says.
        expect(up.output).toMatch(new RegExp(`command:remote:Command \\([^)]*-${step}\\):\\s+error: Process exited with status \\d+: running "[^"]*write-secret-file\\.sh ${dest.replace(/\./g, '\\.')}`));
      }
      expect(up.output).toContain(round.error);
      await audit.expectNoSecretAnywhere();
    }
    // Unblocked, the rotation converges and the API takes the new token.
    await timed('up after unblocking', ['up', '--yes', '--skip-preview'], 900_000);
    serviceToken = expectOk(await pulumi(['config', 'get', 'serviceToken']), 'config get serviceToken').stdout.trim();
    const models = await fetch(`http://127.0.0.1:${vm.forwards[8001]}/v1/models`, { headers: { authorization: `Bearer ${serviceToken}` } });
    expect(models.status).toBe(200);
    expect(audit.expectSecretFedOutputsEncrypted(await audit.expectNoSecretAnywhere()).length).toBeGreaterThanOrEqual(3);
  }, 2_400_000);

  it('a broken model unit (maxModelLen above the model limit, as vLLM refuses it) fails up at its first failed start, with its journal tail', async () => {
    // Before: Restart=on-failure kept the start job open across restarts, so `systemctl restart` never returned.
    expectOk(await pulumi(['config', 'set', '--path', 'fudbuddy:model.maxModelLen', '65536']), 'config set maxModelLen');
    const t0 = Date.now();
    const r = await pulumi(['up', '--yes', '--skip-preview'], 1_200_000);
    const seconds = (Date.now() - t0) / 1000;
    console.log(`broken model unit: up failed after ${seconds.toFixed(1)} s (exit ${r.code})`);
    expect(r.code).not.toBe(0);
    expect(r.output).toContain('--- journalctl -u fudbuddy-model-stub.service');
    expect(r.output).toContain('greater than the derived max_model_len');
    expect(r.output).toContain('fudbuddy-model-stub.service failed to restart');
    expect(r.output).toContain('the file was rolled back');
    expect(seconds).toBeLessThan(240); // a hang guard: the old loop waited for ever
    // The failed step left the host as before (env file rolled back, the stub restarted with it), as the state,
    // which keeps the old step, says: reverting the config is then a no-op up, and everything runs.
    expect((await vm.ssh('sudo -n grep -c STUB_MAX_MODEL_LEN=.65536 /etc/fudbuddy/model-stub.env || true')).stdout.trim()).toBe('0');
    expectOk(await pulumi(['config', 'rm', '--path', 'fudbuddy:model.maxModelLen']), 'config rm maxModelLen');
    await timed('up after the revert', ['up', '--yes', '--skip-preview'], 900_000);
    expect(Object.keys(await changesOfLastUpdate())).toEqual(['same']);
    // The rolled-back stub was restarted without waiting (the step failed at once): it comes up on its own.
    const up = await vm.ssh('for i in $(seq 1 120); do systemctl is-active --quiet fudbuddy-model-stub.service && break; sleep 1; done; systemctl is-active fudbuddy-model-stub.service fudbuddy-api.service');
    expect(up.stdout.trim()).toBe('active\nactive');
    const models = await fetch(`http://127.0.0.1:${vm.forwards[8001]}/v1/models`, { headers: { authorization: `Bearer ${serviceToken}` } });
    expect(models.status).toBe(200);
  }, 2_400_000);

  it('SSH key rotation and a changed host port: up updates the connection only, runs no command as root, and the state holds the new one', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'e12-key-'));
    try {
      execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', 'rotated', '-f', path.join(dir, 'k')]);
      const pub = readFileSync(path.join(dir, 'k.pub'), 'utf8').trim();
      const fingerprint = execFileSync('ssh-keygen', ['-lf', path.join(dir, 'k.pub')], { encoding: 'utf8' }).split(' ')[1]!;
      // As an operator would: the new key is authorized before the stack uses it.
      expect((await vm.ssh('cat >> ~/.ssh/authorized_keys', { stdin: `${pub}\n` })).code).toBe(0);
      expectOk(await pulumi(['config', 'set', '--secret', 'fudbuddy:sshPrivateKey'], 60_000, readFileSync(path.join(dir, 'k'), 'utf8')), 'config set new key');
      expectOk(await pulumi(['config', 'set', '--path', 'fudbuddy:gpuHosts[0].port', String(vm.forwards[22])]), 'config set port');
      const since = await vmNow(vm);
      await timed('key rotation + port change up', ['up', '--yes', '--skip-preview'], 900_000);
      const changes = await changesOfLastUpdate();
      console.log(`key rotation + port change: ${JSON.stringify(changes)}`);
      expect(Object.keys(changes).sort()).toEqual(['same', 'update'].filter((k) => k in changes).sort());
      expect(changes.update).toBeGreaterThan(0);
      const sudoRuns = await sudoRunsSince(vm, since);
      const sessions = Number(
        (await vm.ssh(`sudo -n journalctl --no-pager -o cat -u ssh.service --since '${since}' | grep -c 'Accepted publickey for ubuntu.*${fingerprint}' || true`)).stdout.trim(),
      );
      console.log(`key rotation + port change: ${sudoRuns} commands as root, ${sessions} SSH sessions with the new key (the no-op updates)`);
      expect(sudoRuns).toBe(0);
      expect(sessions).toBeGreaterThan(0);
      const state = expectOk(await pulumi(['stack', 'export', '--show-secrets']), 'export').stdout;
      // A secret exports (with --show-secrets) as {<sig>, plaintext: "<json>"}.
      const teardown = parseJson<{ deployment: { resources: Array<{ urn: string; outputs?: { connection?: { plaintext?: string } } }> } }>(state)
        .deployment.resources.find((r) => r.urn.endsWith('-teardown'));
      const conn = parseJson<{ port?: number; privateKey?: string }>(teardown?.outputs?.connection?.plaintext ?? '{}');
      expect(conn.port).toBe(vm.forwards[22]);
      expect(conn.privateKey).toContain(readFileSync(path.join(dir, 'k'), 'utf8').split('\n')[1]);
      // The API still answers, and a further up is a no-op again.
      expect((await fetch(`http://127.0.0.1:${vm.forwards[8001]}/healthz`)).status).toBe(200);
      await timed('no-op up after rotation', ['up', '--yes', '--skip-preview'], 900_000);
      expect(Object.keys(await changesOfLastUpdate())).toEqual(['same']);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 1_800_000);

  it('destroy stops and removes the services and their configuration', async () => {
    await timed('destroy', ['destroy', '--yes', '--skip-preview'], 900_000);
    // The footprint list (components/lib/hostFootprint.ts, docs/host.md): what it says is removed is gone ...
    expect(await footprintLeft(vm)).toBe('');
    const ufw = (await vm.ssh('sudo -n ufw status')).stdout;
    expect(ufw).toContain('Status: active');
    expect(ufw).not.toMatch(/\b800[01]\b/);
    // ... and what it says is kept is still there (the SSH rule under default-deny, the model user, the ops scripts).
    expect(KEPT.length).toBeGreaterThan(0);
    expect(ufw).toMatch(/^22\/tcp\s+ALLOW/m);
    expect((await vm.ssh('getent passwd fudbuddy-model && test -x /opt/fudbuddy/bin/teardown.sh')).code).toBe(0);
    await expect(fetch(`http://127.0.0.1:${vm.forwards[8001]}/healthz`, { signal: AbortSignal.timeout(5000) })).rejects.toThrow();
  }, 900_000);
});
