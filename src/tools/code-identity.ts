import { createHash } from 'node:crypto';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

let digest: Promise<string> | undefined;

/**
 * Digest of the guard's own code as it runs (build/ or the dist/ bundle): a cache of what the
 * code computed is only good for the code that computed it. The version number is not enough:
 * it stays the same between builds, and npm gives every installed file the same mtime.
 */
export function guardCodeDigest(): Promise<string> {
  digest ??= (async () => {
    const self = fileURLToPath(import.meta.url);
    const here = path.dirname(self);
    // build/tools/code-identity.js (or src/tools/ under the tests): every module of the folder above; a bundle holds all the code itself.
    const root = path.basename(here) === 'tools' ? path.dirname(here) : undefined;
    const files = root ? (await codeFiles(root)).sort() : [self];
    const hash = createHash('sha256');
    for (const file of files) hash.update(`${path.relative(root ?? here, file)}\0`).update(await fs.readFile(file)).update('\0');
    // Unbundled, the dependencies (the YAML parser among them) are code of their own: their locked versions count.
    if (root) hash.update(await fs.readFile(path.join(path.dirname(root), 'package-lock.json')).catch(() => Buffer.from('no lock')));
    return hash.digest('hex');
  })();
  return digest;
}

async function codeFiles(dir: string, depth = 0): Promise<string[]> {
  if (depth > 8) return [];
  const out: string[] = [];
  for (const entry of await fs.readdir(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory() && entry.name !== 'node_modules') out.push(...(await codeFiles(full, depth + 1)));
    else if (entry.isFile() && /\.(m?js|ts)$/.test(entry.name)) out.push(full);
  }
  return out;
}
