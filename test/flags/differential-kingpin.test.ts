import { execa } from 'execa';
import fc from 'fast-check';
import { promises as fs, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FlagSpec } from '../../src/flags/catalog.js';
import { parseKingpinHelp } from '../../src/flags/frameworks/kingpin.js';
import { validateArgs } from '../../src/flags/frameworks/registry.js';
import { fixtures } from '../support/paths.js';

/**
 * Differential test: the guard's verdict on an argument list against what the real kingpin
 * parser inside Debian's prometheus-alertmanager does with it. The binary is pointed at a config
 * file that does not exist, so it exits right after parsing: "error: ..." from kingpin means the
 * arguments were rejected, "Loading configuration file failed" means they were accepted.
 */
const BINARY = process.env.ALERTMANAGER_BIN ?? 'prometheus-alertmanager';
const HARNESS = ['config.file', 'storage.path', 'cluster.listen-address', 'web.listen-address', 'version', 'help'];
const fixture = readFileSync(path.join(fixtures, 'help/prometheus-alertmanager/0.25.0.txt'), 'utf8');
const catalog = parseKingpinHelp(fixture);
const flags = catalog.flags.filter((f) => !f.hidden && !HARNESS.includes(f.name));
let work: string;

beforeAll(async () => {
  work = await fs.mkdtemp(path.join(os.tmpdir(), 'guard-differential-'));
});
afterAll(async () => fs.rm(work, { recursive: true, force: true }));

function validValue(flag: FlagSpec): string {
  return flag.enumValues?.find((v) => v !== '') ?? flag.defaultValue ?? flag.placeholder ?? '';
}

const token = fc.oneof(
  { weight: 6, arbitrary: fc.constantFrom(...flags).map((f) => (f.isBoolean ? [`--${f.name}`] : [`--${f.name}=${validValue(f)}`])) },
  { weight: 3, arbitrary: fc.constantFrom(...flags.filter((f) => !f.isBoolean)).map((f) => [`--${f.name}`, validValue(f)]) },
  { weight: 2, arbitrary: fc.constantFrom(...flags.filter((f) => f.isBoolean)).chain((f) => fc.constantFrom([`--no-${f.name}`], [`--${f.name}=true`], [`--${f.name}=false`])) },
  { weight: 2, arbitrary: fc.constantFrom(['--log.level=verbose'], ['--log.format=xml'], ['--log.level', 'warning'], ['--log.level=warn']) },
  { weight: 2, arbitrary: fc.constantFrom(['--not-a-flag'], ['--log.levle=info'], ['--no-data.retention'], ['-x'], ['stray'], ['--'], ['--data.retention']) },
);

function guardAccepts(args: string[]): boolean {
  return validateArgs(catalog, args).length === 0;
}

async function binaryAccepts(args: string[]): Promise<boolean> {
  const result = await execa(
    BINARY,
    [`--config.file=${path.join(work, 'missing.yml')}`, `--storage.path=${path.join(work, 'data')}`, '--cluster.listen-address=', '--web.listen-address=127.0.0.1:0', ...args],
    { reject: false, timeout: 20_000 },
  );
  // kingpin reports parse errors as "<app>: error: ..."; anything else happened after parsing
  // (the missing config file at the latest), so the parser accepted the arguments.
  if (result.exitCode === 0) throw new Error(`${BINARY} started with ${JSON.stringify(args)}; the harness expects it to stop at the missing config`);
  return !result.stderr.includes(`${path.basename(BINARY)}: error:`);
}

describe('kingpin: the guard against the real parser of prometheus-alertmanager 0.25', () => {
  it('the fixture is what the installed binary prints', async () => {
    // kingpin wraps help at the terminal width; a pipe and COLUMNS unset give 80 columns.
    const live = await execa(BINARY, ['--help'], { reject: false, env: { COLUMNS: '' }, stripFinalNewline: false });
    expect((live.stdout + live.stderr).split('\n')).toEqual(fixture.split('\n'));
  });

  it('agrees with the binary on every generated argument list', async () => {
    const samples = fc.sample(fc.array(token, { minLength: 1, maxLength: 6 }).map((groups) => groups.flat()), { numRuns: 400, seed: 20261124 });
    const disagreements: string[] = [];
    let accepted = 0;
    for (let i = 0; i < samples.length; i += 4) {
      const batch = samples.slice(i, i + 4);
      const verdicts = await Promise.all(batch.map(binaryAccepts));
      batch.forEach((args, j) => {
        const guard = guardAccepts(args);
        if (verdicts[j]) accepted++;
        if (guard !== verdicts[j]) disagreements.push(`${JSON.stringify(args)}: binary ${verdicts[j] ? 'accepts' : 'rejects'}, guard ${guard ? 'accepts' : 'rejects'}`);
      });
    }
    console.log(`kingpin differential: ${samples.length - disagreements.length}/${samples.length} agree (${accepted} accepted by the binary)`);
    expect(disagreements).toEqual([]);
    expect(accepted).toBeGreaterThan(20);
    expect(samples.length - accepted).toBeGreaterThan(20);
  });
});
