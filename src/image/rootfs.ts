import { createHash } from 'node:crypto';
import { constants, promises as fs } from 'node:fs';
import type { FileHandle } from 'node:fs/promises';
import path from 'node:path';
import { Readable, pipeline } from 'node:stream';
import zlib from 'node:zlib';
import { Decompress } from 'fzstd';
import { Parser, type ReadEntry } from 'tar';
import { printable } from '../report/printable.js';

/**
 * Container image layers applied, in order, to a folder, as a container runtime would (OCI
 * image-spec "Applying changesets"), but for hostile layers: names that are absolute or climb out
 * with `..` are refused; every parent is resolved inside the root (a symlink an earlier layer
 * planted is followed as it would be inside the container, never to the host); the entry itself is
 * replaced, never written through. Symlinks stay symlinks, hard links only to files inside the
 * root, devices and pipes are skipped, no setuid/setgid, no ownership.
 */

export interface RootfsBudget {
  /** Bytes of uncompressed layer tar still allowed, over all layers. */
  remainingBytes: number;
  remainingEntries: number;
}

export type LayerResult = { ok: true; diffId: string; skipped: number } | { ok: false; error: string };

export type Resolved = { ok: true; path: string; inRoot: string } | { ok: false; error: string };

const MAX_SYMLINKS = 40;
const ZSTD_SLICE = 1024;
const RAW_SLICE = 1024 * 1024;
const WHITEOUT = '.wh.';
const OPAQUE = '.wh..wh..opq';
const MOUNT_POINTS = ['proc', 'dev', 'sys', 'tmp'];

/**
 * Resolve `target` (absolute or relative to `/` of the image) inside `rootfs`: symlinks are followed
 * (absolute targets from the image root, `..` never above it), the last one only with `follow`.
 */
export function resolveInRoot(rootfs: string, target: string, options: { follow: boolean }): Promise<Resolved> {
  return walk(path.resolve(rootfs), target.split('/'), { followLast: options.follow, create: false });
}

/** Apply one layer blob (gzip, zstd or plain tar, told apart by their magic bytes; in memory or an open file) to `rootfs`. */
export async function applyLayer(rootfs: string, blob: Buffer | FileHandle, budget: RootfsBudget): Promise<LayerResult> {
  const root = path.resolve(rootfs);
  const hash = createHash('sha256');
  const written = new Set<string>();
  const open = new Set<FileHandle>();
  let problem: string | undefined;
  let skipped = 0;
  let chain: Promise<void> = Promise.resolve();
  const refuse = (message: string) => {
    problem ??= message;
  };
  const parser = new Parser({ strict: true });
  parser.on('entry', (entry: ReadEntry) => {
    if (problem) return entry.resume();
    if (--budget.remainingEntries < 0) {
      refuse('the image has more files than the guard unpacks');
      return entry.resume();
    }
    const header = { path: entry.path, type: entry.type, linkpath: entry.linkpath, mode: entry.mode };
    const step = (work: () => Promise<void>) => {
      chain = chain.then(async () => {
        if (problem) return;
        try {
          await work();
        } catch (error) {
          refuse(`${printable(header.path)}: ${(error as Error).message}`);
        }
      });
    };
    const settle = (result: Awaited<ReturnType<typeof applyEntry>>) => {
      if (result === 'skipped') skipped++;
      else if (result !== 'done' && 'error' in result) refuse(result.error);
    };
    if (FILE_TYPES.has(entry.type)) {
      // Written as it arrives, never held whole: one file may be most of the image.
      let file: { handle: FileHandle; inRoot: string } | undefined;
      step(async () => {
        const result = await applyEntry(root, header, undefined, written);
        if (typeof result === 'object' && 'handle' in result) {
          file = result;
          open.add(result.handle);
        } else settle(result);
      });
      entry.on('data', (chunk: Buffer) => step(async () => {
        if (file) await file.handle.writeFile(chunk);
      }));
      entry.on('end', () => step(async () => {
        if (!file) return;
        await file.handle.chmod(fileMode(header.mode));
        open.delete(file.handle);
        await file.handle.close();
        written.add(file.inRoot);
      }));
      return;
    }
    const chunks: Buffer[] = [];
    entry.on('data', (chunk: Buffer) => chunks.push(chunk));
    entry.on('end', () => step(async () => settle(await applyEntry(root, header, Buffer.concat(chunks), written))));
  });
  parser.on('warn', (code: string, message: string | Error) => refuse(`not a valid tar archive (${code}: ${typeof message === 'string' ? message : message.message})`));
  parser.on('error', (error: Error) => refuse(`not a valid tar archive: ${error.message}`));
  const ended = new Promise<void>((resolve) => {
    parser.on('end', resolve);
    parser.on('abort', resolve);
    parser.on('close', resolve);
  });
  let total = 0;
  try {
    for await (const chunk of decompressed(blob)) {
      total += chunk.length;
      if (total > budget.remainingBytes) {
        refuse('the image unpacks to more bytes than the guard allows');
        break;
      }
      hash.update(chunk);
      parser.write(chunk);
      // Entries are applied one at a time, in order; waiting here also bounds what is held in memory.
      await chain;
      if (problem) break;
    }
  } catch (error) {
    refuse(`the layer does not decompress: ${(error as Error).message}`);
  }
  budget.remainingBytes -= total;
  if (problem) {
    await chain;
    await closeAll(open);
    return { ok: false, error: problem };
  }
  if (total > 0) {
    parser.end();
    await ended;
  }
  await chain;
  await closeAll(open);
  if (problem) return { ok: false, error: problem };
  return { ok: true, diffId: `sha256:${hash.digest('hex')}`, skipped };
}

