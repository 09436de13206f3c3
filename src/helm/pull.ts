import { memoized } from '../tools/memo.js';
import { isChartDir } from './chart-dirs.js';
import { blobDir, cachedVersions, chartYamlField, digestRef, lookupRef, storeArchive, writeRef } from './chart-cache.js';
import { fetchHttpChart, type IndexCache } from './fetch-http.js';
import { fetchOciChart, type OciReference } from './fetch-oci.js';
import { describeUrl, hostOfUrl, type FetchPolicy } from './guarded-fetch.js';
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
}

export type PullResult =
  | {
      ok: true;
      dir: string;
      /** version: of the Chart.yaml fetched */
      version?: string;
      /** sha256 of the chart archive: the chart's content identity. */
      sha256: string;
      /** Set when the repository could not be reached and the cache answered a range. */
      offline?: string;
    }
  /**
   * refused: a host the base policy does not allow (nothing sent); unreachable: an allowed host
   * did not answer (the guard could not check); failed: the source answered, without this chart.
   */
  | { ok: false; kind: 'refused' | 'unreachable' | 'failed'; host?: string; error: string };

/** Pulls of one run: each reference is resolved and fetched once, so base, head and every release using it get the same chart. */
export type RangePulls = Map<string, Promise<PullResult>>;

/** The index.yaml files of one run (keyed by its RangePulls): read once for all the charts of a repository. */
const indexCaches = new WeakMap<RangePulls, IndexCache>();

/**
 * The chart a reference names. An exact version or digest the cache holds is not fetched again;
 * anything else is resolved against the repository once per run (`pulls`). When the repository
 * cannot be reached, a range is answered from the versions the cache holds (e.g. imported with
 * `guard charts import`).
 */
export async function pullChart(request: PullRequest, cacheDir: string, options: PullOptions, pulls?: RangePulls): Promise<PullResult> {
  const reference = ociReferenceOf(request);
  const exactRef = reference ? exactRefOf(reference) : isExactVersion(request.version) ? normalizeVersion(request.version!) : undefined;
  if (exactRef) {
    const hit = await lookupRef(cacheDir, request.repositoryUrl, request.chart, exactRef);
    if (hit) return pulled(hit.dir, hit.sha256);
  }
  let indexes = pulls ? indexCaches.get(pulls) : undefined;
  if (pulls && !indexes) indexCaches.set(pulls, (indexes = new Map()));
  const fetchOnce = () => fetchAndStore(request, reference, exactRef, cacheDir, options, indexes);
  return pulls ? memoized(pulls, JSON.stringify([cacheDir, request]), fetchOnce) : fetchOnce();
}

/** Unpack a packaged chart (.tgz) into the cache, keyed by its content. */
export async function unpackChartArchive(archive: Buffer, cacheDir: string): Promise<PullResult> {
  const stored = await storeArchive(cacheDir, archive);
  return stored.ok ? pulled(stored.dir, stored.sha256) : { ok: false, kind: 'failed', error: stored.error };
}

async function fetchAndStore(request: PullRequest, reference: OciReference | undefined, exactRef: string | undefined, cacheDir: string, options: PullOptions, indexes?: IndexCache): Promise<PullResult> {
  const oci = reference !== undefined;
  const policy: FetchPolicy = {
    isAllowedUrl: options.isAllowedUrl,
    deadline: Date.now() + options.timeoutMs,
    allowPlainHttp: oci ? request.plainHttp === true : request.repositoryUrl.startsWith('http://'),
  };
  const isCached = (sha256: string) => isChartDir(blobDir(cacheDir, sha256));
  const fetched = oci
    ? await fetchOciChart({ repositoryUrl: request.repositoryUrl, chart: request.chart, reference }, policy, isCached)
    : await fetchHttpChart(request, policy, isCached, indexes);
  if (!fetched.ok) {
    if (fetched.kind === 'unreachable') {
      const cached = await fromCache(request, reference, cacheDir);
      if (cached) return { ...cached, offline: `${fetched.host} could not be reached; using ${request.chart} ${cached.version ?? ''} from the chart cache` };
    }
    return { ok: false, kind: fetched.kind, host: fetched.host, error: fetched.error };
  }
  let dir = blobDir(cacheDir, fetched.sha256);
  if (fetched.archive) {
    const stored = await storeArchive(cacheDir, fetched.archive);
    if (!stored.ok) return { ok: false, kind: 'failed', host: hostOfUrl(request.repositoryUrl.replace(/^oci:/, 'https:')), error: `${describeUrl(request.repositoryUrl.replace(/^oci:/, 'https:'))} ${request.chart}: ${stored.error}` };
    dir = stored.dir;
  }
  const result = await pulled(dir, fetched.sha256);
  const version = fetched.version ?? result.version;
  if (version) await writeRef(cacheDir, request.repositoryUrl, request.chart, normalizeVersion(version), fetched.sha256);
  // The reference as written (a digest, or `v1.2.3` for an index entry `1.2.3`) finds it next time too.
  if (exactRef && exactRef !== version) await writeRef(cacheDir, request.repositoryUrl, request.chart, exactRef, fetched.sha256);
  return result;
}

/** A range (or OCI tag) answered from the cache when the repository is out of reach. */
async function fromCache(request: PullRequest, reference: OciReference | undefined, cacheDir: string): Promise<Extract<PullResult, { ok: true }> | undefined> {
  const range = reference ? ('semver' in reference ? reference.semver : undefined) : request.version;
  if (reference && !('semver' in reference)) return undefined;
  const versions = await cachedVersions(cacheDir, request.repositoryUrl, request.chart);
  const picked = pickVersion(versions, (v) => v, range);
  if (!picked) return undefined;
  const hit = await lookupRef(cacheDir, request.repositoryUrl, request.chart, picked);
  return hit ? pulled(hit.dir, hit.sha256) : undefined;
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
