import { execa } from 'execa';
import fc from 'fast-check';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { FlagCatalog, FlagSpec, Framework } from '../../src/flags/catalog.js';
import { parseHelp } from '../../src/flags/frameworks/registry.js';
import { badValue, compareVerdicts, goodValue, sample } from './differential.js';
import { fixtures } from './paths.js';

/**
 * Differential runs of the Go-world validators (kingpin, pflag/cobra, Go flag, urfave/cli) against
 * real Debian binaries: generated argument lists in every form the framework reads, the binary's
 * verdict at start against the guard's. The help is read through parseHelp, so detection is tested
 * too. GUARD_DIFFERENTIAL_SAMPLES raises the sample count for a thorough run.
 */
export interface GoProgram {
  /** Label in messages, e.g. "restic 0.14.0 version". */
  name: string;
  framework: Framework;
  command: string;
  /** Fixture under fixtures/, e.g. "help/restic/0.14.0/version.txt". */
  fixture: string;
  /** The help commands whose outputs (stdout then stderr, in order) make the fixture. */
  help: string[][];
  /** Before the generated args (a subcommand, a harness flag that makes the binary stop). */
  prefix?: string[];
  /** After the generated args (urfave: a command that exits at once). */
  suffix?: string[][];
  /** Flags left out of the lists: the harness's own, and those that run or open things. */
  excluded: string[];
  /** Values the program accepts, by long name, where the type's generic value would not do. */
  values?: Record<string, string>;
  /** Values the program accepts, by the type the help prints (custom pflag types such as rclone's SizeSuffix). */
  valuesByType?: Record<string, string>;
  /** Odd arguments worth trying on this program. */
  oddities?: string[][];
  /**
   * The binary's verdict from its exit: true accepted, false refused by the flag parser, undefined
   * refused by the program itself for a reason its help does not print (not compared, counted).
   */
  verdict: (result: { exitCode?: number; timedOut: boolean; output: string }, catalog: FlagCatalog) => boolean | undefined;
  /**
   * Refusals the guard cannot see, with the reason: a list the binary refuses and the guard passes
   * is listed and counted, not failed, when it matches (never the other way round).
   */
  blindSpot?: { why: string; matches: (args: string[]) => boolean };
  /** Milliseconds after which a still-running binary counts as started (it accepted its args). */
  startedAfter?: number;
  samples?: number;
}

export function goCatalog(program: GoProgram): FlagCatalog {
  const outcome = parseHelp(readFileSync(path.join(fixtures, program.fixture), 'utf8'));
  if (!outcome.ok) throw new Error(`${program.fixture}: ${outcome.reason}`);
  if (outcome.catalog.framework !== program.framework) throw new Error(`${program.fixture}: read as ${outcome.catalog.framework}, not ${program.framework}`);
  return outcome.catalog;
}

function valueOf(program: GoProgram, flag: FlagSpec): string {
  return program.values?.[flag.name] ?? program.valuesByType?.[flag.placeholder ?? ''] ?? goodValue(flag);
}

