import { execa } from 'execa';
import { createHash } from 'node:crypto';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import zlib from 'node:zlib';
import { create as createTar } from 'tar';
import { craftTgz, type CraftedEntry } from './tar-craft.js';

/**
 * Container images built in tests without Docker: layers from real folders (or hand-made tar
 * entries), an image config, a manifest (OCI or Docker schema 2), an index across platforms, and a
 * push through the distribution API (blob upload, manifest PUT) to a registry such as OciRegistry.
 */

export type Compression = 'gzip' | 'zstd' | 'none';
export type ImageFormat = 'oci' | 'docker';

export interface LayerBlob {
  mediaType: string;
  data: Buffer;
  digest: string;
  size: number;
  /** sha256 of the uncompressed tar. */
  diffId: string;
}

export interface ImageConfigInput {
  Entrypoint?: string[];
  Cmd?: string[];
  Env?: string[];
  WorkingDir?: string;
  User?: string;
}

export interface BuiltImage {
  kind: 'image';
  mediaType: string;
  manifest: Buffer;
  digest: string;
  config: Buffer;
  configDigest: string;
  layers: LayerBlob[];
  platform: string;
}

export interface BuiltIndex {
  kind: 'index';
  mediaType: string;
  manifest: Buffer;
  digest: string;
  images: BuiltImage[];
}

export function sha256(data: Buffer): string {
  return `sha256:${createHash('sha256').update(data).digest('hex')}`;
}

/**
 * A layer holding the tree under `dir` (symlinks kept as links, modes kept, owners dropped),
 * placed under `prefix` inside the image (e.g. 'usr/local/bin').
 */
export async function layerFromDirectory(dir: string, options: { compression?: Compression; prefix?: string; format?: ImageFormat } = {}): Promise<LayerBlob> {
  const work = await fs.mkdtemp(path.join(os.tmpdir(), 'guard-layer-'));
  try {
    const file = path.join(work, 'layer.tar');
    const names = await fs.readdir(dir);
    await createTar({ file, cwd: dir, portable: true, ...(options.prefix ? { prefix: options.prefix } : {}) }, names);
    return await layerFromTar(await fs.readFile(file), options.compression ?? 'gzip', options.format ?? 'oci');
  } finally {
    await fs.rm(work, { recursive: true, force: true });
  }
}

/** What goes into a layer at one path of the image: a copy of a host file (mode kept, links followed), a symbolic link, or text. */
export type ImageFile = { from: string; mode?: number } | { symlink: string } | { text: string; mode?: number };

/**
 * A layer from host files placed at chosen paths, e.g.
 * `{ 'usr/bin/rg': { from: '/usr/bin/rg' }, 'usr/local/bin/app': { symlink: '/usr/bin/rg' } }`;
 * with `hostBinaryFiles` a dynamically linked Debian binary runs from the image.
 */
export async function layerFromFiles(files: Record<string, ImageFile>, options: { compression?: Compression; format?: ImageFormat } = {}): Promise<LayerBlob> {
  const staging = await fs.mkdtemp(path.join(os.tmpdir(), 'guard-layer-files-'));
  try {
    for (const [inImage, file] of Object.entries(files)) {
      const target = path.join(staging, inImage.replace(/^\/+/, ''));
      if (!target.startsWith(`${staging}/`)) throw new Error(`${inImage} is outside the image`);
      await fs.mkdir(path.dirname(target), { recursive: true });
      if ('symlink' in file) {
        await fs.symlink(file.symlink, target);
      } else if ('from' in file) {
        await fs.copyFile(file.from, target);
        await fs.chmod(target, file.mode ?? (await fs.stat(file.from)).mode & 0o777);
      } else {
        await fs.writeFile(target, file.text);
        await fs.chmod(target, file.mode ?? 0o644);
      }
    }
    return await layerFromDirectory(staging, options);
  } finally {
    await fs.rm(staging, { recursive: true, force: true });
  }
}

/**
 * A host binary and the shared libraries it loads (as `ldd` lists them, with the dynamic loader),
 * each at its own path: spread into layerFromFiles to run the binary from an image.
 */
