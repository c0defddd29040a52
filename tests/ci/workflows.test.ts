// The CI workflows (.github/workflows) pass actionlint (with its shellcheck pass over `run:` steps), and every
// third-party action is pinned to a commit SHA with the release it was taken from. actionlint is built from the Go
// module proxy by scripts/ci/tools.sh (.ci/run runs it); a missing binary fails here rather than skipping.
import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const root = fileURLToPath(new URL('../..', import.meta.url));
const workflowsDir = path.join(root, '.github/workflows');
const actionlint = path.join(process.env.FUDBUDDY_TOOLS_BIN ?? path.join(process.env.HOME ?? '/root', '.cache/fudbuddy-tools/bin'), 'actionlint');
const run = (args: string[], input?: string) => spawnSync(actionlint, ['-no-color', '-oneline', ...args], { cwd: root, input, encoding: 'utf8' });

describe('GitHub workflows', () => {
  it('pass actionlint (run scripts/ci/tools.sh to build it)', () => {
    const r = run([]);
    expect(r.error, `${actionlint}: ${String(r.error)}`).toBeUndefined();
    expect(r.stdout + r.stderr).toBe('');
    expect(r.status).toBe(0);
  });

  it('actionlint catches a broken workflow and an undeclared runner label (control)', () => {
    const bad = 'on: push\njobs:\n  x:\n    runs-on: [self-hosted, not-our-label]\n    steps:\n      - run: echo ${{ github.nope.nothing }}\n';
    const r = run(['-stdin-filename', '.github/workflows/bad.yml', '-'], bad);
    expect(r.status).not.toBe(0);
    expect(r.stdout).toMatch(/not-our-label/);
  });

  it('pin every third-party action to a full commit SHA with its version in a comment', () => {
    const uses = readdirSync(workflowsDir)
      .filter((f) => /\.ya?ml$/.test(f))
      .flatMap((f) => [...readFileSync(path.join(workflowsDir, f), 'utf8').matchAll(/^\s*(?:-\s+)?uses:\s*(\S+)(.*)$/gm)].map((m) => ({ f, ref: m[1]!, rest: m[2]! })));
    expect(uses.length).toBeGreaterThan(5);
    const unpinned = uses.filter((u) => !u.ref.startsWith('./') && !(/@[0-9a-f]{40}$/.test(u.ref) && /#\s*v\d/.test(u.rest)));
    expect(unpinned).toEqual([]);
  });
});
