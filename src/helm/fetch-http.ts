import { parse } from 'yaml';
import { memoized } from '../tools/memo.js';
import { archiveDigest } from './chart-cache.js';
import { describeUrl, guardedGet, type FetchFailure, type FetchPolicy } from './guarded-fetch.js';
import { parseConstraint, pickVersion } from './versions.js';

/** A chart from an HTTP(S) Helm repository: index.yaml, the entry Flux would pick, its archive. */

export const MAX_INDEX_BYTES = 64 * 1024 * 1024;
export const MAX_ARCHIVE_BYTES = 50 * 1024 * 1024;

export interface IndexEntry {
  version: string;
  /** Absolute URL of the archive, resolved against the repository URL as helm does. */
  url: string;
  /** sha256 hex of the archive, when the index states it. */
  digest?: string;
}

/** index.yaml of a repository, parsed; fetched once per run for all its charts. */
export type IndexCache = Map<string, Promise<{ ok: true; entries: Record<string, unknown> } | FetchFailure | { ok: false; kind: 'failed'; host: string; error: string }>>;

export type ChartFetch =
  | { ok: true; version: string; sha256: string; /** absent when the cache already holds that digest */ archive?: Buffer }
  | FetchFailure;

/**
 * Resolve `version` (exact, a range, or empty for the latest stable) in the repository's index
 * and download the archive, checking it against the index digest. `isCached(sha256)` lets a
 * chart the cache already holds skip the download.
 */
export async function fetchHttpChart(
  request: { repositoryUrl: string; chart: string; version?: string },
  policy: FetchPolicy,
  isCached: (sha256: string) => Promise<boolean>,
  indexes: IndexCache = new Map(),
): Promise<ChartFetch> {
  const base = request.repositoryUrl.replace(/\/+$/, '');
  const index = await memoized(indexes, base, () => fetchIndex(base, policy));
  if (!index.ok) return index;
  const entry = pickIndexEntry(index.entries, request.chart, request.version, base);
  if ('error' in entry) return { ok: false, kind: 'failed', host: new URL(base).host, error: entry.error };
  if (entry.digest && (await isCached(entry.digest))) return { ok: true, version: entry.version, sha256: entry.digest };
  const archive = await guardedGet({ url: entry.url, maxBytes: MAX_ARCHIVE_BYTES, purpose: `chart ${request.chart} ${entry.version} (from the index of ${describeUrl(base)})` }, policy);
  if (!archive.ok) return needsCredentials(archive);
  const sha256 = archiveDigest(archive.body);
  if (entry.digest && entry.digest !== sha256) {
    return { ok: false, kind: 'failed', host: new URL(entry.url).host, error: `chart ${request.chart} ${entry.version} from ${describeUrl(entry.url)} has sha256 ${sha256}, but the index says ${entry.digest}` };
  }
  return { ok: true, version: entry.version, sha256, archive: archive.body };
}

async function fetchIndex(base: string, policy: FetchPolicy) {
  const reply = await guardedGet({ url: `${base}/index.yaml`, maxBytes: MAX_INDEX_BYTES, purpose: `index.yaml of ${describeUrl(base)}` }, policy);
  if (!reply.ok) return needsCredentials(reply);
  const parsed = parseIndex(reply.body.toString('utf8'), base);
  return 'error' in parsed ? { ok: false as const, kind: 'failed' as const, host: new URL(base).host, error: parsed.error } : { ok: true as const, entries: parsed.entries };
}

/** A repository that wants credentials cannot be checked from here (the guard fetches anonymously): not the change's fault. */
function needsCredentials(failure: FetchFailure): FetchFailure {
  if (failure.kind !== 'failed' || (failure.status !== 401 && failure.status !== 403)) return failure;
  return { ...failure, kind: 'unreachable', error: `${failure.error}: the repository needs credentials, and the guard fetches charts anonymously (import the chart with guard charts import for offline use)` };
}

export function parseIndex(indexText: string, repositoryUrl: string): { entries: Record<string, unknown> } | { error: string } {
  let index: unknown;
  try {
    index = parse(indexText, { maxAliasCount: 1000, uniqueKeys: false });
  } catch (error) {
    return { error: `index.yaml of ${describeUrl(repositoryUrl)} is not valid YAML: ${(error as Error).message.split('\n')[0]}` };
  }
  const entries = (index as { entries?: unknown } | null)?.entries;
  return { entries: entries && typeof entries === 'object' ? (entries as Record<string, unknown>) : {} };
}

/** The index entry source-controller would choose, with its archive URL made absolute. */
export function pickIndexEntry(entries: Record<string, unknown>, chart: string, version: string | undefined, repositoryUrl: string): IndexEntry | { error: string } {
  const list = Object.hasOwn(entries, chart) ? entries[chart] : undefined;
  if (!Array.isArray(list) || list.length === 0) return { error: `chart ${chart} is not in the index of ${describeUrl(repositoryUrl)}` };
  const candidates = list.filter((e): e is { version: string; urls?: unknown; digest?: unknown } => typeof e === 'object' && e !== null && typeof (e as { version?: unknown }).version === 'string');
  const constraint = parseConstraint(version);
  if (!constraint.ok) return { error: `chart ${chart}: ${constraint.error}` };
  const picked = pickVersion(candidates, (c) => c.version, version);
  if (!picked) return { error: `no version of chart ${chart} in the index of ${describeUrl(repositoryUrl)} matches ${version ?? 'the latest stable version'}` };
  const first = Array.isArray(picked.urls) ? picked.urls.find((u): u is string => typeof u === 'string') : undefined;
  if (!first) return { error: `chart ${chart} ${picked.version} has no download URL in the index of ${describeUrl(repositoryUrl)}` };
  const url = resolveReferenceUrl(repositoryUrl, first);
  if (!url) return { error: `chart ${chart} ${picked.version}: the index names an invalid URL` };
  const digest = typeof picked.digest === 'string' && /^(sha256:)?[0-9a-f]{64}$/.test(picked.digest) ? picked.digest.replace(/^sha256:/, '') : undefined;
  return { version: picked.version, url, ...(digest ? { digest } : {}) };
}

/** helm's ResolveReferenceURL: a relative chart URL is resolved under the repository URL (with a trailing slash), keeping its query. */
export function resolveReferenceUrl(base: string, reference: string): string | undefined {
  try {
    if (/^[a-z][a-z0-9+.-]*:/i.test(reference)) return new URL(reference).toString();
    const baseUrl = new URL(base);
    baseUrl.pathname = `${baseUrl.pathname.replace(/\/+$/, '')}/`;
    const query = baseUrl.search;
    const resolved = new URL(reference, baseUrl);
    resolved.search = query;
    return resolved.toString();
  } catch {
    return undefined;
  }
}
