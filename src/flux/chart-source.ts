import { promises as fs } from 'node:fs';
import path from 'node:path';
import type { Severity, SourceLocation } from '../findings.js';
import type { Snapshot } from '../git/repo.js';
import { pullChart, unpackChartArchive, type PullResult, type RangePulls } from '../helm/pull.js';
import { copyTreeNoLinks, linkOnPath, readFileNoFollow } from '../helm/safe-copy.js';
import type { RenderCache } from '../helm/render-cache.js';
import type { SchemaVerdicts } from '../checks/schema-verdicts.js';
import type { HelmRunOptions } from '../helm/run.js';
import { chartPullOptions, findChartRefObject, findSourceObject, isAllowedSource, pullFailure, pullNotices, readHelmChart, sourceNotAllowed, type ChartLocations, type ChartNotice } from './chart-ref.js';
import { withMergedValuesFiles, type ValuesFileSource } from './chart-values-files.js';
import type { RepoInventory } from './discover.js';
import type { ChartSpec, HelmRelease } from './helmrelease.js';
import type { PositionedValues } from './values-merge.js';
import type { ValuesSourceOptions } from './values-sources.js';
import { asRecord, asString, type RepoObject } from './objects.js';
import { resolveFromOciRepository } from './oci-repository.js';
import { addLocalDependencies, checkoutFiles, combinedDigest, materializeWithDependencies, planLocalDependencies, snapshotFiles } from './chart-dependencies.js';
import { classifyGitRepository, type GitSource, type RepositoryIdentity } from './source-identity.js';

export interface ChartSourceContext extends ValuesSourceOptions {
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
  /** Values-schema verdicts kept from earlier runs (absent: none kept). */
  schemaVerdicts?: SchemaVerdicts;
  /** Chart references resolved and fetched in this run, shared by base and head. */
  rangePulls: RangePulls;
  /** URLs of this clone's remotes (`remoteUrls` of git/repo.ts): which GitRepository is this repository. Default []. */
  remoteUrls?: string[];
  /** "ns/name" of the GitRepositories the root Kustomizations build from (source-identity.ts). */
  rootSources?: Set<string>;
  /** "This repository" as the base revision shows it (`repositoryIdentity`): applied to base and head alike, it overrides remoteUrls/rootSources. */
  repositoryIdentity?: RepositoryIdentity;
  /** `charts` of the base policy (mirrors; resolve: cached, which --offline sets too). */
  charts?: { mirrors?: Record<string, string>; resolve?: 'network' | 'cached' };
}

/**
 * Why a chart is not available:
 * - error (the default): the repository or its sources are wrong; a finding of `rule` (render/chart-missing unless said);
 * - unreachable: an allowed host did not answer (network, timeout, 5xx, a registry wanting credentials):
 *   the guard could not check, which is not the change's fault (exit 2, "could not check");
 * - not-checked: the chart lives in a source that is not this repository (a foreign GitRepository):
 *   a `notice` of rule render/source-not-checked, never an error.
 */
export type ChartFailureKind = 'error' | 'unreachable' | 'not-checked';

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
      /** What the report should say about where the chart came from (the cache answering a range, a mirror). */
      notices?: ChartNotice[];
    }
  | { ok: false; message: string; location: SourceLocation; rule?: string; kind?: ChartFailureKind; severity?: Severity };

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
  const readFrom = (root: string) => async (file: string) => (await readFileNoFollow(root, file))?.toString('utf8');
  if (chart.sourceRef.kind !== 'GitRepository') return { label: `chart ${chart.name}`, read: readFrom(chartDir) };
  const label = `GitRepository ${chart.sourceRef.namespace}/${chart.sourceRef.name}`;
  const source = gitSourceOf(chart, context);
  if (source.kind === 'mapped') return { label, read: readFrom(source.dir) };
  return { label: `${label} at ${context.snapshot.label}`, read: async (file) => (await context.snapshot.readFile(file))?.toString('utf8'), repositoryPath: (file) => file };
}

function gitSourceOf(chart: ChartSpec, context: ChartSourceContext): GitSource {
  return classifyGitRepository(chart.sourceRef, context.inventory, {
    gitRepositories: context.gitRepositories,
    repoRoot: context.repoRoot,
    remoteUrls: context.remoteUrls ?? [],
    rootSources: context.rootSources,
    ...(context.repositoryIdentity ? { identity: context.repositoryIdentity } : {}),
  });
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
  const options = chartPullOptions(context);
  if (!isAllowedSource(url, options)) return sourceNotAllowed(repository, `${sourceRef.namespace}/${sourceRef.name}`, url);
  const oci = spec.type === 'oci' || url.startsWith('oci://');
  const pulled = await pullChart(
    { repositoryUrl: oci && !url.startsWith('oci://') ? `oci://${url}` : url, chart: chart.name, version: chart.version, plainHttp: spec.insecure === true },
    context.cacheDir,
    options,
    context.rangePulls,
  );
  const what = `chart ${chart.name}@${chart.version ?? 'latest'} from ${url}`;
  if (!pulled.ok) return pullFailure(pulled, `cannot fetch ${what}`, locations.version);
  const notices = pullNotices(pulled, what, locations.version);
  return {
    ok: true,
    dir: pulled.dir,
    description: `${url} ${chart.name}@${chart.version ?? 'latest'}${pulled.version && pulled.version !== chart.version ? ` (chart ${pulled.version})` : ''}${pulled.offline ? ` (${pulled.offline})` : ''}${pulled.mirror ? ` (from the mirror ${pulled.mirror.url})` : ''}`,
    inputs: [repository],
    digest: `sha256:${pulled.sha256}`,
    ...(notices.length > 0 ? { notices } : {}),
  };
}

