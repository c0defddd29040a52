// nvidia-driver.sh and nvidia-fabricmanager.sh run for real against STAND-INS (no GPU, no Ubuntu archive here):
// ubuntu-drivers, apt-get/apt-mark/apt-cache/dpkg-query over a fake package database, mokutil and nvidia-smi
// (tests/host/standins-apt, standins-gpu; written to the upstream tools' documented behaviour). Each run is in a
// private mount namespace: /etc is an overlay with a throwaway upper layer (holding an Ubuntu os-release in place of
// this Debian machine's), /var/lib a tmpfs; nothing on this machine changes.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeEach, describe, expect, it } from 'vitest';
import { SCRIPTS_DIR } from '../../components/lib/scriptsDir.js';

const here = import.meta.dirname;
const work = mkdtempSync(path.join(tmpdir(), 'nvidia-driver-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));
let state = '';
const ARCHIVE = [
  'ubuntu-drivers-common 1:0.9.7.6ubuntu3.1',
  'nvidia-utils-570-server 570.133.20-0ubuntu0.24.04.1',
  'nvidia-headless-no-dkms-570-server 570.133.20-0ubuntu0.24.04.1',
  'libnvidia-compute-570-server 570.133.20-0ubuntu0.24.04.1',
  'nvidia-kernel-common-570-server 570.133.20-0ubuntu0.24.04.1',
  'linux-modules-nvidia-570-server-generic 6.8.0-50.51+1',
  'nvidia-fabricmanager-570 570.133.20-0ubuntu0.24.04.1',
  'nvidia-fabricmanager-570 570.124.06-0ubuntu0.24.04.1',
];

beforeEach(() => {
  state = mkdtempSync(path.join(work, 'state-'));
  writeFileSync(path.join(state, 'archive'), `${ARCHIVE.join('\n')}\n`);
  writeFileSync(path.join(work, 'os-release'), 'ID=ubuntu\nVERSION_ID="24.04"\nVERSION_CODENAME=noble\n');
});

function run(script: string, args: string[], env: Record<string, string> = {}): { code: number; out: string; err: string } {
  // The host's /etc and /var/lib of this test: kept across the runs of one test (a second run sees the first's files).
  const layer = path.join(state, 'host');
  const cmd = [
    'mount --make-rprivate /',
    `mkdir -p ${layer}/upper ${layer}/work ${layer}/var-lib`,
    `mount -t overlay overlay -o lowerdir=/etc,upperdir=${layer}/upper,workdir=${layer}/work /etc`,
    'rm -f /etc/os-release',
    `cp ${work}/os-release /etc/os-release`,
    `mount --bind ${layer}/var-lib /var/lib`,
    `exec bash ${path.join(SCRIPTS_DIR, script)} "$@"`,
  ].join(' && ');
  const r = spawnSync('unshare', ['-m', '--', 'bash', '-c', cmd, script, ...args], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'pipe'],
    timeout: 30_000,
    env: { PATH: `${here}/standins-apt:${here}/standins-gpu:/usr/sbin:/usr/bin:/sbin:/bin`, STANDIN_STATE: state, ...env },
  });
  return { code: r.status ?? -1, out: r.stdout, err: r.stderr };
}
const log = (): string => (existsSync(path.join(state, 'log')) ? readFileSync(path.join(state, 'log'), 'utf8') : '');
const lines = (f: string): string[] => (existsSync(path.join(state, f)) ? readFileSync(path.join(state, f), 'utf8').trim().split('\n').filter(Boolean).sort() : []);

