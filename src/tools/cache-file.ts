import { constants, promises as fs } from 'node:fs';
import path from 'node:path';

/**
 * Read a cache entry that someone else may have written: never through a link, never a pipe or
 * device (which would stall the run), never past `maxBytes`. Opened without blocking and checked
 * on the open handle, so nothing can be swapped in between the check and the read.
 */
export async function readCacheFile(file: string, maxBytes: number): Promise<string | undefined> {
  return (await readCacheBytes(file, maxBytes))?.toString('utf8');
}

/** The same, as bytes. */
export async function readCacheBytes(file: string, maxBytes: number): Promise<Buffer | undefined> {
  let handle: fs.FileHandle | undefined;
  try {
    handle = await fs.open(file, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
    const stat = await handle.stat();
    if (!stat.isFile() || stat.size > maxBytes) return undefined;
    return await handle.readFile();
  } catch {
    return undefined;
  } finally {
    await handle?.close().catch(() => undefined);
  }
}

/**
 * Write a file whole or not at all: a temporary file beside it (its own name, never an existing
 * file or link: `wx`), then a rename, so a reader never sees half an entry.
 */
export async function writeFileWhole(file: string, data: string | Buffer): Promise<void> {
  await fs.mkdir(path.dirname(file), { recursive: true });
  const temporary = `${file}.${process.pid}.${Math.random().toString(36).slice(2)}`;
  try {
    await fs.writeFile(temporary, data, { flag: 'wx', mode: 0o644 });
    await fs.rename(temporary, file);
  } catch (error) {
    await fs.rm(temporary, { force: true });
    throw error;
  }
}

/** The same for a cache entry: a cache that cannot be written costs time, never a result. */
export async function writeCacheFile(file: string, data: string | Buffer): Promise<void> {
  await writeFileWhole(file, data).catch(() => undefined);
}
