// Host steps on a test VM, run as GpuHost runs them: as `ubuntu` through `sudo -n`, with command strings from the
// same builders (components/lib/shell.ts), staged copies made over SFTP like @pulumi/command's CopyToRemote. Used by
// every tests/**/*.vm.test.ts that drives host scripts directly (the engine suites go through `pulumi up`).
import { cpSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { hashDir } from '../../../components/lib/contentHash.js';
import { SCRIPTS_DIR } from '../../../components/lib/scriptsDir.js';
import { asRoot, scriptCommand } from '../../../components/lib/shell.js';
import { REPO_ROOT } from '../../support/testHost.js';
import { ensureVmImage, startVm, type Vm, type VmOptions } from '../../support/vm.js';
import { stageOnVm } from '../../support/vmStage.js';

export const VM_USER = 'ubuntu';
/** qemu user-mode networking's DHCP address for the guest. */
export const GUEST_IP = '10.0.2.15';

export interface Run {
  code: number;
  stdout: string;
  stderr: string;
  result: 'changed' | 'unchanged' | undefined;
}

const resultOf = (stdout: string): Run['result'] => /FUDBUDDY_RESULT=(changed|unchanged)/.exec(stdout)?.[1] as Run['result'];

/** Polls `check` every 250 ms for up to `ms`. */
export async function waitUntil(check: () => Promise<boolean>, ms = 20_000): Promise<boolean> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (await check()) return true;
    await new Promise((r) => setTimeout(r, 250));
  }
  return false;
}

export interface VmSteps {
  /** An installed host script (/opt/fudbuddy/bin) as root via sudo, as GpuHost's steps run it. */
  run(script: string, args?: string[], stdin?: string): Promise<Run>;
  /** `run`, throwing with the output on a non-zero exit. */
  runOk(script: string, args?: string[], stdin?: string): Promise<Run>;
  /** A shell command as `ubuntu`; its trimmed stdout, throwing on a non-zero exit. */
  sh(command: string): Promise<string>;
  /** Feeds a payload (components/lib/hostSteps.ts installPayload) to `bash -s` as root, as Monitoring does. */
  payload(stdin: string, timeoutMs?: number): Promise<Run>;
  /** Stages a local file or directory under its content-addressed /var/tmp path, as CopyToRemote does (vmStage.ts). */
  stage(local: string, id: string, hash: string, ext?: string): Promise<string>;
  /** Stages components/scripts and installs it into /opt/fudbuddy/bin (install-scripts.sh). */
  installScripts(): Promise<Run>;
  /** `systemctl show -p PROP --value UNIT`. */
  unitProp(unit: string, prop: string): Promise<string>;
}

/** `work` is a private temp directory of the test (SFTP batches are staged there). */
export function vmSteps(vm: Vm, work: string): VmSteps {
  const run = async (script: string, args: string[] = [], stdin?: string): Promise<Run> => {
    // A hang guard, not a speed goal: a real update-initramfs in a TCG guest sharing the cores took over 10 min.
    const r = await vm.ssh(scriptCommand(VM_USER, script, args), { stdin, timeoutMs: 1_200_000 });
    return { ...r, result: resultOf(r.stdout) };
  };
  const runOk = async (script: string, args: string[] = [], stdin?: string): Promise<Run> => {
    const r = await run(script, args, stdin);
    if (r.code !== 0) throw new Error(`${script} ${args.join(' ')} exited ${r.code}:\n${r.stdout}\n${r.stderr}`);
    return r;
  };
  const sh = async (command: string): Promise<string> => {
    const r = await vm.ssh(command);
    if (r.code !== 0) throw new Error(`${command} exited ${r.code}: ${r.stderr}`);
    return r.stdout.trim();
  };
  const stage = async (local: string, id: string, hash: string, ext = ''): Promise<string> => stageOnVm(vm, work, local, id, hash, ext);
  return {
    run,
    runOk,
    sh,
    stage,
    async payload(stdin, timeoutMs = 900_000) {
      const r = await vm.ssh(asRoot(VM_USER, 'bash -s'), { stdin, timeoutMs });
      return { ...r, result: resultOf(r.stdout) };
    },
    async installScripts() {
      const remote = await stage(SCRIPTS_DIR, 'scripts', hashDir(SCRIPTS_DIR));
      const r = await vm.ssh(asRoot(VM_USER, `bash ${remote}/install-scripts.sh ${remote}`));
      if (r.code !== 0) throw new Error(`install-scripts.sh exited ${r.code}:\n${r.stdout}\n${r.stderr}`);
      return { ...r, result: resultOf(r.stdout) };
    },
    unitProp: (unit, prop) => sh(`systemctl show -p ${prop} --value ${unit}`),
  };
}

/** The bundles the VM suites deploy, built once by the suite's global setup (tests/engine/global-setup.ts). */
const BUNDLES = {
  api: 'services/inference-api/dist/server.mjs',
  stub: 'services/model-stub/dist/stub.mjs',
} as const;

export interface TestVm {
  vm: Vm;
  steps: VmSteps;
  /** A private temp directory; it holds private copies of the bundles (another file's run never changes them). */
  work: string;
  bundle(name: keyof typeof BUNDLES): string;
  stop(): Promise<void>;
}

/** Boots one VM for a test file (call from beforeAll; `stop` from afterAll). `prefix`: 2 letters naming the file. */
export async function bootTestVm(prefix: string, opts: VmOptions = {}): Promise<TestVm> {
  await ensureVmImage();
  const work = mkdtempSync(path.join(tmpdir(), `fudbuddy-vm-${prefix}-`));
  for (const rel of Object.values(BUNDLES)) cpSync(path.join(REPO_ROOT, rel), path.join(work, path.basename(rel)));
  const vm = await startVm(`${prefix}${process.pid % 100000}`, opts);
  console.log(`VM boot to SSH: ${vm.bootSeconds} s`);
  return {
    vm,
    work,
    steps: vmSteps(vm, work),
    bundle: (name) => path.join(work, path.basename(BUNDLES[name])),
    async stop() {
      await vm.stop();
      rmSync(work, { recursive: true, force: true });
    },
  };
}