describe("nvidia-driver.sh on Ubuntu's path (stand-ins ubuntu-drivers/apt/mokutil/nvidia-smi/systemctl: no Ubuntu archive or GPU here, so no VM can run it; the Debian VM runs the rest, gpu.vm)", () => {
  it("installs Ubuntu's signed modules with ubuntu-drivers by default, even under Secure Boot, and holds every NVIDIA package", () => {
    writeFileSync(path.join(state, 'secureboot'), '');
    const r = run('nvidia-driver.sh', ['570', '--method', 'ubuntu-drivers']);
    expect(r.code, r.err).toBe(0);
    expect(log()).toContain('ubuntu-drivers install --gpgpu nvidia:570-server');
    expect(log()).not.toMatch(/nvidia-driver-570-server|cuda-keyring|linux-headers/);
    expect(lines('installed').map((l) => l.split(' ')[0])).toContain('nvidia-utils-570-server');
    expect(r.out).toContain('REBOOT_REQUIRED=1');
    expect(lines('holds')).toEqual([
      'libnvidia-compute-570-server',
      'linux-modules-nvidia-570-server-generic',
      'nvidia-headless-no-dkms-570-server',
      'nvidia-kernel-common-570-server',
      'nvidia-utils-570-server',
    ]);
  });

  it("ubuntu-drivers (which runs apt itself) waits for its turn in our steps' apt queue", () => {
    writeFileSync(path.join(state, 'installed'), 'ubuntu-drivers-common 1:0.9.7.6ubuntu3.1\n');
    // Another step of ours holds the queue for 3 s (as node-install.sh's apt run beside this one would).
    const holder = spawn('flock', ['/run/lock/fudbuddy-apt.lock', 'sleep', '3'], { stdio: 'ignore', detached: true });
    try {
      spawnSync('sleep', ['0.5']);
      const short = run('nvidia-driver.sh', ['570'], { APT_LOCK_WAIT: '1' });
      expect(short.code).not.toBe(0);
      expect(short.err).toContain('another FUD Buddy step held apt for 1s');
      expect(log()).not.toContain('ubuntu-drivers install');
      // With the default wait it runs once the holder is done (a lower bound: a loaded machine only adds to it).
      const t0 = Date.now();
      const waited = run('nvidia-driver.sh', ['570']);
      expect(waited.code, waited.err).toBe(0);
      expect(Date.now() - t0).toBeGreaterThan(800);
      expect(log()).toContain('ubuntu-drivers install --gpgpu nvidia:570-server');
    } finally {
      if (holder.pid) spawnSync('kill', ['--', `-${holder.pid}`]);
    }
  });

  it('changes nothing once the branch runs (after the reboot)', () => {
    expect(run('nvidia-driver.sh', ['570']).code).toBe(0);
    writeFileSync(path.join(state, 'driver-loaded'), '570.133.20');
    const before = log();
    const r = run('nvidia-driver.sh', ['570']);
    expect(r.code, r.err).toBe(0);
    expect(r.out).toContain('ok: nvidia driver 570.133.20 (branch 570)');
    expect(r.out).toContain('FUDBUDDY_RESULT=unchanged');
    expect(log().slice(before.length)).not.toMatch(/^(apt-get install|ubuntu-drivers|apt-mark hold)/m);
  });

  it('refuses DKMS under Secure Boot before installing anything, naming the config key', () => {
    writeFileSync(path.join(state, 'secureboot'), '');
    const r = run('nvidia-driver.sh', ['570', '--method', 'dkms']);
    expect(r.code).not.toBe(0);
    expect(r.err).toContain('fudbuddy:nvidiaDriverInstall is dkms but Secure Boot is enabled');
    expect(lines('installed')).toEqual([]);
  });

  it('a branch change releases the old holds first (else apt refuses to replace held packages)', () => {
    writeFileSync(path.join(state, 'driver-loaded'), '550.163.01');
    writeFileSync(path.join(state, 'installed'), 'nvidia-utils-550-server 550.163.01-0ubuntu1\n');
    writeFileSync(path.join(state, 'holds'), 'nvidia-utils-550-server\n');
    const r = run('nvidia-driver.sh', ['570']);
    expect(r.code, r.err).toBe(0);
    expect(r.out).toContain('released holds for the branch change: nvidia-utils-550-server');
    expect(log()).toContain('apt-mark unhold nvidia-utils-550-server');
  });
});

describe("nvidia-fabricmanager.sh (stand-ins nvidia-smi -q/apt/systemctl: NVSwitch GPUs and Ubuntu's archive cannot exist here)", () => {
  it('on an NVSwitch box installs Fabric Manager at exactly the running driver version, holds it, starts it', () => {
    writeFileSync(path.join(state, 'driver-loaded'), '570.133.20');
    const r = run('nvidia-fabricmanager.sh', ['570'], { STANDIN_NVSWITCH: '1' });
    expect(r.code, r.err).toBe(0);
    expect(r.out).toContain('FABRIC_MANAGER=needed');
    expect(log()).toContain('apt-get install -y -q --allow-change-held-packages nvidia-fabricmanager-570=570.133.20-0ubuntu0.24.04.1');
    expect(lines('holds')).toContain('nvidia-fabricmanager-570');
    expect(lines('units')).toEqual(['nvidia-fabricmanager.service']);
    const again = run('nvidia-fabricmanager.sh', ['570'], { STANDIN_NVSWITCH: '1' });
    expect(again.out).toContain('FUDBUDDY_RESULT=unchanged');
  });

  it('installs nothing on a box without NVSwitches', () => {
    writeFileSync(path.join(state, 'driver-loaded'), '570.133.20');
    const r = run('nvidia-fabricmanager.sh', ['570']);
    expect(r.code, r.err).toBe(0);
    expect(r.out).toContain('FABRIC_MANAGER=not-needed');
    expect(log()).not.toContain('apt-get install');
  });

  it('fails clearly when the archive has no Fabric Manager at the driver version', () => {
    writeFileSync(path.join(state, 'driver-loaded'), '570.999.01');
    const r = run('nvidia-fabricmanager.sh', ['570'], { STANDIN_NVSWITCH: '1' });
    expect(r.code).not.toBe(0);
    expect(r.err).toContain('no nvidia-fabricmanager-570 at driver version 570.999.01');
  });
});
