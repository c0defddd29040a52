// Runs the real Pulumi CLI built by scripts/pulumi-toolchain.sh, fully offline: a local file backend in a
// temporary directory, the passphrase secrets provider, no plugin downloads, no update checks, and only the
// plugins this repo builds on PATH.
import { execFile, execFileSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const REPO_ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const TOOLCHAIN = join(REPO_ROOT, 'scripts', 'pulumi-toolchain.sh');
export const REQUIRED_BINARIES = ['pulumi', 'pulumi-language-nodejs', 'pulumi-resource-command', 'pulumi-resource-tailscale', 'pulumi-resource-cloudflare'] as const;

/** The toolchain bin directory; throws (never skips) with the command that builds it when something is missing. */
export function toolchainBin(): string {
  const bin = execFileSync('bash', [TOOLCHAIN, 'bindir'], { encoding: 'utf8' }).trim();
  const missing = REQUIRED_BINARIES.filter((b) => !existsSync(join(bin, b)));
  if (missing.length) {
    throw new Error(`Pulumi toolchain not built (${missing.join(', ')} missing in ${bin}): run scripts/pulumi-toolchain.sh build (npm run test:e2e does)`);
  }
  return bin;
}

export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
  /** stdout + stderr, for error messages. */
  output: string;
}

export interface Workspace {
  /** The project directory the CLI runs in (a private copy: stack files written there never touch the repo). */
  projectDir: string;
  /** The backend directory (file://) holding the state files. */
  backendDir: string;
  env: NodeJS.ProcessEnv;
  pulumi(args: string[], opts?: { cwd?: string; timeoutMs?: number; stdin?: string; env?: NodeJS.ProcessEnv }): Promise<RunResult>;
  /** Every file of the backend directory (state, history, backups) concatenated: for plaintext-secret checks. */
  backendText(): string;
  dispose(): void;
}

export interface ProjectFiles {
  /** Directory the files come from. */
  from: string;
  /** Files or directories copied into the private project directory. */
  copy: string[];
  /** Files symlinked (node follows the link, so the program's imports and import.meta.url stay in the repo). */
  link?: string[];
}

function allFiles(dir: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) out.push(...allFiles(p));
    else out.push(p);
  }
  return out;
}

/**
 * A private Pulumi workspace under .pulumi-e2e/ (gitignored; inside the repo so node finds its node_modules): the
 * project files, a file backend and PULUMI_HOME. `pulumi stack init` and `config set` write stack files next to
 * Pulumi.yaml, so the CLI works on a copy and the committed Pulumi.<stack>.yaml files are never modified.
 */
export function createWorkspace(passphrase: string, project: ProjectFiles): Workspace {
  const bin = toolchainBin();
  mkdirSync(join(REPO_ROOT, '.pulumi-e2e'), { recursive: true });
  const root = mkdtempSync(join(REPO_ROOT, '.pulumi-e2e', 'ws-'));
  const backendDir = join(root, 'backend');
  const home = join(root, 'pulumi-home');
  const projectDir = join(root, 'project');
  for (const d of [backendDir, home, projectDir]) mkdirSync(d, { recursive: true });
  for (const f of project.copy) cpSync(join(project.from, f), join(projectDir, f), { recursive: true });
  for (const f of project.link ?? []) symlinkSync(join(project.from, f), join(projectDir, f));
  const env: NodeJS.ProcessEnv = {
    PATH: `${bin}:${process.env.PATH ?? '/usr/bin:/bin'}`,
    HOME: process.env.HOME ?? '/root',
    LANG: 'C.UTF-8',
    PULUMI_HOME: home,
    PULUMI_BACKEND_URL: `file://${backendDir}`,
    PULUMI_CONFIG_PASSPHRASE: passphrase,
    PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION: 'true',
    PULUMI_SKIP_UPDATE_CHECK: 'true',
    PULUMI_SKIP_CONFIRMATIONS: 'true',
    PULUMI_DIY_BACKEND_NO_LEGACY_WARNING: 'true',
    PULUMI_AUTOMATION_API_SKIP_VERSION_CHECK: 'true',
    PULUMI_COPILOT_ENABLED: 'false',
    NO_COLOR: '1',
    CI: 'true',
  };
  return {
    projectDir,
    backendDir,
    env,
    pulumi(args, opts = {}) {
      return new Promise((resolve) => {
        const child = execFile(
          join(bin, 'pulumi'),
          [...args, '--non-interactive', '--color=never'],
          { cwd: opts.cwd ?? projectDir, env: { ...env, ...opts.env }, timeout: opts.timeoutMs ?? 300_000, maxBuffer: 64 << 20, killSignal: 'SIGTERM' },
          (err, stdout, stderr) => {
            const code = err ? (typeof err.code === 'number' ? err.code : -1) : 0;
            resolve({ code, stdout, stderr, output: `${stdout}\n${stderr}` });
          },
        );
        child.stdin?.end(opts.stdin ?? '');
      });
    },
    backendText() {
      return allFiles(backendDir)
        .map((f) => readFileSync(f, 'utf8'))
        .join('\n');
    },
    dispose() {
      rmSync(root, { recursive: true, force: true });
    },
  };
}

/** Fails with the command's output when it did not exit 0. */
export function expectOk(r: RunResult, what: string): RunResult {
  if (r.code !== 0) throw new Error(`${what} failed (exit ${r.code}):\n${r.output.slice(-6000)}`);
  return r;
}

/** Parses `pulumi ... --json` output (the engine may print a warning line before the JSON). */
export function parseJson<T>(text: string): T {
  const start = text.search(/^[{[]/m);
  if (start < 0) throw new Error(`no JSON in output:\n${text.slice(0, 2000)}`);
  return JSON.parse(text.slice(start)) as T;
}
