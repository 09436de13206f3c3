import { promises as fs } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import zlib from 'node:zlib';
import { printable } from '../report/printable.js';
import { Parser, type ReadEntry } from 'tar';

/**
 * A chart archive (.tgz) unpacked the way helm's loader reads it (the first path component of
 * every entry is the chart's folder and is dropped), but refusing what helm would not need and
 * an attacker would: links, devices, absolute paths, `..`. Only regular files and folders are
 * written, with fixed modes; sizes and counts are bounded.
 */

export interface UnpackLimits {
  /** Total bytes of the files in the chart. */
  maxBytes: number;
  maxFiles: number;
}

/** helm's own loader caps a decompressed chart at 100 MiB. */
export const DEFAULT_UNPACK_LIMITS: UnpackLimits = { maxBytes: 100 * 1024 * 1024, maxFiles: 10_000 };

export type UnpackResult = { ok: true } | { ok: false; error: string };

const gunzip = promisify(zlib.gunzip);
const ALLOWED_TYPES = new Set(['File', 'OldFile', 'ContiguousFile', 'Directory']);

interface ChartFile {
  name: string;
  data: Buffer;
}

/** Unpack `archive` into the empty folder `into`, which then holds the chart (Chart.yaml at its top). */
export async function unpackChart(archive: Buffer, into: string, limits: UnpackLimits = DEFAULT_UNPACK_LIMITS): Promise<UnpackResult> {
  let tarBytes: Buffer;
  try {
    // Tar headers and padding add at most a block per entry and one per 512 bytes of data.
    tarBytes = await gunzip(archive, { maxOutputLength: limits.maxBytes * 2 + limits.maxFiles * 1024 + 1024 * 1024 });
  } catch (error) {
    const code = (error as { code?: string }).code;
    if (code === 'ERR_BUFFER_TOO_LARGE' || error instanceof RangeError) return { ok: false, error: `the archive unpacks to more than ${limits.maxBytes} bytes` };
    return { ok: false, error: 'not a gzip-compressed chart archive' };
  }
  const read = await readEntries(tarBytes, limits);
  if (!read.ok) return read;
  if (!read.files.some((f) => f.name === 'Chart.yaml')) return { ok: false, error: 'the archive holds no chart (no <name>/Chart.yaml at its top)' };
  for (const file of read.files) {
    const target = path.join(into, ...file.name.split('/'));
    await fs.mkdir(path.dirname(target), { recursive: true, mode: 0o755 });
    await fs.writeFile(target, file.data, { mode: 0o644, flag: 'w' });
  }
  return { ok: true };
}

async function readEntries(tarBytes: Buffer, limits: UnpackLimits): Promise<{ ok: true; files: ChartFile[] } | { ok: false; error: string }> {
  const files = new Map<string, ChartFile>();
  let total = 0;
  let problem: string | undefined;
  const parser = new Parser({ strict: true });
  const refuse = (message: string) => {
    if (!problem) problem = message;
  };
  parser.on('entry', (entry: ReadEntry) => {
    const chunks: Buffer[] = [];
    entry.on('data', (chunk: Buffer) => {
      total += chunk.length;
      if (total > limits.maxBytes) refuse(`the archive unpacks to more than ${limits.maxBytes} bytes`);
      else chunks.push(chunk);
    });
    if (problem) return entry.resume();
    if (!ALLOWED_TYPES.has(entry.type)) {
      refuse(`the archive holds ${describeType(entry.type)} ${printable(entry.path)}${entry.linkpath ? ` -> ${printable(entry.linkpath)}` : ''}; charts may hold only files and folders, links are never followed`);
      return entry.resume();
    }
    const name = chartPath(entry.path);
    if ('error' in name) {
      refuse(name.error);
      return entry.resume();
    }
    if (entry.type === 'Directory' || name.path === '') return entry.resume();
    entry.on('end', () => files.set(name.path, { name: name.path, data: Buffer.concat(chunks) }));
    if (files.size + 1 > limits.maxFiles) refuse(`the archive holds more than ${limits.maxFiles} files`);
    entry.resume();
  });
  parser.on('warn', (code: string, message: string | Error) => refuse(`not a valid tar archive (${code}: ${typeof message === 'string' ? message : message.message})`));
  parser.on('error', (error: Error) => refuse(`not a valid tar archive: ${error.message}`));
  await new Promise<void>((resolve) => {
    parser.on('end', resolve);
    parser.on('abort', resolve);
    parser.end(tarBytes);
  });
  if (problem) return { ok: false, error: problem };
  // Checked after the whole archive is read, so that a file and a folder of one name cannot both exist.
  for (const name of files.keys()) {
    const parts = name.split('/');
    for (let i = 1; i < parts.length; i++) if (files.has(parts.slice(0, i).join('/'))) return { ok: false, error: `the archive holds ${printable(name)} under a file of the same name` };
  }
  return { ok: true, files: [...files.values()] };
}

/** The entry's path inside the chart (helm drops the first component), or why it is refused. */
function chartPath(raw: string): { path: string } | { error: string } {
  const name = raw.includes('\\') ? raw.replaceAll('\\', '/') : raw;
  if (name.startsWith('/') || /^[A-Za-z]:/.test(name)) return { error: `the archive holds an absolute path ${printable(raw)}` };
  const parts = name.split('/').filter((p) => p !== '' && p !== '.');
  if (parts.some((p) => p === '..')) return { error: `the archive holds a path that leaves the chart: ${printable(raw)}` };
  if (parts.some((p) => /[\u0000-\u001f]/.test(p))) return { error: `the archive holds a file name with control characters` };
  if (parts.length === 1 && parts[0] === 'Chart.yaml') return { error: 'Chart.yaml is not inside the chart folder of the archive' };
  return { path: parts.slice(1).join('/') };
}

function describeType(type: string): string {
  switch (type) {
    case 'SymbolicLink':
      return 'a symbolic link';
    case 'Link':
      return 'a hard link';
    case 'CharacterDevice':
    case 'BlockDevice':
      return 'a device file';
    case 'FIFO':
      return 'a named pipe';
    default:
      return `an entry of type ${type}`;
  }
}

