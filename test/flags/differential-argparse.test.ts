import { execa } from 'execa';
import fc from 'fast-check';
import { readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import type { FlagSpec } from '../../src/flags/catalog.js';
import { parseArgparseHelp } from '../../src/flags/frameworks/argparse.js';
import { compareVerdicts, sample } from '../support/differential.js';
import { fixtures } from '../support/paths.js';

/**
 * argparse: the guard's verdict against Debian's Python 3.11 running four of its own argparse
 * programs. `calendar` prints a calendar, `json.tool` reads an empty stdin and fails on it with
 * exit 1, `tarfile` and `zipfile` find no archive in /dev/null and exit 1; argparse refuses with
 * exit 2 and "error:" before any of them starts.
 */
const PYTHON = '/usr/bin/python3';

interface Program {
  module: string;
  fixture: string;
  catalog: ReturnType<typeof parseArgparseHelp>;
  /** Flags the program checks itself after parsing (calendar: --locale needs --encoding). */
  excluded: string[];
  /** A value each option's type and the program accept (argparse help does not print types). */
  good: (flag: FlagSpec) => string;
  positionals: string[];
  /** Odd arguments worth trying on this program. */
  oddities: string[][];
}

const program = (module: string, fixture: string, rest: Omit<Program, 'module' | 'fixture' | 'catalog'>): Program => ({
  module,
  fixture,
  catalog: parseArgparseHelp(readFileSync(path.join(fixtures, fixture), 'utf8')),
  ...rest,
});

const PROGRAMS: Program[] = [
  program('calendar', 'help/python3-calendar/3.11.2.txt', {
    excluded: ['help', 'locale'],
    good: (f) => ({ css: 'x.css', encoding: 'utf-8', type: 'text' })[f.name] ?? '3',
    // year and month are ints; html output refuses a month, so the type stays text.
    positionals: ['2024', '5'],
    oddities: [['--not-an-option'], ['-Z'], ['--'], ['--t', 'txt'], ['-w'], ['-x y']],
  }),
  program('json.tool', 'help/python3-json-tool/3.11.2.txt', {
    // --indent's default is 4, and argparse does not count a value identical to the default as given
    // (int 4 is the same object), so 4 would slip through its exclusive group: values avoid it.
    excluded: ['help'],
    good: () => '2',
    positionals: ['/dev/null'],
    oddities: [['--not-an-option'], ['-Z'], ['--'], ['--no'], ['-'], ['--tab', '--tab'], ['-x y']],
  }),
  program('tarfile', 'help/python3-tarfile/3.11.2.txt', {
    // --create writes an archive; the others read /dev/null, find no archive and exit 1.
    excluded: ['help', 'create'],
    good: () => '/dev/null',
    positionals: ['/dev/null'],
    oddities: [['--not-an-option'], ['-Z'], ['--'], ['-vl'], ['-lv'], ['--ex'], ['-v', '-v']],
  }),
  program('zipfile', 'help/python3-zipfile/3.11.2.txt', {
    excluded: ['help', 'create'],
    good: () => '/dev/null',
    positionals: ['/dev/null'],
    oddities: [['--not-an-option'], ['-Z'], ['--'], ['-e', '/dev/null'], ['--metadata'], ['-t=/dev/null']],
  }),
];

function argumentLists({ catalog, excluded, good, positionals, oddities }: Program) {
  const flags = catalog.flags.filter((f) => !excluded.includes(f.name));
  const values = flags.filter((f) => f.takesValue);
  const switches = flags.filter((f) => !f.takesValue);
  const spelled = (f: FlagSpec) => fc.constantFrom(...(f.spellings ?? [`--${f.name}`]));
  const abbreviated = (f: FlagSpec) => fc.integer({ min: 3, max: f.name.length + 1 }).map((n) => `--${f.name}`.slice(0, n));
  const valueArbitraries = values.length === 0 ? [] : [
    { weight: 5, arbitrary: fc.constantFrom(...values).chain((f: FlagSpec) => spelled(f).chain((s) => fc.constantFrom([s, good(f)], [`${s}=${good(f)}`], s.startsWith('--') ? [s, good(f)] : [`${s}${good(f)}`]))) },
    { weight: 2, arbitrary: fc.constantFrom(...values).chain((f: FlagSpec) => abbreviated(f).map((a) => [a, good(f)])) },
    { weight: 2, arbitrary: fc.constantFrom(...values).chain((f: FlagSpec) => spelled(f).map((s) => [s, f.enumValues ? 'txt' : '-1'])) },
    { weight: 1, arbitrary: fc.constantFrom(...values).chain((f: FlagSpec) => spelled(f).map((s) => [s])) },
  ];
  const token = fc.oneof(
    ...valueArbitraries,
    ...(switches.length === 0 ? [] : [{ weight: 4, arbitrary: fc.constantFrom(...switches).chain((f: FlagSpec) => spelled(f).chain((s) => fc.constantFrom([s], [`${s}=1`]))) },
      { weight: 1, arbitrary: fc.constantFrom(...switches).chain((f: FlagSpec) => abbreviated(f).map((a) => [a])) }]),
    { weight: 3, arbitrary: fc.constantFrom(...positionals).map((p) => [p]) },
    { weight: 2, arbitrary: fc.constantFrom(...oddities) },
  );
  return fc.array(token, { minLength: 1, maxLength: 5 }).map((groups) => groups.flat());
}

function accepts(module: string) {
  return async (args: string[]): Promise<boolean | undefined> => {
    const result = await execa(PYTHON, ['-m', module, ...args], { reject: false, timeout: 20_000, cwd: os.tmpdir(), stdin: 'ignore', env: { PATH: '/usr/bin:/bin' }, extendEnv: false });
    if (result.timedOut) throw new Error(`python3 -m ${module} ${args.join(' ')} did not exit`);
    const refused = result.exitCode === 2 && /: error: /.test(result.stderr);
    // The type a value is converted to (int, an open file) is not in the help: such refusals are not compared.
    if (refused && /: (invalid \w+ value|can't open)\b/.test(result.stderr)) return undefined;
    return !refused;
  };
}

describe('argparse: the guard against the real parser of Python 3.11', () => {
  it.each(PROGRAMS)('the fixture is what python3 -m $module prints', async ({ module, fixture }) => {
    const live = await execa(PYTHON, ['-m', module, '--help'], { stripFinalNewline: false, env: { PATH: '/usr/bin:/bin' }, extendEnv: false });
    expect(live.stdout).toBe(readFileSync(path.join(fixtures, fixture), 'utf8'));
  });

  it.each(PROGRAMS)('agrees with python3 -m $module on every generated argument list', async (p) => {
    const samples = sample(argumentLists(p), 300);
    const result = await compareVerdicts(p.catalog, samples, accepts(p.module), { parallel: 8 });
    console.log(`argparse differential (python3 -m ${p.module}, Python 3.11.2): ${result.total - result.disagreements.length}/${result.total} agree (${result.accepted} accepted by the program; ${result.skipped} refused for a value's type, which the help does not state, not compared)`);
    expect(result.disagreements).toEqual([]);
    expect(result.accepted).toBeGreaterThan(25);
    expect(result.total - result.accepted).toBeGreaterThan(25);
  });
});
