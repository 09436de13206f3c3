import { createHash } from 'node:crypto';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import type { RenderedContainer } from '../model/workloads.js';

/** What a render produced that the checks need; small enough to keep on disk for every release. */
export interface CachedRender {
  containers: RenderedContainer[];
  /** The manifests as applied, kept only when asked for (`guard render`, `guard diff`). */
  manifests?: string;
}

/**
 * Content-addressed renders: the key covers everything helm's output depends on (chart content,
 * merged values, release name and namespace, helm flags, helm version), so a hit can never change
 * a verdict. Renders in flight are shared, so base and head with equal inputs cost one helm call.
 */
export class RenderCache {
  private readonly inFlight = new Map<string, Promise<CachedRender | { error: string }>>();
  hits = 0;
  misses = 0;

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
    try {
      return JSON.parse(await fs.readFile(file, 'utf8')) as CachedRender;
    } catch {
      return undefined;
    }
  }

  private async store(key: string, value: CachedRender): Promise<void> {
    const file = this.file(key);
    if (!file) return;
    await fs.mkdir(path.dirname(file), { recursive: true });
    const temporary = `${file}.${process.pid}.${Math.random().toString(36).slice(2)}`;
    await fs.writeFile(temporary, JSON.stringify(value));
    await fs.rename(temporary, file);
  }
}
