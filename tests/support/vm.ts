// Throwaway qemu VMs with real systemd as PID 1 (scripts/vm.sh): Debian bookworm, user `ubuntu` with passwordless
// sudo and umask 0002 (like a stock Ubuntu cloud host), stock sshd, unattended-upgrades on, the hosts' Node
// pre-placed, apt reaching Debian through apt-cacher-ng on this machine. Building the image needs root (once per
// recipe, ~5 min, cached under ~/.cache/fudbuddy-vm); booting takes 15-60 s (TCG). Never run more than 2 at once.
//
//   const vm = await startVm('gpu', { forwards: [8001] });
//   try {
//     const r = await vm.ssh('systemctl is-system-running --wait');   // as ubuntu; `sudo` works without a password
//     await vm.copyTo('./dist', '/var/tmp/x');                         // scp over SFTP, as ubuntu (umask 0002)
//     fetch(`http://127.0.0.1:${vm.forwards[8001]}/healthz`);         // guest port 8001 on this machine's loopback
//     await vm.reboot();                                               // real reboot; resolves when SSH is back
//     await vm.waitForReboot(bootId);                                  // a reboot the guest started itself
//   } finally { await vm.stop(); }                                     // also run at process exit
//
// `vm.connection` is a ready-made GpuHostArgs.connection (ubuntu, per-VM key, pinned host key). Every command goes
// over one SSH ControlMaster per VM; by hand: `ssh -F <vm.sshConfig> vm`. The guest sees this machine as 10.0.2.2
// (`hostSideAddress`, e.g. for firewall sources).
import { execFile, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { HOST_NODE } from '../../components/lib/hostNode.js';
import { missingTool, scriptedHosts } from './scriptedHosts.js';

const execFileAsync = promisify(execFile);
export const VM_SCRIPT = fileURLToPath(new URL('../../scripts/vm.sh', import.meta.url));

export interface SshResult {
  code: number;
  stdout: string;
  stderr: string;
}

export interface VmOptions {
  /** Guest RAM in MiB (at most 1024, the default). */
  memMiB?: number;
  /** Guest TCP ports to expose on 127.0.0.1 (each gets a free host port: `vm.forwards[guestPort]`). */
  forwards?: number[];
  /**
   * Guest → this machine: each TCP connection the guest opens to `address:port` (10.0.2.X) is handed to a fresh
   * `argv` process on its stdin/stdout (qemu guestfwd cmd:, run as this test's user). The only way out of a
   * restrict=on guest besides the apt cacher, e.g. to a server in a network namespace (tests/support/vmTailnet.ts).
   */
  guestForwards?: GuestForward[];
}

export interface GuestForward {
  address: string;
  port: number;
  argv: string[];
}

/** A command line qemu's guestfwd parses back into `argv` (GLib's g_shell_parse_argv: single quotes are literal). */
function guestfwdCommand(argv: string[]): string {
  return argv.map((a) => (/^[A-Za-z0-9_./:=@-]+$/.test(a) ? a : `'${a.replace(/'/g, `'\\''`)}'`)).join(' ');
}

export interface Vm {
  name: string;
  host: '127.0.0.1';
  /** This machine's port forwarded to the guest's sshd. */
  port: number;
  user: 'ubuntu';
  privateKey: string;
  privateKeyPath: string;
  /** The guest's ed25519 host key (`ssh-ed25519 AAAA...`), for pinning. */
  hostKey: string;
  /** An ssh_config with host alias `vm` (shared ControlMaster, pinned host key). */
  sshConfig: string;
  /** The address this machine has as seen from the guest (qemu user-mode networking's gateway). */
  hostSideAddress: '10.0.2.2';
  /** guest port → port on 127.0.0.1 */
  forwards: Record<number, number>;
  bootSeconds: number;
  connection: { host: string; port: number; user: 'ubuntu'; privateKey: string; hostKey: string };
  /** Runs a command as `ubuntu` (the login shell runs it); stdin optional. Never rejects on a non-zero exit. */
  ssh(command: string, opts?: { stdin?: string; timeoutMs?: number }): Promise<SshResult>;
  /** Copies a local file or directory to the guest as `ubuntu` (scp -r, SFTP protocol). */
  copyTo(localPath: string, remotePath: string): Promise<void>;
  /** Reboots the guest for real; resolves with the seconds until SSH answered from the new boot. */
  reboot(opts?: { timeoutMs?: number }): Promise<number>;
  /** Waits until SSH answers from a boot other than `bootId` (a reboot something else started); seconds waited. */
  waitForReboot(bootId: string, opts?: { timeoutMs?: number }): Promise<number>;
  stop(): Promise<void>;
}

/** Why a VM cannot start here, or null. Tests should fail with this message, not skip. */
export function vmUnavailableReason(): string | null {
  return missingTool(['qemu-system-x86_64', 'qemu-img', 'socat', 'ssh', 'ssh-keygen', 'mkfs.ext4'], 'test VMs', 'qemu-system-x86 qemu-utils socat openssh-client e2fsprogs');
}

const hosts = scriptedHosts(VM_SCRIPT);

/** Builds (once per recipe, cached) the VM image; slow the first time: call it from a hook with a long timeout. */
export async function ensureVmImage(): Promise<string> {
  const { stdout } = await execFileAsync('bash', [VM_SCRIPT, 'image'], { maxBuffer: 1 << 20, timeout: 20 * 60_000 });
  return stdout.trim();
}

/** The Node version pre-placed on the VMs: the hosts' Node (HOST_NODE of components/lib/hostNode.ts). */
export function vmNodeVersion(): string {
  return HOST_NODE.version;
}

function run(args: string[], stdin: string | undefined, timeoutMs: number): Promise<SshResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(args[0]!, args.slice(1), { stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code: code ?? -1, stdout, stderr });
    });
    child.stdin.end(stdin ?? '');
  });
}

export async function startVm(name: string, opts: VmOptions = {}): Promise<Vm> {
  const reason = vmUnavailableReason();
  if (reason) throw new Error(reason);
  const args: string[] = [];
  if (opts.memMiB) args.push('--mem', String(opts.memMiB));
  for (const p of opts.forwards ?? []) args.push('--forward', String(p));
  for (const g of opts.guestForwards ?? []) args.push('--guestfwd', `${g.address}:${g.port}=${guestfwdCommand(g.argv)}`);
  const info = await hosts.start<{
    port: number;
    privateKeyPath: string;
    hostKey: string;
    sshConfig: string;
    forwards: Record<string, number>;
    bootSeconds: number;
  }>(name, args, 25 * 60_000, 'VM');
  const privateKey = readFileSync(info.privateKeyPath, 'utf8');
  const ssh = (command: string, o: { stdin?: string; timeoutMs?: number } = {}): Promise<SshResult> =>
    run(['ssh', '-F', info.sshConfig, 'vm', command], o.stdin, o.timeoutMs ?? 180_000);
  const bootId = async (): Promise<string | null> => {
    const r = await run(['ssh', '-F', info.sshConfig, '-o', 'ConnectTimeout=3', 'vm', 'cat /proc/sys/kernel/random/boot_id'], undefined, 15_000);
    return r.code === 0 ? r.stdout.trim() : null;
  };
  const vm: Vm = {
    name,
    host: '127.0.0.1',
    port: info.port,
    user: 'ubuntu',
    privateKey,
    privateKeyPath: info.privateKeyPath,
    hostKey: info.hostKey,
    sshConfig: info.sshConfig,
    hostSideAddress: '10.0.2.2',
    forwards: Object.fromEntries(Object.entries(info.forwards).map(([g, h]) => [Number(g), h])),
    bootSeconds: info.bootSeconds,
    connection: { host: '127.0.0.1', port: info.port, user: 'ubuntu', privateKey, hostKey: info.hostKey },
    ssh,
    async copyTo(localPath, remotePath) {
      const r = await run(['scp', '-F', info.sshConfig, '-r', '-q', localPath, `vm:${remotePath}`], undefined, 300_000);
      if (r.code !== 0) throw new Error(`scp ${localPath} → ${name}:${remotePath} failed: ${r.stderr}`);
    },
    async reboot(o = {}) {
      const before = await bootId();
      if (!before) throw new Error(`VM ${name}: no SSH before the reboot`);
      await ssh('sudo -n systemctl reboot', { timeoutMs: 30_000 });
      return vm.waitForReboot(before, o);
    },
    async waitForReboot(before, o = {}) {
      const t0 = Date.now();
      const limit = o.timeoutMs ?? 600_000;
      for (;;) {
        const now = await bootId();
        if (now && now !== before) return Math.round((Date.now() - t0) / 1000);
        if (Date.now() - t0 > limit) throw new Error(`VM ${name}: SSH did not come back from a new boot within ${limit} ms`);
        await new Promise((r) => setTimeout(r, 1000));
      }
    },
    async stop() {
      await hosts.stop(name);
    },
  };
  return vm;
}
