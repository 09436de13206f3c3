import { promises as fs } from 'node:fs';
import path from 'node:path';
import type { SourceLocation } from '../findings.js';
import type { Snapshot } from '../git/repo.js';
import { pullChart } from '../helm/pull.js';
import type { RenderCache } from '../helm/render-cache.js';
import type { HelmRunOptions } from '../helm/run.js';
import type { RepoInventory } from './discover.js';
import type { HelmRelease } from './helmrelease.js';
import { asRecord, asString, locationOf, objectId, type RepoObject } from './objects.js';

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
}

export type ChartResolution =
  | { ok: true; dir: string; description: string; inputs: RepoObject[]; /** Content identity of the chart; undefined when unknown (no caching). */ digest?: string }
  | { ok: false; message: string; location: SourceLocation; rule?: string };

/** Find the chart a HelmRelease's spec.chart points at and make it available as a directory. */
export async function resolveChart(release: HelmRelease, context: ChartSourceContext): Promise<ChartResolution> {
  const chart = release.chart;
  if (!chart) return { ok: false, message: release.invalid?.message ?? 'no chart', location: release.invalid?.location ?? release.locations.chart };
  const { sourceRef } = chart;
  if (sourceRef.kind === 'GitRepository') return resolveFromGit(release, context);
  if (sourceRef.kind === 'HelmRepository') {
    const repository = context.inventory.byId.get(objectId('HelmRepository', sourceRef.namespace, sourceRef.name))
      ?? context.inventory.objects.find((o) => o.kind === 'HelmRepository' && o.name === sourceRef.name && o.namespace === undefined);
    if (!repository) {
      return {
        ok: false,
        message: `HelmRepository ${sourceRef.namespace}/${sourceRef.name} is not in the repository, so chart ${chart.name} cannot be rendered`,
        location: release.locations.sourceRef,
      };
    }
    const spec = asRecord(repository.body.spec) ?? {};
    const url = asString(spec.url);
    if (!url) return { ok: false, message: `HelmRepository ${sourceRef.namespace}/${sourceRef.name} has no spec.url`, location: release.locations.sourceRef };
    if (!context.isAllowedUrl(url)) {
      return {
        ok: false,
        rule: 'render/source-not-allowed',
        message: `HelmRepository ${sourceRef.namespace}/${sourceRef.name} points at ${url}, a host the base revision does not use or allow; the guard does not fetch from it`,
        location: locationOfUrl(repository),
      };
    }
    const oci = spec.type === 'oci' || url.startsWith('oci://');
    const pulled = await pullChart(
      { repositoryUrl: oci && !url.startsWith('oci://') ? `oci://${url}` : url, chart: chart.name, version: chart.version, plainHttp: spec.insecure === true },
      context.cacheDir,
      context.helm,
    );
    if (!pulled.ok) {
      return { ok: false, message: `cannot fetch chart ${chart.name}@${chart.version ?? 'latest'} from ${url}: ${pulled.error}`, location: release.locations.version };
    }
    const resolvedVersion = await chartVersion(pulled.dir);
    return {
      ok: true,
      dir: pulled.dir,
      description: `${url} ${chart.name}@${chart.version ?? 'latest'}`,
      inputs: [repository],
      // A published chart version is immutable in a chart repository.
      digest: resolvedVersion ? `${url}|${chart.name}|${resolvedVersion}` : undefined,
    };
  }
  return {
    ok: false,
    message: `chart source kind ${sourceRef.kind} is not supported (GitRepository and HelmRepository are)`,
    location: release.locations.sourceRef,
  };
}

function locationOfUrl(repository: RepoObject): SourceLocation {
  return locationOf(repository, ['spec', 'url']);
}

async function resolveFromGit(release: HelmRelease, context: ChartSourceContext): Promise<ChartResolution> {
  const chart = release.chart!;
  const relative = path.posix.normalize(chart.name.replace(/^\.\//, ''));
  if (relative.startsWith('..') || path.posix.isAbsolute(relative)) {
    return { ok: false, message: `chart path ${chart.name} leaves the repository`, location: release.locations.chart };
  }
  const mapped = context.gitRepositories[`${chart.sourceRef.namespace}/${chart.sourceRef.name}`];
  if (mapped) {
    const dir = path.resolve(context.repoRoot, mapped, relative);
    return { ok: true, dir, description: `${mapped}/${relative}`, inputs: [] };
  }
  const hasChart = await context.snapshot.readFile(path.posix.join(relative, 'Chart.yaml'));
  if (!hasChart) {
    return {
      ok: false,
      message: `chart directory ${chart.name} (GitRepository ${chart.sourceRef.namespace}/${chart.sourceRef.name}) has no Chart.yaml at ${context.snapshot.label}`,
      location: release.locations.chart,
    };
  }
  const [dir, digest] = await Promise.all([context.snapshot.materialize(relative, context.scratchDir), context.snapshot.treeDigest(relative)]);
  return { ok: true, dir, description: `./${relative} at ${context.snapshot.label}`, inputs: [], digest: `git:${digest}` };
}

async function chartVersion(dir: string): Promise<string | undefined> {
  const text = await fs.readFile(path.join(dir, 'Chart.yaml'), 'utf8').catch(() => undefined);
  return text ? /^version:\s*["']?([^"'\s]+)/m.exec(text)?.[1] : undefined;
}
