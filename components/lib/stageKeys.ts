// Trigger keys of GpuHost steps: content hashes of the scripts a step runs and of the files it ships.
import path from 'node:path';
import { hashFile, sha256 } from './contentHash.js';
import { SCRIPTS_DIR } from './scriptsDir.js';

/** Hash of host scripts (always including lib.sh, which they all source). */
export function scriptHash(...names: string[]): string {
  return sha256(['lib.sh', ...names].map((n) => hashFile(path.join(SCRIPTS_DIR, n), `script ${n}`)).join(':'));
}

/** Key shared by a staged copy and the step installing it: the shipped content plus the install script. */
export function stageKey(contentHash: string, installScript: string): string {
  return sha256(`${contentHash}:${scriptHash(installScript)}`);
}

/** Where a staged copy lands on the host (fresh per key, so a copy never lands inside an older one). */
export function stagePath(id: string, key: string, ext = ''): string {
  return `/var/tmp/fudbuddy-${id}-${key.slice(0, 16)}${ext}`;
}
