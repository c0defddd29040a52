// vllm.service's root pre-start (components/scripts/nvidia-device-nodes.sh) run for real with STAND-INS for
// nvidia-smi and nvidia-modprobe (tests/host/standins-gpu/, written to NVIDIA's behaviour: nvidia-smi as root makes
// /dev/nvidiactl and /dev/nvidiaN but not /dev/nvidia-uvm; `nvidia-modprobe -u -c=0` makes the uvm nodes). Each
// run is in a private mount namespace over its own tmpfs /dev: nothing on this machine changes.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { SCRIPTS_DIR } from '../../components/lib/scriptsDir.js';

const standins = path.join(import.meta.dirname, 'standins-gpu');
const work = mkdtempSync(path.join(tmpdir(), 'nvidia-nodes-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

/** Runs `command` as root in a fresh mount namespace whose /dev is an empty tmpfs (plus /dev/null); lists /dev after. */
function inPrivateDev(command: string, pathDirs: string): { code: number; out: string; err: string; dev: string } {
  const r = spawnSync(
    'unshare',
    ['-m', '--', 'bash', '-c', `mount --make-rprivate / && mount -t tmpfs tmpfs /dev && mknod -m 666 /dev/null c 1 3 && { ${command}; }; rc=$?; echo "--dev--"; stat -c '%n %F' /dev/nvidia* 2>/dev/null; exit $rc`],
    { encoding: 'utf8', timeout: 30_000, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, PATH: `${pathDirs}:/usr/sbin:/usr/bin:/sbin:/bin`, STANDIN_LOG: path.join(work, 'log'), STANDIN_GPUS: '2' } },
  );
  const [out, dev] = r.stdout.split('--dev--\n');
  return { code: r.status ?? -1, out: out ?? '', err: r.stderr, dev: dev ?? '' };
}

describe('vllm.service pre-start creates the CUDA device nodes (stand-in nvidia-smi / nvidia-modprobe)', () => {
  it('nvidia-smi alone leaves /dev/nvidia-uvm missing: the reason the pre-start exists', () => {
    const r = inPrivateDev('nvidia-smi -L >/dev/null', standins);
    expect(r.code).toBe(0);
    expect(r.dev).toContain('/dev/nvidiactl character special file');
    expect(r.dev).toContain('/dev/nvidia1 character special file');
    expect(r.dev).not.toContain('/dev/nvidia-uvm');
  });

  it('the pre-start makes /dev/nvidia-uvm (and every GPU node) exist, as root, idempotently', () => {
    const script = path.join(SCRIPTS_DIR, 'nvidia-device-nodes.sh');
    const r = inPrivateDev(`bash ${script} && bash ${script}`, standins);
    expect(r.code, r.err).toBe(0);
    for (const node of ['/dev/nvidia-uvm', '/dev/nvidia-uvm-tools', '/dev/nvidiactl', '/dev/nvidia0', '/dev/nvidia1']) {
      expect(r.dev).toContain(`${node} character special file`);
    }
    expect(r.out).toContain('ok: NVIDIA device nodes present (2 GPU node(s), nvidia-uvm)');
    expect(readFileSync(path.join(work, 'log'), 'utf8')).toContain('nvidia-modprobe -u -c=0 uid=0');
  });

  it('fails with a clear message when nvidia-modprobe is missing, instead of letting vLLM die on CUDA init', () => {
    const onlySmi = mkdtempSync(path.join(work, 'smi-'));
    spawnSync('cp', [path.join(standins, 'nvidia-smi'), onlySmi]);
    const r = inPrivateDev(`bash ${path.join(SCRIPTS_DIR, 'nvidia-device-nodes.sh')}`, onlySmi);
    expect(r.code).not.toBe(0);
    expect(r.err).toContain('nvidia-modprobe not found: install the nvidia-modprobe package');
  });
});
