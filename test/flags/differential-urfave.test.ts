import { execa } from 'execa';
import fc from 'fast-check';
import { promises as fs, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FlagSpec } from '../../src/flags/catalog.js';
import { parseUrfaveHelp } from '../../src/flags/frameworks/urfave.js';
import { compareVerdicts, goodValue, sample } from '../support/differential.js';
import { fixtures } from '../support/paths.js';

/**
 * urfave/cli: the guard's verdict against Debian's runc (urfave/cli v1). Each generated list of
 * global options ends with a command; `list` and `features` print and exit 0 at once, so a
 * non-zero exit means urfave/cli (or Go's flag package under it) refused the arguments.
 */
const help = readFileSync(path.join(fixtures, 'help/runc/1.1.5.txt'), 'utf8');
const catalog = parseUrfaveHelp(help);
let work: string;
beforeAll(async () => {
  work = await fs.mkdtemp(path.join(os.tmpdir(), 'guard-urfave-'));
});
afterAll(async () => fs.rm(work, { recursive: true, force: true }));

// --root is the harness's own (state in a temp dir); --log-format is checked by runc's own hook, not by urfave/cli.
const flags = catalog.flags.filter((f) => !['root', 'log-format'].includes(f.name));
const values = flags.filter((f) => !f.isBoolean);
const booleans = flags.filter((f) => f.isBoolean && !['help', 'h', 'version', 'v'].includes(f.name));
const dash = fc.constantFrom('-', '--');
const token = fc.oneof(
  { weight: 5, arbitrary: fc.tuple(dash, fc.constantFrom(...values)).chain(([d, f]: [string, FlagSpec]) => fc.constantFrom([`${d}${f.name}=${goodValue(f)}`], [`${d}${f.name}`, goodValue(f)])) },
  { weight: 4, arbitrary: fc.tuple(dash, fc.constantFrom(...booleans)).chain(([d, f]: [string, FlagSpec]) => fc.constantFrom([`${d}${f.name}`], [`${d}${f.name}=false`], [`${d}${f.name}=maybe`], [`${d}${f.name}`, 'true'])) },
  { weight: 1, arbitrary: fc.constantFrom(['--help'], ['-h'], ['-v'], ['--version']) },
  { weight: 3, arbitrary: fc.constantFrom(['--not-a-flag'], ['--rootles=auto'], ['---x'], ['-D'], ['--'], ['stray'], ['--log']) },
);
const argumentLists = fc.tuple(fc.array(token, { minLength: 0, maxLength: 4 }), fc.constantFrom('list', 'features', 'lsit')).map(([groups, command]) => [...groups.flat(), command]);

async function accepts(args: string[]): Promise<boolean> {
  const result = await execa('runc', ['--root', path.join(work, 'state'), ...args], { reject: false, timeout: 20_000, cwd: work });
  if (result.timedOut) throw new Error(`runc ${args.join(' ')} did not exit`);
  return result.exitCode === 0;
}

describe('urfave/cli: the guard against the real parser of runc 1.1.5', () => {
  it('the fixture is what runc prints', async () => {
    const live = await execa('runc', ['--help'], { stripFinalNewline: false, all: true });
    expect(live.all).toBe(help);
  });

  it('agrees with runc on every generated argument list', async () => {
    const samples = sample(argumentLists, 300);
    const result = await compareVerdicts(catalog, samples, accepts, { prefix: ['--root', path.join(work, 'state')] });
    console.log(`urfave differential (runc 1.1.5): ${result.total - result.disagreements.length}/${result.total} agree (${result.accepted} accepted by the binary)`);
    expect(result.disagreements).toEqual([]);
    expect(result.accepted).toBeGreaterThan(25);
    expect(result.total - result.accepted).toBeGreaterThan(25);
  });
});