export function goArgumentLists(catalog: FlagCatalog, program: GoProgram): fc.Arbitrary<string[]> {
  const flags = catalog.flags.filter((f) => !f.hidden && !program.excluded.includes(f.name));
  const values = flags.filter((f) => f.takesValue);
  const booleans = flags.filter((f) => f.isBoolean);
  const counters = flags.filter((f) => f.valueType === 'count');
  const shorts = flags.filter((f) => f.short);
  const typed = values.filter((f) => badValue(f) !== undefined);
  const pick = <T>(items: T[]) => fc.constantFrom(...items);
  const single = program.framework === 'goflag' || program.framework === 'urfave';
  const dash = single ? fc.constantFrom('-', '--') : fc.constant('--');
  const tokens: Array<{ weight: number; arbitrary: fc.Arbitrary<string[]> }> = [];
  if (values.length > 0) {
    tokens.push({ weight: 6, arbitrary: fc.tuple(dash, pick(values)).chain(([d, f]) => pick([[`${d}${f.name}=${valueOf(program, f)}`], [`${d}${f.name}`, valueOf(program, f)]])) });
    tokens.push({ weight: 1, arbitrary: pick(values).map((f) => [`--${f.name}`]) });
    tokens.push({ weight: 1, arbitrary: pick(values).map((f) => [`--${f.name}`, '-']) });
    tokens.push({ weight: 1, arbitrary: pick(values).map((f) => [`--${f.name}`, valueOf(program, f), `--${f.name}`, valueOf(program, f)]) });
  }
  if (booleans.length > 0) {
    const forms = program.framework === 'kingpin'
      ? (f: FlagSpec) => [[`--${f.name}`], [`--no-${f.name}`], [`--${f.name}=true`], [`--${f.name}`, `--${f.name}`]]
      : (f: FlagSpec) => [[`--${f.name}`], [`--${f.name}=false`], [`--${f.name}=T`], [`--${f.name}=maybe`], [`--${f.name}`, 'true']];
    tokens.push({ weight: 4, arbitrary: pick(booleans).chain((f) => pick(forms(f))) });
  }
  if (counters.length > 0) {
    tokens.push({ weight: 2, arbitrary: pick(counters).chain((f) => pick([[`--${f.name}`], [`-${f.short ?? 'v'}`], [`-${f.short ?? 'v'}${f.short ?? 'v'}${f.short ?? 'v'}`], [`--${f.name}=3`], [`-${f.short ?? 'v'}=2`], [`--${f.name}=x`]])) });
  }
  if (shorts.length > 0 && !single) {
    tokens.push({ weight: 2, arbitrary: pick(shorts).chain((f) => pick(f.isBoolean || f.valueType === 'count' ? [[`-${f.short}`], [`-${f.short}=false`]] : [[`-${f.short}`, valueOf(program, f)], [`-${f.short}${valueOf(program, f)}`], [`-${f.short}=${valueOf(program, f)}`], [`-${f.short}`]])) });
  }
  if (typed.length > 0) tokens.push({ weight: 2, arbitrary: pick(typed).map((f) => [`--${f.name}=${badValue(f)}`]) });
  const junk = [['--not-a-flag'], ['---x'], ['-'], ['--'], ['stray'], ['-Z'], ['--=x'], ...(values[0] ? [[`--${values[0].name}x`]] : []), ...(program.oddities ?? [])];
  tokens.push({ weight: 3, arbitrary: pick(junk) });
  const lists = fc.array(fc.oneof(...tokens), { minLength: 1, maxLength: 5 }).map((groups) => groups.flat());
  if (!program.suffix) return lists;
  return fc.tuple(lists, pick(program.suffix)).map(([args, tail]) => [...args, ...tail]);
}

