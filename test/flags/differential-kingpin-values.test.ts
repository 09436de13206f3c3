import { execa } from 'execa';
import { promises as fs, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseKingpinHelp } from '../../src/flags/frameworks/kingpin.js';
import { validateArgs } from '../../src/flags/frameworks/registry.js';
import { fixtures } from '../support/paths.js';

/**
 * Typed values of kingpin flags (types inferred from the printed default) against the real
 * parser of Debian's prometheus-alertmanager: a duration flag (`--cluster.probe-timeout=500ms`,
 * Go time.ParseDuration) and a number flag (`--web.get-concurrency=0`). The guard must never
 * refuse what the binary accepts; where it accepts what the binary refuses, the value is one a
 * custom Value type behind the same default could take (Prometheus durations such as `1d`), listed.
 */
const BINARY = process.env.ALERTMANAGER_BIN ?? 'prometheus-alertmanager';
const catalog = parseKingpinHelp(readFileSync(path.join(fixtures, 'help/prometheus-alertmanager/0.25.0.txt'), 'utf8'));
let work: string;

beforeAll(async () => {
  work = await fs.mkdtemp(path.join(os.tmpdir(), 'guard-differential-values-'));
});
afterAll(async () => fs.rm(work, { recursive: true, force: true }));

async function binaryAccepts(args: string[]): Promise<boolean> {
  const result = await execa(
    BINARY,
    [`--config.file=${path.join(work, 'missing.yml')}`, `--storage.path=${path.join(work, 'data')}`, '--cluster.listen-address=', '--web.listen-address=127.0.0.1:0', ...args],
    { reject: false, timeout: 20_000 },
  );
  if (result.exitCode === 0) throw new Error(`${BINARY} started with ${JSON.stringify(args)}`);
  return !result.stderr.includes(`${path.basename(BINARY)}: error:`);
}

const DURATIONS = ['5', '5s', '1.5h', '.5s', '5.s', '.s', '-1s', '+3m', '', 'abc', '1h30m', '30m1h', '1µs', '1us', '1ns', '0', '00', '-0', '1e3s', '9999999999999h', '3000000h', '2562047h', '2562048h', '1d', '1w', ' 5s', '5s ', '5 s', '1h-1m', '0x10s'];
const NUMBERS = ['0', '10', '-1', '0x10', '1_000', 'ten', '', '1.5', '5s', '99999999999999999999', '+4', ' 1'];
/**
 * Accepted by the guard although this binary refuses them, because another Value type behind the
 * same printed default would take them: Prometheus' model.Duration (`1d`, `1w`, hour counts past
 * int64 nanoseconds, which its pattern does not bound), a duration or a Go base-prefixed integer
 * for a flag whose default is a bare number (`5s`, `0x10`).
 */
const LENIENT = new Set(['1d', '1w', '9999999999999h', '3000000h', '2562048h', '5s', '0x10', '1.5', '99999999999999999999']);

describe('kingpin typed values: the guard against prometheus-alertmanager 0.25', () => {
  it('reads the value types from the printed defaults', () => {
    expect(catalog.flags.find((f) => f.name === 'cluster.probe-timeout')?.valueType).toBe('duration');
    expect(catalog.flags.find((f) => f.name === 'data.retention')?.valueType).toBe('duration');
    expect(catalog.flags.find((f) => f.name === 'web.get-concurrency')?.valueType).toBe('number');
    expect(catalog.flags.find((f) => f.name === 'web.listen-address')?.valueType).toBeUndefined();
  });

  it('never refuses a value the binary accepts, and refuses what it refuses (but for the listed leniency)', async () => {
    const cases = [
      ...DURATIONS.map((value) => ['--cluster.probe-timeout', value] as const),
      ...NUMBERS.map((value) => ['--web.get-concurrency', value] as const),
    ];
    const falseBlocks: string[] = [];
    const misses: string[] = [];
    let agree = 0;
    for (let i = 0; i < cases.length; i += 4) {
      const batch = cases.slice(i, i + 4);
      const verdicts = await Promise.all(batch.map(([flag, value]) => binaryAccepts([`${flag}=${value}`])));
      batch.forEach(([flag, value], j) => {
        const guard = validateArgs(catalog, [`${flag}=${value}`]).length === 0;
        if (guard === verdicts[j]) agree++;
        else if (!guard) falseBlocks.push(`${flag}=${JSON.stringify(value)}`);
        else misses.push(value);
      });
    }
    console.log(`kingpin typed values: ${agree}/${cases.length} agree with ${BINARY}; accepted by leniency: ${misses.join(', ') || 'none'}`);
    expect(falseBlocks).toEqual([]);
    expect(misses.filter((value) => !LENIENT.has(value))).toEqual([]);
    expect(agree).toBeGreaterThanOrEqual(cases.length - LENIENT.size);
  }, 120_000);
});
