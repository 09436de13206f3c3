import { memoized } from '../tools/memo.js';
import { blobDir, cachedVersions, chartYamlField, digestRef, isCachedChart, lookupRef, storeArchive, writeRef } from './chart-cache.js';
import { fetchHttpChart, type IndexCache } from './fetch-http.js';
import { fetchOciChart, type OciReference } from './fetch-oci.js';
import { describeUrl, hostOfUrl, type FetchPolicy } from './guarded-fetch.js';
import type { ChartMirror, ChartMirrors } from './mirrors.js';
import type { VerifiedTrees } from './tree-manifest.js';
import { isExactVersion, parseChartVersion, pickVersion } from './versions.js';

/**
 * Charts are fetched by the guard itself (never by helm), under the base policy's allow-list,
 * into the content-addressed cache of chart-cache.ts, and unpacked without links.
 */

export interface PullRequest {
  /** http(s) repository URL, or an oci:// base URL (the chart is its next path segment). */
  repositoryUrl: string;
  chart: string;
  /** An exact version or a semver range (empty: the latest stable version). */
  version?: string;
  /** OCI: how the chart is referenced; default: a tag for an exact version, else a semver range. */
  ociReference?: OciReference;
  /** OCI: plain HTTP, where the source is marked insecure. */
  plainHttp?: boolean;
}

export interface PullOptions {
  /** Whether the base policy lets the guard contact this URL's host:port. */
  isAllowedUrl: (url: string) => boolean;
  timeoutMs: number;
  /** `charts.mirrors` of the base policy: sources fetched from a mirror instead. */
  mirrors?: ChartMirrors;
  /** No network at all (`--offline`, `charts.resolve: cached`): only the chart cache answers. */
  offline?: boolean;
}

export type PullResult =
  | {
      ok: true;
      dir: string;
      /** version: of the Chart.yaml fetched */
      version?: string;
      /** sha256 of the chart archive: the chart's content identity. */
      sha256: string;
      /** Set when the cache answered a range (offline, or the repository could not be reached): says which version and why. */
      offline?: string;
      /** Set when the chart (or the index that named it) was fetched from a mirror of charts.mirrors. */
      mirror?: ChartMirror & { url: string };
    }
  /**
   * refused: a host the base policy does not allow (nothing sent); unreachable: an allowed host
   * did not answer (the guard could not check); failed: the source answered, without this chart.
   */
  | { ok: false; kind: 'refused' | 'unreachable' | 'failed'; host?: string; error: string };

/** Pulls of one run: each reference is resolved and fetched once, so base, head and every release using it get the same chart. */
export type RangePulls = Map<string, Promise<PullResult>>;

/** The index.yaml files of one run (keyed by its RangePulls), read once for all the charts of a repository, and the cached trees found intact. */
const runStates = new WeakMap<RangePulls, { indexes: IndexCache; verified: VerifiedTrees }>();

/**
 * The chart a reference names. An exact version or digest the cache holds is not fetched again;
 * anything else is resolved against the repository once per run (`pulls`). When the repository
 * cannot be reached, a range is answered from the versions the cache holds (e.g. imported with
 * `guard charts import`).
 */
export async function pullChart(request: PullRequest, cacheDir: string, options: PullOptions, pulls?: RangePulls): Promise<PullResult> {
  const reference = ociReferenceOf(request);
  const exactRef = reference ? exactRefOf(reference) : isExactVersion(request.version) ? normalizeVersion(request.version!) : undefined;
  let state = pulls ? runStates.get(pulls) : undefined;
  if (pulls && !state) runStates.set(pulls, (state = { indexes: new Map(), verified: new Map() }));
  if (exactRef) {
    const hit = await lookupRef(cacheDir, request.repositoryUrl, request.chart, exactRef, state?.verified);
    if (hit) return pulled(hit.dir, hit.sha256);
  }
  if (options.offline) return fromCacheOnly(request, reference, exactRef, cacheDir, state?.verified);
  const fetchOnce = () => fetchAndStore(request, reference, exactRef, cacheDir, options, state);
  return pulls ? memoized(pulls, JSON.stringify([cacheDir, request]), fetchOnce) : fetchOnce();
}

