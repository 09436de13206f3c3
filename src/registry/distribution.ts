import { createHash } from 'node:crypto';
import type { FileHandle } from 'node:fs/promises';
import { guardedGet, type FetchFailure, type FetchPolicy, type FetchResult } from '../helm/guarded-fetch.js';
import { printable } from '../report/printable.js';
import type { RegistryCredential } from './credentials.js';

/**
 * One repository of one registry through the OCI distribution API, as container runtimes and
 * helm reach it: anonymous where the registry allows it, else a bearer token from the realm the
 * registry names (with the host's credentials, when it has some) or basic auth to the host itself.
 * Every request goes through guardedGet (allow-list on every hop, no Authorization across origins).
 */

/** The distribution spec's grammar for repository names, tags and digests: nothing else reaches a URL. */
export const REPOSITORY_NAME = /^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:\/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*$/;
export const TAG = /^[A-Za-z0-9_][A-Za-z0-9._-]{0,127}$/;
export const DIGEST = /^sha256:[0-9a-f]{64}$/;
const HOST = /^(?:[A-Za-z0-9.-]+|\[[0-9a-fA-F:]+\])(?::\d{1,5})?$/;

export const MEDIA_TYPES = {
  ociIndex: 'application/vnd.oci.image.index.v1+json',
  dockerList: 'application/vnd.docker.distribution.manifest.list.v2+json',
  ociManifest: 'application/vnd.oci.image.manifest.v1+json',
  dockerManifest: 'application/vnd.docker.distribution.manifest.v2+json',
} as const;

export const MAX_MANIFEST_BYTES = 4 * 1024 * 1024;
const MAX_TAG_PAGES = 20;
const MAX_TOKEN_BYTES = 1024 * 1024;
/** A registry's failure as quoted in a finding: enough to recognise it. */
const MAX_ERROR_CHARS = 600;

export function isRegistryHost(host: string): boolean {
  return HOST.test(host);
}

/** The names Docker Hub answers under; an image on any of them is on docker.io. */
export const DOCKER_HUB_NAMES: ReadonlySet<string> = new Set(['docker.io', 'index.docker.io', 'registry-1.docker.io', 'registry.hub.docker.com']);

/** The host the API of a registry answers on: Docker Hub's names lead to registry-1.docker.io. */
export function registryApiHost(host: string): string {
  const lower = host.toLowerCase();
  return DOCKER_HUB_NAMES.has(lower) ? 'registry-1.docker.io' : lower;
}

/** The name a registry is known by (allow-lists, credentials): lower case, Docker Hub's names as docker.io. */
export function canonicalRegistry(host: string): string {
  const lower = host.trim().toLowerCase();
  return DOCKER_HUB_NAMES.has(lower) ? 'docker.io' : lower;
}

