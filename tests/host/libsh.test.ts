// components/scripts/lib.sh's install_content, run for real with bash on this machine: it is always called as an
// `if` condition, where bash ignores `set -e` inside the function, so each failure must stop the script by itself.
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { SCRIPTS_DIR } from '../../components/lib/scriptsDir.js';

const dir = mkdtempSync(path.join(tmpdir(), 'libsh-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const owner = `${spawnSync('id', ['-un'], { encoding: 'utf8' }).stdout.trim()}:${spawnSync('id', ['-gn'], { encoding: 'utf8' }).stdout.trim()}`;

/** `set -euo pipefail; if install_content DEST 0644 OWNER; then echo changed; else echo unchanged; fi; echo after`. */
function install(dest: string, content: string): { code: number; out: string; err: string } {
  const script = `set -euo pipefail; . ${path.join(SCRIPTS_DIR, 'lib.sh')}; if install_content "$1" 0644 "$2"; then echo changed; else echo unchanged; fi; echo after`;
  const r = spawnSync('bash', ['-c', script, 'x', dest, owner], { input: content, encoding: 'utf8' });
  return { code: r.status ?? -1, out: r.stdout, err: r.stderr };
}

describe('lib.sh install_content (real bash)', () => {
  it('writes, then reports unchanged for the same content', () => {
    const dest = path.join(dir, 'a', 'file.conf');
    expect(install(dest, 'one\n').out).toBe('changed\nafter\n');
    expect(readFileSync(dest, 'utf8')).toBe('one\n');
    expect(install(dest, 'one\n').out).toBe('unchanged\nafter\n');
  });

  it('a destination it cannot replace (a directory there) stops the script with a message naming it, leaving no temp file', () => {
    const dest = path.join(dir, 'b', 'file.conf');
    mkdirSync(dest, { recursive: true });
    writeFileSync(path.join(dest, 'inside'), 'x');
    const r = install(dest, 'two\n');
    expect(r.code).toBe(1);
    expect(r.out).not.toContain('after');
    expect(r.err).toContain(`ERROR: cannot install ${dest}`);
    expect(spawnSync('sh', ['-c', `ls -A ${path.dirname(dest)}`], { encoding: 'utf8' }).stdout.trim()).toBe('file.conf');
  });
});