/** `--offline` / `charts.resolve: cached`: a range from the versions the cache holds; anything else it lacks cannot be checked. */
async function fromCacheOnly(request: PullRequest, reference: OciReference | undefined, exactRef: string | undefined, cacheDir: string, verified?: VerifiedTrees): Promise<PullResult> {
  const range = rangeOf(request, reference);
  if (!exactRef && range !== undefined) {
    const cached = await fromCache(request, range, cacheDir, verified);
    if (cached) return { ...cached, offline: `${describeRange(range)} resolved from the chart cache to ${request.chart} ${cached.version ?? ''} without the network (--offline or charts.resolve: cached); a newer matching version in the repository would not be seen` };
  }
  const source = reference ? `${request.repositoryUrl.replace(/\/+$/, '')}/${request.chart}` : request.repositoryUrl;
  const wanted = exactRef && reference && 'digest' in reference ? `@${reference.digest}` : exactRef ? exactRef : range !== undefined ? `(${describeRange(range)})` : `tag ${(reference as { tag: string }).tag}`;
  const how = reference && 'digest' in reference
    ? 'a digest is in the cache once the guard has fetched it with the network (guard charts import knows chart versions, not manifest digests)'
    : exactRef || range !== undefined
      ? `add it with: guard charts import <packaged ${request.chart} chart (.tgz) or its folder> --repo ${source}${exactRef ? ` --version ${exactRef}` : ''}`
      : 'offline, the cache answers chart versions, version ranges and digests only: pin one';
  return {
    ok: false,
    kind: 'unreachable',
    error: `chart ${request.chart} ${wanted} of ${describeUrl(source)} has no intact copy in the chart cache, and charts are not fetched from the network (--offline, or charts.resolve: cached in the base policy); ${how}`,
  };
}

/** Unpack a packaged chart (.tgz) into the cache, keyed by its content. */
export async function unpackChartArchive(archive: Buffer, cacheDir: string): Promise<PullResult> {
  const stored = await storeArchive(cacheDir, archive);
  return stored.ok ? pulled(stored.dir, stored.sha256) : { ok: false, kind: 'failed', error: stored.error };
}

async function fetchAndStore(
  request: PullRequest,
  reference: OciReference | undefined,
  exactRef: string | undefined,
  cacheDir: string,
  options: PullOptions,
  state?: { indexes: IndexCache; verified: VerifiedTrees },
): Promise<PullResult> {
  const oci = reference !== undefined;
  const mirrors = options.mirrors;
  const where = fetchLocation(request, oci, mirrors);
  const policy: FetchPolicy = {
    // A source a mirror stands for is never contacted; a mirror's host is, because the base policy names it.
    isAllowedUrl: (url) => !mirrors?.covers(url) && (options.isAllowedUrl(url) || mirrors?.isMirrorHost(url) === true),
    deadline: Date.now() + options.timeoutMs,
    allowPlainHttp: oci ? request.plainHttp === true : where.repositoryUrl.startsWith('http://'),
    ...(mirrors && mirrors.size > 0 && !oci ? { rewrite: (url: string) => mirrors.map(url)?.url ?? url } : {}),
  };
  const isCached = (sha256: string) => isCachedChart(cacheDir, sha256, state?.verified);
  const fetched = oci
    ? await fetchOciChart({ repositoryUrl: where.repositoryUrl, chart: where.chart, reference }, policy, isCached)
    : await fetchHttpChart({ ...request, repositoryUrl: where.repositoryUrl }, policy, isCached, state?.indexes);
  const viaMirror = where.mirror ? ` (fetched from ${where.mirror.to}, the mirror of ${where.mirror.from} in charts.mirrors)` : '';
  if (!fetched.ok) {
    if (fetched.kind === 'unreachable') {
      const range = rangeOf(request, reference);
      const cached = range !== undefined ? await fromCache(request, range, cacheDir, state?.verified) : undefined;
      if (cached) return { ...cached, offline: `${fetched.host} could not be reached; using ${request.chart} ${cached.version ?? ''} from the chart cache` };
    }
    return { ok: false, kind: fetched.kind, host: fetched.host, error: `${fetched.error}${viaMirror}` };
  }
  let dir = blobDir(cacheDir, fetched.sha256);
  if (fetched.archive) {
    const stored = await storeArchive(cacheDir, fetched.archive);
    if (!stored.ok) return { ok: false, kind: 'failed', host: hostOfUrl(request.repositoryUrl.replace(/^oci:/, 'https:')), error: `${describeUrl(request.repositoryUrl.replace(/^oci:/, 'https:'))} ${request.chart}: ${stored.error}` };
    dir = stored.dir;
  }
  const result = { ...(await pulled(dir, fetched.sha256)), ...(where.mirror ? { mirror: { ...where.mirror, url: where.mirrorUrl! } } : {}) };
  const version = fetched.version ?? result.version;
  if (version) await writeRef(cacheDir, request.repositoryUrl, request.chart, normalizeVersion(version), fetched.sha256);
  // The reference as written (a digest, or `v1.2.3` for an index entry `1.2.3`) finds it next time too.
  if (exactRef && exactRef !== version) await writeRef(cacheDir, request.repositoryUrl, request.chart, exactRef, fetched.sha256);
  return result;
}

