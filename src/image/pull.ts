import { createHash } from 'node:crypto';
import { constants, promises as fs } from 'node:fs';
import type { FileHandle } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { readCacheBytes, writeCacheFile } from '../tools/cache-file.js';
import { parseImageRef, type ImageRef } from '../flags/image-ref.js';
import type { FetchFailure, FetchPolicy } from '../helm/guarded-fetch.js';
import type { CredentialLookup } from '../registry/credentials.js';
import { DIGEST, MAX_MANIFEST_BYTES, MEDIA_TYPES, REPOSITORY_NAME, RegistryClient, TAG, isRegistryHost, registryApiHost, sha256Digest } from '../registry/distribution.js';
import { printable } from '../report/printable.js';
import { applyLayer, prepareMountPoints, type RootfsBudget } from './rootfs.js';

/**
 * A container image pulled without a container runtime: the reference resolved to a digest, the
 * platform's manifest picked from an index, its config read and its layers applied to a folder.
 * Every manifest and blob is checked against its sha256, every layer's uncompressed tar against
 * the config's diff_ids; blobs are cached by digest when a cache folder is given.
 */

export interface ImageLimits {
  /** Uncompressed tar bytes of all layers together. */
  maxRootfsBytes: number;
  /** Compressed bytes of one layer blob. */
  maxLayerBytes: number;
  maxLayers: number;
  /** Tar entries of all layers together. */
  maxEntries: number;
  /**
   * Compressed bytes of all layer blobs together. Bounded apart from what they unpack to: a gzip
   * stream of empty blocks is gigabytes that unpack to nothing.
   */
  maxDownloadBytes: number;
}

export const DEFAULT_IMAGE_LIMITS: ImageLimits = { maxRootfsBytes: 2 * 1024 ** 3, maxLayerBytes: 1024 ** 3, maxLayers: 128, maxEntries: 500_000, maxDownloadBytes: 2 * 1024 ** 3 };

export interface ResolveOptions {
  /** The allow-list (isAllowedUrl), deadline, and plain http only where allowPlainHttp says so. */
  policy: FetchPolicy;
  /** The credential of a registry host (see src/registry/credentials.ts); anonymous without. */
  credentials?: CredentialLookup;
  /** Blobs and manifests by digest: <cacheDir>/images/blobs/sha256/<hex>. */
  cacheDir?: string;
}

export interface PullOptions extends ResolveOptions {
  /** os/architecture[/variant], default linux/amd64 (e.g. linux/arm64/v8, linux/arm/v7). */
  platform?: string;
  /**
   * An empty or absent folder for the root filesystem; default a new temporary folder. The caller
   * removes it; after a failure, a folder given here may hold a partial tree (one made here is removed).
   */
  rootfsDir?: string;
  limits?: Partial<ImageLimits>;
}

export interface ImageConfig {
  entrypoint: string[];
  cmd: string[];
  env: string[];
  workingDir: string;
  user?: string;
}

export interface PulledImage {
  ok: true;
  /** host/repository as contacted, e.g. registry-1.docker.io/library/nginx. */
  repository: string;
  /** What the reference resolves to: an index or a manifest. */
  digest: string;
  /** The chosen platform's image manifest (equal to digest when the reference names no index). */
  manifestDigest: string;
  platform: string;
  config: ImageConfig;
  /** Absolute folder holding the image's root filesystem. */
  rootfs: string;
}

export type ResolvedImage = { ok: true; repository: string; digest: string } | FetchFailure;

export interface Platform {
  os: string;
  architecture: string;
  variant?: string;
}

interface Descriptor {
  mediaType?: string;
  digest: string;
  size?: number;
  platform?: Platform;
}

