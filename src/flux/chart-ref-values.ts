import { createHash } from 'node:crypto';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { parse, stringify } from 'yaml';
import type { ChartResolution } from './chart-source.js';
import { asRecord } from './objects.js';
import { defineKey } from './values-merge.js';

type ResolvedChart = Extract<ChartResolution, { ok: true }>;

/**
 * A HelmChart's spec.valuesFiles as source-controller applies them: merged in order (maps
 * deep-merge, anything else replaces) and written over the chart's values.yaml, which then is
 * the chart's only defaults. The result is a copy of the chart in the cache.
 */
export async function withMergedValuesFiles(chart: ResolvedChart, valuesFiles: string[], cacheDir: string): Promise<ResolvedChart | { ok: false; message: string }> {
  if (valuesFiles.length === 0) return chart;
  let merged: Record<string, unknown> = {};
  for (const file of valuesFiles) {
    const values = await readValuesFile(chart.dir, file);
    if (typeof values === 'string') return { ok: false, message: values };
    merged = mergeMaps(merged, values);
  }
  const text = stringify(merged);
  const valuesDigest = createHash('sha256').update(text).digest('hex');
  const key = createHash('sha256').update(`${chart.digest ?? chart.dir}\0${valuesDigest}`).digest('hex').slice(0, 32);
  const dir = path.join(cacheDir, 'charts', `values-${key}`);
  await writeChartCopy(chart.dir, dir, text);
  return { ...chart, dir, description: `${chart.description} with ${valuesFiles.join(', ')}`, digest: chart.digest ? `${chart.digest}|values:${valuesDigest}` : undefined };
}

/** The values of one file inside the chart, or why it cannot be used. */
async function readValuesFile(chartDir: string, file: string): Promise<Record<string, unknown> | string> {
  const root = path.resolve(chartDir);
  const target = path.resolve(root, file);
  if (!target.startsWith(root + path.sep)) return `values file ${file} is outside the chart`;
  const text = await fs.readFile(target, 'utf8').catch(() => undefined);
  if (text === undefined) return `values file ${file} is not in the chart; source-controller fails the HelmChart`;
  try {
    const value: unknown = parse(text);
    if (value === null || value === undefined) return {};
    return asRecord(value) ?? `values file ${file} is not a map of values`;
  } catch (error) {
    return `values file ${file} is not valid YAML: ${(error as Error).message.split('\n')[0]}`;
  }
}

function mergeMaps(base: Record<string, unknown>, overlay: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(base)) defineKey(out, key, value);
  for (const [key, value] of Object.entries(overlay)) {
    const below = asRecord(out[key]);
    const over = asRecord(value);
    defineKey(out, key, below && over ? mergeMaps(below, over) : value);
  }
  return out;
}

async function writeChartCopy(from: string, to: string, valuesText: string): Promise<void> {
  if (await fs.access(path.join(to, 'Chart.yaml')).then(() => true, () => false)) return;
  const staging = `${to}.staging-${process.pid}-${Math.random().toString(36).slice(2)}`;
  try {
    await fs.cp(from, staging, { recursive: true });
    await fs.writeFile(path.join(staging, 'values.yaml'), valuesText);
    // A concurrent run may have written the same copy first; both are identical.
    await fs.rename(staging, to).catch(async (error: NodeJS.ErrnoException) => {
      if (!(await fs.access(path.join(to, 'Chart.yaml')).then(() => true, () => false))) throw error;
    });
  } finally {
    await fs.rm(staging, { recursive: true, force: true });
  }
}
