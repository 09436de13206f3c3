import { promises as fs } from 'node:fs';
import path from 'node:path';
import type { SourceLocation } from '../findings.js';
import type { Snapshot } from '../git/repo.js';
import { pullChart, unpackChartArchive, type PullResult, type RangePulls } from '../helm/pull.js';
import type { RenderCache } from '../helm/render-cache.js';
import type { HelmRunOptions } from '../helm/run.js';
import { findChartRefObject, findSourceObject, readHelmChart, sourceNotAllowed, type ChartLocations } from './chart-ref.js';
import { withMergedValuesFiles, type ValuesFileSource } from './chart-values-files.js';
import type { RepoInventory } from './discover.js';
import type { ChartSpec, HelmRelease } from './helmrelease.js';
import type { PositionedValues } from './values-merge.js';
import { asRecord, asString, type RepoObject } from './objects.js';
import { resolveFromOciRepository } from './oci-repository.js';

export interface ChartSourceContext {
  snapshot: Snapshot;
  inventory: RepoInventory;
  /** Where commit snapshots materialize chart directories. */
  scratchDir: string;
  cacheDir: string;
  helm: HelmRunOptions;
  /** GitRepository ns/name -> local checkout, from the config. */
  gitRepositories: Record<string, string>;
  repoRoot: string;
  /** Whether the base policy lets the guard fetch from this URL (a change cannot add hosts). */
  isAllowedUrl: (url: string) => boolean;
  renderCache: RenderCache;
  /** Semver ranges resolved in this run, shared by base and head. */
  rangePulls: RangePulls;
}

export type ChartResolution =
  | {
      ok: true;
      dir: string;
      description: string;
      inputs: RepoObject[];
      /** Content identity of the chart; undefined when unknown (no caching). */
      digest?: string;
      /** Defaults the chart takes from valuesFiles in this repository, with the lines that set them. */
      defaults?: PositionedValues;
    }
  | { ok: false; message: string; location: SourceLocation; rule?: string };

/** Find the chart a HelmRelease's spec.chart or spec.chartRef points at and make it available as a directory. */
export async function resolveChart(release: HelmRelease, context: ChartSourceContext): Promise<ChartResolution> {
  if (release.chartRef) return resolveChartRef(release, context);
  const chart = release.chart;
  if (!chart) return { ok: false, message: release.invalid?.message ?? 'no chart', location: release.invalid?.location ?? release.locations.chart };
  const resolved = await resolveChartSpec(chart, release.locations, context);
  if (!resolved.ok) return resolved;
  // helm-controller hands spec.chart.spec.valuesFiles to the HelmChart it creates, so they replace values.yaml the same way.
  const merged = await applyValuesFiles(chart, resolved, context);
  return merged.ok ? merged : { ok: false, message: merged.message, location: release.locations.chart };
}

function applyValuesFiles(chart: ChartSpec, resolved: Extract<ChartResolution, { ok: true }>, context: ChartSourceContext) {
  return withMergedValuesFiles(resolved, {
    files: chart.valuesFiles,
    ignoreMissing: chart.ignoreMissingValuesFiles,
    source: valuesFileSource(chart, resolved.dir, context),
    cacheDir: context.cacheDir,
    scratchDir: context.scratchDir,
  });
}

/** source-controller reads valuesFiles from the root of a GitRepository, and from inside the chart of a chart repository. */
function valuesFileSource(chart: ChartSpec, chartDir: string, context: ChartSourceContext): ValuesFileSource {
  const readFrom = (root: string) => (file: string) => fs.readFile(path.join(root, file), 'utf8').catch(() => undefined);
  if (chart.sourceRef.kind !== 'GitRepository') return { label: `chart ${chart.name}`, read: readFrom(chartDir) };
  const label = `GitRepository ${chart.sourceRef.namespace}/${chart.sourceRef.name}`;
  const mapped = context.gitRepositories[`${chart.sourceRef.namespace}/${chart.sourceRef.name}`];
  if (mapped) return { label, read: readFrom(path.resolve(context.repoRoot, mapped)) };
  return { label: `${label} at ${context.snapshot.label}`, read: async (file) => (await context.snapshot.readFile(file))?.toString('utf8'), repositoryPath: (file) => file };
}

async function resolveChartRef(release: HelmRelease, context: ChartSourceContext): Promise<ChartResolution> {
  const chartRef = release.chartRef!;
  const object = findChartRefObject(chartRef, context.inventory);
  if (!object) {
    return {
      ok: false,
      message: `${chartRef.kind} ${chartRef.namespace}/${chartRef.name} is not in the repository, so the chart of ${release.namespace}/${release.name} cannot be rendered`,
      location: release.locations.chartRef,
    };
  }
  if (object.kind === 'OCIRepository') return resolveFromOciRepository(object, context);
  const helmChart = readHelmChart(object);
  if (!helmChart.ok) return helmChart;
  const resolved = await resolveChartSpec(helmChart.chart, helmChart.locations, context);
  if (!resolved.ok) return resolved;
  const merged = await applyValuesFiles(helmChart.chart, resolved, context);
  if (!merged.ok) return { ok: false, message: `HelmChart ${chartRef.namespace}/${chartRef.name}: ${merged.message}`, location: helmChart.locations.chart };
  return { ...merged, inputs: [object, ...merged.inputs] };
}