const INDEX_TYPES: readonly string[] = [MEDIA_TYPES.ociIndex, MEDIA_TYPES.dockerList];
const IMAGE_MANIFEST_TYPES: readonly string[] = [MEDIA_TYPES.ociManifest, MEDIA_TYPES.dockerManifest];
const ACCEPT = [...INDEX_TYPES, ...IMAGE_MANIFEST_TYPES];
const MAX_CONFIG_BYTES = 8 * 1024 * 1024;

/** The digest a reference resolves to (the index or manifest its tag points at); a digest reference is its own answer. */
export async function resolveImage(ref: string | ImageRef, options: ResolveOptions): Promise<ResolvedImage> {
  const target = imageTarget(ref, options);
  if (!target.ok) return target;
  if (target.digest) return { ok: true, repository: target.client.display, digest: target.digest };
  const top = await target.client.manifest(target.tag, ACCEPT, `the manifest of ${target.shown}`, MAX_MANIFEST_BYTES);
  if (!top.ok) return top;
  if (options.cacheDir) await writeCached(options.cacheDir, top.digest, top.body);
  return { ok: true, repository: target.client.display, digest: top.digest };
}

export async function pullImage(ref: string | ImageRef, options: PullOptions): Promise<PulledImage | FetchFailure> {
  const target = imageTarget(ref, options);
  if (!target.ok) return target;
  const wanted = parsePlatform(options.platform ?? 'linux/amd64');
  if (!wanted) return { ok: false, kind: 'failed', host: target.client.host, error: `"${printable(options.platform ?? '')}" is not a platform (os/architecture[/variant], e.g. linux/amd64)` };
  const limits = { ...DEFAULT_IMAGE_LIMITS, ...options.limits };
  const { client, shown } = target;
  const fail = (error: string): FetchFailure => ({ ok: false, kind: 'failed', host: client.host, error: `${shown}: ${error}` });
  const blobs = new BlobSource(client, options.cacheDir);

  const top = await blobs.manifest(target.digest ?? target.tag, `the manifest of ${shown}`);
  if (!top.ok) return top;
  const topJson = parseJson(top.body);
  if (!topJson) return fail('the manifest is not a JSON object');
  let manifestDigest = top.digest;
  let manifestJson = topJson;
  let chosen: Platform | undefined;
  if (isIndex(topJson)) {
    const pick = pickPlatform(topJson, wanted);
    if ('error' in pick) return fail(pick.error);
    const child = await blobs.manifest(pick.descriptor.digest, `the ${formatPlatform(pick.platform)} manifest of ${shown}`);
    if (!child.ok) return child;
    const childJson = parseJson(child.body);
    if (!childJson || isIndex(childJson)) return fail(`the ${formatPlatform(pick.platform)} entry of the index is not an image manifest`);
    manifestDigest = child.digest;
    manifestJson = childJson;
    chosen = pick.platform;
  }
  const manifest = imageManifest(manifestJson);
  if ('error' in manifest) return fail(manifest.error);
  if (manifest.layers.length > limits.maxLayers) return fail(`the image has ${manifest.layers.length} layers, more than the ${limits.maxLayers} the guard unpacks`);

  const configBlob = await blobs.blob(manifest.config, MAX_CONFIG_BYTES, `the config of ${shown}`);
  if (!configBlob.ok) return configBlob;
  const config = imageConfig(configBlob.body);
  if ('error' in config) return fail(config.error);
  if (!chosen) {
    if (config.platform && !platformMatches(config.platform, wanted)) return fail(`the image is for ${formatPlatform(config.platform)}, not ${formatPlatform(wanted)}`);
    chosen = config.platform ?? wanted;
  }

  const layers = manifest.layers;
  const diffIds = config.diffIds;
  const budget: RootfsBudget = { remainingBytes: limits.maxRootfsBytes, remainingEntries: limits.maxEntries };
  let rootfs: string | undefined;
  let outcome: FetchFailure | undefined;
  try {
    rootfs = path.resolve(options.rootfsDir ?? (await fs.mkdtemp(path.join(os.tmpdir(), 'guard-image-'))));
    const prepared = await emptyFolder(rootfs);
    outcome = prepared ? fail(prepared) : await applyLayers(rootfs);
    if (!outcome) await prepareMountPoints(rootfs);
  } catch (error) {
    outcome = fail(`cannot write the root filesystem${rootfs ? ` in ${rootfs}` : ''}: ${(error as Error).message}`);
  }
  if (outcome || !rootfs) {
    if (options.rootfsDir === undefined && rootfs) await fs.rm(rootfs, { recursive: true, force: true }).catch(() => undefined);
    return outcome ?? fail('no root filesystem');
  }
  return { ok: true, repository: client.display, digest: top.digest, manifestDigest, platform: formatPlatform(chosen), config: config.config, rootfs };

  async function applyLayers(rootfs: string): Promise<FetchFailure | undefined> {
    let download = limits.maxDownloadBytes;
    for (const [index, layer] of layers.entries()) {
      const which = `layer ${index + 1} of ${layers.length} (${layer.digest.slice(0, 19)}) of ${shown}`;
      if (layer.size !== undefined && layer.size > limits.maxLayerBytes) return fail(`layer ${index + 1} is ${layer.size} bytes, more than the ${limits.maxLayerBytes} the guard fetches`);
      if (layer.size !== undefined && layer.size > download) return fail(`its layers are more than the ${limits.maxDownloadBytes} bytes the guard fetches for one image`);
      const blob = await blobs.layer(layer, Math.min(limits.maxLayerBytes, download), which);
      if (!blob.ok) return blob;
      download -= (await blob.file.stat().catch(() => undefined))?.size ?? 0;
      const applied = await applyLayer(rootfs, blob.file, budget).finally(() => blob.file.close());
      if (!applied.ok) return fail(`layer ${index + 1}: ${applied.error}`);
      const diffId = diffIds[index];
      if (diffIds.length === layers.length && diffId !== applied.diffId) return fail(`layer ${index + 1} unpacks to ${applied.diffId}, not ${diffId} as the config says`);
    }
    return undefined;
  }
}