const DOMAIN = /^(?:(?:[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)(?:\.(?:[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?))*|\[[0-9A-Fa-f:.]+\])(?::[0-9]{1,5})?$/;
const ANY_DIGEST = /^[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9A-Fa-f]{32,}$/;

/**
 * Why an image reference (already split: repository with its registry, tag, digest) is one a
 * container runtime refuses (the kubelet's InvalidImageName), or undefined when it is valid by the
 * distribution reference grammar. An invalid reference names no image: no registry is asked and no
 * help file is looked up for it (its path could name another image's help, `a/../b`).
 */
export function imageReferenceProblem(image: { repository: string; tag: string; digest?: string; original: string }): string | undefined {
  const shown = `"${printable(image.original)}"`;
  if (/\s/.test(image.original.trim())) return `${shown} is not a valid image reference (it holds white space)`;
  const slash = image.repository.indexOf('/');
  const domain = image.repository.slice(0, slash);
  const path = image.repository.slice(slash + 1);
  if (slash <= 0 || !DOMAIN.test(domain)) return `${shown} is not a valid image reference (registry "${printable(domain)}")`;
  if (!REPOSITORY_NAME.test(path) || image.repository.length > 255) return `${shown} is not a valid image reference (repository "${printable(path)}": lower-case letters, digits and separators only)`;
  if (!TAG.test(image.tag)) return `${shown} is not a valid image reference (tag "${printable(image.tag)}")`;
  if (image.digest !== undefined && !ANY_DIGEST.test(image.digest)) return `${shown} is not a valid image reference (digest "${printable(image.digest)}")`;
  return undefined;
}

export function sha256Digest(body: Buffer): string {
  return `sha256:${createHash('sha256').update(body).digest('hex')}`;
}

export interface RegistryClientOptions {
  /** host[:port] of the registry's API. */
  host: string;
  /** The repository name inside the registry (already checked against REPOSITORY_NAME). */
  repository: string;
  policy: FetchPolicy;
  /** The credential of exactly this host, if any: sent only to it and to the token realm it names. */
  credential?: RegistryCredential;
  /** Appended to the message when the registry still refuses: what the user can do about it. */
  credentialHint?: string;
}


export class RegistryClient {
  readonly host: string;
  readonly repository: string;
  private readonly base: string;
  private authorization?: string;
  private triedAuth = false;

  constructor(private readonly options: RegistryClientOptions) {
    this.host = options.host;
    this.repository = options.repository;
    this.base = `${options.policy.allowPlainHttp ? 'http' : 'https'}://${options.host}`;
  }

  /** `oci://host/name`, for messages. */
  get display(): string {
    return `${this.host}/${this.repository}`;
  }

  async tags(): Promise<{ ok: true; tags: string[] } | FetchFailure> {
    const tags: string[] = [];
    let next: string | undefined = `/tags/list?n=1000`;
    for (let page = 0; next && page < MAX_TAG_PAGES; page++) {
      const result = await this.get(next, MAX_MANIFEST_BYTES, `the tags of oci://${this.display}`);
      if (!result.ok) return result;
      let parsed: { tags?: unknown };
      try {
        parsed = JSON.parse(result.body.toString('utf8'));
      } catch {
        return { ok: false, kind: 'failed', host: this.host, error: `the tag list of ${this.repository} is not JSON` };
      }
      if (Array.isArray(parsed.tags)) tags.push(...parsed.tags.filter((t): t is string => typeof t === 'string'));
      next = nextPage(result.headers.get('link'), this.repository);
    }
    return { ok: true, tags };
  }

  /**
   * A manifest (or index) by tag or digest, with the digest of the bytes received: checked against
   * the digest asked for, and against the Docker-Content-Digest the registry claims.
   */
  async manifest(reference: string, accept: readonly string[], purpose: string, maxBytes = MAX_MANIFEST_BYTES): Promise<{ ok: true; body: Buffer; digest: string; mediaType?: string } | FetchFailure> {
    if (!TAG.test(reference) && !DIGEST.test(reference)) return { ok: false, kind: 'failed', host: this.host, error: `"${printable(reference)}" is neither a valid tag nor a sha256 digest` };
    const result = await this.get(`/manifests/${reference}`, maxBytes, purpose, accept.join(', '));
    if (!result.ok) return result;
    const digest = sha256Digest(result.body);
    const claimed = result.headers.get('docker-content-digest') ?? undefined;
    const expected = DIGEST.test(reference) ? reference : claimed && DIGEST.test(claimed) ? claimed : undefined;
    if (expected && expected !== digest) return { ok: false, kind: 'failed', host: this.host, error: `${purpose} has digest ${digest}, not ${expected}` };
    if (claimed && DIGEST.test(claimed) && claimed !== digest) return { ok: false, kind: 'failed', host: this.host, error: `${purpose} has digest ${digest}, but the registry says ${claimed}` };
    const mediaType = result.headers.get('content-type')?.split(';')[0]?.trim() || undefined;
    return { ok: true, body: result.body, digest, mediaType };
  }

  /** A blob by digest, its bytes checked against that digest. */
  async blob(digest: string, maxBytes: number, purpose: string): Promise<{ ok: true; body: Buffer } | FetchFailure> {
    if (!DIGEST.test(digest)) return { ok: false, kind: 'failed', host: this.host, error: `${purpose}: "${printable(digest)}" is not a sha256 digest` };
    const result = await this.get(`/blobs/${digest}`, maxBytes, purpose);
    if (!result.ok) return result;
    const actual = sha256Digest(result.body);
    if (actual !== digest) return { ok: false, kind: 'failed', host: this.host, error: `${purpose} has digest ${actual}, not ${digest} as its manifest says` };
    return { ok: true, body: result.body };
  }

  /**
   * A blob by digest written to `file` (an open, empty file) as it arrives, never held in memory:
   * checked against that digest once complete. A failed or mismatching transfer leaves the file to the caller to discard.
   */
  async blobToFile(digest: string, maxBytes: number, purpose: string, file: FileHandle): Promise<{ ok: true; size: number } | FetchFailure> {
    if (!DIGEST.test(digest)) return { ok: false, kind: 'failed', host: this.host, error: `${purpose}: "${printable(digest)}" is not a sha256 digest` };
    let hash = createHash('sha256');
    let size = 0;
    const sink = async (chunk: Buffer) => {
      await file.write(chunk, 0, chunk.length, size);
      size += chunk.length;
      hash.update(chunk);
    };
    // Only a 2xx body reaches the sink; a retry after an auth challenge starts the file over.
    const result = await this.get(`/blobs/${digest}`, maxBytes, purpose, undefined, sink, () => {
      hash = createHash('sha256');
      size = 0;
    });
    if (!result.ok) return result;
    await file.truncate(size);
    const actual = `sha256:${hash.digest('hex')}`;
    if (actual !== digest) return { ok: false, kind: 'failed', host: this.host, error: `${purpose} has digest ${actual}, not ${digest} as its manifest says` };
    return { ok: true, size };
  }

  /**
   * GET /v2/<name><suffix>, answering one auth challenge (basic or bearer) on the way. A failure's
   * text never holds the credential or the token: a registry's reason phrase is its own to choose.
   */
  async get(suffix: string, maxBytes: number, purpose: string, accept?: string, sink?: (chunk: Buffer) => Promise<void>, restart?: () => void): Promise<FetchResult> {
    const result = await this.getOnce(suffix, maxBytes, purpose, accept, sink, restart);
    return result.ok ? result : { ...result, error: this.scrub(result.error) };
  }

  private scrub(text: string): string {
    const credential = this.options.credential;
    const secrets = [this.authorization, this.authorization?.replace(/^\S+\s+/, ''), credential?.password, credential?.identityToken];
    if (credential?.username !== undefined && credential.password !== undefined) secrets.push(`${credential.username}:${credential.password}`, basic(credential.username, credential.password).slice('Basic '.length));
    let clean = text;
    for (const secret of secrets.filter((s): s is string => s !== undefined && s.length >= 4).sort((a, b) => b.length - a.length)) clean = clean.split(secret).join('***');
    clean = clean.replace(/[\u0000-\u001f\u007f-\u009f]/g, '?');
    return clean.length > MAX_ERROR_CHARS ? `${clean.slice(0, MAX_ERROR_CHARS)}...` : clean;
  }

  private async getOnce(suffix: string, maxBytes: number, purpose: string, accept?: string, sink?: (chunk: Buffer) => Promise<void>, restart?: () => void): Promise<FetchResult> {
    const url = `${this.base}/v2/${this.repository}${suffix}`;
    const request = () => {
      restart?.();
      return guardedGet({ url, maxBytes, purpose, sink, headers: { ...(accept ? { accept } : {}), ...(this.authorization ? { authorization: this.authorization } : {}) } }, this.options.policy);
    };
    const first = await request();
    if (first.ok || first.kind !== 'failed' || first.status !== 401 || this.triedAuth) return this.unauthorized(first);
    this.triedAuth = true;
    const answered = await this.answerChallenge(first.headers?.get('www-authenticate') ?? '');
    if (answered) return answered;
    return this.unauthorized(await request());
  }

  private unauthorized(result: FetchResult): FetchResult {
    if (result.ok || result.kind !== 'failed' || (result.status !== 401 && result.status !== 403)) return result;
    const credential = this.options.credential;
    const why = credential ? `the registry refused the credentials from ${credential.source}` : 'the registry needs credentials';
    return { ...result, kind: 'unreachable', error: `${result.error}: ${why}${this.options.credentialHint ? `, ${this.options.credentialHint}` : ''}` };
  }

  /** Sets the Authorization to send from now on; a failure when the challenge cannot be answered. */
  private async answerChallenge(challenge: string): Promise<FetchFailure | undefined> {
    const scheme = /^\s*(\S+)/.exec(challenge)?.[1]?.toLowerCase();
    const credential = this.options.credential;
    if (scheme === 'basic') {
      if (credential?.username === undefined || credential.password === undefined) {
        return { ok: false, kind: 'unreachable', host: this.host, error: `${this.host} asks for a user name and password${this.options.credentialHint ? `, ${this.options.credentialHint}` : ''}` };
      }
      this.authorization = basic(credential.username, credential.password);
      return undefined;
    }
    const token = await this.bearerToken(challenge);
    if ('error' in token) return token.failure;
    this.authorization = `Bearer ${token.token}`;
    return undefined;
  }

  private async bearerToken(challenge: string): Promise<{ token: string } | { error: true; failure: FetchFailure }> {
    const host = this.host;
    const params = parseBearerChallenge(challenge);
    if (!params?.realm) {
      const hint = this.options.credentialHint ? `, ${this.options.credentialHint}` : '';
      return { error: true, failure: { ok: false, kind: 'unreachable', host, error: `${host} asks for credentials (${printable(challenge.split(' ')[0] || 'no challenge')})${hint}` } };
    }
    let tokenUrl: URL;
    try {
      tokenUrl = new URL(params.realm);
    } catch {
      return { error: true, failure: { ok: false, kind: 'failed', host, error: `${host} names an invalid token realm` } };
    }
    const scope = params.scope ?? `repository:${this.repository}:pull`;
    const credential = this.options.credential;
    const purpose = `the ${credential ? '' : 'anonymous '}token of ${host}`;
    let reply: FetchResult;
    if (credential?.identityToken) {
      // Docker's OAuth2 flow: the identity token is a refresh token, POSTed in a form to the realm.
      const form = new URLSearchParams({ grant_type: 'refresh_token', refresh_token: credential.identityToken, client_id: 'gitops-guard', scope, ...(params.service ? { service: params.service } : {}) });
      reply = await guardedGet({ url: tokenUrl.toString(), method: 'POST', body: form.toString(), maxBytes: MAX_TOKEN_BYTES, purpose, headers: { 'content-type': 'application/x-www-form-urlencoded' } }, this.options.policy);
    } else {
      if (params.service) tokenUrl.searchParams.set('service', params.service);
      tokenUrl.searchParams.set('scope', scope);
      const headers: Record<string, string> = credential?.username !== undefined && credential.password !== undefined ? { authorization: basic(credential.username, credential.password) } : {};
      reply = await guardedGet({ url: tokenUrl.toString(), maxBytes: MAX_TOKEN_BYTES, purpose, headers }, this.options.policy);
    }
    if (!reply.ok) return { error: true, failure: this.unauthorized(reply) as FetchFailure };
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

function basic(username: string, password: string): string {
  return `Basic ${Buffer.from(`${username}:${password}`, 'utf8').toString('base64')}`;
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

