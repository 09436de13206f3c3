import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 120_000,
    pool: 'forks',
    // Every report a test produces in-process is validated against schemas/report.schema.json.
    setupFiles: ['./test/support/validate-reports.ts'],
    reporters: ['default', './test/support/summary-reporter.ts'],
  },
});