/** Resolve a chart template: spec.chart.spec of a HelmRelease, or the spec of a HelmChart. */
async function resolveChartSpec(chart: ChartSpec, locations: ChartLocations, context: ChartSourceContext): Promise<ChartResolution> {
  const { sourceRef } = chart;
  if (sourceRef.kind === 'GitRepository') return resolveFromGit(chart, locations, context);
  if (sourceRef.kind === 'HelmRepository') return resolveFromHelmRepository(chart, locations, context);
  if (sourceRef.kind === 'Bucket') {
    return {
      ok: false,
      message: `chart source kind Bucket (${sourceRef.namespace}/${sourceRef.name}) is not supported: the guard cannot read a bucket; use a GitRepository, HelmRepository or OCIRepository`,
      location: locations.sourceRef,
    };
  }
  return {
    ok: false,
    message: `chart source kind ${sourceRef.kind} is not supported (GitRepository and HelmRepository are)`,
    location: locations.sourceRef,
  };
}

async function resolveFromHelmRepository(chart: ChartSpec, locations: ChartLocations, context: ChartSourceContext): Promise<ChartResolution> {
  const { sourceRef } = chart;
  const repository = findSourceObject(context.inventory, 'HelmRepository', sourceRef.namespace, sourceRef.name);
  if (!repository) {
    return {
      ok: false,
      message: `HelmRepository ${sourceRef.namespace}/${sourceRef.name} is not in the repository, so chart ${chart.name} cannot be rendered`,
      location: locations.sourceRef,
    };
  }
  const spec = asRecord(repository.body.spec) ?? {};
  const url = asString(spec.url);
  if (!url) return { ok: false, message: `HelmRepository ${sourceRef.namespace}/${sourceRef.name} has no spec.url`, location: locations.sourceRef };
  if (!context.isAllowedUrl(url)) return sourceNotAllowed(repository, `${sourceRef.namespace}/${sourceRef.name}`, url);
  const oci = spec.type === 'oci' || url.startsWith('oci://');
  const pulled = await pullChart(
    { repositoryUrl: oci && !url.startsWith('oci://') ? `oci://${url}` : url, chart: chart.name, version: chart.version, plainHttp: spec.insecure === true },
    context.cacheDir,
    context.helm,
    context.rangePulls,
  );
  if (!pulled.ok) {
    return { ok: false, message: `cannot fetch chart ${chart.name}@${chart.version ?? 'latest'} from ${url}: ${pulled.error}`, location: locations.version };
  }
  return {
    ok: true,
    dir: pulled.dir,
    description: `${url} ${chart.name}@${chart.version ?? 'latest'}`,
    inputs: [repository],
    // A published chart version is immutable in a chart repository.
    digest: pulled.version ? `${url}|${chart.name}|${pulled.version}` : undefined,
  };
}

async function resolveFromGit(chart: ChartSpec, locations: ChartLocations, context: ChartSourceContext): Promise<ChartResolution> {
  const relative = path.posix.normalize(chart.name.replace(/^\.\//, ''));
  if (relative.startsWith('..') || path.posix.isAbsolute(relative)) {
    return { ok: false, message: `chart path ${chart.name} leaves the repository`, location: locations.chart };
  }
  const source = `GitRepository ${chart.sourceRef.namespace}/${chart.sourceRef.name}`;
  const mapped = context.gitRepositories[`${chart.sourceRef.namespace}/${chart.sourceRef.name}`];
  if (mapped) {
    const dir = path.resolve(context.repoRoot, mapped, relative);
    if (!isChartArchive(relative)) return { ok: true, dir, description: `${mapped}/${relative}`, inputs: [] };
    const archive = await fs.readFile(dir).catch(() => undefined);
    return unpackedFromGit(archive, `${mapped}/${relative}`, chart, locations, source, context);
  }
  if (isChartArchive(relative)) {
    const archive = await context.snapshot.readFile(relative);
    return unpackedFromGit(archive, `./${relative} at ${context.snapshot.label}`, chart, locations, source, context);
  }
  const hasChart = await context.snapshot.readFile(path.posix.join(relative, 'Chart.yaml'));
  if (!hasChart) {
    return {
      ok: false,
      message: `chart directory ${chart.name} (${source}) has no Chart.yaml at ${context.snapshot.label}`,
      location: locations.chart,
    };
  }
  const [dir, digest] = await Promise.all([context.snapshot.materialize(relative, context.scratchDir), context.snapshot.treeDigest(relative)]);
  return { ok: true, dir, description: `./${relative} at ${context.snapshot.label}`, inputs: [], digest: `git:${digest}` };
}

/** source-controller packages a chart path ending in .tgz as it is: a packaged chart in the repository. */
function isChartArchive(relative: string): boolean {
  return relative.endsWith('.tgz');
}

async function unpackedFromGit(
  archive: Buffer | undefined,
  description: string,
  chart: ChartSpec,
  locations: ChartLocations,
  source: string,
  context: ChartSourceContext,
): Promise<ChartResolution> {
  if (!archive) return { ok: false, message: `packaged chart ${chart.name} (${source}) is not in the repository at ${context.snapshot.label}`, location: locations.chart };
  const unpacked: PullResult = await unpackChartArchive(archive, context.cacheDir, context.helm.timeoutMs);
  if (!unpacked.ok) return { ok: false, message: `packaged chart ${chart.name} (${source}): ${unpacked.error}`, location: locations.chart };
  // The unpacked directory is named after the archive's content, so it is its identity.
  return { ok: true, dir: unpacked.dir, description, inputs: [], digest: `archive:${path.basename(unpacked.dir)}` };
}
