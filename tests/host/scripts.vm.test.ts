// The host scripts and units under real systemd (PID 1, systemd 252) in a qemu VM (scripts/vm.sh), deployed as
// `ubuntu` through sudo, as Pulumi does: staged copies made over SFTP under the user's umask 0002, real apt (through
// apt-cacher-ng), real ufw, the real sandbox of the units. Command strings and stdin contents come from the same
// builders GpuHost uses. No GPU and no tailnet here: the model stub stands in for vLLM and the API binds to the
// VM's own address (addressMode 'address'); the GPU and tailnet paths are gpu.vm.test.ts and tests/tailnet/vm-tailnet.vm.test.ts.
// Test timeouts are hang guards sized for a TCG guest on a busy shared box (docs/benchmarks.md), not speed goals.
import { appendFileSync, cpSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hashDir, hashFile } from '../../components/lib/contentHash.js';
import { apiEnv, renderEnvFile, renderTokenFile } from '../../components/lib/envFile.js';
import { SCRIPTS_DIR } from '../../components/lib/scriptsDir.js';
import { asRoot } from '../../components/lib/shell.js';
import { API_UNIT, apiUnit, modelStubUnit, STUB_UNIT } from '../../components/lib/units.js';
import { REPO_ROOT } from '../support/testHost.js';
import { vmNodeVersion, type Vm } from '../support/vm.js';
import { bootTestVm, GUEST_IP, VM_USER as USER, waitUntil, type Run, type TestVm, type VmSteps } from './support/vmSteps.js';

const API_TOKEN = 'api-token-secret-7f3a9c1e5b2d4f60';
const STUB_KEY = 'stub-upstream-key-secret-93b1c7e2';
const TOKENS_PATH = '/etc/fudbuddy-api/tokens';

let t: TestVm;
let vm: Vm;
let work: string;
let steps: VmSteps;
let API_BUNDLE: string;
let STUB_BUNDLE: string;
const run: VmSteps['run'] = (...a) => steps.run(...a);
const runOk: VmSteps['runOk'] = (...a) => steps.runOk(...a);
const sh: VmSteps['sh'] = (c) => steps.sh(c);
const stage: VmSteps['stage'] = (...a) => steps.stage(...a);
const unitProp: VmSteps['unitProp'] = (...a) => steps.unitProp(...a);

function apiEnvFile(extra: Record<string, string> = { LOG_LEVEL: 'info' }): string {
  return renderEnvFile(
    apiEnv({ bindAddress: GUEST_IP, port: 8001, upstreamModel: 'fudbuddy-test', upstreamApiKey: STUB_KEY, tokensFile: TOKENS_PATH, promptsDir: '/opt/fudbuddy/prompts', extra }),
  );
}
const stubEnvFile = (): string => renderEnvFile({ HOST: '127.0.0.1', PORT: '8000', STUB_MODEL: 'fudbuddy-test', STUB_API_KEY: STUB_KEY });
const tokenFileArgs = [TOKENS_PATH, '--owner', 'root:fudbuddy-api', '--mode', '0640', '--reload', API_UNIT];
const writeTokens = (tokens: string[]): Promise<Run> => runOk('write-secret-file.sh', tokenFileArgs, renderTokenFile(tokens, 'api.tokens'));
const apiUnitText = (): string => apiUnit({ hostname: 'gpu-vm-1', bindAddress: GUEST_IP, port: 8001, addressMode: 'address', modelUnit: STUB_UNIT });
const firewallArgs = (): string[] => ['--ssh-port', String(vm.port), '--ssh-from', `${vm.hostSideAddress}/32`, '--allow', `8001:${vm.hostSideAddress}/32`];
const api = (p: string): string => `http://127.0.0.1:${vm.forwards[8001]}${p}`;
// /healthz probes the model server with a 2 s timeout: in a guest starved by other TCG guests the first probes can
// miss it (503), so health is polled, not sampled once.
const healthy = (): Promise<boolean> => waitUntil(async () => (await fetch(api('/healthz')).catch(() => null))?.status === 200, 60_000);

beforeAll(async () => {
  t = await bootTestVm('hs', { forwards: [8001] });
  ({ vm, work, steps } = t);
  API_BUNDLE = t.bundle('api');
  STUB_BUNDLE = t.bundle('stub');
  cpSync(path.join(REPO_ROOT, 'prompts'), path.join(work, 'prompts'), { recursive: true });
}, 25 * 60_000);

afterAll(async () => t?.stop());

