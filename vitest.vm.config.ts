// The VM suites (npm run test:vm; .ci/run runs them after the engine suite): qemu guests with real systemd
// (scripts/vm.sh). Kept out of `npm test` (which excludes *.vm.test.ts): each file boots its own TCG VM (minutes),
// and files run one after another so at most one VM per file — never more than 2 — runs on a 2-core machine.
// tests/engine/*.vm.test.ts drive the real Pulumi CLI: `npm run test:e2e` (or scripts/pulumi-toolchain.sh build)
// must have built it.
import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['tests/**/*.vm.test.ts'],
    exclude: ['**/node_modules/**', '**/dist/**'],
    globalSetup: ['tests/engine/global-setup.ts'],
    pool: 'forks',
    fileParallelism: false,
    testTimeout: 600_000,
    hookTimeout: 1_800_000,
    teardownTimeout: 600_000,
  },
});
