// Pure builders for publishing the web client to Cloudflare Pages: the public build-time env, the hash of the
// sources that decides when to rebuild, and the shell commands the local.Command steps run.
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';

export interface WebBuildEnvArgs {
  apiBaseUrl: string;
  clientId: string;
  environment: string;
  sentryDsn?: string;
}

/** VITE_* variables: published in the bundle, so only public values (never a token or key). */
export function buildViteEnv(a: WebBuildEnvArgs): Record<string, string> {
  if (!/^https:\/\//.test(a.apiBaseUrl)) throw new Error(`webClient: API base URL '${a.apiBaseUrl}' must be https`);
  const env: Record<string, string> = {
    VITE_AI_API_BASE_URL: a.apiBaseUrl,
    VITE_AI_CLIENT_ID: a.clientId,
    VITE_AI_ENV: a.environment,
  };
  if (a.sentryDsn) env.VITE_SENTRY_DSN = a.sentryDsn;
  return env;
}

const SKIP = new Set(['node_modules', 'dist', '.vite', 'coverage']);

/** sha256 over the relative paths and contents of every file under `dirs` (skipping build output). */
export function hashTree(root: string, dirs: string[]): string {
  const h = createHash('sha256');
  const walk = (rel: string): void => {
    const abs = path.join(root, rel);
    const st = statSync(abs, { throwIfNoEntry: false });
    if (!st) return;
    if (st.isDirectory()) {
      for (const name of readdirSync(abs).sort()) if (!SKIP.has(name)) walk(path.join(rel, name));
    } else if (st.isFile()) {
      h.update(rel.split(path.sep).join('/')).update('\0').update(readFileSync(abs)).update('\0');
    }
  };
  for (const d of [...dirs].sort()) walk(d);
  return h.digest('hex');
}

/** What the web bundle is built from: a change in any of these rebuilds (and, if dist changes, redeploys). */
export const WEB_SOURCES = ['services/web', 'services/common', 'package-lock.json', 'scripts/build.mjs'];
export const WEB_DIST = 'services/web/dist';

/** Builds the client (VITE_* from the environment) and prints only the hash of dist/ on stdout. */
export function buildCommand(): string {
  return [
    'set -eu',
    'node scripts/build.mjs web >&2',
    `cd ${WEB_DIST}`,
    "find . -type f -print0 | LC_ALL=C sort -z | xargs -0 sha256sum | sha256sum | cut -d' ' -f1",
  ].join('\n');
}

/** wrangler reads CLOUDFLARE_API_TOKEN / CLOUDFLARE_ACCOUNT_ID from the environment: never from argv. */
export function deployCommand(projectName: string, branch: string): string {
  if (!/^[a-z0-9][a-z0-9-]{0,57}$/.test(projectName)) throw new Error(`webClient: invalid Pages project name '${projectName}'`);
  if (!/^[\w./-]+$/.test(branch)) throw new Error(`webClient: invalid branch name '${branch}'`);
  return `set -eu\nnode node_modules/wrangler/bin/wrangler.js pages deploy ${WEB_DIST} --project-name=${projectName} --branch=${branch} --commit-dirty=true`;
}
