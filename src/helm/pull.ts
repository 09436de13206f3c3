import { createHash } from 'node:crypto';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { runProcess } from '../tools/run-process.js';
import { memoized } from '../tools/memo.js';
import { isChartDir, publishChartDir } from './chart-dirs.js';
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

/** Range pulls of one run: each range is resolved once, so base and head and every release using it get the same chart. */
export type RangePulls = Map<string, Promise<PullResult>>;

/**
 * Download a chart into the content-addressed cache, keyed by repository + chart + version (or
 * digest). An exact version already there is not fetched again; a semver range is resolved by
 * helm once per run (`rangePulls`) and the chart it picks is stored under its exact version.
 */
export async function pullChart(request: PullRequest, cacheDir: string, options: HelmRunOptions, rangePulls?: RangePulls): Promise<PullResult> {
  const exact = request.digest !== undefined || (request.version !== undefined && EXACT_VERSION.test(request.version));
  if (exact) {
    const finalDir = chartCacheDir(cacheDir, request);
    if (await isChartDir(finalDir)) return pulled(finalDir);
    return fetchInto(request, cacheDir, options, () => finalDir);
  }
  const resolve = () => fetchInto(request, cacheDir, options, (version) => chartCacheDir(cacheDir, { ...request, version }));
  return rangePulls ? memoized(rangePulls, JSON.stringify([cacheDir, request]), resolve) : resolve();
}

function chartCacheDir(cacheDir: string, request: PullRequest): string {
  const key = createHash('sha256').update(JSON.stringify([request.repositoryUrl, request.chart, request.version ?? '', request.digest ?? ''])).digest('hex').slice(0, 32);
  return path.join(cacheDir, 'charts', key);
}

/** helm pull into a private staging folder, then publish the chart where `destination(version)` says. */
async function fetchInto(request: PullRequest, cacheDir: string, options: HelmRunOptions, destination: (version: string | undefined) => string): Promise<PullResult> {
  const staging = await makeStaging(cacheDir, 'pull');
  try {
    const result = await runHelm([...pullArguments(request), '--untar', '--untardir', staging], options);
    if (!result.ok) return { ok: false, error: result.error };
    const chartDir = await chartDirIn(staging);
    if (!chartDir) return { ok: false, error: `helm pull produced no chart for ${request.chart}` };
    const finalDir = destination(await chartVersionIn(chartDir));
    await publishChartDir(chartDir, finalDir);
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
  if (await isChartDir(finalDir)) return pulled(finalDir);
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
    await publishChartDir(chartDir, finalDir);
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
  for (const entry of entries) if (await isChartDir(path.join(dir, entry))) charts.push(path.join(dir, entry));
  return charts.length === 1 ? charts[0] : undefined;
}

async function pulled(dir: string): Promise<PullResult> {
  return { ok: true, dir, version: await chartVersionIn(dir) };
}

async function chartVersionIn(dir: string): Promise<string | undefined> {
  const text = await fs.readFile(path.join(dir, 'Chart.yaml'), 'utf8').catch(() => undefined);
  return text ? /^version:\s*["']?([^"'\s]+)/m.exec(text)?.[1] : undefined;
}
