import { constants, promises as fs } from 'node:fs';

/**
 * Read a cache entry that someone else may have written: never through a link, never a pipe or
 * device (which would stall the run), never past `maxBytes`. Opened without blocking and checked
 * on the open handle, so nothing can be swapped in between the check and the read.
 */
export async function readCacheFile(file: string, maxBytes: number): Promise<string | undefined> {
  let handle: fs.FileHandle | undefined;
  try {
    handle = await fs.open(file, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
    const stat = await handle.stat();
    if (!stat.isFile() || stat.size > maxBytes) return undefined;
    return await handle.readFile('utf8');
  } catch {
    return undefined;
  } finally {
    await handle?.close().catch(() => undefined);
  }
}
