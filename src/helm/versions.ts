import semver from 'semver';
import { MAX_CONSTRAINT_LENGTH, compareMastermindsVersions, parseMastermindsConstraint, parseMastermindsVersion, type MastermindsVersion } from './masterminds-semver.js';

/**
 * Chart versions as Flux reads them (Masterminds semver): `v1.2.3`, `1.2` and `1` are versions;
 * a constraint may separate its parts with commas; an empty constraint or `*` means the latest
 * stable version. Constraints are read and versions ordered by Masterminds' rules
 * (masterminds-semver.ts), not npm's: they differ on which prereleases a range admits.
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

export type Constraint = { ok: true; range: { test(version: string): boolean } } | { ok: false; error: string };

/** A version constraint as source-controller reads it (an empty one is `*`: the latest stable version). */
export function parseConstraint(text: string | undefined): Constraint {
  const source = text === undefined || text.trim() === '' ? '*' : text.trim();
  const constraint = parseMastermindsConstraint(source);
  if (source.length > MAX_CONSTRAINT_LENGTH) return { ok: false, error: `the version constraint is longer than ${MAX_CONSTRAINT_LENGTH} characters` };
  if (!constraint) return { ok: false, error: `"${source}" is not a semver version or range` };
  return {
    ok: true,
    range: {
      test: (version) => {
        const parsed = parseMastermindsVersion(version);
        return parsed !== undefined && constraint.test(parsed);
      },
    },
  };
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
  let best: { candidate: T; version: MastermindsVersion } | undefined;
  for (const candidate of candidates) {
    const version = candidateVersion(versionOf(candidate));
    if (!version || !constraint.range.test(versionOf(candidate))) continue;
    if (!best || compareMastermindsVersions(version, best.version) > 0) best = { candidate, version };
  }
  return best?.candidate;
}

// The semver 2.0 grammar: Masterminds' StrictNewVersion.
const STRICT_SEMVER = /^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(?:-((?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*)(?:\.(?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*))*))?(?:\+([0-9a-zA-Z-]+(?:\.[0-9a-zA-Z-]+)*))?$/;

/**
 * A version of an index entry or a tag as source-controller reads it (fluxcd/pkg/version.ParseVersion):
 * strict semver after one leading `v`; anything else (`2.0`, `01.2.3`) is never picked by a range.
 */
function candidateVersion(text: string): MastermindsVersion | undefined {
  if (!STRICT_SEMVER.test(text.startsWith('v') ? text.slice(1) : text)) return undefined;
  return parseMastermindsVersion(text);
}
