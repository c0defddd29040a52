// A throwaway Debian host reachable over real SSH (scripts/test-host.sh): a debootstrap root (cached under
// .cache/testhost) as an overlay, sshd chrooted in its own network/mount/PID namespaces, reachable at
// 10.213.N.2:22 from this machine. Needs root. No systemd PID 1 (nothing of ours runs a unit there): it serves
// plain SSH, for the command provider's rules (tests/engine/remote-command.test.ts). Hosts with real systemd are
// the qemu VMs (tests/support/vm.ts).
//
//   const host = await startTestHost();
//   try { const r = await host.ssh('uname -a'); ... } finally { await host.stop(); }
import { execFile, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { missingTool, scriptedHosts } from './scriptedHosts.js';

const execFileAsync = promisify(execFile);
export const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));
export const TEST_HOST_SCRIPT = fileURLToPath(new URL('../../scripts/test-host.sh', import.meta.url));

export interface SshResult {
  code: number;
  stdout: string;
  stderr: string;
}

export interface TestHost {
  name: string;
  /** Address to dial (the test host's side of the veth pair). */
  host: string;
  port: number;
  user: 'root';
  /** This machine's address as the test host sees it (e.g. for firewall sources). */
  hostSideAddress: string;
  /** Per-run private key (OpenSSH format) and its path. */
  privateKey: string;
  privateKeyPath: string;
  /** The host's ed25519 public key line (`ssh-ed25519 AAAA...`), for pinning. */
  hostKey: string;
  /** The host's root directory as seen from this machine (inspect files the scripts wrote). */
  rootDir: string;
  netns: string;
  /** Ready-made `GpuHostArgs.connection` (root login, per-run key, pinned host key). */
  connection: { host: string; port: number; user: 'root'; privateKey: string; hostKey: string };
  /** Runs a command over SSH (bash -c on the host); stdin optional. Never rejects on a non-zero exit. */
  ssh(command: string, opts?: { stdin?: string; timeoutMs?: number }): Promise<SshResult>;
  /** Copies a local file or directory to the host (scp -r over SFTP). */
  copyTo(localPath: string, remotePath: string): Promise<void>;
  stop(): Promise<void>;
}

/** Why a test host cannot start here, or null. Tests should fail with this message, not skip. */
export function testHostUnavailableReason(): string | null {
  if (process.getuid?.() !== 0) return 'the SSH test host needs root (network namespaces, mounts)';
  return missingTool(['ip', 'unshare', 'ssh', 'ssh-keygen', 'debootstrap'], 'the SSH test host', 'iproute2 util-linux openssh-client debootstrap');
}

const hosts = scriptedHosts(TEST_HOST_SCRIPT);

/** Builds (once, cached) the Debian root. Slow the first time (~2 min): call it from a hook with a long timeout. */
export async function ensureTestHostRoot(): Promise<string> {
  const { stdout } = await execFileAsync('bash', [TEST_HOST_SCRIPT, 'root'], { maxBuffer: 1 << 20, timeout: 15 * 60_000 });
  return stdout.trim();
}

export async function startTestHost(opts: { name?: string } = {}): Promise<TestHost> {
  const reason = testHostUnavailableReason();
  if (reason) throw new Error(reason);
  const name = opts.name ?? `t${randomBytes(4).toString('hex').slice(0, 7)}`;
  const args: string[] = [];
  const info = await hosts.start<{
    host: string;
    port: number;
    hostSideAddress: string;
    privateKeyPath: string;
    hostKey: string;
    rootDir: string;
    netns: string;
  }>(name, args, 15 * 60_000, 'test host');
  const sshBase = [
    '-i',
    info.privateKeyPath,
    '-o',
    'StrictHostKeyChecking=no',
    '-o',
    'UserKnownHostsFile=/dev/null',
    '-o',
    'LogLevel=ERROR',
    '-o',
    'BatchMode=yes',
    '-o',
    'ConnectTimeout=10',
  ];
  const host: TestHost = {
    name,
    host: info.host,
    port: info.port,
    user: 'root',
    hostSideAddress: info.hostSideAddress,
    privateKey: readFileSync(info.privateKeyPath, 'utf8'),
    privateKeyPath: info.privateKeyPath,
    hostKey: info.hostKey,
    rootDir: info.rootDir,
    netns: info.netns,
    connection: {
      host: info.host,
      port: info.port,
      user: 'root',
      privateKey: readFileSync(info.privateKeyPath, 'utf8'),
      hostKey: info.hostKey,
    },
    ssh(command, o = {}) {
      return new Promise((resolve, reject) => {
        const child = spawn('ssh', [...sshBase, '-p', String(info.port), `root@${info.host}`, command], {
          stdio: ['pipe', 'pipe', 'pipe'],
        });
        let stdout = '';
        let stderr = '';
        child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
        child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
        const timer = setTimeout(() => child.kill('SIGKILL'), o.timeoutMs ?? 120_000);
        child.on('error', (e) => {
          clearTimeout(timer);
          reject(e);
        });
        child.on('close', (code) => {
          clearTimeout(timer);
          resolve({ code: code ?? -1, stdout, stderr });
        });
        child.stdin.end(o.stdin ?? '');
      });
    },
    async copyTo(localPath, remotePath) {
      if (!existsSync(localPath)) throw new Error(`copyTo: ${localPath} does not exist`);
      await execFileAsync('scp', [...sshBase, '-P', String(info.port), '-r', '-q', localPath, `root@${info.host}:${remotePath}`]);
    },
    async stop() {
      await hosts.stop(name);
    },
  };
  return host;
}
