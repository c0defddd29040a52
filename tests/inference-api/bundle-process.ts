// The deployable artifact as a child process: dist/server.mjs copied into a directory without node_modules and run
// with plain `node` and a clean environment, next to a real stub. Registers its own hooks; every child is killed
// after each test, also when the test fails.
import { spawn, type ChildProcess } from 'node:child_process';
import { copyFileSync, existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, beforeAll } from 'vitest';
import { startStub, type StubHandle } from '../../services/model-stub/src/stub.js';
import { ROOT, tempPromptsDir } from './helpers.js';

export const BUNDLE = path.join(ROOT, 'services/inference-api/dist/server.mjs');

export interface BundleChild {
  proc: ChildProcess;
  /** Complete stdout lines so far (pino JSON). */
  stdout: string[];
  stderr: () => string;
  exit: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

export interface BundleFixture {
  /** The directory holding the copied bundle (and nothing else: no node_modules). */
  readonly dir: string;
  readonly stub: StubHandle;
  readonly promptsDir: string;
  /** Runs the bundle with exactly `env` (plus PATH). */
  spawn(env: Record<string, string>): BundleChild;
}

export function bundleFixture(prefix: string): BundleFixture {
  let dir = '';
  let stub: StubHandle | undefined;
  let promptsDir = '';
  const children: ChildProcess[] = [];

  beforeAll(async () => {
    if (!existsSync(BUNDLE)) throw new Error(`${BUNDLE} missing: run \`node scripts/build.mjs api\` (tests/global-setup.ts does)`);
    dir = mkdtempSync(path.join(tmpdir(), prefix));
    copyFileSync(BUNDLE, path.join(dir, 'server.mjs'));
    stub = await startStub({ tokensPerSec: 20, completionTokens: 20 });
    promptsDir = tempPromptsDir();
  });
  afterEach(() => {
    for (const c of children.splice(0)) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  });
  afterAll(async () => {
    await stub?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
    if (promptsDir) rmSync(promptsDir, { recursive: true, force: true });
  });

  return {
    get dir() {
      return dir;
    },
    get stub() {
      if (!stub) throw new Error('bundleFixture: the stub starts in beforeAll');
      return stub;
    },
    get promptsDir() {
      return promptsDir;
    },
    spawn(env) {
      // A clean environment: nothing from the test runner leaks in, and no node_modules anywhere near cwd.
      const proc = spawn(process.execPath, ['server.mjs'], { cwd: dir, env: { PATH: process.env.PATH ?? '', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
      children.push(proc);
      const stdout: string[] = [];
      let stderr = '';
      let partial = '';
      proc.stdout!.on('data', (d: Buffer) => {
        const parts = (partial + d.toString()).split('\n');
        partial = parts.pop() ?? '';
        stdout.push(...parts.filter(Boolean));
      });
      proc.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
      const exit = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => proc.on('exit', (code, signal) => resolve({ code, signal })));
      return { proc, stdout, stderr: () => stderr, exit };
    },
  };
}
