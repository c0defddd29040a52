import { defineConfig } from 'vitest/config';

// The web suites need neither the API nor the Worker bundle (unit tests use a local stand-in), so they
// can run without the root global setup: `npx vitest run --config tests/web/vitest.standalone.config.ts`.
// Otherwise the same settings as the root vitest.config.ts.
export default defineConfig({
  test: {
    root: new URL('../..', import.meta.url).pathname,
    include: ['tests/web/**/*.test.ts'],
    exclude: ['**/node_modules/**', '**/dist/**'],
    pool: 'forks',
    maxWorkers: 2,
    testTimeout: 30_000,
    hookTimeout: 120_000,
  },
});