/** Where the chart is fetched from: the source, or the mirror the base policy maps it to. OCI maps the chart's own URL. */
function fetchLocation(request: PullRequest, oci: boolean, mirrors: ChartMirrors | undefined): { repositoryUrl: string; chart: string; mirror?: ChartMirror; mirrorUrl?: string } {
  const sourceUrl = oci ? `${request.repositoryUrl.replace(/\/+$/, '')}/${request.chart}` : request.repositoryUrl;
  const mapped = mirrors?.map(sourceUrl);
  if (!mapped) return { repositoryUrl: request.repositoryUrl, chart: request.chart };
  if (!oci) return { repositoryUrl: mapped.url, chart: request.chart, mirror: mapped.mirror, mirrorUrl: mapped.url };
  const slash = mapped.url.lastIndexOf('/');
  return { repositoryUrl: mapped.url.slice(0, slash), chart: mapped.url.slice(slash + 1), mirror: mapped.mirror, mirrorUrl: mapped.url };
}

/** The semver range a reference asks for ('' for the latest stable), or undefined for an OCI tag or digest. */
function rangeOf(request: PullRequest, reference: OciReference | undefined): string | undefined {
  if (!reference) return isExactVersion(request.version) ? undefined : request.version ?? '';
  return 'semver' in reference ? reference.semver : undefined;
}

function describeRange(range: string): string {
  return range.trim() === '' || range.trim() === '*' ? 'the latest stable version' : `the version range ${range.trim()}`;
}

/** A range answered from the versions the cache holds: the newest one inside it. */
async function fromCache(request: PullRequest, range: string, cacheDir: string, verified?: VerifiedTrees): Promise<Extract<PullResult, { ok: true }> | undefined> {
  const versions = await cachedVersions(cacheDir, request.repositoryUrl, request.chart);
  // Newest first: a damaged newest entry gives way to the next one inside the range.
  let candidates = versions;
  for (;;) {
    const picked = pickVersion(candidates, (v) => v, range);
    if (!picked) return undefined;
    const hit = await lookupRef(cacheDir, request.repositoryUrl, request.chart, picked, verified);
    if (hit) return pulled(hit.dir, hit.sha256);
    candidates = candidates.filter((v) => v !== picked);
  }
}

function ociReferenceOf(request: PullRequest): OciReference | undefined {
  if (!request.repositoryUrl.startsWith('oci://')) return undefined;
  if (request.ociReference) return request.ociReference;
  // helm pull oci://... --version: a strict version is a tag, anything else a range over the tags.
  return isExactVersion(request.version) ? { tag: request.version!.replace('+', '_') } : { semver: request.version ?? '' };
}

function exactRefOf(reference: OciReference): string | undefined {
  if ('digest' in reference) return digestRef(reference.digest);
  if ('tag' in reference && parseChartVersion(reference.tag)) return normalizeVersion(reference.tag);
  return undefined;
}

/** Refs are stored under the chart's version as written, `+` for the `_` OCI tags use. */
function normalizeVersion(version: string): string {
  return version.trim().replace('_', '+');
}

async function pulled(dir: string, sha256: string): Promise<Extract<PullResult, { ok: true }>> {
  const version = await chartYamlField(dir, 'version');
  return { ok: true, dir, sha256, ...(version ? { version } : {}) };
}
