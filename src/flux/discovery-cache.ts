import { createHash } from 'node:crypto';
import path from 'node:path';
import v8 from 'node:v8';
import { readCacheBytes, writeCacheFile } from '../tools/cache-file.js';
import { guardCodeDigest } from '../tools/code-identity.js';

/**
 * What the base and head look like once Flux has applied them (discovery, every Flux
 * Kustomization built, the skip plan) is a function of the two revisions' files, the policy that
 * shapes the builds, kubectl and the guard's own code, and nothing else: no network, no clock.
 * A rerun of the same pull request reads it back instead of parsing and planning again.
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
  const data = await readCacheBytes(entryPath(cacheDir, key), MAX_ENTRY_BYTES);
  if (!data || data.length < 32) return undefined;
  const payload = data.subarray(32);
  if (!createHash('sha256').update(payload).digest().equals(data.subarray(0, 32))) return undefined;
  try {
    return v8.deserialize(payload) as T;
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
}

function entryPath(cacheDir: string, key: string): string {
  return path.join(cacheDir, key.slice(0, 2), `${key}.v8`);
}
