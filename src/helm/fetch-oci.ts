import { DIGEST, MEDIA_TYPES, REPOSITORY_NAME, RegistryClient, TAG, isRegistryHost } from '../registry/distribution.js';
import { MAX_ARCHIVE_BYTES } from './fetch-http.js';
import type { FetchFailure, FetchPolicy } from './guarded-fetch.js';
import { parseChartVersion, pickVersion } from './versions.js';

/**
 * A chart from an OCI registry through the distribution API, as helm's registry client gets it:
 * an anonymous bearer token where the registry asks for one, the manifest by tag or digest, and
 * the chart layer, each checked against its digest.
 */

export type OciReference = { digest: string } | { semver: string } | { tag: string };

export interface OciChartRequest {
  /** oci://host[:port]/path: the repository the chart is the next path segment of. */
  repositoryUrl: string;
  chart: string;
  reference: OciReference;
}

export type OciFetch =
  | { ok: true; tag?: string; version?: string; sha256: string; archive?: Buffer }
  | FetchFailure;

export const CHART_LAYER_TYPES = ['application/vnd.cncf.helm.chart.content.v1.tar+gzip', 'application/tar+gzip'];
const MANIFEST_TYPES = [MEDIA_TYPES.ociManifest, MEDIA_TYPES.dockerManifest];
const ANONYMOUS = 'and the guard fetches charts anonymously (import the chart with guard charts import for offline use)';
export { parseBearerChallenge } from '../registry/distribution.js';

export async function fetchOciChart(request: OciChartRequest, policy: FetchPolicy, isCached: (sha256: string) => Promise<boolean>): Promise<OciFetch> {
  const where = parseRepository(request);
  if ('error' in where) return { ok: false, kind: 'failed', host: '', error: where.error };
  const registry = new RegistryClient({ host: where.host, repository: where.name, policy, credentialHint: ANONYMOUS });
  const ref = request.reference;
  let tag: string | undefined;
  if ('semver' in ref) {
    const tags = await registry.tags();
    if (!tags.ok) return tags;
    tag = pickVersion(tags.tags, (t) => t.replace('_', '+'), ref.semver);
    if (!tag) return { ok: false, kind: 'failed', host: where.host, error: `no tag of oci://${where.host}/${where.name} matches the semver range ${ref.semver}` };
  } else if ('tag' in ref) {
    tag = ref.tag;
    if (!TAG.test(tag)) return { ok: false, kind: 'failed', host: where.host, error: `"${tag}" is not a valid OCI tag` };
  } else if (!DIGEST.test(ref.digest)) {
    return { ok: false, kind: 'failed', host: where.host, error: `"${ref.digest}" is not a sha256 digest` };
  }
  const manifestRef = tag ?? (ref as { digest: string }).digest;
  const manifest = await registry.manifest(manifestRef, MANIFEST_TYPES, `the manifest of oci://${where.host}/${where.name}:${manifestRef}`);
  if (!manifest.ok) return manifest;
  const layer = chartLayer(manifest.body);
  if ('error' in layer) return { ok: false, kind: 'failed', host: where.host, error: `oci://${where.host}/${where.name}@${manifestRef}: ${layer.error}` };
  const sha256 = layer.digest.slice('sha256:'.length);
  const version = tag && parseChartVersion(tag) ? tag.replace('_', '+') : undefined;
  if (await isCached(sha256)) return { ok: true, tag, version, sha256 };
  if (layer.size !== undefined && layer.size > MAX_ARCHIVE_BYTES) {
    return { ok: false, kind: 'failed', host: where.host, error: `the chart layer of oci://${where.host}/${where.name} is ${layer.size} bytes, more than the ${MAX_ARCHIVE_BYTES} the guard accepts` };
  }
  const blob = await registry.blob(layer.digest, MAX_ARCHIVE_BYTES, `the chart layer of oci://${where.host}/${where.name}@${manifestRef}`);
  if (!blob.ok) return blob;
  return { ok: true, tag, version, sha256, archive: blob.body };
}

function parseRepository(request: OciChartRequest): { host: string; name: string } | { error: string } {
  const rest = request.repositoryUrl.replace(/^oci:\/\//, '').replace(/\/+$/, '');
  const slash = rest.indexOf('/');
  const host = slash < 0 ? rest : rest.slice(0, slash);
  const name = [slash < 0 ? '' : rest.slice(slash + 1), request.chart].filter(Boolean).join('/');
  if (!isRegistryHost(host)) return { error: `${request.repositoryUrl} does not name a registry host` };
  if (!REPOSITORY_NAME.test(name)) return { error: `"${name}" is not a valid OCI repository name` };
  return { host, name };
}

function chartLayer(body: Buffer): { digest: string; size?: number } | { error: string } {
  let manifest: { layers?: Array<{ mediaType?: unknown; digest?: unknown; size?: unknown }> };
  try {
    manifest = JSON.parse(body.toString('utf8'));
  } catch {
    return { error: 'the manifest is not JSON' };
  }
  const layers = Array.isArray(manifest?.layers) ? manifest.layers : [];
  const charts = layers.filter((l) => typeof l.mediaType === 'string' && CHART_LAYER_TYPES.includes(l.mediaType));
  if (charts.length !== 1) return { error: `the manifest has ${charts.length} Helm chart layers (${CHART_LAYER_TYPES[0]}); it is not a Helm chart` };
  const digest = charts[0]!.digest;
  if (typeof digest !== 'string' || !DIGEST.test(digest)) return { error: 'the chart layer has no sha256 digest' };
  return { digest, ...(typeof charts[0]!.size === 'number' ? { size: charts[0]!.size } : {}) };
}