const FILE_TYPES = new Set(['File', 'OldFile', 'ContiguousFile']);

/** Files a layer that stopped midway left open. */
async function closeAll(open: Set<FileHandle>): Promise<void> {
  for (const handle of open) await handle.close().catch(() => undefined);
  open.clear();
}

/**
 * The folders a sandbox mounts over (/proc, /dev, /sys, /tmp), made as runtimes make them, so the
 * root can be bound read-only; one that a layer made something else (a link out, a file) is replaced.
 */
export async function prepareMountPoints(rootfs: string): Promise<void> {
  for (const name of MOUNT_POINTS) {
    const target = path.join(rootfs, name);
    const stat = await fs.lstat(target).catch(() => undefined);
    if (stat?.isDirectory()) continue;
    if (stat) await fs.rm(target, { recursive: true, force: true });
    await fs.mkdir(target);
    await fs.chmod(target, name === 'tmp' ? 0o1777 : 0o755);
  }
}

async function* decompressed(source: Buffer | FileHandle): AsyncGenerator<Buffer> {
  const magic = Buffer.isBuffer(source) ? source.subarray(0, 4) : await readMagic(source);
  if (magic[0] === 0x1f && magic[1] === 0x8b) {
    const gunzip = zlib.createGunzip();
    pipeline(Readable.from(chunksOf(source)), gunzip, () => undefined);
    try {
      for await (const chunk of gunzip) yield chunk as Buffer;
    } finally {
      gunzip.destroy();
    }
  } else if (magic.length >= 4 && magic.readUInt32LE(0) === 0xfd2fb528) {
    const out: Buffer[] = [];
    const zstd = new Decompress((data) => out.push(Buffer.from(data)));
    for await (const chunk of chunksOf(source)) {
      // Small slices: a zstd bomb expands only so far before the budget is checked.
      for (let offset = 0; offset < chunk.length; offset += ZSTD_SLICE) {
        zstd.push(chunk.subarray(offset, offset + ZSTD_SLICE));
        while (out.length) yield out.shift()!;
      }
    }
    zstd.push(new Uint8Array(0), true);
    while (out.length) yield out.shift()!;
  } else {
    yield* chunksOf(source);
  }
}

