/**
 * Version constraints as Masterminds/semver v3.4 reads them: the library source-controller and
 * helm use to pick a chart version from a range (`>=1.0.0-0`, `~1.2`, `1.x || ^2`, `1 - 2`).
 * It differs from npm's `semver` where it matters to what Flux installs: a prerelease in any part
 * of an AND group lets every prerelease through that group (npm admits only prereleases of the
 * same major.minor.patch), `x`/`*` and missing parts widen a constraint in its own way, commas
 * separate ANDs. Rules and order follow constraints.go and version.go of Masterminds/semver.
 */

export interface MastermindsVersion {
  major: bigint;
  minor: bigint;
  patch: bigint;
  pre: string;
}

// Masterminds' looseSemVerRegex (NewVersion with CoerceNewVersion, its default: leading zeros allowed).
const LOOSE_VERSION = /^v?([0-9]+)(\.[0-9]+)?(\.[0-9]+)?(-([0-9A-Za-z-]+(\.[0-9A-Za-z-]+)*))?(\+([0-9A-Za-z-]+(\.[0-9A-Za-z-]+)*))?$/;

export function parseMastermindsVersion(text: string): MastermindsVersion | undefined {
  const m = LOOSE_VERSION.exec(text);
  if (!m) return undefined;
  return {
    major: BigInt(m[1]!),
    minor: m[2] ? BigInt(m[2].slice(1)) : 0n,
    patch: m[3] ? BigInt(m[3].slice(1)) : 0n,
    pre: m[5] ?? '',
  };
}

const sign = (a: bigint, b: bigint): number => (a === b ? 0 : a < b ? -1 : 1);

export function compareMastermindsVersions(a: MastermindsVersion, b: MastermindsVersion): number {
  const segments = sign(a.major, b.major) || sign(a.minor, b.minor) || sign(a.patch, b.patch);
  if (segments !== 0) return segments;
  if (a.pre === '' && b.pre === '') return 0;
  if (a.pre === '') return 1;
  if (b.pre === '') return -1;
  return comparePrerelease(a.pre, b.pre);
}

function comparePrerelease(a: string, b: string): number {
  const left = a.split('.');
  const right = b.split('.');
  for (let i = 0; i < Math.max(left.length, right.length); i++) {
    const d = comparePrePart(left[i] ?? '', right[i] ?? '');
    if (d !== 0) return d;
  }
  return 0;
}

function comparePrePart(s: string, o: string): number {
  if (s === o) return 0;
  if (s === '') return -1;
  if (o === '') return 1;
  const sNumeric = /^[0-9]+$/.test(s);
  const oNumeric = /^[0-9]+$/.test(o);
  if (sNumeric && oNumeric) return sign(BigInt(s), BigInt(o));
  if (!sNumeric && !oNumeric) return s > o ? 1 : -1;
  // Numbers sort before identifiers with letters.
  return sNumeric ? -1 : 1;
}

interface Part {
  op: string;
  con: MastermindsVersion;
  dirty: boolean;
  minorDirty: boolean;
  patchDirty: boolean;
}