type Target = { ok: true; client: RegistryClient; tag: string; digest?: string; shown: string } | FetchFailure;

function imageTarget(ref: string | ImageRef, options: ResolveOptions): Target {
  const parsed = typeof ref === 'string' ? parseImageRef(ref) : ref;
  const slash = parsed.repository.indexOf('/');
  const named = slash < 0 ? '' : parsed.repository.slice(0, slash);
  const host = registryApiHost(named);
  const repository = parsed.repository.slice(slash + 1);
  const failed = (error: string): FetchFailure => ({ ok: false, kind: 'failed', host, error });
  if (!isRegistryHost(host)) return failed(`${printable(parsed.original)} does not name a registry host`);
  if (!REPOSITORY_NAME.test(repository)) return failed(`"${printable(repository)}" is not a valid repository name (in ${printable(parsed.original)})`);
  if (parsed.digest !== undefined && !DIGEST.test(parsed.digest)) return failed(`"${printable(parsed.digest)}" is not a sha256 digest (in ${printable(parsed.original)})`);
  if (!TAG.test(parsed.tag)) return failed(`"${printable(parsed.tag)}" is not a valid tag (in ${printable(parsed.original)})`);
  const credential = options.credentials?.(named) ?? options.credentials?.(host);
  const client = new RegistryClient({
    host,
    repository,
    policy: options.policy,
    credential,
    credentialHint: credential ? undefined : 'give them in the Docker config file (auths) or a GUARD_REGISTRY_AUTH_<NAME>="<host> <user>:<password>" variable',
  });
  const shown = `${host}/${repository}${parsed.digest ? `@${parsed.digest}` : `:${parsed.tag}`}`;
  return { ok: true, client, tag: parsed.tag, digest: parsed.digest, shown };
}

