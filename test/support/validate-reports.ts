/**
 * Registered in vitest.config.ts (setupFiles): every report any test produces in-process, through
 * runCheck, checkRevisions or mergeReports (directly or through the CLI and action modules), is
 * validated against schemas/report.schema.json before the test sees it.
 */
import { vi } from 'vitest';
import { assertValidReport } from './report-schema.js';

vi.mock('../../src/engine.js', async (importOriginal) => {
  const engine = await importOriginal<typeof import('../../src/engine.js')>();
  return {
    ...engine,
    runCheck: async (...args: Parameters<typeof engine.runCheck>) => {
      const report = await engine.runCheck(...args);
      assertValidReport(report);
      return report;
    },
    checkRevisions: async (...args: Parameters<typeof engine.checkRevisions>) => {
      const result = await engine.checkRevisions(...args);
      assertValidReport(result.report);
      return result;
    },
  };
});

vi.mock('../../src/report/merge.js', async (importOriginal) => {
  const merge = await importOriginal<typeof import('../../src/report/merge.js')>();
  return {
    ...merge,
    mergeReports: (...args: Parameters<typeof merge.mergeReports>) => {
      const report = merge.mergeReports(...args);
      assertValidReport(report);
      return report;
    },
  };
});

/**
 * The CLI run as a process (`node build/cli.js check|report merge --format json`) through execa:
 * its JSON report is validated too, whether the test awaits a result or a rejection.
 */
vi.mock('execa', async (importOriginal) => {
  const original = await importOriginal<typeof import('execa')>();
  const execa = (...args: unknown[]) => {
    const subprocess = (original.execa as (...a: unknown[]) => ReturnType<typeof original.execa>)(...args);
    if (!printsJsonReport(args[0], args[1])) return subprocess;
    const validated = subprocess.then(
      (result) => {
        validateOutput(result.stdout);
        return result;
      },
      (error: { stdout?: unknown }) => {
        validateOutput(error.stdout);
        throw error;
      },
    );
    // The awaited value is validated; the process handle (pid, streams, kill) stays the real one.
    return new Proxy(subprocess, {
      get(target, property) {
        if (property === 'then') return validated.then.bind(validated);
        if (property === 'catch') return validated.catch.bind(validated);
        if (property === 'finally') return validated.finally.bind(validated);
        const value = Reflect.get(target, property) as unknown;
        return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value;
      },
    });
  };
  return { ...original, execa };
});

function printsJsonReport(file: unknown, args: unknown): boolean {
  if (typeof file !== 'string' || !Array.isArray(args)) return false;
  const words = args.map(String);
  const cli = words.findIndex((w) => /(^|\/)(build|dist)\/cli\.js$/.test(w) || /(^|\/)guard$/.test(w));
  if (cli < 0 && !/(^|\/)guard$/.test(file)) return false;
  const command = words.slice(cli + 1);
  const json = command.some((w, i) => w === '--format=json' || (w === '--format' && command[i + 1] === 'json'));
  return json && (command[0] === 'check' || (command[0] === 'report' && command[1] === 'merge'));
}

function validateOutput(stdout: unknown): void {
  if (typeof stdout !== 'string' || stdout.trim() === '') return;
  let report: unknown;
  try {
    report = JSON.parse(stdout);
  } catch {
    return;
  }
  assertValidReport(report);
}