async function resolveFromGit(chart: ChartSpec, locations: ChartLocations, context: ChartSourceContext): Promise<ChartResolution> {
  const relative = path.posix.normalize(chart.name.replace(/^\.\//, ''));
  if (relative.startsWith('..') || path.posix.isAbsolute(relative)) {
    return { ok: false, message: `chart path ${chart.name} leaves the repository`, location: locations.chart };
  }
  const id = `${chart.sourceRef.namespace}/${chart.sourceRef.name}`;
  const source = `GitRepository ${id}`;
  const where = gitSourceOf(chart, context);
  if (where.kind === 'foreign') {
    return {
      ok: false,
      kind: 'not-checked',
      severity: 'notice',
      rule: 'render/source-not-checked',
      message: `chart ${chart.name} comes from ${source}, which is not this repository (${where.reason}); it is not checked. To check it, map it to a local checkout in .guard.yaml: gitRepositories: {"${id}": "<path to a clone>"} (or "." if it is this repository)`,
      location: locations.sourceRef,
    };
  }
  if (where.kind === 'mapped') return resolveFromCheckout(where.dir, relative, chart, locations, source, context);
  // The snapshot leaves links out of what it reads and materializes; a chart that holds one is refused, not rendered without it.
  const link = (await context.snapshot.symlinks()).find((l) => relative === '.' || l === relative || l.startsWith(`${relative}/`) || relative.startsWith(`${l}/`));
  if (link) {
    return { ok: false, message: `chart ${chart.name} (${source}): ${link} is a symbolic link at ${context.snapshot.label}; charts may hold only files and folders, links are never followed`, location: locations.chart };
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
  const description = `./${relative} at ${context.snapshot.label}`;
  const plan = await planLocalDependencies(relative, snapshotFiles(context.snapshot));
  if (!plan.ok) return { ok: false, rule: 'render/failed', message: `chart ${chart.name} (${source}) at ${context.snapshot.label}: ${plan.error}`, location: locations.chart };
  if (plan.dependencies.length === 0) {
    const [dir, digest] = await Promise.all([context.snapshot.materialize(relative, context.scratchDir), context.snapshot.treeDigest(relative)]);
    return { ok: true, dir, description, inputs: [], digest: `git:${digest}` };
  }
  // source-controller packs the chart's file:// dependencies from the same revision into it.
  const [chartDigest, ...dependencyDigests] = await Promise.all([relative, ...plan.dependencies.map((d) => d.dir)].map((d) => context.snapshot.treeDigest(d)));
  const digest = combinedDigest(chartDigest!, plan.dependencies.map((d, i) => ({ dir: d.dir, digest: dependencyDigests[i]! })));
  const made = await materializeWithDependencies(context.snapshot, relative, plan.dependencies, digest, context.scratchDir);
  if (!made.ok || !made.dir) return { ok: false, rule: 'render/failed', message: `chart ${chart.name} (${source}) at ${context.snapshot.label}: ${made.ok ? 'not materialized' : made.error}`, location: locations.chart };
  return { ok: true, dir: made.dir, description: `${description} with ${plan.dependencies.map((d) => `./${d.dir}`).join(', ')}`, inputs: [], digest: `git:${digest}` };
}

/** A chart in a mapped checkout of another repository: copied (or unpacked) without following links, never cached. */
async function resolveFromCheckout(root: string, relative: string, chart: ChartSpec, locations: ChartLocations, source: string, context: ChartSourceContext): Promise<ChartResolution> {
  const description = `${path.relative(context.repoRoot, root) || '.'}/${relative}`;
  if (isChartArchive(relative)) {
    const link = await linkOnPath(root, relative);
    if (link) return { ok: false, message: `packaged chart ${chart.name} (${source}): ${link} is a symbolic link; the guard does not follow links`, location: locations.chart };
    return unpackedFromGit(await readFileNoFollow(root, relative), description, chart, locations, source, context);
  }
  const copied = await copyChartDir(root, relative, context, chart, locations, source);
  return copied.ok ? { ...copied, description } : copied;
}

async function copyChartDir(root: string, relative: string, context: ChartSourceContext, chart: ChartSpec, locations: ChartLocations, source: string): Promise<ChartResolution> {
  const into = path.join(context.scratchDir, 'charts', `${relative.replace(/[^A-Za-z0-9._-]/g, '_')}-${process.hrtime.bigint()}`);
  const copied = await copyTreeNoLinks(root, relative, into);
  if (!copied.ok) return { ok: false, message: `chart directory ${chart.name} (${source}): ${copied.error}`, location: locations.chart };
  if (!(await fs.access(path.join(into, 'Chart.yaml')).then(() => true, () => false))) {
    return { ok: false, message: `chart directory ${chart.name} (${source}) has no Chart.yaml`, location: locations.chart };
  }
  const files = checkoutFiles(root);
  const plan = await planLocalDependencies(relative, files);
  const added = plan.ok ? await addLocalDependencies(into, plan.dependencies, files) : plan;
  if (!added.ok) return { ok: false, rule: 'render/failed', message: `chart directory ${chart.name} (${source}): ${added.error}`, location: locations.chart };
  return { ok: true, dir: into, description: relative, inputs: [] };
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
  const unpacked: PullResult = await unpackChartArchive(archive, context.cacheDir);
  if (!unpacked.ok) return { ok: false, message: `packaged chart ${chart.name} (${source}): ${unpacked.error}`, location: locations.chart };
  return { ok: true, dir: unpacked.dir, description, inputs: [], digest: `sha256:${unpacked.sha256}` };
}
