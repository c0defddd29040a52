// `npm run build` must give the same bundles whatever NODE_ENV the caller's shell or test runner has, and no bundle
// may hold a path of the build machine (a path with digits and capitals once matched the web bundle's secret scan).
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync, statSync } from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const root = fileURLToPath(new URL('../..', import.meta.url));
const TARGETS = ['api', 'stub', 'worker', 'web'];
// A source file named by an absolute path, as a dev JSX runtime or a `__filename` would embed it.
const ABSOLUTE_SOURCE_PATH = /(?<![\w.:/-])\/(?:[\w.@-]+\/)+[\w.@-]+\.(?:tsx?|mts|mjs|jsx)\b/;

function filesUnder(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const p = path.join(dir, name);
    return statSync(p).isDirectory() ? filesUnder(p) : [p];
  });
}

function buildAll(nodeEnv: string | undefined): Map<string, string> {
  const out = mkdtempSync(path.join(tmpdir(), 'fudbuddy-build-'));
  const env: NodeJS.ProcessEnv = { ...process.env, BUILD_OUT_DIR: out };
  for (const k of Object.keys(env)) if (k.startsWith('VITE_')) delete env[k];
  if (nodeEnv === undefined) delete env.NODE_ENV;
  else env.NODE_ENV = nodeEnv;
  try {
    const r = spawnSync(process.execPath, ['scripts/build.mjs', ...TARGETS], { cwd: root, env, encoding: 'utf8', timeout: 180_000 });
    if (r.status !== 0) throw new Error(`build with NODE_ENV=${nodeEnv} failed (${r.status}):\n${r.stdout}\n${r.stderr}`);
    return new Map(filesUnder(out).map((f) => [path.relative(out, f), readFileSync(f, 'utf8')]));
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
}

describe('build (scripts/build.mjs) is independent of the caller', () => {
  const builds = new Map<string, Map<string, string>>();
  beforeAll(() => {
    for (const nodeEnv of [undefined, 'development', 'test']) builds.set(String(nodeEnv), buildAll(nodeEnv));
  }, 300_000);
  afterAll(() => builds.clear());

  it('writes every bundle (the comparison reads real output)', () => {
    const names = [...builds.get('undefined')!.keys()];
    for (const t of ['api/server.mjs', 'stub/stub.mjs', 'worker/worker.js', 'web/index.html']) expect(names).toContain(t);
    expect(names.some((n) => n.startsWith('web/assets/') && n.endsWith('.js'))).toBe(true);
  });

  it.each(['development', 'test'])('NODE_ENV=%s gives byte-identical bundles to an unset NODE_ENV', (nodeEnv) => {
    const base = builds.get('undefined')!;
    const other = builds.get(nodeEnv)!;
    expect([...other.keys()].sort()).toEqual([...base.keys()].sort());
    for (const [name, text] of base) expect(other.get(name) === text, `${name} differs under NODE_ENV=${nodeEnv}`).toBe(true);
  });

  it('no bundle holds a path of the build machine', () => {
    const machinePaths = [root.replace(/\/$/, ''), homedir(), tmpdir()].filter((p) => p.length > 1);
    for (const [nodeEnv, files] of builds) {
      for (const [name, text] of files) {
        for (const p of machinePaths) expect(text.includes(p), `${name} (NODE_ENV=${nodeEnv}) contains ${p}`).toBe(false);
        expect(ABSOLUTE_SOURCE_PATH.exec(text)?.[0], `${name} (NODE_ENV=${nodeEnv})`).toBeUndefined();
      }
    }
  });

  it('the absolute-path scan does catch a dev runtime source path (control)', () => {
    expect(ABSOLUTE_SOURCE_PATH.test('var Z=`/Work/Main2/services/web/src/app/ChatView.tsx`')).toBe(true);
    expect(ABSOLUTE_SOURCE_PATH.test('fileName: "/home/ci/x/src/main.tsx"')).toBe(true);
    expect(ABSOLUTE_SOURCE_PATH.test('fetch("/v1/chat/completions")')).toBe(false);
  });
});
