// The real-engine suite (npm run test:e2e): excluded from `npm test` by the root config. Serial, long timeouts:
// every test drives the Pulumi CLI, which starts node and plugins, against a throwaway SSH host.
import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['tests/engine/**/*.test.ts'],
    // the engine-on-a-VM file runs with the VM suites (npm run test:vm, vitest.vm.config.ts)
    exclude: ['**/node_modules/**', '**/*.vm.test.ts'],
    globalSetup: ['tests/engine/global-setup.ts'],
    fileParallelism: false,
    testTimeout: 600_000,
    hookTimeout: 900_000,
    teardownTimeout: 600_000,
    reporters: ['default'],
  },
});
