// The VM suites (npm run test:vm; .ci/run runs them after the engine suite): qemu guests with real systemd
// (scripts/vm.sh). Kept out of `npm test` (which excludes *.vm.test.ts): each file boots its own TCG VM (minutes).
// Two files at a time: a TCG guest's vCPU is one host thread, so one VM leaves the second core idle; two keep
// both busy (a file that needs two VMs of its own then briefly makes three).
// tests/engine/*.vm.test.ts drive the real Pulumi CLI: `npm run test:e2e` (or scripts/pulumi-toolchain.sh build)
// must have built it.
import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['tests/**/*.vm.test.ts'],
    exclude: ['**/node_modules/**', '**/dist/**'],
    globalSetup: ['tests/engine/global-setup.ts'],
    pool: 'forks',
    fileParallelism: true,
    maxWorkers: 2,
    testTimeout: 600_000,
    hookTimeout: 1_800_000,
    teardownTimeout: 600_000,
  },
});
