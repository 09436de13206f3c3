import { createHash } from 'node:crypto';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { runHelm, type HelmRunOptions } from './run.js';

export interface PullRequest {
  /** http(s) repository URL, or an oci:// base URL. */
  repositoryUrl: string;
  chart: string;
  version?: string;
  plainHttp?: boolean;
}

const EXACT_VERSION = /^v?\d+\.\d+\.\d+(?:[-+][0-9A-Za-z.+-]*)?$/;

/**
 * Download a chart into the content-addressed cache. Exact versions are cached by
 * repository + chart + version; ranges are resolved by helm on every run.
 */
export async function pullChart(request: PullRequest, cacheDir: string, options: HelmRunOptions): Promise<{ ok: true; dir: string } | { ok: false; error: string }> {
  const exact = request.version !== undefined && EXACT_VERSION.test(request.version);
  const key = createHash('sha256').update(JSON.stringify([request.repositoryUrl, request.chart, request.version ?? ''])).digest('hex').slice(0, 32);
  const finalDir = path.join(cacheDir, 'charts', key);
  if (exact && (await exists(path.join(finalDir, 'Chart.yaml')))) return { ok: true, dir: finalDir };
  const staging = path.join(cacheDir, 'charts', `.staging-${key}-${process.pid}-${Math.random().toString(36).slice(2)}`);
  await fs.mkdir(staging, { recursive: true });
  const oci = request.repositoryUrl.startsWith('oci://');
  const args = oci
    ? ['pull', `${request.repositoryUrl.replace(/\/$/, '')}/${request.chart}`]
    : ['pull', request.chart, '--repo', request.repositoryUrl];
  if (request.version) args.push('--version', request.version);
  if (oci && request.plainHttp) args.push('--plain-http');
  args.push('--untar', '--untardir', staging);
  try {
    const result = await runHelm(args, options);
    if (!result.ok) return { ok: false, error: result.error };
    const entries = await fs.readdir(staging);
    const chartDir = entries[0] ? path.join(staging, entries[0]) : undefined;
    if (!chartDir || !(await exists(path.join(chartDir, 'Chart.yaml')))) {
      return { ok: false, error: `helm pull produced no chart for ${request.chart}` };
    }
    if (!exact) {
      // Ranges resolve anew each run; one copy per process keeps the cache from growing.
      const rangeDir = path.join(cacheDir, 'charts', 'ranges', `${key}-${process.pid}`);
      await fs.rm(rangeDir, { recursive: true, force: true });
      await fs.mkdir(path.dirname(rangeDir), { recursive: true });
      await fs.rename(chartDir, rangeDir);
      return { ok: true, dir: rangeDir };
    }
    // A concurrent pull of the same chart may have won the race; both copies are identical.
    await fs.rename(chartDir, finalDir).catch(async (error: NodeJS.ErrnoException) => {
      if (!(await exists(path.join(finalDir, 'Chart.yaml')))) throw error;
    });
    return { ok: true, dir: finalDir };
  } finally {
    await fs.rm(staging, { recursive: true, force: true });
  }
}

async function exists(p: string): Promise<boolean> {
  return fs.access(p).then(
    () => true,
    () => false,
  );
}
