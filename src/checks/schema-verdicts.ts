import { createHash } from 'node:crypto';
import path from 'node:path';
import { readCacheFile, writeCacheFile } from '../tools/cache-file.js';
import { guardCodeDigest } from '../tools/code-identity.js';
import type { SchemaVerdict } from './values-schema.js';

/**
 * The values-schema verdict of each (schema, values) pair, kept on disk: a rerun, or a release
 * whose values did not change, is not made to compile the chart's schema again (app-template's
 * takes half a second). Entries carry their key, the guard build and a digest of the verdict, and
 * are used only when all three match.
 */
export class SchemaVerdicts {
  constructor(private readonly dir: string | undefined) {}

  async get(key: string): Promise<SchemaVerdict | undefined> {
    if (!this.dir) return undefined;
    const text = await readCacheFile(this.file(key), 16 * 1024 * 1024);
    if (text === undefined) return undefined;
    try {
      const entry = JSON.parse(text) as { key?: unknown; code?: unknown; sha256?: unknown; verdict?: unknown };
      const verdict = JSON.stringify(entry.verdict);
      if (entry.key !== key || entry.code !== (await guardCodeDigest()) || entry.sha256 !== digest(verdict)) return undefined;
      return entry.verdict as SchemaVerdict;
    } catch {
      return undefined;
    }
  }

  async set(key: string, verdict: SchemaVerdict): Promise<void> {
    if (!this.dir) return;
    const text = JSON.stringify(verdict);
    await writeCacheFile(this.file(key), JSON.stringify({ key, code: await guardCodeDigest(), sha256: digest(text), verdict }));
  }

  private file(key: string): string {
    return path.join(this.dir!, key.slice(0, 2), `${key}.json`);
  }
}

function digest(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}
