import { urlHost } from './guarded-fetch.js';
import { GuardError } from '../errors.js';
import { normalizeRepositoryUrl } from './chart-cache.js';

/**
 * `charts.mirrors` of the base policy: a chart source URL prefix (or a bare host) mapped to the
 * URL the guard fetches from instead. The source itself is then never contacted; the mirror's host
 * may be contacted because the base policy names it, and only for that.
 */

export interface ChartMirror {
  /** As written in the policy: a URL prefix, or a host[:port]. */
  from: string;
  /** The URL prefix the guard fetches from instead. */
  to: string;
}

export interface MirroredUrl {
  url: string;
  mirror: ChartMirror;
}

export class ChartMirrors {
  private readonly entries: Array<ChartMirror & { prefix?: string; host?: string }>;
  private readonly mirrorHosts: Set<string>;

  /** `policy`: where the mapping was written, for messages (".guard.yaml at base abc123"). */
  constructor(mapping: Record<string, string> | undefined, policy = 'charts.mirrors') {
    this.entries = Object.entries(mapping ?? {}).map(([from, to]) => readEntry(from, to, policy));
    // Longest prefix first: the most specific mirror wins.
    this.entries.sort((a, b) => (b.prefix ?? b.host ?? '').length - (a.prefix ?? a.host ?? '').length);
    this.mirrorHosts = new Set(this.entries.map((e) => urlHost(e.to)));
    for (const entry of this.entries) {
      const loop = this.map(entry.to);
      if (loop) throw new GuardError(`${policy}: the mirror ${entry.to} of ${entry.from} is itself covered by the mirror of ${loop.mirror.from}; a mirror must not be mirrored again`);
    }
  }

  get size(): number {
    return this.entries.length;
  }

  /** The URL to fetch instead of `url`, when a mirror covers it. */
  map(url: string): MirroredUrl | undefined {
    const normalized = normalizeRepositoryUrl(url);
    for (const entry of this.entries) {
      if (entry.prefix !== undefined) {
        if (normalized === entry.prefix || normalized.startsWith(`${entry.prefix}/`)) return { url: `${entry.to}${normalized.slice(entry.prefix.length)}`, mirror: entry };
        continue;
      }
      const scheme = /^([a-z][a-z0-9+.-]*):\/\/([^/?#]*)(.*)$/i.exec(normalized);
      // A bare host mirrors the sources of its kind: oci:// ones to an oci:// mirror, http(s) ones to an http(s) one.
      if (scheme && scheme[2]!.toLowerCase() === entry.host && schemeOf(normalized) === schemeOf(entry.to)) return { url: `${entry.to}${scheme[3]}`, mirror: entry };
    }
    return undefined;
  }

  /** Whether the guard would fetch `url` from a mirror instead (so it never contacts it). */
  covers(url: string): boolean {
    return this.map(url) !== undefined;
  }

  /** Whether `url` is on the host of a mirror the base policy names. */
  isMirrorHost(url: string): boolean {
    const host = urlHost(url);
    return host !== '' && this.mirrorHosts.has(host);
  }
}

function readEntry(from: string, to: string, policy: string): ChartMirror & { prefix?: string; host?: string } {
  const target = normalizeRepositoryUrl(to);
  const targetScheme = schemeOf(target);
  if (!targetScheme || !urlHost(target)) throw new GuardError(`${policy}: the mirror of ${from} is ${to}, which is not an http(s):// or oci:// URL`);
  if (/^[A-Za-z0-9.-]+(?::\d{1,5})?$/.test(from.trim())) return { from, to: target, host: from.trim().toLowerCase() };
  const prefix = normalizeRepositoryUrl(from);
  const sourceScheme = schemeOf(prefix);
  if (!sourceScheme || !urlHost(prefix)) throw new GuardError(`${policy}: ${from} is neither an http(s):// or oci:// URL prefix nor a host`);
  if ((sourceScheme === 'oci') !== (targetScheme === 'oci')) {
    throw new GuardError(`${policy}: ${from} is mirrored by ${to}; an oci:// source needs an oci:// mirror and an http(s) chart repository an http(s) one`);
  }
  return { from, to: target, prefix };
}

function schemeOf(url: string): 'oci' | 'http' | undefined {
  if (/^oci:\/\//i.test(url)) return 'oci';
  if (/^https?:\/\//i.test(url)) return 'http';
  return undefined;
}

