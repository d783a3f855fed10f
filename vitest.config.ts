import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts', '**/*.test.ts'],
    exclude: ['**/node_modules/**', '.data/**', 'dist/**', 'coverage/**'],
    // Starts Redis + Postgres once per run and builds the `ce_template` database (test/support/).
    globalSetup: ['test/support/global-setup.ts'],
    reporters: ['default', './test/support/summary-reporter.ts'],
    testTimeout: 30_000,
    hookTimeout: 60_000,
    teardownTimeout: 30_000,
    // Child processes, one per test file; at most 2 files at once (2-core machine). Each worker's
    // VITEST_POOL_ID (1..2) selects its Redis logical db, see test/support/services.ts.
    pool: 'forks',
    maxWorkers: 2,
    fileParallelism: true,
  },
});
