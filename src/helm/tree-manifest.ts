import { createHash } from 'node:crypto';
import { promises as fs } from 'node:fs';
import path from 'node:path';

/**
 * The file list of an unpacked chart: the sha256 of every regular file, by its path in the tree.
 * Written when the guard unpacks a chart into the cache, checked before the cache answers with
 * it, so a tree changed since (a file edited, added or removed, a link put in) is not rendered.
 */

export type TreeManifest = Record<string, string>;

/** Trees found intact in one run: each is hashed once per run (one found damaged is looked at again once replaced). */
export type VerifiedTrees = Map<string, Promise<boolean>>;

const FORMAT = 1;
const HASHING_AT_ONCE = 16;

/** The manifest of a tree, or undefined when it holds anything but files and folders. */
export async function treeManifest(root: string): Promise<TreeManifest | undefined> {
  const files: string[] = [];
  const walk = async (relative: string): Promise<boolean> => {
    const entries = await fs.readdir(path.join(root, relative), { withFileTypes: true });
    for (const entry of entries) {
      const name = relative ? `${relative}/${entry.name}` : entry.name;
      if (entry.isDirectory()) {
        if (!(await walk(name))) return false;
      } else if (entry.isFile()) files.push(name);
      else return false;
    }
    return true;
  };
  if (!(await walk(''))) return undefined;
  const manifest: TreeManifest = {};
  for (let i = 0; i < files.length; i += HASHING_AT_ONCE) {
    const batch = files.slice(i, i + HASHING_AT_ONCE);
    const digests = await Promise.all(batch.map(async (file) => createHash('sha256').update(await fs.readFile(path.join(root, file))).digest('hex')));
    batch.forEach((file, j) => (manifest[file] = digests[j]!));
  }
  return manifest;
}

/** Record the tree as it is now in `file` (written whole, then renamed into place). */
export async function writeTreeManifest(root: string, file: string): Promise<void> {
  const files = await treeManifest(root);
  if (!files) throw new Error(`${root} holds an entry that is neither a file nor a folder`);
  const sorted = Object.fromEntries(Object.entries(files).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
  const temp = `${file}.tmp-${process.pid}-${Math.random().toString(36).slice(2)}`;
  await fs.writeFile(temp, JSON.stringify({ format: FORMAT, files: sorted }));
  await fs.rename(temp, file);
}

/** Whether the tree at `root` is exactly what `file` recorded; no record (or an unreadable one) is no. */
export function isVerifiedTree(root: string, file: string, verified?: VerifiedTrees): Promise<boolean> {
  const check = async () => {
    const recorded = await readManifest(file);
    if (!recorded) return false;
    const actual = await treeManifest(root).catch(() => undefined);
    if (!actual) return false;
    const names = Object.keys(recorded);
    return names.length === Object.keys(actual).length && names.every((name) => Object.hasOwn(actual, name) && actual[name] === recorded[name]);
  };
  if (!verified) return check();
  const known = verified.get(root);
  if (known) return known;
  const pending = check().then((intact) => {
    if (!intact) verified.delete(root);
    return intact;
  });
  verified.set(root, pending);
  return pending;
}

async function readManifest(file: string): Promise<TreeManifest | undefined> {
  const text = await fs.readFile(file, 'utf8').catch(() => undefined);
  if (text === undefined) return undefined;
  try {
    const parsed = JSON.parse(text) as { format?: unknown; files?: unknown };
    if (parsed.format !== FORMAT || typeof parsed.files !== 'object' || parsed.files === null) return undefined;
    const files = parsed.files as Record<string, unknown>;
    return Object.values(files).every((v) => typeof v === 'string') ? (files as TreeManifest) : undefined;
  } catch {
    return undefined;
  }
}
