import { availableParallelism } from 'node:os';
import { configDefaults, defineConfig } from 'vitest/config';
import { excludedForMissingTools } from './scripts/test-tools.mjs';

// Tests that run a real tool which is not installed are left out, with one line naming it (scripts/test-tools.mjs).
const missingTools = excludedForMissingTools();
if (missingTools.line) process.stderr.write(`${missingTools.line}\n`);

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    exclude: [...configDefaults.exclude, ...missingTools.files],
    testTimeout: 60_000,
    hookTimeout: 120_000,
    pool: 'forks',
    // Most tests wait on real tools (helm, kubectl, nix, registries): two files at a time even on
    // two cores, where vitest's default would be one.
    maxWorkers: Math.max(2, availableParallelism() - 1),
    minWorkers: 1,
    // Every report a test produces in-process is validated against schemas/report.schema.json.
    setupFiles: ['./test/support/validate-reports.ts'],
    reporters: ['default', './test/support/summary-reporter.ts'],
  },
});
