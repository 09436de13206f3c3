import { constants, promises as fs } from 'node:fs';
import path from 'node:path';

/**
 * Chart folders and files read from a working tree or a mapped checkout, without following
 * links: what a pull request or a checkout holds as a link to `../.git/config`, the host's files
 * or `/proc/self/environ` is refused, never read.
 */

export interface CopyLimits {
  maxBytes: number;
  maxFiles: number;
}

const DEFAULT_LIMITS: CopyLimits = { maxBytes: 100 * 1024 * 1024, maxFiles: 10_000 };

export type CopyResult = { ok: true } | { ok: false; error: string };

/** The first link (or non-folder) on the way from `root` down to `root/relative`, if any. */
export async function linkOnPath(root: string, relative: string): Promise<string | undefined> {
  const parts = relative.split('/').filter((p) => p !== '' && p !== '.');
  let current = root;
  for (const [i, part] of parts.entries()) {
    current = path.join(current, part);
    const stat = await fs.lstat(current).catch(() => undefined);
    if (!stat) return undefined;
    if (stat.isSymbolicLink()) return parts.slice(0, i + 1).join('/');
  }
  return undefined;
}

/** A regular file under `root`, read without following a link anywhere on its path; undefined when absent or not a plain file. */
export async function readFileNoFollow(root: string, relative: string): Promise<Buffer | undefined> {
  if (await linkOnPath(root, relative)) return undefined;
  let handle: fs.FileHandle | undefined;
  try {
    handle = await fs.open(path.join(root, relative), constants.O_RDONLY | constants.O_NOFOLLOW);
    if (!(await handle.stat()).isFile()) return undefined;
    return await handle.readFile();
  } catch {
    return undefined;
  } finally {
    await handle?.close();
  }
}

/**
 * Copy the folder `root/relative` to `into` (which must not exist), regular files and folders
 * only. A link anywhere (on the way to the folder or inside it), a device or a pipe is refused.
 */
export async function copyTreeNoLinks(root: string, relative: string, into: string, limits: CopyLimits = DEFAULT_LIMITS): Promise<CopyResult> {
  const link = await linkOnPath(root, relative);
  if (link) return { ok: false, error: `${link} is a symbolic link; the guard does not follow links` };
  const source = path.join(root, relative);
  const top = await fs.lstat(source).catch(() => undefined);
  if (!top?.isDirectory()) return { ok: false, error: `${relative} is not a folder` };
  let files = 0;
  let bytes = 0;
  const walk = async (from: string, to: string, shown: string): Promise<string | undefined> => {
    await fs.mkdir(to, { recursive: true, mode: 0o755 });
    for (const entry of await fs.readdir(from, { withFileTypes: true })) {
      const name = `${shown}/${entry.name}`;
      if (entry.isSymbolicLink()) return `${name} is a symbolic link; charts may hold only files and folders, links are never followed`;
      if (entry.isDirectory()) {
        const problem = await walk(path.join(from, entry.name), path.join(to, entry.name), name);
        if (problem) return problem;
        continue;
      }
      if (!entry.isFile()) return `${name} is not a regular file`;
      if (++files > limits.maxFiles) return `${shown} holds more than ${limits.maxFiles} files`;
      const data = await readFileNoFollow(from, entry.name);
      if (!data) return `${name} cannot be read as a regular file`;
      bytes += data.length;
      if (bytes > limits.maxBytes) return `the chart is larger than ${limits.maxBytes} bytes`;
      await fs.writeFile(path.join(to, entry.name), data, { mode: 0o644 });
    }
    return undefined;
  };
  const problem = await walk(source, into, relative.replace(/\/+$/, '') || '.');
  return problem ? { ok: false, error: problem } : { ok: true };
}
