import { describe, expect, it } from 'vitest';
import semver from 'semver';
import { parseMastermindsConstraint, parseMastermindsVersion } from '../../src/helm/masterminds-semver.js';
import { parseConstraint, pickVersion } from '../../src/helm/versions.js';

const satisfies = (version: string, constraint: string) => {
  const parsed = parseConstraint(constraint);
  if (!parsed.ok) throw new Error(parsed.error);
  return parsed.range.test(version);
};
const pick = (versions: string[], wanted: string | undefined) => pickVersion(versions, (v) => v, wanted);

describe('chart version ranges read as source-controller reads them (Masterminds semver)', () => {
  it('a constraint naming a prerelease admits every prerelease, where npm semver admits only the same major.minor.patch', () => {
    expect(semver.satisfies('1.5.0-rc.1', '>=1.0.0-0')).toBe(false);
    expect(satisfies('1.5.0-rc.1', '>=1.0.0-0')).toBe(true);
    expect(pick(['1.4.0', '1.5.0-rc.1'], '>=1.0.0-0')).toBe('1.5.0-rc.1');
  });

  it('a prerelease anywhere in an AND group opens the whole group, not other || groups', () => {
    expect(satisfies('1.5.0-rc.1', '>=1.0.0-0, <2.0.0')).toBe(true);
    expect(satisfies('1.5.0-rc.1', '>=1.0.0-0 <2.0.0')).toBe(true);
    expect(satisfies('3.0.0-rc.1', '>=1.0.0-0 <2.0.0 || >=3.0.0')).toBe(false);
    expect(satisfies('3.0.0', '>=1.0.0-0 <2.0.0 || >=3.0.0')).toBe(true);
  });

  it('without a prerelease in the constraint, prereleases are never picked (the latest stable version)', () => {
    expect(pick(['1.4.0', '1.5.0-rc.1'], '>=1.0.0')).toBe('1.4.0');
    expect(pick(['1.4.0', '1.5.0-rc.1'], undefined)).toBe('1.4.0');
    expect(pick(['1.4.0', '1.5.0-rc.1'], '*')).toBe('1.4.0');
    expect(pick(['1.4.0-rc.1', '1.4.0-rc.2'], '*')).toBeUndefined();
    // An exact string match comes first, as in source-controller.
    expect(pick(['1.4.0', '1.5.0-rc.1'], '1.5.0-rc.1')).toBe('1.5.0-rc.1');
  });

  it('tilde, caret, x ranges, hyphen ranges and missing parts follow Masterminds', () => {
    expect(satisfies('1.2.9', '~1.2.3')).toBe(true);
    expect(satisfies('1.3.0', '~1.2.3')).toBe(false);
    expect(satisfies('1.9.0', '~1')).toBe(true);
    expect(satisfies('1.9.9', '^1.2')).toBe(true);
    expect(satisfies('2.0.0', '^1.2')).toBe(false);
    expect(satisfies('0.2.9', '^0.2.3')).toBe(true);
    expect(satisfies('0.3.0', '^0.2.3')).toBe(false);
    expect(satisfies('0.0.4', '^0.0.3')).toBe(false);
    expect(satisfies('1.7.0', '1.x')).toBe(true);
    expect(satisfies('2.0.0', '1.x')).toBe(false);
    expect(satisfies('1.5.0', '1.0 - 2.0')).toBe(true);
    expect(satisfies('2.0.5', '1.0 - 2.0')).toBe(true); // <= 2.0 (dirty) admits every 2.0.x
    expect(satisfies('2.1.0', '1.0 - 2.0')).toBe(false);
    expect(satisfies('11.1.0', '>11')).toBe(false); // Masterminds: >11 needs 12 or higher
    expect(semver.satisfies('11.1.0', '>11')).toBe(false);
    expect(satisfies('11.2.0', '>11.1')).toBe(true);
    expect(satisfies('11.1.5', '>11.1')).toBe(false);
    expect(satisfies('1.3.0', '!=1.2.x')).toBe(true);
    expect(satisfies('1.2.4', '!=1.2.x')).toBe(false);
    expect(satisfies('1.2.4', '=>1.2, =<1.2.4')).toBe(true);
    expect(satisfies('v1.2.3', '1.2.3')).toBe(true);
  });

  it('a range picks only strict versions (a leading v allowed), as source-controller parses index entries and tags', () => {
    expect(pick(['1.9.0', '2.0'], '*')).toBe('1.9.0');
    expect(pick(['1.9.0', '01.2.3', '2.0.0.1'], '>=1.0.0')).toBe('1.9.0');
    expect(pick(['1.9.0', 'v2.0.0'], '>=1.0.0')).toBe('v2.0.0');
    expect(pick(['1.9.0', '2.0.0+build.1'], '*')).toBe('2.0.0+build.1');
  });

  it('orders prereleases as semver does (numbers before words, shorter first)', () => {
    expect(pick(['1.0.0-rc.2', '1.0.0-rc.10', '1.0.0-rc'], '>=1.0.0-0')).toBe('1.0.0-rc.10');
    expect(pick(['1.0.0-alpha', '1.0.0-1'], '>=1.0.0-0')).toBe('1.0.0-alpha');
  });

  it('refuses what Masterminds refuses', () => {
    expect(parseConstraint('>=a.b').ok).toBe(false);
    expect(parseConstraint('>= 1.0 <<2').ok).toBe(false);
    expect(parseMastermindsConstraint('')).toBeUndefined();
    expect(parseMastermindsVersion('1.2.3.4')).toBeUndefined();
    // The empty constraint of a HelmRelease means the latest stable version.
    expect(parseConstraint('').ok).toBe(true);
  });

  it('is linear on hostile input', () => {
    const started = Date.now();
    for (const hostile of [`${'1'.repeat(500)}.${'x'.repeat(500)} ${'>'.repeat(20)}`, '1.0 - '.repeat(170), '1 - '.repeat(250), '>=1' + '.1'.repeat(500)]) parseConstraint(hostile);
    expect(parseConstraint('1'.repeat(5000))).toMatchObject({ ok: false, error: expect.stringContaining('longer than 1024') });
    expect(Date.now() - started).toBeLessThan(500);
  });
});
