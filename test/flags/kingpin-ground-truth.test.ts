import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseHelp } from '../../src/flags/frameworks/registry.js';
import { parseKingpinHelp } from '../../src/flags/frameworks/kingpin.js';
import { externalDnsData } from '../support/paths.js';

const TAGS = ['v0.14.0', 'v0.14.1', 'v0.18.0', 'v0.19.0', 'v0.22.0'];

/**
 * Where external-dns's help prose and kingpin's enum disagree. The guard trusts the help (it is
 * what a user can capture from any image), so these are the known, accepted differences.
 */
const HELP_DRIFT: Record<string, string> = {
  'log-level': 'the help text omits "trace", which the enum accepts (from v0.18.0)',
  'pihole-api-version': 'the help lists options (5, 6) that the binary checks after parsing, not as a kingpin enum',
};

interface TruthRow {
  flag: string;
  takes: string;
  repeatable: string;
  required: string;
  hidden: string;
  enumOptions: string;
}

function truth(tag: string): TruthRow[] {
  const [, ...rows] = readFileSync(path.join(externalDnsData, `flags-${tag}.tsv`), 'utf8').trim().split('\n');
  return rows.map((row) => {
    const [flag, takes, repeatable, required, hidden, enumOptions] = row.split('\t');
    return { flag: flag!.replace(/^--/, ''), takes: takes!, repeatable: repeatable!, required: required!, hidden: hidden!, enumOptions: enumOptions ?? '' };
  });
}

describe.each(TAGS)('kingpin help of external-dns %s against kingpin\'s own flag model', (tag) => {
  const help = readFileSync(path.join(externalDnsData, `help-${tag}.txt`), 'utf8');
  const catalog = parseKingpinHelp(help);
  const rows = truth(tag);

  it('is detected as kingpin', () => {
    const parsed = parseHelp(help);
    expect(parsed.ok && parsed.catalog.framework).toBe('kingpin');
    expect(catalog.program).toBe('external-dns');
  });

  it('lists exactly the flags --help prints, and accepts the hidden ones', () => {
    const printed = rows.filter((r) => r.hidden === 'no').map((r) => r.flag).sort();
    expect(catalog.flags.filter((f) => !f.hidden).map((f) => f.name).sort()).toEqual(printed);
    for (const row of rows.filter((r) => r.hidden === 'yes')) expect(catalog.flags.some((f) => f.name === row.flag)).toBe(true);
  });

  it('reads bool-ness, repeatability, required-ness and enum options of every flag', () => {
    const mismatches: string[] = [];
    for (const row of rows.filter((r) => r.hidden === 'no')) {
      const spec = catalog.flags.find((f) => f.name === row.flag)!;
      if (spec.isBoolean !== (row.takes === 'bool')) mismatches.push(`${row.flag}: bool`);
      if (spec.repeatable !== (row.repeatable === 'yes')) mismatches.push(`${row.flag}: repeatable`);
      if (spec.required !== (row.required === 'yes')) mismatches.push(`${row.flag}: required`);
      const expected = row.enumOptions === '' ? undefined : row.enumOptions.split('|').filter((o) => o !== '').sort();
      const actual = spec.enumValues?.filter((o) => o !== '').sort();
      if (JSON.stringify(actual) !== JSON.stringify(expected) && !HELP_DRIFT[row.flag]) mismatches.push(`${row.flag}: options ${JSON.stringify(actual)} vs ${JSON.stringify(expected)}`);
      if (row.enumOptions.startsWith('|') && !spec.enumValues?.includes('')) mismatches.push(`${row.flag}: accepts ""`);
    }
    expect(mismatches).toEqual([]);
  });

  it('keeps the help line of each flag for evidence', () => {
    const source = catalog.flags.find((f) => f.name === 'source')!;
    expect(help.split('\n')[source.line - 1]).toContain('--source=source ...');
    expect(source.envVar === undefined || source.envVar === 'EXTERNAL_DNS_SOURCE').toBe(true);
  });
});
