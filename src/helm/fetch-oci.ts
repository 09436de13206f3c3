import { createHash } from 'node:crypto';
import { archiveDigest } from './chart-cache.js';
import { MAX_ARCHIVE_BYTES } from './fetch-http.js';
import { guardedGet, type FetchFailure, type FetchPolicy, type FetchResult } from './guarded-fetch.js';
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
const MANIFEST_TYPES = 'application/vnd.oci.image.manifest.v1+json, application/vnd.docker.distribution.manifest.v2+json';
const MAX_MANIFEST_BYTES = 4 * 1024 * 1024;
const MAX_TAG_PAGES = 20;
/** The distribution spec's grammar for repository names, tags and digests: nothing else reaches a URL. */
const NAME = /^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:\/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*$/;
const TAG = /^[A-Za-z0-9_][A-Za-z0-9._-]{0,127}$/;
const DIGEST = /^sha256:[0-9a-f]{64}$/;

export async function fetchOciChart(request: OciChartRequest, policy: FetchPolicy, isCached: (sha256: string) => Promise<boolean>): Promise<OciFetch> {
  const where = parseRepository(request);
  if ('error' in where) return { ok: false, kind: 'failed', host: '', error: where.error };
  const registry = new Registry(`${policy.allowPlainHttp ? 'http' : 'https'}://${where.host}`, where.name, policy);
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
  const manifest = await registry.get(`/manifests/${manifestRef}`, MAX_MANIFEST_BYTES, `the manifest of oci://${where.host}/${where.name}:${manifestRef}`, MANIFEST_TYPES);
  if (!manifest.ok) return manifest;
  const manifestDigest = `sha256:${createHash('sha256').update(manifest.body).digest('hex')}`;
  const expected = 'digest' in ref ? ref.digest : manifest.headers.get('docker-content-digest') ?? undefined;
  if (expected && DIGEST.test(expected) && expected !== manifestDigest) {
    return { ok: false, kind: 'failed', host: where.host, error: `the manifest of oci://${where.host}/${where.name}@${manifestRef} has digest ${manifestDigest}, not ${expected}` };
  }
  const layer = chartLayer(manifest.body);
  if ('error' in layer) return { ok: false, kind: 'failed', host: where.host, error: `oci://${where.host}/${where.name}@${manifestRef}: ${layer.error}` };
  const sha256 = layer.digest.slice('sha256:'.length);
  const version = tag && parseChartVersion(tag) ? tag.replace('_', '+') : undefined;
  if (await isCached(sha256)) return { ok: true, tag, version, sha256 };
  if (layer.size !== undefined && layer.size > MAX_ARCHIVE_BYTES) {
    return { ok: false, kind: 'failed', host: where.host, error: `the chart layer of oci://${where.host}/${where.name} is ${layer.size} bytes, more than the ${MAX_ARCHIVE_BYTES} the guard accepts` };
  }
  const blob = await registry.get(`/blobs/${layer.digest}`, MAX_ARCHIVE_BYTES, `the chart layer of oci://${where.host}/${where.name}@${manifestRef}`);
  if (!blob.ok) return blob;
  const actual = archiveDigest(blob.body);
  if (actual !== sha256) return { ok: false, kind: 'failed', host: where.host, error: `the chart layer of oci://${where.host}/${where.name} has sha256 ${actual}, not ${sha256} as its manifest says` };
  return { ok: true, tag, version, sha256, archive: blob.body };
}