const OPS = '=||!=|>|<|>=|=>|<=|=<|~|~>|\\^';
const CV = '(?:v?([0-9|xX*]+)(\\.[0-9|xX*]+)?(\\.[0-9|xX*]+)?(-([0-9A-Za-z-]+(?:\\.[0-9A-Za-z-]+)*))?(?:\\+(?:[0-9A-Za-z-]+(?:\\.[0-9A-Za-z-]+)*))?)';
const CV_PLAIN = CV.replace(/\((?!\?)/g, '(?:');
const PART = new RegExp(`^\\s*(${OPS})\\s*(${CV})\\s*$`);
const FIND_PART = new RegExp(`(?:${OPS})\\s*${CV_PLAIN}`, 'g');
const VALID_GROUP = new RegExp(`^(?:\\s*(?:${OPS})\\s*${CV_PLAIN}\\s*)(?:(?:\\s+|,\\s*)(?:${OPS})\\s*${CV_PLAIN}\\s*)*$`);
const HYPHEN_RANGE = new RegExp(`\\s*(${CV_PLAIN})\\s+-\\s+(${CV_PLAIN})\\s*`, 'g');

const isX = (s: string | undefined) => s === 'x' || s === 'X' || s === '*';

function parsePart(text: string): Part | undefined {
  const m = PART.exec(text);
  if (!m) return undefined;
  const [, op = '', whole = '', major = '', minor = '', patch = '', pre = ''] = m;
  let version = whole;
  let dirty = false;
  let minorDirty = false;
  let patchDirty = false;
  if (isX(major) || major === '') {
    version = `0.0.0${pre}`;
    dirty = true;
  } else if (isX(minor.slice(1)) || minor === '') {
    version = `${major}.0.0${pre}`;
    dirty = minorDirty = true;
  } else if (isX(patch.slice(1)) || patch === '') {
    version = `${major}${minor}.0${pre}`;
    dirty = patchDirty = true;
  }
  const con = parseMastermindsVersion(version);
  return con ? { op, con, dirty, minorDirty, patchDirty } : undefined;
}

export interface MastermindsConstraint {
  test(version: MastermindsVersion): boolean;
}

/** Longer constraints are refused: no real one comes near, and the regular expressions here backtrack (Go's do not). */
export const MAX_CONSTRAINT_LENGTH = 1024;

/** Masterminds' NewConstraint; undefined where it returns an error (an empty string is one). */
export function parseMastermindsConstraint(text: string): MastermindsConstraint | undefined {
  if (text.length > MAX_CONSTRAINT_LENGTH) return undefined;
  const rewritten = text.replace(HYPHEN_RANGE, (_all, from: string, to: string) => `>= ${from}, <= ${to} `);
  const groups: { parts: Part[]; pre: boolean }[] = [];
  for (const segment of rewritten.split('||')) {
    if (!VALID_GROUP.test(segment)) return undefined;
    const found = segment.match(FIND_PART) ?? [segment];
    const parts: Part[] = [];
    for (const piece of found) {
      const part = parsePart(piece);
      if (!part) return undefined;
      parts.push(part);
    }
    groups.push({ parts, pre: parts.some((p) => p.con.pre !== '') });
  }
  return { test: (v) => groups.some((g) => g.parts.every((p) => check(v, p, g.pre))) };
}

function check(v: MastermindsVersion, c: Part, includePre: boolean): boolean {
  // A prerelease passes only an AND group that names a prerelease somewhere.
  if (v.pre !== '' && !includePre) return false;
  const cmp = compareMastermindsVersions(v, c.con);
  switch (c.op) {
    case '':
    case '=':
      return c.dirty ? tilde(v, c, cmp) : cmp === 0;
    case '!=':
      return notEqual(v, c, cmp);
    case '>':
      if (!c.dirty) return cmp > 0;
      if (v.major !== c.con.major) return v.major > c.con.major;
      if (c.minorDirty) return false;
      if (c.patchDirty) return v.minor > c.con.minor;
      return cmp > 0;
    case '<':
      return cmp < 0;
    case '>=':
    case '=>':
      return cmp >= 0;
    case '<=':
    case '=<':
      if (!c.dirty) return cmp <= 0;
      if (v.major > c.con.major) return false;
      return !(v.major === c.con.major && v.minor > c.con.minor && !c.minorDirty);
    case '~':
    case '~>':
      return tilde(v, c, cmp);
    case '^':
      return caret(v, c, cmp);
    default:
      return false;
  }
}

function notEqual(v: MastermindsVersion, c: Part, cmp: number): boolean {
  if (c.dirty) {
    if (c.con.major !== v.major) return true;
    if (c.con.minor !== v.minor && !c.minorDirty) return true;
    if (c.minorDirty) return false;
    if (c.con.patch !== v.patch && !c.patchDirty) return true;
    if (c.patchDirty) return (v.pre !== '' || c.con.pre !== '') && comparePrerelease(v.pre, c.con.pre) !== 0;
  }
  return cmp !== 0;
}

function tilde(v: MastermindsVersion, c: Part, cmp: number): boolean {
  if (cmp < 0) return false;
  if (c.con.major === 0n && c.con.minor === 0n && c.con.patch === 0n && !c.minorDirty && !c.patchDirty) return true;
  if (v.major !== c.con.major) return false;
  return v.minor === c.con.minor || c.minorDirty;
}

function caret(v: MastermindsVersion, c: Part, cmp: number): boolean {
  if (cmp < 0) return false;
  if (c.con.major > 0n || c.minorDirty) return v.major === c.con.major;
  if (v.major > 0n) return false;
  if (c.con.minor > 0n || c.patchDirty) return v.minor === c.con.minor;
  if (v.minor > 0n) return false;
  return v.patch === c.con.patch;
}