/** Manifests and blobs by digest: from the cache when it holds them intact, else from the registry (and then cached). */
class BlobSource {
  constructor(
    private readonly client: RegistryClient,
    private readonly cacheDir: string | undefined,
  ) {}

  async manifest(reference: string, purpose: string): Promise<{ ok: true; body: Buffer; digest: string } | FetchFailure> {
    if (DIGEST.test(reference) && this.cacheDir) {
      const cached = await readCached(this.cacheDir, reference, MAX_MANIFEST_BYTES);
      if (cached) return { ok: true, body: cached, digest: reference };
    }
    const fetched = await this.client.manifest(reference, ACCEPT, purpose, MAX_MANIFEST_BYTES);
    if (!fetched.ok) return fetched;
    if (this.cacheDir) await writeCached(this.cacheDir, fetched.digest, fetched.body);
    return fetched;
  }

  /** A layer blob in an open file (the caller closes it), never whole in memory. */
  async layer(descriptor: Descriptor, maxBytes: number, purpose: string): Promise<{ ok: true; file: FileHandle } | FetchFailure> {
    const limit = descriptor.size !== undefined ? Math.min(descriptor.size, maxBytes) : maxBytes;
    if (this.cacheDir) {
      const cached = await fs.open(cachePath(this.cacheDir, descriptor.digest), constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK).catch(() => undefined);
      if (cached) {
        const stat = await cached.stat().catch(() => undefined);
        if (stat?.isFile() && stat.size <= limit && (await hashFile(cached).catch(() => '')) === descriptor.digest) return { ok: true, file: cached };
        await cached.close();
      }
    }
    const { file, temp } = await blobFile(this.cacheDir, descriptor.digest);
    const fetched = await this.client.blobToFile(descriptor.digest, limit, purpose, file).catch((error: Error): FetchFailure => ({ ok: false, kind: 'failed', host: this.client.host, error: `${purpose}: ${error.message}` }));
    const failure: FetchFailure | undefined = !fetched.ok
      ? fetched
      : descriptor.size !== undefined && fetched.size !== descriptor.size
        ? { ok: false, kind: 'failed', host: this.client.host, error: `${purpose} is ${fetched.size} bytes, not ${descriptor.size} as its manifest says` }
        : undefined;
    if (failure) {
      await file.close();
      if (temp) await fs.rm(temp, { force: true });
      return failure;
    }
    if (temp) await fs.rename(temp, cachePath(this.cacheDir!, descriptor.digest)).catch(() => fs.rm(temp, { force: true }));
    return { ok: true, file };
  }

  async blob(descriptor: Descriptor, maxBytes: number, purpose: string): Promise<{ ok: true; body: Buffer } | FetchFailure> {
    const limit = descriptor.size !== undefined ? Math.min(descriptor.size, maxBytes) : maxBytes;
    if (this.cacheDir) {
      const cached = await readCached(this.cacheDir, descriptor.digest, limit);
      if (cached) return { ok: true, body: cached };
    }
    const fetched = await this.client.blob(descriptor.digest, limit, purpose);
    if (!fetched.ok) return fetched;
    if (descriptor.size !== undefined && fetched.body.length !== descriptor.size) {
      return { ok: false, kind: 'failed', host: this.client.host, error: `${purpose} is ${fetched.body.length} bytes, not ${descriptor.size} as its manifest says` };
    }
    if (this.cacheDir) await writeCached(this.cacheDir, descriptor.digest, fetched.body);
    return fetched;
  }
}

/** A blob's bytes in an open file, checked against its digest. */
async function hashFile(file: FileHandle): Promise<string> {
  const hash = createHash('sha256');
  const buffer = Buffer.alloc(1024 * 1024);
  for (let position = 0; ; ) {
    const { bytesRead } = await file.read(buffer, 0, buffer.length, position);
    if (bytesRead === 0) return `sha256:${hash.digest('hex')}`;
    hash.update(buffer.subarray(0, bytesRead));
    position += bytesRead;
  }
}

