// A local directory holding given script files, named by the hash of their names and contents, for a staged copy
// to a host (hostSteps.stage). Content-named, so the archive path in state stays stable while nothing changed, and
// written atomically, so concurrent program runs never see a half-written directory.
import { createHash } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

export function stageLocalDir(label: string, contents: Record<string, string | Buffer>): { dir: string; hash: string; names: string[] } {
  const h = createHash('sha256');
  for (const [name, body] of Object.entries(contents)) h.update(name).update(body);
  const hash = h.digest('hex');
  const dir = path.join(os.tmpdir(), `fudbuddy-${label}-stage-${hash.slice(0, 16)}`);
  if (!existsSync(dir)) {
    const tmp = `${dir}.${process.pid}.tmp`;
    mkdirSync(tmp, { recursive: true });
    for (const [name, body] of Object.entries(contents)) {
      writeFileSync(path.join(tmp, name), body);
      chmodSync(path.join(tmp, name), 0o755);
    }
    try {
      renameSync(tmp, dir);
    } catch (err) {
      // Another program run staged the same content first: theirs is identical.
      rmSync(tmp, { recursive: true, force: true });
      if (!existsSync(dir)) throw err;
    }
  }
  return { dir, hash, names: Object.keys(contents).sort() };
}
