import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { create } from 'tar';
import { GuardError } from '../errors.js';
import { chartYamlField, normalizeRepositoryUrl, SAFE_NAME, storeArchive, writeRef } from './chart-cache.js';
import { copyTreeNoLinks } from './safe-copy.js';

/**
 * `guard charts import`: put a chart into the cache as if the guard had fetched it from a
 * repository, for air-gapped CI and tests. The guard then answers that repository's chart from
 * the cache (an exact version without asking the repository, a range when it cannot be reached).
 */

export interface ImportRequest {
  /** A packaged chart (.tgz) or a chart folder. */
  source: string;
  /** The HelmRepository spec.url, or the OCIRepository spec.url (oci://host/path/chart). */
  repositoryUrl: string;
  /** Default: the chart's Chart.yaml version. */
  version?: string;
  /** Default: the chart's Chart.yaml name. */
  chart?: string;
  cacheDir: string;
}

export interface ImportResult {
  chart: string;
  version: string;
  repositoryUrl: string;
  sha256: string;
  dir: string;
}

export async function importChart(request: ImportRequest): Promise<ImportResult> {
  const stat = await fs.stat(request.source).catch(() => undefined);
  if (!stat) throw new GuardError(`cannot read ${request.source}`, undefined, 'give a packaged chart (.tgz, as helm package writes it) or a chart folder');
  const archive = stat.isDirectory() ? await packFolder(request.source) : await fs.readFile(request.source);
  const stored = await storeArchive(request.cacheDir, archive);
  if (!stored.ok) throw new GuardError(`${request.source}: ${stored.error}`);
  const name = request.chart ?? (await chartYamlField(stored.dir, 'name'));
  const version = request.version ?? (await chartYamlField(stored.dir, 'version'));
  if (!name || !SAFE_NAME.test(name)) throw new GuardError(`${request.source}: the chart has no usable name in Chart.yaml`, undefined, 'pass --chart NAME');
  if (!version || !SAFE_NAME.test(version)) throw new GuardError(`${request.source}: the chart has no usable version in Chart.yaml`, undefined, 'pass --version VERSION');
  const repositoryUrl = repositoryOf(request.repositoryUrl, name);
  await writeRef(request.cacheDir, repositoryUrl, name, version.replace('_', '+'), stored.sha256);
  return { chart: name, version, repositoryUrl, sha256: stored.sha256, dir: stored.dir };
}

/** An OCIRepository URL names the chart itself; the cache keys it by the path above the chart, like a HelmRepository of type oci. */
function repositoryOf(url: string, chart: string): string {
  const normalized = normalizeRepositoryUrl(url);
  if (!/^(oci|https?):\/\//.test(normalized)) throw new GuardError(`--repo ${url} is not an http(s):// or oci:// URL`);
  if (normalized.startsWith('oci://') && normalized.endsWith(`/${chart}`) && normalized.split('/').length > 3) return normalized.slice(0, -chart.length - 1);
  return normalized;
}

/** A chart folder packed as helm would (one top folder named after the chart), files only, links refused. */
async function packFolder(folder: string): Promise<Buffer> {
  const staging = await fs.mkdtemp(path.join(os.tmpdir(), 'guard-import-'));
  try {
    const top = path.join(staging, 'chart');
    const copied = await copyTreeNoLinks(path.dirname(path.resolve(folder)), path.basename(path.resolve(folder)), top);
    if (!copied.ok) throw new GuardError(`${folder}: ${copied.error}`);
    const files = (await listFiles(top)).map((f) => path.posix.join('chart', f)).sort();
    const out = path.join(staging, 'chart.tgz');
    await create({ gzip: true, cwd: staging, file: out, portable: true, noMtime: true }, files);
    return await fs.readFile(out);
  } finally {
    await fs.rm(staging, { recursive: true, force: true });
  }
}

async function listFiles(dir: string, prefix = ''): Promise<string[]> {
  const out: string[] = [];
  for (const entry of await fs.readdir(dir, { withFileTypes: true })) {
    const relative = prefix ? `${prefix}/${entry.name}` : entry.name;
    if (entry.isDirectory()) out.push(...(await listFiles(path.join(dir, entry.name), relative)));
    else if (entry.isFile()) out.push(relative);
  }
  return out;
}