/** An open file for a blob being fetched: in the cache (published by rename once verified), else unlinked at once in a private temporary folder. */
async function blobFile(cacheDir: string | undefined, digest: string): Promise<{ file: FileHandle; temp?: string }> {
  const flags = constants.O_RDWR | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW;
  if (cacheDir) {
    const temp = `${cachePath(cacheDir, digest)}.tmp-${process.pid}-${Math.random().toString(36).slice(2)}`;
    const opened = await fs
      .mkdir(path.dirname(temp), { recursive: true })
      .then(() => fs.open(temp, flags, 0o644))
      .catch(() => undefined);
    if (opened) return { file: opened, temp };
  }
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'guard-blob-'));
  try {
    return { file: await fs.open(path.join(dir, 'blob'), flags, 0o600) };
  } finally {
    await fs.rm(dir, { recursive: true, force: true });
  }
}

function cachePath(cacheDir: string, digest: string): string {
  return path.join(cacheDir, 'images', 'blobs', 'sha256', digest.slice('sha256:'.length));
}

/** A cached blob, read without following a link and only when its bytes still have its digest. */
async function readCached(cacheDir: string, digest: string, maxBytes: number): Promise<Buffer | undefined> {
  const body = await readCacheBytes(cachePath(cacheDir, digest), maxBytes);
  return body && sha256Digest(body) === digest ? body : undefined;
}

async function writeCached(cacheDir: string, digest: string, body: Buffer): Promise<void> {
  await writeCacheFile(cachePath(cacheDir, digest), body);
}

async function emptyFolder(dir: string): Promise<string | undefined> {
  await fs.mkdir(dir, { recursive: true, mode: 0o755 });
  const stat = await fs.lstat(dir);
  if (!stat.isDirectory()) return `${dir} is not a folder`;
  if ((await fs.readdir(dir)).length > 0) return `the root filesystem folder ${dir} is not empty`;
  return undefined;
}

export function parsePlatform(text: string): Platform | undefined {
  const [osName, architecture, variant, ...rest] = text.trim().split('/');
  if (!osName || !architecture || rest.length > 0 || ![osName, architecture, variant ?? 'x'].every((p) => /^[a-z0-9._-]+$/.test(p))) return undefined;
  return { os: osName, architecture, ...(variant ? { variant } : {}) };
}

function formatPlatform(platform: Platform): string {
  return [platform.os, platform.architecture, platform.variant].filter(Boolean).join('/');
}

/** arm64 without a variant is v8, as containerd's platform matcher treats it. */
function normalVariant(platform: Platform): string | undefined {
  return platform.variant ?? (platform.architecture === 'arm64' ? 'v8' : undefined);
}

function platformMatches(candidate: Platform, wanted: Platform): boolean {
  if (candidate.os !== wanted.os || candidate.architecture !== wanted.architecture) return false;
  return wanted.variant === undefined || normalVariant(candidate) === normalVariant(wanted);
}

type Json = Record<string, unknown>;

function parseJson(body: Buffer): Json | undefined {
  try {
    const value: unknown = JSON.parse(body.toString('utf8'));
    return value && typeof value === 'object' && !Array.isArray(value) ? (value as Json) : undefined;
  } catch {
    return undefined;
  }
}

function isIndex(json: Json): boolean {
  return (typeof json.mediaType === 'string' && INDEX_TYPES.includes(json.mediaType)) || (Array.isArray(json.manifests) && !('layers' in json));
}

