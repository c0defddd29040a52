// Staging a local file or directory on a VM as @pulumi/command's CopyToRemote does, for the VM suites that drive
// the host scripts by hand (tests/host/scripts.vm.test.ts, tests/tailnet/vm-tailnet.vm.test.ts).
import { execFileSync } from 'node:child_process';
import { chmodSync, cpSync, mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import path from 'node:path';
import { stageKey, stagePath } from '../../components/lib/stageKeys.js';
import type { Vm } from './vm.js';

/**
 * Stages `local` at its stage path for `id` (scripts: install-scripts.sh, anything else: install-file.sh) and returns
 * that path. Over SFTP with pkg/sftp CopyToRemote sends no modes, so files are created 0666 and directories 0777,
 * minus the session's umask (0664/0775 for `ubuntu`): an sftp batch of `mkdir` (asks 0777) and `put` of 0666 local
 * copies asks the server for exactly those modes. `work`: a local scratch directory.
 */
export function stageOnVm(vm: Vm, work: string, local: string, id: string, hash: string, ext = ''): string {
  const remote = stagePath(id, stageKey(hash, id === 'scripts' ? 'install-scripts.sh' : 'install-file.sh'), ext);
  const tmp = mkdtempSync(path.join(work, 'stage-'));
  const batch: string[] = [];
  const walk = (src: string, dst: string): void => {
    if (statSync(src).isDirectory()) {
      batch.push(`mkdir ${dst}`);
      for (const e of readdirSync(src).sort()) walk(path.join(src, e), `${dst}/${e}`);
    } else {
      const copy = path.join(tmp, `${batch.length}`);
      cpSync(src, copy);
      chmodSync(copy, 0o666);
      batch.push(`put ${copy} ${dst}`);
    }
  };
  walk(local, remote);
  execFileSync('sftp', ['-F', vm.sshConfig, '-b', '-', 'vm'], { input: `${batch.join('\n')}\n`, stdio: ['pipe', 'ignore', 'pipe'] });
  rmSync(tmp, { recursive: true, force: true });
  return remote;
}
