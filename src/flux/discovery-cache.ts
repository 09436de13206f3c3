import { createHash } from 'node:crypto';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import v8 from 'node:v8';
import { readCacheBytes, writeCacheFile } from '../tools/cache-file.js';
import { guardCodeDigest } from '../tools/code-identity.js';

/**
 * What the base and head look like once Flux has applied them (discovery, every Flux
 * Kustomization built, the skip plan) is a function of the two revisions' files, the policy that
 * shapes the builds, kubectl and the guard's own code, and nothing else: no network, no clock.
 * A rerun of the same pull request reads it back instead of parsing and planning again. kubectl's
 * version is kept in the entry and compared on reading (apply-revisions.ts).
 *
 * Entries are written only for runs whose builds all succeeded (a timeout must not be kept), and
 * read only when their digest matches; the key names every input, so a changed file, policy,
 * kubectl or guard build misses.
 */
export interface DiscoveryKeyInput {
  /** Content digests of every file of each revision (git blob ids). */
  baseTree: string;
  headTree: string;
  /** Everything else the builds and the skip plan read, as plain data. */
  context: Record<string, unknown>;
}

const FORMAT = 1;
const MAX_ENTRY_BYTES = 1024 * 1024 * 1024;

export async function discoveryKey(input: DiscoveryKeyInput): Promise<string> {
  const code = await guardCodeDigest();
  return createHash('sha256')
    .update(JSON.stringify({ format: FORMAT, code, node: process.versions.v8, ...input }))
    .digest('hex');
}

export async function readDiscovery<T>(cacheDir: string, key: string): Promise<T | undefined> {
  const file = entryPath(cacheDir, key);
  const data = await readCacheBytes(file, MAX_ENTRY_BYTES);
  if (!data || data.length < 32) return undefined;
  const payload = data.subarray(32);
  if (!createHash('sha256').update(payload).digest().equals(data.subarray(0, 32))) return undefined;
  try {
    const value = v8.deserialize(payload) as T;
    // Used: the newest again, so pruning takes the entries nobody reruns.
    const now = new Date();
    await fs.utimes(file, now, now).catch(() => undefined);
    return value;
  } catch {
    return undefined;
  }
}

export async function writeDiscovery(cacheDir: string, key: string, value: unknown): Promise<void> {
  let payload: Buffer;
  try {
    payload = v8.serialize(value);
  } catch {
    return; // something in it is not plain data: not kept
  }
  await writeCacheFile(entryPath(cacheDir, key), Buffer.concat([createHash('sha256').update(payload).digest(), payload]));
  await pruneOldest(cacheDir);
}

/** One entry per pair of revisions checked: a kept CI cache would grow with every pull request. Reruns are of recent pairs. */
const KEPT_ENTRIES = 128;

async function pruneOldest(cacheDir: string): Promise<void> {
  const names = (await fs.readdir(cacheDir).catch(() => [] as string[])).filter((name) => ENTRY_NAME.test(name));
  if (names.length <= KEPT_ENTRIES) return;
  const dated = await Promise.all(names.map(async (name) => ({ name, mtime: (await fs.lstat(path.join(cacheDir, name)).catch(() => undefined))?.mtimeMs ?? 0 })));
  dated.sort((a, b) => a.mtime - b.mtime);
  for (const { name } of dated.slice(0, dated.length - KEPT_ENTRIES)) await fs.rm(path.join(cacheDir, name), { force: true });
}

const ENTRY_NAME = /^[0-9a-f]{64}\.v8$/;

function entryPath(cacheDir: string, key: string): string {
  return path.join(cacheDir, `${key}.v8`);
}
