import { execa } from 'execa';
import fc from 'fast-check';
import { mkdtempSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import type { FlagCatalog, FlagSpec } from '../../src/flags/catalog.js';
import { parseHelp } from '../../src/flags/frameworks/registry.js';
import { compareVerdicts, sample } from './differential.js';
import { fixtures } from './paths.js';

/**
 * Differential runs of the argparse validator against real argparse programs from Debian:
 * generated lists (every spelling, `=`, attached short values, abbreviations, repeats, clusters,
 * missing values, bad choices, positionals before and after options), the program's verdict
 * against the guard's. A refusal is argparse's: exit 2 with "prog: error: ..." on stderr.
 */
export interface ArgparseProgram {
  /** argv before the generated args, e.g. ["/usr/bin/python3", "-m", "gzip"] or ["yamllint"]. */
  command: string[];
  fixture: string;
  excluded: string[];
  /** A value each option's type and the program accept, by long name (argparse help prints no types). */
  values?: Record<string, string>;
  positionals: string[][];
  oddities?: string[][];
  /** Refusals for reasons the help does not print (checks after parsing, a required group printed as optional items). */
  unknowable?: RegExp[];
}

export function argparseCatalog(program: ArgparseProgram): FlagCatalog {
  const outcome = parseHelp(readFileSync(path.join(fixtures, program.fixture), 'utf8'));
  if (!outcome.ok) throw new Error(`${program.fixture}: ${outcome.reason}`);
  return outcome.catalog;
}

export function argparseArgumentLists(catalog: FlagCatalog, program: ArgparseProgram): fc.Arbitrary<string[]> {
  const flags = catalog.flags.filter((f) => !f.hidden && !program.excluded.includes(f.name));
  const values = flags.filter((f) => f.takesValue);
  const switches = flags.filter((f) => !f.takesValue);
  const good = (f: FlagSpec) => program.values?.[f.name] ?? f.enumValues?.[0] ?? 'value';
  const spelled = (f: FlagSpec) => fc.constantFrom(...(f.spellings ?? [`--${f.name}`]));
  const pick = <T>(items: T[]) => fc.constantFrom(...items);
  const tokens: Array<{ weight: number; arbitrary: fc.Arbitrary<string[]> }> = [];
  if (values.length > 0) {
    tokens.push({ weight: 5, arbitrary: pick(values).chain((f) => spelled(f).chain((s) => pick([[s, good(f)], [`${s}=${good(f)}`], s.startsWith('--') ? [s, good(f)] : [`${s}${good(f)}`]]))) });
    tokens.push({ weight: 2, arbitrary: pick(values).chain((f) => fc.integer({ min: 3, max: f.name.length + 2 }).map((n) => [`--${f.name}`.slice(0, n), good(f)])) });
    tokens.push({ weight: 1, arbitrary: pick(values).chain((f) => spelled(f).map((s) => [s])) });
    tokens.push({ weight: 1, arbitrary: pick(values).chain((f) => spelled(f).map((s) => [s, f.enumValues ? 'bogus' : '-1'])) });
  }
  if (switches.length > 0) {
    tokens.push({ weight: 4, arbitrary: pick(switches).chain((f) => spelled(f).chain((s) => pick([[s], [`${s}=1`], [s, s]]))) });
    const shorts = switches.filter((f) => f.short);
    if (shorts.length > 1) tokens.push({ weight: 2, arbitrary: fc.tuple(pick(shorts), pick(shorts)).map(([a, b]) => [`-${a.short}${b.short}`]) });
  }
  const nonEmpty = program.positionals.filter((p) => p.length > 0);
  tokens.push({ weight: 3, arbitrary: pick(nonEmpty.length > 0 ? nonEmpty : [['stray']]) });
  tokens.push({ weight: 2, arbitrary: pick([['--not-an-option'], ['-Z'], ['--'], ['-x y'], ...(program.oddities ?? [])]) });
  return fc.tuple(fc.array(fc.oneof(...tokens), { minLength: 1, maxLength: 5 }), pick(program.positionals)).map(([groups, tail]) => [...groups.flat(), ...tail]);
}

export function argparseAccepts(program: ArgparseProgram, refusals = new Map<string, string>()): (args: string[]) => Promise<boolean | undefined> {
  const home = mkdtempSync(path.join(os.tmpdir(), 'guard-argparse-'));
  const [command, ...prefix] = program.command;
  return async (args) => {
    const result = await execa(command!, [...prefix, ...args], { reject: false, timeout: 5_000, cwd: home, stdin: 'ignore', env: { HOME: home, PATH: '/usr/bin:/bin' }, extendEnv: false });
    if (result.timedOut) return true;
    const stderr = String(result.stderr);
    // argparse itself crashing on an argument (3.11: `-=1` for a lone `-` option) stops the program at start too.
    const refused = (result.exitCode === 2 && /: error: /.test(stderr)) || /argparse\.py", line \d+/.test(stderr);
    // The type a value is converted to (int, an open file) is not in the help: not compared.
    if (refused && /: (invalid \w+ value|can't open)\b/.test(stderr)) return undefined;
    if (refused) refusals.set(JSON.stringify(args), stderr);
    return !refused;
  };
}

export function argparseDifferentialSuite(program: ArgparseProgram, defaultSamples = 150): void {
  const samples = Number(process.env.GUARD_DIFFERENTIAL_SAMPLES ?? defaultSamples);
  const name = program.command.join(' ').replace('/usr/bin/', '');
  describe(`argparse: the guard against the real parser of ${name} (${program.fixture})`, () => {
    it('the fixture is what the program prints for --help', async () => {
      const [command, ...prefix] = program.command;
      const live = await execa(command!, [...prefix, '--help'], { reject: false, stripFinalNewline: false, env: { PATH: '/usr/bin:/bin' }, extendEnv: false });
      expect([live.stdout, live.stderr].filter((s) => s.trim() !== '').join('\n')).toBe(readFileSync(path.join(fixtures, program.fixture), 'utf8'));
    });

    it('agrees with the program on every generated argument list', async () => {
      const catalog = argparseCatalog(program);
      const lists = sample(argparseArgumentLists(catalog, program), samples);
      const refusals = new Map<string, string>();
      const result = await compareVerdicts(catalog, lists, argparseAccepts(program, refusals), { parallel: 6 });
      const falseBlocks = result.disagreements.filter((d) => d.includes('binary accepts'));
      const falsePasses = result.disagreements.filter((d) => d.includes('binary refuses'));
      const why = (d: string) => refusals.get(d.slice(0, d.indexOf(']: ') + 1)) ?? '';
      const unexplained = falsePasses.filter((d) => !(program.unknowable ?? []).some((pattern) => pattern.test(why(d))));
      if (process.env.GUARD_DIFFERENTIAL_VERBOSE) console.log(result.disagreements.map((d) => `${d}\n    ${why(d).split('\n').find((l) => l.includes('error:')) ?? ''}`).join('\n'));
      console.log(`argparse differential (${name}): ${result.total - result.disagreements.length}/${result.total} agree (${result.accepted} accepted by the program; ${falseBlocks.length} false blocks, ${falsePasses.length} false passes for reasons the help does not print; ${result.skipped} value-type refusals not compared)`);
      expect(falseBlocks).toEqual([]);
      expect(unexplained).toEqual([]);
      expect(result.accepted).toBeGreaterThan(samples / 10);
      expect(result.total - result.accepted).toBeGreaterThan(samples / 10);
    });
  });
}
