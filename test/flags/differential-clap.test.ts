import { execa } from 'execa';
import fc from 'fast-check';
import { readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import type { FlagSpec } from '../../src/flags/catalog.js';
import { parseClapHelp } from '../../src/flags/frameworks/clap.js';
import { badValue, compareVerdicts, goodValue, sample } from '../support/differential.js';
import { fixtures } from '../support/paths.js';

/**
 * clap: the guard's verdict against ripgrep 13 (clap 2) from Debian. Every generated list ends
 * with `-e foo /dev/null`, so an accepted list searches an empty file and exits 1 at once; clap
 * refuses with exit 2 and "error: ..." before anything runs.
 */
const help = readFileSync(path.join(fixtures, 'help/ripgrep/13.0.0.txt'), 'utf8');
const catalog = parseClapHelp(help);
const SEARCH = ['-e', 'foo', '/dev/null'];

// Left out: what prints and exits (help, version), modes that conflict with -e (files, type-list),
// flags whose values name files, commands or file types that ripgrep then opens or looks up.
const EXCLUDED = ['help', 'version', 'files', 'type-list', 'pcre2-version', 'pre', 'pre-glob', 'file', 'ignore-file', 'type', 'type-not', 'type-add', 'type-clear', 'json', 'regexp',
  // Values ripgrep parses itself with rules the help states only in prose (color specs, sizes, encodings, one-byte separators).
  'colors', 'encoding', 'path-separator', 'dfa-size-limit', 'regex-size-limit', 'max-filesize', 'engine',
  // --replace also takes values that start with a dash, so given twice it swallows even `-e`: a setting the help does not show.
  'replace'];
const flags = catalog.flags.filter((f) => !f.hidden && !EXCLUDED.includes(f.name));
const values = flags.filter((f) => !f.isBoolean);
const booleans = flags.filter((f) => f.isBoolean);
const shorts = flags.filter((f) => f.short);
const typed = values.filter((f) => badValue(f) !== undefined || f.valueType === 'usize');
const clapGood = (f: FlagSpec) => (f.valueType === 'usize' ? '3' : goodValue(f));
const clapBad = (f: FlagSpec) => (f.valueType === 'usize' ? 'three' : badValue(f) ?? 'x');
const token = fc.oneof(
  { weight: 5, arbitrary: fc.constantFrom(...values).chain((f: FlagSpec) => fc.constantFrom([`--${f.name}=${clapGood(f)}`], [`--${f.name}`, clapGood(f)])) },
  { weight: 4, arbitrary: fc.constantFrom(...booleans).chain((f: FlagSpec) => fc.constantFrom([`--${f.name}`], [`--${f.name}=yes`])) },
  { weight: 3, arbitrary: fc.constantFrom(...shorts).chain((f: FlagSpec) => (f.isBoolean ? fc.constant([`-${f.short}`]) : fc.constantFrom([`-${f.short}`, clapGood(f)], [`-${f.short}${clapGood(f)}`], [`-${f.short}=${clapGood(f)}`]))) },
  { weight: 2, arbitrary: fc.constantFrom(...typed).chain((f: FlagSpec) => fc.constantFrom([`--${f.name}=${clapBad(f)}`], [`--${f.name}`, '-1'])) },
  { weight: 1, arbitrary: fc.constantFrom('i', 'w', 'n', 'H', 'u', 'S').chain((a) => fc.constantFrom('v', 'x', 'c', 'l').map((b) => [`-${a}${b}`])) },
  { weight: 3, arbitrary: fc.constantFrom(['--not-a-flag'], ['--colour=never'], ['-Z'], ['-'], ['--context-separator'], ['--sort=bogus'], ['stray'], ['-A'], ['-m='], ['-A='], ['-.'], ['-n', '-nn'], ['-n', '-nnl'], ['-i', '-ini'], ['-i', '-inn'], ['-w', '-wnw'], ['-n', '-nll']) },
  // Options marked `...` take each occurrence's value apart; others given again swallow plain arguments.
  { weight: 2, arbitrary: fc.constantFrom(['-g', '*.rs', '-g', '!x', 'stray'], ['--glob', 'a', '--glob=b'], ['-E', 'utf8', '-E', 'latin1', 'stray'], ['--iglob', 'a', '--iglob', 'b', 'stray']) },
);
const argumentLists = fc.array(token, { minLength: 1, maxLength: 5 }).map((groups) => [...groups.flat(), ...SEARCH]);

async function accepts(args: string[]): Promise<boolean> {
  const result = await execa('rg', args, { reject: false, timeout: 20_000, cwd: os.tmpdir(), env: { HOME: os.tmpdir(), PATH: process.env.PATH ?? '' }, extendEnv: false, stdin: 'ignore' });
  if (result.timedOut) throw new Error(`rg ${args.join(' ')} did not exit`);
  // Exit 2 is a refusal at start (clap's "error: ...", or ripgrep's own number parsing), unless it is
  // ripgrep failing to open a path it was given ("stray: No such file or directory (os error 2)",
  // silent under --no-messages).
  return !(result.exitCode === 2 && result.stderr.trim() !== '' && !/\(os error \d+\)/.test(result.stderr));
}

describe('clap: the guard against the real parser of ripgrep 13 (clap 2)', () => {
  it('the fixture is what rg prints', async () => {
    const live = await execa('rg', ['--help'], { stripFinalNewline: false });
    expect(live.stdout).toBe(help);
  });

  it('agrees with rg on every generated argument list', async () => {
    const samples = sample(argumentLists, 500);
    const result = await compareVerdicts(catalog, samples, accepts);
    console.log(`clap differential (ripgrep 13.0.0): ${result.total - result.disagreements.length}/${result.total} agree (${result.accepted} accepted by the binary)`);
    expect(result.disagreements).toEqual([]);
    expect(result.accepted).toBeGreaterThan(25);
    expect(result.total - result.accepted).toBeGreaterThan(25);
  });
});
