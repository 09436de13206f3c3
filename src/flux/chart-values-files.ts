import { createHash } from 'node:crypto';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { stringify } from 'yaml';
import { isChartDir, publishChartDir } from '../helm/chart-dirs.js';
import type { ChartResolution } from './chart-source.js';
import { asRecord } from './objects.js';
import { parseYamlFile } from '../yaml/source.js';
import { mergeFluxValues, type PositionedValues, type ValuesLayer } from './values-merge.js';

type ResolvedChart = Extract<ChartResolution, { ok: true }>;

/** Where valuesFiles are read from: the source's root for a GitRepository, the chart itself for a chart repository. */
export interface ValuesFileSource {
  /** The file's text, or undefined when it is not there. `file` is already confined to the source. */
  read(file: string): Promise<string | undefined>;
  /** "GitRepository flux-system/flux-system" or "the chart", for messages. */
  label: string;
  /** Where the file is in the checked repository, when it is there: findings then point at its lines. */
  repositoryPath?: (file: string) => string;
}

export interface ValuesFilesRequest {
  files: string[];
  ignoreMissing: boolean;
  source: ValuesFileSource;
  cacheDir: string;
  /** For charts without a content digest (a mapped checkout): their copy is made per run, never cached. */
  scratchDir: string;
}

/**
 * valuesFiles as source-controller applies them: merged in order (maps deep-merge, anything else
 * replaces) and written over the chart's values.yaml, which then holds the chart's only defaults.
 * The result is a copy of the chart.
 */
export async function withMergedValuesFiles(chart: ResolvedChart, request: ValuesFilesRequest): Promise<ResolvedChart | { ok: false; message: string }> {
  if (request.files.length === 0) return chart;
  const layers: ValuesLayer[] = [];
  const used: string[] = [];
  for (const file of request.files) {
    const layer = await readValuesFile(request.source, file);
    if (layer === undefined) {
      if (request.ignoreMissing) continue;
      return { ok: false, message: `values file ${file} is not in ${request.source.label}; source-controller fails the chart (set ignoreMissingValuesFiles to skip it)` };
    }
    if (typeof layer === 'string') return { ok: false, message: layer };
    layers.push(layer);
    used.push(file);
  }
  const defaults = mergeFluxValues(layers);
  const text = stringify(defaults.values);
  const valuesDigest = createHash('sha256').update(text).digest('hex');
  const dir = chart.digest
    ? path.join(request.cacheDir, 'charts', `values-${createHash('sha256').update(`${chart.digest}\0${valuesDigest}`).digest('hex').slice(0, 32)}`)
    : path.join(request.scratchDir, 'values-files', `${valuesDigest.slice(0, 16)}-${process.hrtime.bigint()}`);
  await writeChartCopy(chart.dir, dir, text);
  return {
    ...chart,
    dir,
    description: `${chart.description} with ${used.join(', ') || 'no values file'}`,
    digest: chart.digest ? `${chart.digest}|values:${valuesDigest}` : undefined,
    ...(request.source.repositoryPath ? { defaults } : {}),
  };
}

/** source-controller joins a values file path onto its root without leaving it (`../x` stays inside). */
export function confined(file: string): string {
  return path.posix.normalize(`/${file}`).slice(1);
}

/** One values file as a merge layer that keeps its lines, or why it cannot be used. */
async function readValuesFile(source: ValuesFileSource, file: string): Promise<ValuesLayer | string | undefined> {
  const inSource = confined(file);
  const text = await source.read(inSource);
  if (text === undefined) return undefined;
  const where = source.repositoryPath?.(inSource) ?? inSource;
  const parsed = parseYamlFile(text, where);
  const problem = parsed.problems[0];
  if (problem) return `values file ${file} in ${source.label} is not valid YAML (line ${problem.location.line}): ${problem.message}`;
  const document = parsed.documents[0];
  const origin = { path: where, line: 1 };
  if (!document) return { kind: 'document', values: {}, positions: new Map(), origin };
  const values = asRecord(document.value);
  if (!values) return `values file ${file} in ${source.label} is not a map of values`;
  return { kind: 'document', values, positions: source.repositoryPath ? document.positions : new Map(), origin };
}

async function writeChartCopy(from: string, to: string, valuesText: string): Promise<void> {
  if (await isChartDir(to)) return;
  const staging = `${to}.staging-${process.pid}-${Math.random().toString(36).slice(2)}`;
  try {
    await fs.mkdir(path.dirname(to), { recursive: true });
    await fs.cp(from, staging, { recursive: true });
    await fs.writeFile(path.join(staging, 'values.yaml'), valuesText);
    await publishChartDir(staging, to);
  } finally {
    await fs.rm(staging, { recursive: true, force: true });
  }
}
