import { createHash } from 'node:crypto';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { readCacheFile, writeFileWhole } from '../tools/cache-file.js';
import type { RenderedContainer, RenderedInspection } from '../model/workloads.js';

/** What a render produced that the checks need; small enough to keep on disk for every release. */
export interface CachedRender {
  containers: RenderedContainer[];
  inspection?: RenderedInspection;
  /** The manifests as applied, kept only when asked for (`guard render`, `guard diff`). */
  manifests?: string;
}

/** What is on disk: the render with the key it answers and the hash of its content. */
interface CacheEntry {
  format: 1;
  key: string;
  /** sha256 of the render's JSON: an entry whose content does not hash to it is not used. */
  sha256: string;
  render: CachedRender;
}

/**
 * Content-addressed renders: the key covers everything helm's output depends on (chart content,
 * merged values, release name and namespace, helm flags, helm version), so a hit can never change
 * a verdict. Each entry carries its key and the hash of its content, verified on every read: a
 * truncated, corrupted, misplaced or hand-edited entry is ignored and rendered again (a writer
 * who can also recompute the hash is not stopped by this: see README, "the render cache").
 * Renders in flight are shared, so base and head with equal inputs cost one helm call.
 */
export class RenderCache {
  private readonly inFlight = new Map<string, Promise<CachedRender | { error: string }>>();
  hits = 0;
  misses = 0;
  /** Entries found on disk that failed verification (and were rendered again). */
  rejected = 0;

  constructor(private readonly dir: string | undefined) {}

  static key(parts: unknown): string {
    return createHash('sha256').update(JSON.stringify(parts)).digest('hex');
  }

  /** The cached render for `key`, or the result of `render()`, stored when it succeeded. */
  get(key: string, render: () => Promise<CachedRender | { error: string }>): Promise<CachedRender | { error: string }> {
    let pending = this.inFlight.get(key);
    if (!pending) {
      pending = this.load(key).then(async (cached) => {
        if (cached) {
          this.hits++;
          return cached;
        }
        this.misses++;
        const result = await render();
        if (!('error' in result)) await this.store(key, result);
        return result;
      });
      this.inFlight.set(key, pending);
    }
    return pending;
  }

  private file(key: string): string | undefined {
    return this.dir ? path.join(this.dir, key.slice(0, 2), `${key}.json`) : undefined;
  }

  private async load(key: string): Promise<CachedRender | undefined> {
    const file = this.file(key);
    if (!file) return undefined;
    const stat = await fs.lstat(file).catch(() => undefined);
    if (!stat) return undefined;
    const text = await readCacheFile(file, MAX_ENTRY_BYTES);
    if (text === undefined) {
      this.rejected++;
      return undefined;
    }
    const entry = verifiedEntry(text, key);
    if (!entry) this.rejected++;
    return entry;
  }

  private async store(key: string, value: CachedRender): Promise<void> {
    const file = this.file(key);
    if (!file) return;
    const entry: CacheEntry = { format: 1, key, sha256: contentHash(value), render: value };
    await writeFileWhole(file, JSON.stringify(entry));
  }
}

const MAX_ENTRY_BYTES = 64 * 1024 * 1024;

function contentHash(render: CachedRender): string {
  return createHash('sha256').update(JSON.stringify(render)).digest('hex');
}

/** The render in an entry, when the entry answers this key, hashes to what it says, and has a render's shape. */
function verifiedEntry(text: string, key: string): CachedRender | undefined {
  let entry: Partial<CacheEntry>;
  try {
    entry = JSON.parse(text) as Partial<CacheEntry>;
  } catch {
    return undefined;
  }
  if (entry?.format !== 1 || entry.key !== key || typeof entry.sha256 !== 'string') return undefined;
  const render = entry.render;
  if (!render || !Array.isArray(render.containers) || (render.manifests !== undefined && typeof render.manifests !== 'string')) return undefined;
  return contentHash(render) === entry.sha256 ? render : undefined;
}
