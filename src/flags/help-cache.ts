import { createHash } from 'node:crypto';
import path from 'node:path';
import { DIGEST } from '../registry/distribution.js';
import { readCacheFile, writeCacheFile } from '../tools/cache-file.js';
import type { CapturedHelp as CachedHelp } from './store.js';

interface Entry {
  format: 1;
  key: string;
  sha256: string;
  help: CachedHelp;
}

const MAX_ENTRY_BYTES = 1024 * 1024;

/**
 * Help captured from images, keyed by what decides it: the image digest (an image by digest never
 * changes), the platform, and what the container runs (its command and the words that may name
 * a subcommand). Entries carry their key and content hash, checked on every read.
 */
export class HelpCache {
  constructor(private readonly dir: string | undefined) {}

  static key(parts: { digest: string; platform: string; command?: string[]; args?: string[]; framework?: string }): string {
    return createHash('sha256').update(JSON.stringify([2, parts.digest, parts.platform, parts.command ?? null, argsShape(parts.args), parts.framework ?? null])).digest('hex');
  }

  async get(key: string): Promise<CachedHelp | undefined> {
    const file = this.file(key);
    if (!file) return undefined;
    const text = await readCacheFile(file, MAX_ENTRY_BYTES);
    if (text === undefined) return undefined;
    try {
      const entry = JSON.parse(text) as Partial<Entry>;
      if (entry.format !== 1 || entry.key !== key || !entry.help || typeof entry.help.text !== 'string' || typeof entry.help.provenance?.image !== 'string') return undefined;
      return entry.sha256 === contentHash(entry.help) ? entry.help : undefined;
    } catch {
      return undefined;
    }
  }

  async put(key: string, help: CachedHelp): Promise<void> {
    const file = this.file(key);
    if (!file) return;
    const entry: Entry = { format: 1, key, sha256: contentHash(help), help };
    await writeCacheFile(file, JSON.stringify(entry));
  }

  private file(key: string): string | undefined {
    return this.dir ? path.join(this.dir, key.slice(0, 2), `${key}.json`) : undefined;
  }
}

/**
 * The args as far as they decide which help is captured: which program a wrapper or shell runs,
 * and which words name a subcommand (flags and their values may come first: `--config x alpha`).
 * Only the value of a plain `--name=value` is left out: it is never a subcommand, a program or a
 * script, so changing it needs no new capture.
 */
function argsShape(args: string[] | undefined): string[] | null {
  if (!args) return null;
  return args.map((arg) => {
    const plain = /^(--[A-Za-z0-9][A-Za-z0-9._-]*=)[^\s;&|`$()<>'"\\]*$/.exec(arg);
    return plain ? plain[1]! : arg;
  });
}

function contentHash(help: CachedHelp): string {
  return createHash('sha256').update(JSON.stringify(help)).digest('hex');
}

/** Where each tag pointed when a registry was last asked: what --offline resolves tags with. */
export class TagCache {
  constructor(private readonly dir: string | undefined) {}

  async get(image: string): Promise<string | undefined> {
    const file = this.file(image);
    if (!file) return undefined;
    const text = await readCacheFile(file, 4096);
    try {
      const entry = text === undefined ? undefined : (JSON.parse(text) as { image?: unknown; digest?: unknown });
      return entry?.image === image && typeof entry.digest === 'string' && DIGEST.test(entry.digest) ? entry.digest : undefined;
    } catch {
      return undefined;
    }
  }

  async put(image: string, digest: string): Promise<void> {
    const file = this.file(image);
    if (!file) return;
    await writeCacheFile(file, JSON.stringify({ image, digest }));
  }

  private file(image: string): string | undefined {
    return this.dir ? path.join(this.dir, `${createHash('sha256').update(image).digest('hex')}.json`) : undefined;
  }
}
