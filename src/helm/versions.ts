import semver from 'semver';

/**
 * Chart versions as Flux reads them (Masterminds semver): `v1.2.3`, `1.2` and `1` are versions;
 * a constraint may separate its parts with commas; an empty constraint or `*` means the latest
 * stable version. The `semver` package does the comparing.
 */

const LOOSE_VERSION = /^v?(\d+)(?:\.(\d+))?(?:\.(\d+))?(-[0-9A-Za-z.-]+)?(\+[0-9A-Za-z.-]+)?$/;

/** The canonical semver of a chart version or OCI tag (`_` stands for `+` in tags), or undefined. */
export function parseChartVersion(text: string): string | undefined {
  const match = LOOSE_VERSION.exec(text.trim().replace('_', '+'));
  if (!match) return undefined;
  const [, major, minor = '0', patch = '0', pre = '', build = ''] = match;
  return semver.valid(`${major}.${minor}.${patch}${pre}${build}`) ?? undefined;
}

/** An exact version (not a range): the cache may answer it without asking the repository. */
export function isExactVersion(text: string | undefined): boolean {
  return text !== undefined && /^v?\d+\.\d+\.\d+(?:[-+_][0-9A-Za-z.+-]*)?$/.test(text.trim());
}

export type Constraint = { ok: true; range: semver.Range } | { ok: false; error: string };

export function parseConstraint(text: string | undefined): Constraint {
  const source = text === undefined || text.trim() === '' ? '*' : text.trim();
  try {
    return { ok: true, range: new semver.Range(source.replace(/,\s*/g, ' '), { loose: true }) };
  } catch {
    return { ok: false, error: `"${source}" is not a semver version or range` };
  }
}

/**
 * The version a constraint picks among candidates, as source-controller does: an exact string
 * match first, else the highest version that satisfies it.
 */
export function pickVersion<T>(candidates: T[], versionOf: (c: T) => string, wanted: string | undefined): T | undefined {
  if (wanted && wanted.trim() !== '' && wanted.trim() !== '*') {
    const exact = candidates.find((c) => versionOf(c) === wanted.trim());
    if (exact) return exact;
  }
  const constraint = parseConstraint(wanted);
  if (!constraint.ok) return undefined;
  let best: { candidate: T; version: string } | undefined;
  for (const candidate of candidates) {
    const version = parseChartVersion(versionOf(candidate));
    if (!version || !constraint.range.test(version)) continue;
    if (!best || semver.gt(version, best.version)) best = { candidate, version };
  }
  return best?.candidate;
}