async function readMagic(file: FileHandle): Promise<Buffer> {
  const magic = Buffer.alloc(4);
  const { bytesRead } = await file.read(magic, 0, 4, 0);
  return magic.subarray(0, bytesRead);
}

/** The layer's bytes in slices, from memory or from an open file (read by position: the handle is not consumed). */
async function* chunksOf(source: Buffer | FileHandle): AsyncGenerator<Buffer> {
  if (Buffer.isBuffer(source)) {
    for (let offset = 0; offset < source.length; offset += RAW_SLICE) yield source.subarray(offset, offset + RAW_SLICE);
    return;
  }
  for (let position = 0; ; ) {
    const buffer = Buffer.alloc(RAW_SLICE);
    const { bytesRead } = await source.read(buffer, 0, RAW_SLICE, position);
    if (bytesRead === 0) return;
    position += bytesRead;
    yield buffer.subarray(0, bytesRead);
  }
}

interface EntryHeader {
  path: string;
  type: string;
  linkpath?: string;
  mode?: number;
}

/**
 * One entry applied. A regular file given no data is created empty and returned open, for its
 * content to be written as it arrives (the caller sets its mode and closes it).
 */
async function applyEntry(root: string, entry: EntryHeader, data: Buffer | undefined, written: Set<string>): Promise<'done' | 'skipped' | { error: string } | { handle: FileHandle; inRoot: string }> {
  const parts = entryParts(entry.path);
  if ('error' in parts) return parts;
  if (parts.parts.length === 0) return 'done'; // the root itself ('./'): its mode is not the image's to set
  const name = parts.parts.at(-1)!;
  const parent = await walk(root, parts.parts.slice(0, -1), { followLast: true, create: true });
  if (!parent.ok) return { error: `${printable(entry.path)}: ${parent.error}` };
  const hostPath = path.join(parent.path, name);
  const inRoot = path.posix.join(parent.inRoot, name);

  if (name === OPAQUE) {
    for (const child of await fs.readdir(parent.path)) {
      if (!written.has(path.posix.join(parent.inRoot, child))) await fs.rm(path.join(parent.path, child), { recursive: true, force: true });
    }
    return 'done';
  }
  if (name.startsWith(`${WHITEOUT}${WHITEOUT}`)) return 'skipped';
  if (name.startsWith(WHITEOUT)) {
    const removed = name.slice(WHITEOUT.length);
    if (removed === '' || removed === '.' || removed === '..') return { error: `${printable(entry.path)} is not a valid whiteout` };
    await fs.rm(path.join(parent.path, removed), { recursive: true, force: true });
    return 'done';
  }

  const existing = await fs.lstat(hostPath).catch(() => undefined);
  switch (entry.type) {
    case 'Directory': {
      const mode = dirMode(entry.mode);
      if (existing?.isDirectory()) {
        await fs.chmod(hostPath, mode);
      } else {
        if (existing) await fs.rm(hostPath, { recursive: true, force: true });
        await fs.mkdir(hostPath);
        await fs.chmod(hostPath, mode);
      }
      break;
    }
    case 'File':
    case 'OldFile':
    case 'ContiguousFile': {
      if (existing) await fs.rm(hostPath, { recursive: true, force: true });
      // O_EXCL | O_NOFOLLOW: a name that is (or became) a link is never written through.
      const handle = await fs.open(hostPath, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, 0o600);
      if (data === undefined) return { handle, inRoot };
      try {
        await handle.writeFile(data);
        await handle.chmod(fileMode(entry.mode));
      } finally {
        await handle.close();
      }
      break;
    }
    case 'SymbolicLink': {
      if (!entry.linkpath || entry.linkpath.includes('\0')) return { error: `${printable(entry.path)} is a symbolic link without a target` };
      if (existing) await fs.rm(hostPath, { recursive: true, force: true });
      await fs.symlink(entry.linkpath, hostPath);
      break;
    }
    case 'Link': {
      const targetParts = entryParts((entry.linkpath ?? '').replace(/^\/+/, ''));
      if ('error' in targetParts || targetParts.parts.length === 0) return { error: `${printable(entry.path)} is a hard link to ${printable(entry.linkpath ?? '')}, outside the image` };
      const targetParent = await walk(root, targetParts.parts.slice(0, -1), { followLast: true, create: false });
      if (!targetParent.ok) return { error: `${printable(entry.path)} is a hard link to ${printable(entry.linkpath ?? '')}: ${targetParent.error}` };
      const target = path.join(targetParent.path, targetParts.parts.at(-1)!);
      const stat = await fs.lstat(target).catch(() => undefined);
      if (!stat || !(stat.isFile() || stat.isSymbolicLink())) return { error: `${printable(entry.path)} is a hard link to ${printable(entry.linkpath ?? '')}, which is not a file of the image` };
      if (target === hostPath) break;
      if (existing) await fs.rm(hostPath, { recursive: true, force: true });
      await fs.link(target, hostPath);
      break;
    }
    default:
      // Devices, pipes and anything else a runtime would need privileges or a kernel for.
      return 'skipped';
  }
  written.add(inRoot);
  return 'done';
}

