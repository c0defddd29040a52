// Builds the bundles the project's stacks deploy or embed before the engine runs the program: the API and the
// model stub (copied to the e2e test host) and the Worker (embedded by the beta stack's EdgeWorker).
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

export default function setup(): void {
  const repo = fileURLToPath(new URL('../../', import.meta.url));
  execFileSync('node', ['scripts/build.mjs', 'api', 'worker', 'stub'], { cwd: repo, stdio: 'inherit' });
}
