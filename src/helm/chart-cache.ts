import { createHash } from 'node:crypto';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { publishChartDir } from './chart-dirs.js';
import { isVerifiedTree, writeTreeManifest, type VerifiedTrees } from './tree-manifest.js';
import { unpackChart } from './unpack.js';

/**
 * The content-addressed chart cache (filled by the guard's own fetches and by `guard charts import`):
 *
 *   <cache>/charts/sha256/<hex>/                     an unpacked chart (Chart.yaml at its top); <hex> is the
 *                                                    sha256 of the chart archive (.tgz) it came from
 *   <cache>/charts/sha256/<hex>.files.json           the sha256 of every file of that tree, written when it was
 *                                                    unpacked: a tree that no longer matches is not used
 *   <cache>/charts/refs/<repo>/<chart>/<version>     a text file "sha256:<hex>": this chart version of this
 *                                                    repository is that archive
 *   <cache>/charts/refs/<repo>/<chart>/digest-sha256-<hex>   the same for an OCI manifest digest
 *   <cache>/charts/refs/<repo>/url                   the repository URL <repo> stands for
 *
 * <repo> is the first 24 hex digits of the sha256 of the repository URL without trailing slashes
 * (an HTTP repository's spec.url; for OCI, oci://host/path without the chart's own name, so a
 * HelmRepository of type oci and an OCIRepository of the same chart share it).
 */

export const SAFE_NAME = /^[A-Za-z0-9_][A-Za-z0-9._+-]{0,127}$/;

export function repositoryKey(repositoryUrl: string): string {
  return createHash('sha256').update(normalizeRepositoryUrl(repositoryUrl)).digest('hex').slice(0, 24);
}

export function normalizeRepositoryUrl(url: string): string {
  return url.trim().replace(/\/+$/, '');
}

export function blobDir(cacheDir: string, sha256: string): string {
  return path.join(cacheDir, 'charts', 'sha256', sha256);
}

function manifestFile(cacheDir: string, sha256: string): string {
  return `${blobDir(cacheDir, sha256)}.files.json`;
}

/**
 * Whether the cache holds the unpacked chart of this archive digest, exactly as it was unpacked
 * (every file and no other, unchanged). A tree that does not match is as good as absent.
 */
export function isCachedChart(cacheDir: string, sha256: string, verified?: VerifiedTrees): Promise<boolean> {
  return isVerifiedTree(blobDir(cacheDir, sha256), manifestFile(cacheDir, sha256), verified);
}

export function archiveDigest(archive: Buffer): string {
  return createHash('sha256').update(archive).digest('hex');
}

function refFile(cacheDir: string, repositoryUrl: string, chart: string, ref: string): string | undefined {
  if (!SAFE_NAME.test(chart) || !SAFE_NAME.test(ref)) return undefined;
  return path.join(cacheDir, 'charts', 'refs', repositoryKey(repositoryUrl), chart, ref);
}

/** The ref file name of an OCI manifest digest. */
export function digestRef(digest: string): string {
  return `digest-${digest.replace(':', '-')}`;
}

/** The archive digest a ref points at, when the cache holds its unpacked chart. */
export async function lookupRef(cacheDir: string, repositoryUrl: string, chart: string, ref: string, verified?: VerifiedTrees): Promise<{ dir: string; sha256: string } | undefined> {
  const file = refFile(cacheDir, repositoryUrl, chart, ref);
  if (!file) return undefined;
  const text = await fs.readFile(file, 'utf8').catch(() => undefined);
  const sha256 = /^sha256:([0-9a-f]{64})\s*$/.exec(text ?? '')?.[1];
  if (!sha256) return undefined;
  return (await isCachedChart(cacheDir, sha256, verified)) ? { dir: blobDir(cacheDir, sha256), sha256 } : undefined;
}

export async function writeRef(cacheDir: string, repositoryUrl: string, chart: string, ref: string, sha256: string): Promise<void> {
  const file = refFile(cacheDir, repositoryUrl, chart, ref);
  if (!file) return;
  await fs.mkdir(path.dirname(file), { recursive: true });
  const urlFile = path.join(path.dirname(path.dirname(file)), 'url');
  await fs.writeFile(urlFile, `${normalizeRepositoryUrl(repositoryUrl)}\n`);
  const temp = `${file}.tmp-${process.pid}-${Math.random().toString(36).slice(2)}`;
  await fs.writeFile(temp, `sha256:${sha256}\n`);
  await fs.rename(temp, file);
}

/** The versions of a chart the cache holds for a repository (ref names that are not digests). */
export async function cachedVersions(cacheDir: string, repositoryUrl: string, chart: string): Promise<string[]> {
  if (!SAFE_NAME.test(chart)) return [];
  const dir = path.join(cacheDir, 'charts', 'refs', repositoryKey(repositoryUrl), chart);
  const names = await fs.readdir(dir).catch(() => [] as string[]);
  return names.filter((n) => !n.startsWith('digest-') && !n.includes('.tmp-'));
}

export type StoredChart = { ok: true; dir: string; sha256: string } | { ok: false; error: string };

/**
 * Unpack an archive into the cache under its content digest, unless it is there already (and
 * intact: a tree that no longer matches its file list is moved aside and unpacked again).
 * Unpacking happens in a private staging folder, published by rename after its file list.
 */
export function storeArchive(cacheDir: string, archive: Buffer): Promise<StoredChart> {
  const sha256 = archiveDigest(archive);
  const dir = blobDir(cacheDir, sha256);
  // One store of an archive at a time in this process: a second one would take the first's fresh tree for a damaged one.
  const pending = storing.get(dir);
  if (pending) return pending;
  const stored = storeOnce(cacheDir, sha256, archive).finally(() => storing.delete(dir));
  storing.set(dir, stored);
  return stored;
}

const storing = new Map<string, Promise<StoredChart>>();

async function storeOnce(cacheDir: string, sha256: string, archive: Buffer): Promise<StoredChart> {
  const dir = blobDir(cacheDir, sha256);
  if (await isCachedChart(cacheDir, sha256)) return { ok: true, dir, sha256 };
  const unique = `${sha256.slice(0, 16)}-${process.pid}-${Math.random().toString(36).slice(2)}`;
  const staging = path.join(cacheDir, 'charts', 'sha256', `.staging-${unique}`);
  await fs.mkdir(staging, { recursive: true });
  try {
    const unpacked = await unpackChart(archive, staging);
    if (!unpacked.ok) return unpacked;
    await writeTreeManifest(staging, manifestFile(cacheDir, sha256));
    // Another run may have put it there meanwhile: only a tree that is still damaged is replaced.
    if (await isCachedChart(cacheDir, sha256)) return { ok: true, dir, sha256 };
    await discard(dir, path.join(cacheDir, 'charts', 'sha256', `.stale-${unique}`));
    await publishChartDir(staging, dir);
    return { ok: true, dir, sha256 };
  } finally {
    await fs.rm(staging, { recursive: true, force: true });
  }
}

/** A damaged tree is renamed away first, so a concurrent reader sees either it or nothing, never a half-removed one. */
async function discard(dir: string, aside: string): Promise<void> {
  const moved = await fs.rename(dir, aside).then(() => true, () => false);
  if (moved) await fs.rm(aside, { recursive: true, force: true });
}

export async function chartYamlField(dir: string, field: 'version' | 'name'): Promise<string | undefined> {
  const text = await fs.readFile(path.join(dir, 'Chart.yaml'), 'utf8').catch(() => undefined);
  return text ? new RegExp(`^${field}:\\s*["']?([^"'\\s#]+)`, 'm').exec(text)?.[1] : undefined;
}