function fileMode(mode: number | undefined): number {
  return (mode ?? 0o644) & 0o777;
}

/** The owner keeps rwx on folders, so later layers (and cleanup) can change them without privileges. */
function dirMode(mode: number | undefined): number {
  return ((mode ?? 0o755) & 0o1777) | 0o700;
}

function entryParts(raw: string): { parts: string[] } | { error: string } {
  if (raw.includes('\0')) return { error: `the layer holds a name with a NUL byte` };
  if (raw.startsWith('/')) return { error: `the layer holds an absolute path ${printable(raw)}` };
  const parts = raw.split('/').filter((p) => p !== '' && p !== '.');
  if (parts.includes('..')) return { error: `the layer holds a path that leaves the image: ${printable(raw)}` };
  return { parts };
}

/**
 * Walk `parts` from the root, following symlinks inside it. With `create`, missing components are
 * made folders and the result must be a folder; without, a missing component is an error.
 */
async function walk(root: string, parts: string[], options: { followLast: boolean; create: boolean }): Promise<Resolved> {
  let resolved: string[] = [];
  const pending = [...parts];
  let links = 0;
  const shown = () => `/${resolved.join('/')}`;
  while (pending.length > 0) {
    const part = pending.shift()!;
    if (part === '' || part === '.') continue;
    if (part === '..') {
      resolved.pop();
      continue;
    }
    const isLast = !pending.some((p) => p !== '' && p !== '.');
    const host = path.join(root, ...resolved, part);
    const stat = await fs.lstat(host).catch(() => undefined);
    if (!stat) {
      if (!options.create) return { ok: false, error: `${printable(path.posix.join(shown(), part))} does not exist in the image` };
      await fs.mkdir(host, { mode: 0o755 });
      resolved.push(part);
      continue;
    }
    if (stat.isSymbolicLink() && (!isLast || options.followLast || options.create)) {
      if (++links > MAX_SYMLINKS) return { ok: false, error: `more than ${MAX_SYMLINKS} symbolic links (a loop?) at ${printable(path.posix.join(shown(), part))}` };
      const target = await fs.readlink(host);
      if (target.startsWith('/')) resolved = [];
      pending.unshift(...target.split('/'));
      continue;
    }
    if ((!isLast || options.create) && !stat.isDirectory()) return { ok: false, error: `${printable(path.posix.join(shown(), part))} is not a folder` };
    resolved.push(part);
  }
  return { ok: true, path: path.join(root, ...resolved), inRoot: `/${resolved.join('/')}` };
}

