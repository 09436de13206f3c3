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
 * Differential runs of the clap validator against real clap programs from Debian: generated
 * argument lists of every form clap reads (long/short, `=`, attached, clusters, repeats, counters,
 * missing values, bad possible values, `--switch=value`, positionals present or not), the
 * program's verdict against the guard's. A refusal is clap's own: "error: ..." and "For more
 * information try ..." on stderr; whatever the program does after parsing counts as accepted.
 */
export interface ClapProgram {
  /** The command as installed by Debian, e.g. "fdfind". */
  command: string;
  /** Fixture path under fixtures/, e.g. "help/fd-find/8.6.0.txt". */
  fixture: string;
  /** Flags left out of the lists: help/version, and those that run or open things. */
  excluded: string[];
  /** Values that the program's own value parser accepts, by long name (else by placeholder). */
  values?: Record<string, string>;
  /** Positional argument groups to mix in ([] for none); lists whose program needs them. */
  positionals: string[][];
  /** Always appended (e.g. an input file), so that an accepted list ends at once. */
  tail?: string[];
  /** Odd arguments worth trying on this program. */
  oddities?: string[][];
  /**
   * Refusals for reasons the help does not print (conflicts, `requires`, a repeat refused or not by
   * args_override_self, values listed only in prose), as the program words them: a list the guard
   * passes and the program refuses for one of these is counted, not failed. Everything else must agree.
   */
  unknowable?: RegExp[];
}

const UNKNOWABLE = [/was provided more than once, but cannot be used multiple times/, /cannot be used with/];

export function clapCatalog(program: ClapProgram): FlagCatalog {
  const text = readFileSync(path.join(fixtures, program.fixture), 'utf8');
  const outcome = parseHelp(text);
  if (!outcome.ok) throw new Error(`${program.fixture}: ${outcome.reason}`);
  return outcome.catalog;
}

export function clapValue(program: ClapProgram, flag: FlagSpec): string {
  const given = program.values?.[flag.name];
  if (given !== undefined) return given;
  if (flag.enumValues) return flag.enumValues[flag.enumValues.length - 1]!;
  if (/^(N|NUM|num|count|depth|size|T|width|PRECISION|DELTA)$/i.test(flag.placeholder ?? '')) return '3';
  return 'value';
}

export function clapArgumentLists(catalog: FlagCatalog, program: ClapProgram): fc.Arbitrary<string[]> {
  const flags = catalog.flags.filter((f) => !f.hidden && !program.excluded.includes(f.name));
  const values = flags.filter((f) => f.takesValue);
  const switches = flags.filter((f) => !f.takesValue);
  const shortSwitches = switches.filter((f) => f.short ?? f.name.length === 1);
  const short = (f: FlagSpec) => f.short ?? (f.name.length === 1 ? f.name : undefined);
  const long = (f: FlagSpec) => (f.name.length > 1 || f.short ? `--${f.name}` : `-${f.name}`);
  const valueForms = (f: FlagSpec): string[][] => {
    const v = clapValue(program, f);
    const count = typeof f.arity === 'number' ? f.arity : 1;
    const many = Array.from({ length: count }, () => v);
    const s = short(f);
    return [[long(f), ...many], ...(count === 1 ? [[`${long(f)}=${v}`]] : []), ...(s ? [[`-${s}`, ...many], ...(count === 1 ? [[`-${s}${v}`], [`-${s}=${v}`]] : [])] : [])];
  };
  const pick = <T>(items: T[]) => fc.constantFrom(...items);
  const tokens: Array<{ weight: number; arbitrary: fc.Arbitrary<string[]> }> = [];
  if (values.length > 0) {
    tokens.push({ weight: 6, arbitrary: pick(values).chain((f) => pick(valueForms(f))) });
    // A value option given twice (clap 3/4: last wins; clap 2: each kept, or more values).
    tokens.push({ weight: 2, arbitrary: pick(values).chain((f) => pick(valueForms(f)).chain((a) => pick(valueForms(f)).map((b) => [...a, ...b]))) });
    // No value: at the end or before another option.
    tokens.push({ weight: 1, arbitrary: pick(values).map((f) => [long(f)]) });
    const enums = values.filter((f) => f.enumValues);
    if (enums.length > 0) tokens.push({ weight: 2, arbitrary: pick(enums).map((f) => [long(f), 'not-a-value']) });
  }
  if (switches.length > 0) {
    tokens.push({ weight: 5, arbitrary: pick(switches).chain((f) => pick(short(f) && f.name.length > 1 ? [[long(f)], [`-${short(f)}`]] : [[long(f)]])) });
    tokens.push({ weight: 1, arbitrary: pick(switches).map((f) => [`${long(f)}=yes`]) });
    tokens.push({ weight: 2, arbitrary: pick(switches).map((f) => [long(f), long(f)]) });
  }
  if (shortSwitches.length > 1) {
    tokens.push({ weight: 2, arbitrary: fc.tuple(pick(shortSwitches), pick(shortSwitches)).map(([a, b]) => [`-${short(a)}${short(b)}`]) });
  }
  const counters = switches.filter((f) => f.repeatable && short(f));
  if (counters.length > 0) tokens.push({ weight: 1, arbitrary: pick(counters).chain((f) => pick([[`-${short(f)}${short(f)}`], [`-${short(f)}2`], [`-${short(f)}`, `-${short(f)}`]])) });
  tokens.push({ weight: 3, arbitrary: pick(program.positionals.filter((p) => p.length > 0).length > 0 ? program.positionals.filter((p) => p.length > 0) : [['stray']]) });
  tokens.push({ weight: 2, arbitrary: pick([['--not-a-flag'], ['-%'], ['--'], ...(program.oddities ?? [])]) });
  const groups = fc.array(fc.oneof(...tokens), { minLength: 1, maxLength: 5 });
  return fc.tuple(groups, pick(program.positionals)).map(([g, positionals]) => [...g.flat(), ...positionals, ...(program.tail ?? [])]);
}

