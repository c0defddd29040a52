import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

// Suites run the deployable artifacts (API bundle, Worker module), so build them once per run.
export default function setup(): void {
  const root = fileURLToPath(new URL('..', import.meta.url));
  execFileSync(process.execPath, ['scripts/build.mjs', 'api', 'worker'], { cwd: root, stdio: 'inherit' });
}