export async function hostBinaryFiles(binary: string): Promise<Record<string, ImageFile>> {
  const files: Record<string, ImageFile> = { [binary]: { from: binary } };
  const ldd = await execa('ldd', [binary], { reject: false });
  for (const line of ldd.stdout.split('\n')) {
    const library = /=>\s*(\/\S+)/.exec(line)?.[1] ?? /^\s*(\/\S+)\s+\(/.exec(line)?.[1];
    if (library) files[library] = { from: library };
  }
  return files;
}

/** A layer from hand-made entries (any name, any type: for attack tests). */
export async function layerFromEntries(entries: CraftedEntry[], compression: Compression = 'gzip', format: ImageFormat = 'oci'): Promise<LayerBlob> {
  return layerFromTar(zlib.gunzipSync(craftTgz(entries)), compression, format);
}

export async function layerFromTar(tar: Buffer, compression: Compression = 'gzip', format: ImageFormat = 'oci'): Promise<LayerBlob> {
  let data: Buffer;
  if (compression === 'gzip') data = zlib.gzipSync(tar, { level: 1 });
  else if (compression === 'zstd') data = Buffer.from((await execa('zstd', ['-q', '-c', '-3'], { input: tar, encoding: 'buffer' })).stdout);
  else data = tar;
  if (format === 'docker' && compression !== 'gzip') throw new Error('Docker schema 2 layers are gzip-compressed');
  const mediaType =
    format === 'docker'
      ? 'application/vnd.docker.image.rootfs.diff.tar.gzip'
      : `application/vnd.oci.image.layer.v1.tar${compression === 'none' ? '' : `+${compression}`}`;
  return { mediaType, data, digest: sha256(data), size: data.length, diffId: sha256(tar) };
}

export function buildImage(input: { layers: LayerBlob[]; config?: ImageConfigInput; platform?: string; format?: ImageFormat }): BuiltImage {
  const platform = input.platform ?? 'linux/amd64';
  const [osName, architecture, variant] = platform.split('/');
  const format = input.format ?? 'oci';
  const config = Buffer.from(
    JSON.stringify({
      architecture,
      os: osName,
      ...(variant ? { variant } : {}),
      config: input.config ?? {},
      rootfs: { type: 'layers', diff_ids: input.layers.map((l) => l.diffId) },
      history: input.layers.map(() => ({ created_by: 'test/support/image-builder.ts' })),
    }),
  );
  const configDigest = sha256(config);
  const mediaType = format === 'oci' ? 'application/vnd.oci.image.manifest.v1+json' : 'application/vnd.docker.distribution.manifest.v2+json';
  const manifest = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType,
      config: { mediaType: format === 'oci' ? 'application/vnd.oci.image.config.v1+json' : 'application/vnd.docker.container.image.v1+json', digest: configDigest, size: config.length },
      layers: input.layers.map((l) => ({ mediaType: l.mediaType, digest: l.digest, size: l.size })),
    }),
  );
  return { kind: 'image', mediaType, manifest, digest: sha256(manifest), config, configDigest, layers: input.layers, platform };
}

export function buildIndex(images: BuiltImage[], format: ImageFormat = 'oci'): BuiltIndex {
  const mediaType = format === 'oci' ? 'application/vnd.oci.image.index.v1+json' : 'application/vnd.docker.distribution.manifest.list.v2+json';
  const manifest = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType,
      manifests: images.map((image) => {
        const [osName, architecture, variant] = image.platform.split('/');
        return { mediaType: image.mediaType, digest: image.digest, size: image.manifest.length, platform: { architecture, os: osName, ...(variant ? { variant } : {}) } };
      }),
    }),
  );
  return { kind: 'index', mediaType, manifest, digest: sha256(manifest), images };
}

/** Push an image or an index (its images first, by digest) to http://<host>/v2/<repository>, tagged `tag`; the digest the tag points at. */
export async function pushImage(registry: string | { host: string }, repository: string, tag: string, built: BuiltImage | BuiltIndex): Promise<string> {
  const base = `http://${typeof registry === 'string' ? registry : registry.host}/v2/${repository}`;
  if (built.kind === 'index') {
    for (const image of built.images) await pushImage(registry, repository, image.digest, image);
  } else {
    await pushBlob(base, built.configDigest, built.config);
    for (const layer of built.layers) await pushBlob(base, layer.digest, layer.data);
  }
  const response = await fetch(`${base}/manifests/${tag}`, { method: 'PUT', headers: { 'content-type': built.mediaType }, body: new Uint8Array(built.manifest) });
  if (response.status !== 201) throw new Error(`PUT manifest ${repository}:${tag}: ${response.status} ${await response.text()}`);
  return built.digest;
}

async function pushBlob(base: string, digest: string, data: Buffer): Promise<void> {
  const exists = await fetch(`${base}/blobs/${digest}`, { method: 'HEAD' });
  if (exists.ok) return;
  const start = await fetch(`${base}/blobs/uploads/`, { method: 'POST' });
  await start.arrayBuffer();
  const location = start.headers.get('location');
  if (start.status !== 202 || !location) throw new Error(`POST blob upload: ${start.status}`);
  const url = new URL(location, base);
  url.searchParams.set('digest', digest);
  const put = await fetch(url, { method: 'PUT', headers: { 'content-type': 'application/octet-stream' }, body: new Uint8Array(data) });
  if (put.status !== 201) throw new Error(`PUT blob ${digest}: ${put.status} ${await put.text()}`);
}
