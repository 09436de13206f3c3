import { createHash } from 'node:crypto';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { runProcess } from '../tools/run-process.js';
import { runHelm, type HelmRunOptions } from './run.js';

export interface PullRequest {
  /** http(s) repository URL, or an oci:// base URL (the chart is its next path segment). */
  repositoryUrl: string;
  chart: string;
  /** An exact version, a semver range, or (OCI) a tag that is a version. */
  version?: string;
  /** OCI manifest digest (sha256:...): pins the chart regardless of version. */
  digest?: string;
  plainHttp?: boolean;
}

export type PullResult = { ok: true; dir: string; /** version: of the Chart.yaml fetched */ version?: string } | { ok: false; error: string };

const EXACT_VERSION = /^v?\d+\.\d+\.\d+(?:[-+][0-9A-Za-z.+-]*)?$/;

/**
 * Download a chart into the content-addressed cache. Exact versions and digests are cached by
 * repository + chart + version/digest; ranges are resolved by helm on every run.
 */
export async function pullChart(request: PullRequest, cacheDir: string, options: HelmRunOptions): Promise<PullResult> {
  const exact = request.digest !== undefined || (request.version !== undefined && EXACT_VERSION.test(request.version));
  const key = createHash('sha256').update(JSON.stringify([request.repositoryUrl, request.chart, request.version ?? '', request.digest ?? ''])).digest('hex').slice(0, 32);
  const finalDir = path.join(cacheDir, 'charts', key);
  if (exact && (await exists(path.join(finalDir, 'Chart.yaml')))) return pulled(finalDir);
  const staging = await makeStaging(cacheDir, key);
  try {
    const result = await runHelm([...pullArguments(request), '--untar', '--untardir', staging], options);
    if (!result.ok) return { ok: false, error: result.error };
    const chartDir = await chartDirIn(staging);
    if (!chartDir) return { ok: false, error: `helm pull produced no chart for ${request.chart}` };
    if (!exact) {
      // Ranges resolve anew each run; one copy per process keeps the cache from growing.
      const rangeDir = path.join(cacheDir, 'charts', 'ranges', `${key}-${process.pid}`);
      await fs.rm(rangeDir, { recursive: true, force: true });
      await fs.mkdir(path.dirname(rangeDir), { recursive: true });
      await fs.rename(chartDir, rangeDir);
      return pulled(rangeDir);
    }
    await publish(chartDir, finalDir);
    return pulled(finalDir);
  } finally {
    await fs.rm(staging, { recursive: true, force: true });
  }
}

function pullArguments(request: PullRequest): string[] {
  if (!request.repositoryUrl.startsWith('oci://')) {
    return ['pull', request.chart, '--repo', request.repositoryUrl, ...(request.version ? ['--version', request.version] : [])];
  }
  const reference = `${request.repositoryUrl.replace(/\/$/, '')}/${request.chart}${request.digest ? `@${request.digest}` : ''}`;
  const args = ['pull', reference];
  if (request.version && !request.digest) args.push('--version', request.version);
  if (request.plainHttp) args.push('--plain-http');
  return args;
}

/**
 * Unpack a packaged chart (.tgz) into the cache, keyed by its content, so that the chart's
 * values.yaml and schema can be read like those of any other chart.
 */
export async function unpackChartArchive(archive: Buffer, cacheDir: string, timeoutMs: number): Promise<PullResult> {
  const key = `archive-${createHash('sha256').update(archive).digest('hex').slice(0, 32)}`;
  const finalDir = path.join(cacheDir, 'charts', key);
  if (await exists(path.join(finalDir, 'Chart.yaml'))) return pulled(finalDir);
  const staging = await makeStaging(cacheDir, key);
  try {
    const file = path.join(staging, 'chart.tgz');
    await fs.writeFile(file, archive);
    const into = path.join(staging, 'unpacked');
    await fs.mkdir(into);
    const result = await runProcess('tar', ['-xzf', file, '-C', into, '--no-same-owner', '--no-same-permissions'], { env: process.env, timeoutMs, maxBuffer: 1024 * 1024 });
    if (result.exitCode !== 0) return { ok: false, error: `not a chart archive: ${result.stderr.trim() || 'tar failed'}` };
    const chartDir = await chartDirIn(into);
    if (!chartDir) return { ok: false, error: 'the archive holds no chart (no <name>/Chart.yaml at its top)' };
    await publish(chartDir, finalDir);
    return pulled(finalDir);
  } finally {
    await fs.rm(staging, { recursive: true, force: true });
  }
}

async function makeStaging(cacheDir: string, key: string): Promise<string> {
  const staging = path.join(cacheDir, 'charts', `.staging-${key}-${process.pid}-${Math.random().toString(36).slice(2)}`);
  await fs.mkdir(staging, { recursive: true });
  return staging;
}

/**
 * The top-level chart directory helm pull or a chart archive produces. helm 4 pulling by digest
 * also leaves an empty `<chart>@sha256:...` directory next to it.
 */
async function chartDirIn(dir: string): Promise<string | undefined> {
  const entries = await fs.readdir(dir);
  const charts = [];
  for (const entry of entries) if (await exists(path.join(dir, entry, 'Chart.yaml'))) charts.push(path.join(dir, entry));
  return charts.length === 1 ? charts[0] : undefined;
}

/** Move a complete chart into its final cache place. */
async function publish(chartDir: string, finalDir: string): Promise<void> {
  // A concurrent pull of the same chart may have won the race; both copies are identical.
  await fs.rename(chartDir, finalDir).catch(async (error: NodeJS.ErrnoException) => {
    if (!(await exists(path.join(finalDir, 'Chart.yaml')))) throw error;
  });
}

async function pulled(dir: string): Promise<PullResult> {
  const text = await fs.readFile(path.join(dir, 'Chart.yaml'), 'utf8').catch(() => undefined);
  return { ok: true, dir, version: text ? /^version:\s*["']?([^"'\s]+)/m.exec(text)?.[1] : undefined };
}

async function exists(p: string): Promise<boolean> {
  return fs.access(p).then(
    () => true,
    () => false,
  );
}
