import { execa } from 'execa';
import fc from 'fast-check';
import { readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import type { FlagCatalog, FlagSpec } from '../../src/flags/catalog.js';
import { parseGoflagHelp } from '../../src/flags/frameworks/goflag.js';
import { badValue, compareVerdicts, goodValue, sample } from '../support/differential.js';
import { fixtures } from '../support/paths.js';

/**
 * Go's flag package: the guard's verdict against two Debian binaries that use it. Both are given
 * their version flag first, so they exit right after parsing: 0 when the arguments were accepted,
 * 2 with flag's own error, or 1 when etcd refuses a stray argument.
 */
const helpOf = (file: string) => readFileSync(path.join(fixtures, 'help', file), 'utf8');

function argumentLists(catalog: FlagCatalog, exclude: string[]): fc.Arbitrary<string[]> {
  const flags = catalog.flags.filter((f) => !f.hidden && !exclude.includes(f.name));
  const values = flags.filter((f) => !f.isBoolean);
  const booleans = flags.filter((f) => f.isBoolean);
  const typed = values.filter((f) => badValue(f) !== undefined);
  const dash = fc.constantFrom('-', '--');
  const token = fc.oneof(
    { weight: 5, arbitrary: fc.tuple(dash, fc.constantFrom(...values)).chain(([d, f]: [string, FlagSpec]) => fc.constantFrom([`${d}${f.name}=${goodValue(f)}`], [`${d}${f.name}`, goodValue(f)])) },
    { weight: 3, arbitrary: fc.tuple(dash, fc.constantFrom(...booleans)).chain(([d, f]: [string, FlagSpec]) => fc.constantFrom([`${d}${f.name}`], [`${d}${f.name}=false`], [`${d}${f.name}=0`], [`${d}${f.name}=maybe`], [`${d}${f.name}`, 'true'])) },
    { weight: 2, arbitrary: typed.length > 0 ? fc.tuple(dash, fc.constantFrom(...typed)).map(([d, f]: [string, FlagSpec]) => [`${d}${f.name}=${badValue(f)}`]) : fc.constant([]) },
    { weight: 3, arbitrary: fc.constantFrom(['--not-a-flag'], [`-${values[0]!.name}x`], ['---x'], ['-'], ['--'], ['stray'], [`--${values[0]!.name}`], ['-=x']) },
  );
  return fc.array(token, { minLength: 1, maxLength: 5 }).map((groups) => groups.flat());
}

async function accepts(binary: string, prefix: string[], args: string[]): Promise<boolean> {
  const result = await execa(binary, [...prefix, ...args], { reject: false, timeout: 20_000, cwd: os.tmpdir(), env: { HOME: os.tmpdir(), PATH: process.env.PATH ?? '' }, extendEnv: false });
  if (result.timedOut) throw new Error(`${binary} ${args.join(' ')} did not exit`);
  return result.exitCode === 0;
}

describe("Go's flag package: the guard against the real parsers of etcd and snowflake-client", () => {
  const cases = [
    // --config-file makes etcd ignore every other flag; --version is the harness's own.
    // --backend-batch-interval is a duration whose help shows neither a type nor a real default
    // (''): nothing in the help says which values it refuses (a known blind spot, in the README).
    { name: 'etcd 3.4.23', binary: 'etcd', file: 'etcd/3.4.23.txt', help: ['--help'], prefix: ['--version'], exclude: ['config-file', 'version', 'backend-batch-interval'] },
    { name: 'snowflake-client 2.5.1', binary: 'snowflake-client', file: 'snowflake-client/2.5.1.txt', help: ['-h'], prefix: ['-version'], exclude: ['version'] },
  ];
  for (const c of cases) {
    it(`the fixture is what ${c.name} prints`, async () => {
      const live = await execa(c.binary, c.help, { reject: false, stripFinalNewline: false, all: true });
      expect(live.all).toBe(helpOf(c.file));
    });

    it(`agrees with ${c.name} on every generated argument list`, async () => {
      const catalog = parseGoflagHelp(helpOf(c.file));
      const samples = sample(argumentLists(catalog, c.exclude), 300);
      const result = await compareVerdicts(catalog, samples, (args) => accepts(c.binary, c.prefix, args), { prefix: c.prefix });
      console.log(`goflag differential (${c.name}): ${result.total - result.disagreements.length}/${result.total} agree (${result.accepted} accepted by the binary)`);
      expect(result.disagreements).toEqual([]);
      expect(result.accepted).toBeGreaterThan(25);
      expect(result.total - result.accepted).toBeGreaterThan(25);
    });
  }
});