function descriptor(value: unknown): Descriptor | undefined {
  if (!value || typeof value !== 'object') return undefined;
  const d = value as Record<string, unknown>;
  if (typeof d.digest !== 'string' || !DIGEST.test(d.digest)) return undefined;
  if (d.size !== undefined && (typeof d.size !== 'number' || !Number.isSafeInteger(d.size) || d.size < 0)) return undefined;
  const p = d.platform as Record<string, unknown> | undefined;
  const platform = p && typeof p.os === 'string' && typeof p.architecture === 'string' ? { os: p.os, architecture: p.architecture, ...(typeof p.variant === 'string' && p.variant ? { variant: p.variant } : {}) } : undefined;
  return { digest: d.digest, ...(typeof d.mediaType === 'string' ? { mediaType: d.mediaType } : {}), ...(typeof d.size === 'number' ? { size: d.size } : {}), ...(platform ? { platform } : {}) };
}

function pickPlatform(index: Json, wanted: Platform): { descriptor: Descriptor; platform: Platform } | { error: string } {
  const entries = (Array.isArray(index.manifests) ? index.manifests : []).map(descriptor).filter((d): d is Descriptor => d !== undefined);
  const images = entries.filter((d) => d.platform && (d.mediaType === undefined || IMAGE_MANIFEST_TYPES.includes(d.mediaType)));
  const match = images.find((d) => platformMatches(d.platform!, wanted));
  if (match) return { descriptor: match, platform: match.platform! };
  const offered = [...new Set(images.map((d) => formatPlatform(d.platform!)).filter((p) => p !== 'unknown/unknown'))];
  return { error: `the image has no ${formatPlatform(wanted)} variant (it has ${offered.join(', ') || 'none'})` };
}

function imageManifest(json: Json): { config: Descriptor; layers: Descriptor[] } | { error: string } {
  if (json.schemaVersion === 1) return { error: 'the manifest is Docker schema 1, which the guard does not read (push the image again with a current tool)' };
  if (typeof json.mediaType === 'string' && !IMAGE_MANIFEST_TYPES.includes(json.mediaType)) return { error: `the manifest is ${printable(json.mediaType)}, not a container image` };
  const config = descriptor(json.config);
  if (!config) return { error: 'the manifest names no config with a sha256 digest' };
  if (!Array.isArray(json.layers)) return { error: 'the manifest lists no layers' };
  const layers: Descriptor[] = [];
  for (const raw of json.layers) {
    const layer = descriptor(raw);
    if (!layer) return { error: 'a layer of the manifest has no sha256 digest' };
    layers.push(layer);
  }
  return { config, layers };
}

function imageConfig(body: Buffer): { config: ImageConfig; diffIds: string[]; platform?: Platform } | { error: string } {
  const json = parseJson(body);
  if (!json) return { error: 'the image config is not a JSON object' };
  const c = (json.config && typeof json.config === 'object' ? json.config : {}) as Record<string, unknown>;
  const strings = (value: unknown, field: string): string[] | { error: string } => {
    if (value === undefined || value === null) return [];
    if (Array.isArray(value) && value.every((v) => typeof v === 'string')) return value as string[];
    return { error: `the image config's ${field} is not a list of strings` };
  };
  const entrypoint = strings(c.Entrypoint, 'Entrypoint');
  const cmd = strings(c.Cmd, 'Cmd');
  const env = strings(c.Env, 'Env');
  for (const list of [entrypoint, cmd, env]) if (!Array.isArray(list)) return list;
  const rootfs = json.rootfs as { diff_ids?: unknown } | undefined;
  const diffIds = Array.isArray(rootfs?.diff_ids) ? rootfs.diff_ids.filter((d): d is string => typeof d === 'string') : [];
  const platform = typeof json.os === 'string' && typeof json.architecture === 'string' ? { os: json.os, architecture: json.architecture, ...(typeof json.variant === 'string' && json.variant ? { variant: json.variant } : {}) } : undefined;
  return {
    config: {
      entrypoint: entrypoint as string[],
      cmd: cmd as string[],
      env: env as string[],
      workingDir: typeof c.WorkingDir === 'string' ? c.WorkingDir : '',
      ...(typeof c.User === 'string' && c.User !== '' ? { user: c.User } : {}),
    },
    diffIds,
    ...(platform ? { platform } : {}),
  };
}
