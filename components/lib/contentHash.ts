// Content hashes used as remote.Command/CopyToRemote triggers: a step re-runs exactly when what it ships changes.
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';

export function sha256(data: string | Buffer): string {
  return createHash('sha256').update(data).digest('hex');
}

/** sha256 of a file's bytes. Throws naming the file (e.g. a bundle that was not built). */
export function hashFile(file: string, what = 'file'): string {
  let data: Buffer;
  try {
    data = readFileSync(file);
  } catch {
    throw new Error(`${what}: cannot read ${file} (run \`npm run build\` first if it is a bundle)`);
  }
  return sha256(data);
}

/** sha256 over a directory tree: relative paths and contents, in sorted order (mtime-independent). */
export function hashDir(dir: string, what = 'directory'): string {
  let st;
  try {
    st = statSync(dir);
  } catch {
    throw new Error(`${what}: ${dir} does not exist`);
  }
  if (!st.isDirectory()) throw new Error(`${what}: ${dir} is not a directory`);
  const h = createHash('sha256');
  const walk = (rel: string): void => {
    const entries = readdirSync(path.join(dir, rel), { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name));
    for (const e of entries) {
      const r = path.posix.join(rel, e.name);
      if (e.isDirectory()) walk(r);
      else if (e.isFile()) {
        h.update(`${r}\0`);
        h.update(readFileSync(path.join(dir, r)));
        h.update('\0');
      }
    }
  };
  walk('');
  return h.digest('hex');
}