/** Two `it`s: the fixture is what the installed binary prints; the guard agrees with it on generated lists. */
export function goDifferentialSuite(program: GoProgram): void {
  const work = mkdtempSync(path.join(os.tmpdir(), `guard-${program.command}-`));
  const env = { PATH: '/usr/sbin:/usr/bin:/sbin:/bin', HOME: work, COLUMNS: '' };
  afterAll(() => rmSync(work, { recursive: true, force: true }));
  const run = (args: string[], timeout: number) => execa(program.command, args, { reject: false, timeout, cwd: work, env, extendEnv: false, stripFinalNewline: false, stdin: 'ignore' });

  describe(`${program.framework}: the guard against the real parser of ${program.name}`, () => {
    it('the fixture is what the installed binary prints', async () => {
      let live = '';
      for (const args of program.help) {
        const result = await run(args, 20_000);
        live += `${result.stdout}${result.stderr}`;
      }
      expect(live.replaceAll(work, '/tmp/h3w')).toBe(readFileSync(path.join(fixtures, program.fixture), 'utf8'));
    });

    it('agrees with the binary on every generated argument list', async () => {
      const catalog = goCatalog(program);
      const count = Number(process.env.GUARD_DIFFERENTIAL_SAMPLES ?? program.samples ?? 150);
      const samples = sample(goArgumentLists(catalog, program), count);
      const prefix = program.prefix ?? [];
      const result = await compareVerdicts(catalog, samples, async (args) => {
        const outcome = await run([...prefix, ...args], program.startedAfter ?? 20_000);
        if (outcome.timedOut && !program.startedAfter) throw new Error(`${program.command} ${args.join(' ')} did not exit`);
        return program.verdict({ exitCode: outcome.exitCode, timedOut: outcome.timedOut, output: `${outcome.stdout}${outcome.stderr}` }, catalog);
      }, { prefix });
      const falseBlocks = result.disagreements.filter((d) => d.includes('binary accepts'));
      const argsOf = (d: string) => JSON.parse(d.slice(0, d.indexOf(']: ') + 1)) as string[];
      const blind = result.disagreements.filter((d) => !d.includes('binary accepts') && program.blindSpot?.matches(argsOf(d)));
      console.log(`${program.framework} differential (${program.name}): ${result.total - result.disagreements.length}/${result.total} agree; ${falseBlocks.length} accepted by the binary but refused by the guard, ${result.disagreements.length - falseBlocks.length} refused by the binary but passed${blind.length > 0 ? ` (${blind.length} of them: ${program.blindSpot!.why})` : ''}; ${result.accepted} accepted by the binary; ${result.skipped} refused by the program for reasons its help does not print, not compared`);
      if (process.env.GUARD_DIFFERENTIAL_VERBOSE) console.log(result.disagreements.join('\n'));
      expect(result.disagreements.filter((d) => !blind.includes(d))).toEqual([]);
      expect(result.accepted).toBeGreaterThan(10);
      expect(result.total - result.accepted).toBeGreaterThan(10);
    });
  });
}

/** cobra/pflag's own refusals; anything else non-zero is the program's. */
export const PFLAG_REFUSAL = /unknown (shorthand )?flag|invalid argument .* for|flag needs an argument|bad flag syntax|if any flags in the group|required flag\(s\)/;
/** Go flag's own refusals. */
export const GOFLAG_REFUSAL = /flag provided but not defined|invalid (boolean )?value ".*" for flag|flag needs an argument|bad flag syntax/;

type Verdict = GoProgram['verdict'];
/** kingpin prints "<app>: error: ..." (Prometheus: "Error parsing commandline arguments") for what its parser refuses; anything else happened after parsing. */
export const kingpinVerdict = (command: string): Verdict => ({ output }) => {
  // kingpin's ExistingFile(s) values: whether a path exists is not the help's to say.
  if (new RegExp(`${command}: error: path '.*' does not exist`).test(output)) return undefined;
  return !output.includes(`${command}: error:`) && !output.includes('Error parsing commandline arguments');
};
/** Exit 0: accepted; cobra/pflag's message: refused; another failure: the program's own check. */
export const cobraVerdict: Verdict = ({ exitCode, output }, catalog) => {
  if (exitCode === 0) return true;
  // A value refused by the program's own pflag.Value type (rclone's SizeSuffix): its syntax is not in the help.
  const typed = /invalid argument .* for "(?:-\w, )?--([\w.-]+)" flag/.exec(output)?.[1];
  const spec = typed ? catalog.flags.find((f) => f.name === typed) : undefined;
  // pflag's own string type refuses nothing: a refusal there is the program's Value reporting "string" (rclone's --cutoff-mode).
  if (spec && (!spec.valueType || spec.valueType === 'string') && !spec.enumValues) return undefined;
  return PFLAG_REFUSAL.test(output) ? false : undefined;
};
export const goflagVerdict: Verdict = ({ exitCode, output }, catalog) => {
  if (exitCode === 0) return true;
  // A value refused by the program's own flag.Value type (webhook's -header name=value): not in the help.
  const typed = /invalid value .* for flag -([\w.-]+): /.exec(output)?.[1];
  const spec = typed ? catalog.flags.find((f) => f.name === typed) : undefined;
  if (spec && !spec.valueType) return undefined;
  return GOFLAG_REFUSAL.test(output) ? false : undefined;
};
export const urfaveVerdict: Verdict = ({ exitCode, output }) => (exitCode === 0 ? true : /Incorrect Usage|No help topic|Cannot use two forms|flag provided but not defined/.test(output) ? false : undefined);
