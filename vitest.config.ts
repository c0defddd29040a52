import { defineConfig } from 'vitest/config';

// One runner for every suite. Heavy suites (Chromium, sshd, Miniflare) start their own processes on
// ephemeral loopback ports, so files can run in parallel on a 2-core machine without colliding.
export default defineConfig({
  test: {
    include: ['tests/**/*.test.ts', 'services/**/*.test.ts', 'components/**/*.test.ts', 'stacks/**/*.test.ts'],
    // *.vm.test.ts boot qemu VMs (minutes each): npm run test:vm (vitest.vm.config.ts).
    exclude: ['**/node_modules/**', '**/dist/**', 'tests/engine/**', '**/*.vm.test.ts'],
    pool: 'forks',
    maxWorkers: 2,
    testTimeout: 30_000,
    hookTimeout: 120_000,
    globalSetup: ['tests/global-setup.ts'],
  },
});