function parseRepository(request: OciChartRequest): { host: string; name: string } | { error: string } {
  const rest = request.repositoryUrl.replace(/^oci:\/\//, '').replace(/\/+$/, '');
  const slash = rest.indexOf('/');
  const host = slash < 0 ? rest : rest.slice(0, slash);
  const name = [slash < 0 ? '' : rest.slice(slash + 1), request.chart].filter(Boolean).join('/');
  if (!/^[A-Za-z0-9.-]+(?::\d{1,5})?$/.test(host) && !/^\[[0-9a-fA-F:]+\](?::\d{1,5})?$/.test(host)) return { error: `${request.repositoryUrl} does not name a registry host` };
  if (!NAME.test(name)) return { error: `"${name}" is not a valid OCI repository name` };
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

/** One repository of one registry, with the anonymous token it hands out (if it asks for one). */
class Registry {
  private token?: string;

  constructor(
    private readonly base: string,
    private readonly name: string,
    private readonly policy: FetchPolicy,
  ) {}

  async tags(): Promise<{ ok: true; tags: string[] } | FetchFailure> {
    const tags: string[] = [];
    let next: string | undefined = `/tags/list?n=1000`;
    for (let page = 0; next && page < MAX_TAG_PAGES; page++) {
      const result = await this.get(next, MAX_MANIFEST_BYTES, `the tags of ${this.base.replace(/^https?/, 'oci')}/${this.name}`);
      if (!result.ok) return result;
      let parsed: { tags?: unknown };
      try {
        parsed = JSON.parse(result.body.toString('utf8'));
      } catch {
        return { ok: false, kind: 'failed', host: new URL(this.base).host, error: `the tag list of ${this.name} is not JSON` };
      }
      if (Array.isArray(parsed.tags)) tags.push(...parsed.tags.filter((t): t is string => typeof t === 'string'));
      next = nextPage(result.headers.get('link'), this.name);
    }
    return { ok: true, tags };
  }

  async get(suffix: string, maxBytes: number, purpose: string, accept?: string): Promise<FetchResult> {
    const url = `${this.base}/v2/${this.name}${suffix}`;
    const request = () => guardedGet({ url, maxBytes, purpose, headers: { ...(accept ? { accept } : {}), ...(this.token ? { authorization: `Bearer ${this.token}` } : {}) } }, this.policy);
    const first = await request();
    if (first.ok || first.kind !== 'failed' || first.status !== 401 || this.token) return this.unauthorized(first);
    const challenge = first.headers?.get('www-authenticate') ?? '';
    const token = await this.anonymousToken(challenge);
    if ('error' in token) return token.failure;
    this.token = token.token;
    return this.unauthorized(await request());
  }

  /** A registry that refuses anonymous access cannot be checked from here: not the change's fault. */
  private unauthorized(result: FetchResult): FetchResult {
    if (result.ok || result.kind !== 'failed' || (result.status !== 401 && result.status !== 403)) return result;
    return { ...result, kind: 'unreachable', error: `${result.error}: the registry needs credentials, and the guard fetches charts anonymously (import the chart with guard charts import for offline use)` };
  }

  private async anonymousToken(challenge: string): Promise<{ token: string } | { error: true; failure: FetchFailure }> {
    const host = new URL(this.base).host;
    const params = parseBearerChallenge(challenge);
    if (!params?.realm) {
      return { error: true, failure: { ok: false, kind: 'unreachable', host, error: `${host} asks for credentials (${challenge.split(' ')[0] || 'no challenge'}), and the guard fetches charts anonymously` } };
    }
    let tokenUrl: URL;
    try {
      tokenUrl = new URL(params.realm);
    } catch {
      return { error: true, failure: { ok: false, kind: 'failed', host, error: `${host} names an invalid token realm` } };
    }
    if (params.service) tokenUrl.searchParams.set('service', params.service);
    tokenUrl.searchParams.set('scope', params.scope ?? `repository:${this.name}:pull`);
    const reply = await guardedGet({ url: tokenUrl.toString(), maxBytes: 1024 * 1024, purpose: `the anonymous token of ${host}` }, this.policy);
    if (!reply.ok) return { error: true, failure: reply };
    try {
      const body = JSON.parse(reply.body.toString('utf8')) as { token?: unknown; access_token?: unknown };
      const token = typeof body.token === 'string' ? body.token : typeof body.access_token === 'string' ? body.access_token : undefined;
      if (token && /^[\x21-\x7e]+$/.test(token)) return { token };
    } catch {
      // fall through
    }
    return { error: true, failure: { ok: false, kind: 'failed', host: reply.url ? new URL(reply.url).host : host, error: `the token service of ${host} answered without a token` } };
  }
}

/** `Bearer realm="...",service="...",scope="..."` as a map. */
export function parseBearerChallenge(header: string): Record<string, string> | undefined {
  const match = /^\s*Bearer\s+(.*)$/i.exec(header);
  if (!match) return undefined;
  const params: Record<string, string> = {};
  for (const [, key, quoted, bare] of match[1]!.matchAll(/([A-Za-z_]+)=(?:"([^"]*)"|([^,\s]*))/g)) params[key!.toLowerCase()] = quoted ?? bare ?? '';
  return params;
}

/** The next page of a tag list (`Link: </v2/name/tags/list?last=x&n=y>; rel="next"`), only within the same repository. */
function nextPage(link: string | null, name: string): string | undefined {
  const target = link ? /<([^>]+)>\s*;\s*rel="?next"?/.exec(link)?.[1] : undefined;
  if (!target) return undefined;
  const prefix = `/v2/${name}/tags/list`;
  try {
    const url = new URL(target, 'http://registry.invalid');
    return url.pathname === prefix ? `/tags/list${url.search}` : undefined;
  } catch {
    return undefined;
  }
}