const CLAP_REFUSAL = /^error: [\s\S]*For more information,? try/m;

/** The program's verdict: true accepted (or it ran), false clap refused, undefined a value type the help does not state. */
export function clapAccepts(program: ClapProgram, refusals = new Map<string, string>()): (args: string[]) => Promise<boolean | undefined> {
  const home = mkdtempSync(path.join(os.tmpdir(), `guard-${program.command}-`));
  return async (args) => {
    const result = await execa(program.command, args, { reject: false, timeout: 5_000, cwd: home, stdin: 'ignore', env: { HOME: home, PATH: '/usr/bin:/bin', TERM: 'dumb' }, extendEnv: false });
    if (result.timedOut) return true;
    const stderr = String(result.stderr);
    if (!CLAP_REFUSAL.test(stderr)) return true;
    // clap's value parsers (numbers, paths): the help names no type, so such refusals are not compared.
    if (/^error: Invalid value\b/m.test(stderr) && !/possible values|isn't a valid value/.test(stderr)) return undefined;
    refusals.set(JSON.stringify(args), stderr);
    return false;
  };
}

/** Lists the binary accepts that the guard refuses (false blocks), and the other way round. */
export function splitDisagreements(disagreements: string[]): { falseBlocks: string[]; falsePasses: string[] } {
  return {
    falseBlocks: disagreements.filter((d) => d.includes('binary accepts')),
    falsePasses: disagreements.filter((d) => d.includes('binary refuses')),
  };
}

/** One program's differential test: the fixture is what it prints, and every generated list gets the same verdict. */
export function clapDifferentialSuite(program: ClapProgram, defaultSamples = 150): void {
  const samples = Number(process.env.GUARD_DIFFERENTIAL_SAMPLES ?? defaultSamples);
  describe(`clap: the guard against the real parser of ${program.command} (${program.fixture})`, () => {
    it('the fixture is what the program prints for --help (stdout, then stderr)', async () => {
      const live = await execa(program.command, ['--help'], { reject: false, stripFinalNewline: false, env: { PATH: '/usr/bin:/bin', TERM: 'dumb' }, extendEnv: false });
      expect([live.stdout, live.stderr].filter((s) => s.trim() !== '').join('\n')).toBe(readFileSync(path.join(fixtures, program.fixture), 'utf8'));
    });

    it('agrees with the program on every generated argument list', async () => {
      const catalog = clapCatalog(program);
      const lists = sample(clapArgumentLists(catalog, program), samples);
      const refusals = new Map<string, string>();
      const result = await compareVerdicts(catalog, lists, clapAccepts(program, refusals), { parallel: 6 });
      const { falseBlocks, falsePasses } = splitDisagreements(result.disagreements);
      const unknowable = [...UNKNOWABLE, ...(program.unknowable ?? [])];
      const why = (d: string) => refusals.get(d.slice(0, d.indexOf(']: ') + 1)) ?? '';
      const unexplained = falsePasses.filter((d) => !unknowable.some((pattern) => pattern.test(why(d))));
      if (process.env.GUARD_DIFFERENTIAL_VERBOSE) console.log(result.disagreements.map((d) => `${d}\n    ${why(d).split('\n')[0]}`).join('\n'));
      console.log(`clap differential (${program.command}, ${catalog.variant}): ${result.total - result.disagreements.length}/${result.total} agree (${result.accepted} accepted by the program; ${falseBlocks.length} false blocks, ${falsePasses.length} false passes, all for reasons the help does not print; ${result.skipped} value-type refusals not compared)`);
      expect(falseBlocks).toEqual([]);
      expect(unexplained).toEqual([]);
      expect(result.accepted).toBeGreaterThan(samples / 10);
      expect(result.total - result.accepted).toBeGreaterThan(samples / 10);
    });
  });
}