describe('host scripts under real systemd in a qemu VM, as ubuntu via sudo (model stub instead of vLLM)', () => {
  it('the VM is a stock cloud-like host: systemd PID 1, ubuntu with umask 0002 over SSH and SFTP, sudo, hosts Node', async () => {
    expect(await sh('ps -p 1 -o comm=')).toBe('systemd');
    const state = await vm.ssh('systemctl is-system-running --wait', { timeoutMs: 300_000 });
    expect(['running', 'degraded'], `${state.stdout}${await sh('systemctl --failed --no-legend || true')}`).toContain(state.stdout.trim());
    expect(await sh('umask')).toBe('0002');
    // SFTP sessions get it too: an SFTP mkdir asks for 0777, the session's umask makes it 0775.
    const sftp = execFileSync('sftp', ['-F', vm.sshConfig, '-b', '-', 'vm'], { input: 'mkdir /home/ubuntu/sftp-made\n', encoding: 'utf8' });
    expect(sftp).toContain('mkdir');
    expect(await sh('stat -c %a /home/ubuntu/sftp-made')).toBe('775');
    expect(await sh('sudo -n id -u')).toBe('0');
    expect(await sh('node --version')).toBe(`v${vmNodeVersion()}`);
    expect(await sh('systemctl is-enabled unattended-upgrades.service apt-daily-upgrade.timer')).toMatch(/^enabled\nenabled$/);
  }, 600_000);

  it("apt works through the machine's apt-cacher-ng, and nothing else is reachable from the guest", async () => {
    const r = await vm.ssh('sudo -n apt-get install -y -q --no-install-recommends jq >/dev/null && jq --version', { timeoutMs: 600_000 });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^jq-1\./);
    const direct = await vm.ssh('curl -sS -m 5 -o /dev/null http://deb.debian.org/debian/ && echo reached');
    expect(direct.stdout).not.toContain('reached');
    expect(direct.code).not.toBe(0);
  }, 620_000);

  it('installs the scripts from an SFTP copy made under umask 0002 (group-writable by ubuntu only); a second install changes nothing', async () => {
    const remote = await stage(SCRIPTS_DIR, 'scripts', hashDir(SCRIPTS_DIR));
    expect(await sh(`stat -c '%a %U:%G' ${remote}/lib.sh ${remote}`)).toBe('664 ubuntu:ubuntu\n775 ubuntu:ubuntu');
    const r = await vm.ssh(asRoot(USER, `bash ${remote}/install-scripts.sh ${remote}`));
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain('FUDBUDDY_RESULT=changed');
    expect(await sh('stat -c "%a %U" /opt/fudbuddy/bin/base-setup.sh')).toBe('755 root');
    const again = await stage(SCRIPTS_DIR, 'scripts', hashDir(SCRIPTS_DIR));
    expect((await vm.ssh(asRoot(USER, `bash ${again}/install-scripts.sh ${again}`))).stdout).toContain('FUDBUDDY_RESULT=unchanged');
  }, 600_000);

  it('refuses staged copies writable by anyone else, or owned by someone else', async () => {
    await sh('d=/var/tmp/fudbuddy-scripts-planted; mkdir -p $d && cp /opt/fudbuddy/bin/lib.sh $d/ && chmod 0777 $d');
    const planted = await vm.ssh(asRoot(USER, 'bash /opt/fudbuddy/bin/install-scripts.sh /var/tmp/fudbuddy-scripts-planted'));
    expect(planted.code).not.toBe(0);
    expect(planted.stderr).toContain('is writable by others than ubuntu: refusing');
    await sh('sudo -n sh -c "mkdir -p /var/tmp/fudbuddy-api-x && cp /etc/hostname /var/tmp/fudbuddy-api-x/x.mjs && chown -R nobody /var/tmp/fudbuddy-api-x"');
    const bad = await run('install-file.sh', ['/var/tmp/fudbuddy-api-x/x.mjs', '/opt/fudbuddy/api/server.mjs']);
    expect(bad.code).not.toBe(0);
    expect(bad.stderr).toContain('is owned by nobody, not ubuntu: refusing');
  }, 300_000);

  it('base setup and firewall (real ufw; SSH kept on sshd own port behind the port forward); idempotent', async () => {
    expect((await runOk('base-setup.sh')).result).toBe('changed');
    expect((await runOk('base-setup.sh')).result).toBe('unchanged');
    // Pulumi dials 127.0.0.1:<forwarded port>; sshd listens on 22 in the guest: the rule must be for 22.
    const fw = await runOk('firewall.sh', firewallArgs());
    expect(fw.result).toBe('changed');
    expect(fw.stderr).toContain(`--ssh-port ${vm.port} but sshd listens on 22: a port forward`);
    const status = await sh('sudo -n ufw status verbose');
    expect(status).toContain('Status: active');
    expect(status).toMatch(/22\/tcp\s+ALLOW IN\s+10\.0\.2\.2/);
    expect(status).not.toContain(`${vm.port}/tcp`);
    // A fresh SSH connection (not the shared one) still gets in through the enabled firewall.
    const fresh = execFileSync('ssh', ['-F', vm.sshConfig, '-o', 'ControlMaster=no', '-o', 'ControlPath=none', 'vm', 'echo in'], { encoding: 'utf8' });
    expect(fresh.trim()).toBe('in');
    expect((await runOk('firewall.sh', firewallArgs())).result).toBe('unchanged');
  }, 1_200_000);

  it("node: the pre-placed LTS Node is found and left alone (NodeSource's path not taken)", async () => {
    const r = await runOk('node-install.sh', [vmNodeVersion().split('.')[0]!]);
    expect(r.result).toBe('unchanged');
    expect(r.stdout).toContain(`ok: node v${vmNodeVersion()}`);
  }, 300_000);

  it('the stub and API units start under the real sandbox (no SIGSYS), and answer through the firewall', async () => {
    const stubRemote = await stage(STUB_BUNDLE, 'stub', hashFile(STUB_BUNDLE), '.mjs');
    await runOk('install-file.sh', [stubRemote, '/opt/fudbuddy/model-stub/stub.mjs', '--restart', STUB_UNIT]);
    await runOk('write-secret-file.sh', ['/etc/fudbuddy/model-stub.env', '--restart', STUB_UNIT], stubEnvFile());
    const stub = await run('install-unit.sh', [STUB_UNIT], modelStubUnit({ hostname: 'gpu-vm-1' }));
    expect(stub.code, `${stub.stdout}${stub.stderr}${await sh(`sudo -n journalctl -u ${STUB_UNIT} --no-pager -n 20 || true`)}`).toBe(0);
    expect(await sh(`systemctl is-active ${STUB_UNIT}`)).toBe('active');

    const apiRemote = await stage(API_BUNDLE, 'api', hashFile(API_BUNDLE), '.mjs');
    await runOk('install-file.sh', [apiRemote, '/opt/fudbuddy/api/server.mjs', '--restart', API_UNIT]);
    const prompts = path.join(work, 'prompts');
    await runOk('install-file.sh', [await stage(prompts, 'prompts', hashDir(prompts)), '/opt/fudbuddy/prompts', '--reload', API_UNIT]);
    await writeTokens([API_TOKEN]);
    await runOk('write-secret-file.sh', ['/etc/fudbuddy/api.env', '--restart', API_UNIT], apiEnvFile());
    const unit = await run('install-unit.sh', [API_UNIT], apiUnitText());
    expect(unit.code, `${unit.stdout}${unit.stderr}${await sh(`sudo -n journalctl -u ${API_UNIT} --no-pager -n 20 || true`)}`).toBe(0);
    expect(await sh(`systemctl is-active ${API_UNIT}`)).toBe('active');
    // The kernel logged no seccomp kill of either service.
    expect(await sh('sudo -n journalctl -k --no-pager | grep -c "type=1326" || true')).toBe('0');

    expect(await healthy()).toBe(true);
    expect((await fetch(api('/v1/models'))).status).toBe(401);
    expect((await fetch(api('/v1/models'), { headers: { authorization: `Bearer ${API_TOKEN}` } })).status).toBe(200);
    const ps = await sh('ps -eo user:20,args');
    expect(ps).toMatch(/fudbuddy-api .*node \/opt\/fudbuddy\/api\/server\.mjs/);
    for (const s of [API_TOKEN, STUB_KEY]) expect(ps).not.toContain(s);
  }, 1_200_000);

  it('a prompt change reloads the API (SIGHUP, same PID and invocation)', async () => {
    const pid = await unitProp(API_UNIT, 'MainPID');
    const inv = await unitProp(API_UNIT, 'InvocationID');
    const prompts = path.join(work, 'prompts');
    appendFileSync(path.join(prompts, 'home.md'), '\nBe brief.\n');
    const r = await runOk('install-file.sh', [await stage(prompts, 'prompts', hashDir(prompts)), '/opt/fudbuddy/prompts', '--reload', API_UNIT]);
    expect(r.stdout).toContain(`reloaded: ${API_UNIT}`);
    expect(await sh('cat /opt/fudbuddy/prompts/home.md')).toContain('Be brief.');
    expect(await unitProp(API_UNIT, 'MainPID')).toBe(pid);
    expect(await unitProp(API_UNIT, 'InvocationID')).toBe(inv);
    expect(await healthy()).toBe(true);
  }, 600_000);

  it('a token rotation reloads the API in place under real systemd: new accepted, old refused, same process', async () => {
    const newToken = 'api-token-rotated-2b8e6d0a4c9f1e37';
    const status = async (t: string): Promise<number> => (await fetch(api('/v1/models'), { headers: { authorization: `Bearer ${t}` } })).status;
    const pid = await unitProp(API_UNIT, 'MainPID');
    const inv = await unitProp(API_UNIT, 'InvocationID');
    expect(await status(newToken)).toBe(401);
    const overlap = await writeTokens([newToken, API_TOKEN]);
    expect(overlap.stdout).toContain(`reloaded: ${API_UNIT}`);
    expect(overlap.stdout + overlap.stderr).not.toContain(newToken);
    expect(await waitUntil(async () => (await status(newToken)) === 200)).toBe(true);
    expect(await status(API_TOKEN)).toBe(200);
    await writeTokens([newToken]);
    expect(await waitUntil(async () => (await status(API_TOKEN)) === 401)).toBe(true);
    expect(await unitProp(API_UNIT, 'MainPID')).toBe(pid);
    expect(await unitProp(API_UNIT, 'InvocationID')).toBe(inv);
    const journal = await sh(`sudo -n journalctl -u ${API_UNIT} --no-pager -o cat`);
    expect(journal).toContain('bearer tokens reloaded');
    for (const t of [newToken, API_TOKEN]) expect(journal).not.toContain(t);
    await writeTokens([API_TOKEN]);
    expect(await waitUntil(async () => (await status(API_TOKEN)) === 200)).toBe(true);
  }, 600_000);

  it('second pass over every step: nothing changes, no unit restarts', async () => {
    const inv = await unitProp(API_UNIT, 'InvocationID');
    const results = [
      await runOk('base-setup.sh'),
      await runOk('firewall.sh', firewallArgs()),
      await runOk('install-file.sh', [await stage(API_BUNDLE, 'api', hashFile(API_BUNDLE), '.mjs'), '/opt/fudbuddy/api/server.mjs', '--restart', API_UNIT]),
      await writeTokens([API_TOKEN]),
      await runOk('write-secret-file.sh', ['/etc/fudbuddy/api.env', '--restart', API_UNIT], apiEnvFile()),
      await runOk('install-unit.sh', [STUB_UNIT], modelStubUnit({ hostname: 'gpu-vm-1' })),
      await runOk('install-unit.sh', [API_UNIT], apiUnitText()),
    ];
    for (const r of results) expect(r.result, r.stdout).toBe('unchanged');
    expect(await unitProp(API_UNIT, 'InvocationID')).toBe(inv);
  }, 1_200_000);

  it('an env change restarts the API (new process, still answering)', async () => {
    const pid = await unitProp(API_UNIT, 'MainPID');
    const r = await runOk('write-secret-file.sh', ['/etc/fudbuddy/api.env', '--restart', API_UNIT], apiEnvFile({ LOG_LEVEL: 'debug' }));
    expect(r.stdout).toContain(`restarted: ${API_UNIT}`);
    expect(await unitProp(API_UNIT, 'MainPID')).not.toBe(pid);
    const ok = async (): Promise<boolean> => (await fetch(api('/v1/models'), { headers: { authorization: `Bearer ${API_TOKEN}` } }).catch(() => null))?.status === 200;
    expect(await waitUntil(ok, 60_000)).toBe(true);
  }, 600_000);

  it("boot order: reboot-if-required's real reboot (systemd-run), then the stub and the API come up by themselves", async () => {
    // The marker nvidia-driver.sh leaves after a driver change; the script schedules `systemctl reboot` in 5 s.
    await sh('sudo -n sh -c "echo 550 > /var/lib/fudbuddy/reboot-required"');
    const r = await runOk('reboot-if-required.sh');
    expect(r.stdout).toContain('REBOOTING=1');
    const before = /BOOT_ID=(\S+)/.exec(r.stdout)?.[1];
    expect(before).toBeTruthy();
    const seconds = await vm.waitForReboot(before!);
    console.log(`VM reboot to SSH: ${seconds} s`);
    expect((await runOk('reboot-if-required.sh')).stdout).toContain('ok: no reboot needed');
    const state = await vm.ssh('systemctl is-system-running --wait', { timeoutMs: 300_000 });
    expect(['running', 'degraded']).toContain(state.stdout.trim());
    expect(await sh(`systemctl is-active ${STUB_UNIT} ${API_UNIT}`)).toBe('active\nactive');
    const stubUp = Number(await unitProp(STUB_UNIT, 'ExecMainStartTimestampMonotonic'));
    const apiUp = Number(await unitProp(API_UNIT, 'ExecMainStartTimestampMonotonic'));
    const stubReady = Number(await unitProp(STUB_UNIT, 'ActiveEnterTimestampMonotonic'));
    expect(stubUp).toBeGreaterThan(0);
    expect(apiUp).toBeGreaterThan(stubReady);
    expect(await healthy()).toBe(true);
    expect((await sh('sudo -n ufw status')).split('\n')[0]).toBe('Status: active');
  }, 1_200_000);
});
