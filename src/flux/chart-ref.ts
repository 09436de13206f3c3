import type { SourceLocation } from '../findings.js';
import { ChartMirrors } from '../helm/mirrors.js';
import type { PullOptions, PullResult } from '../helm/pull.js';
import type { ChartResolution, ChartSourceContext } from './chart-source.js';
import type { RepoInventory } from './discover.js';
import { readChartSpec, type ChartRef, type ChartSpec } from './helmrelease.js';
import { asRecord, locationOf, objectId, type RepoObject } from './objects.js';

/** Where to point at problems of a chart template: its chart, version and sourceRef lines. */
export interface ChartLocations {
  chart: SourceLocation;
  version: SourceLocation;
  sourceRef: SourceLocation;
}

/** The object a chartRef or sourceRef names; objects written without a namespace match any. */
export function findSourceObject(inventory: RepoInventory, kind: string, namespace: string, name: string): RepoObject | undefined {
  return inventory.byId.get(objectId(kind, namespace, name))
    ?? inventory.objects.find((o) => o.kind === kind && o.name === name && o.namespace === undefined);
}

export function findChartRefObject(chartRef: ChartRef, inventory: RepoInventory): RepoObject | undefined {
  return findSourceObject(inventory, chartRef.kind, chartRef.namespace, chartRef.name);
}

export type HelmChartSpec =
  | { ok: true; chart: ChartSpec; locations: ChartLocations }
  | { ok: false; message: string; location: SourceLocation };

/**
 * A HelmChart object read as the chart template it is. Its sourceRef has no namespace:
 * source-controller looks the source up next to the HelmChart.
 */
export function readHelmChart(object: RepoObject): HelmChartSpec {
  const spec = asRecord(object.body.spec);
  const namespace = object.namespace ?? 'default';
  const chart = readChartSpec(spec ? { ...spec, sourceRef: { ...asRecord(spec.sourceRef), namespace } } : undefined, namespace);
  const at = (p: string[]) => locationOf(object, p);
  if (!chart) {
    return { ok: false, message: `HelmChart ${namespace}/${object.name} needs spec.chart and spec.sourceRef.kind/name`, location: at(['spec']) };
  }
  return {
    ok: true,
    chart,
    locations: {
      chart: at(['spec', 'chart']),
      version: spec?.version !== undefined ? at(['spec', 'version']) : at(['spec', 'chart']),
      sourceRef: at(['spec', 'sourceRef']),
    },
  };
}

/** A chart source whose host the base revision neither uses nor allows: reported at its spec.url, never fetched. */
export function sourceNotAllowed(source: RepoObject, id: string, url: string): { ok: false; rule: string; message: string; location: SourceLocation } {
  return {
    ok: false,
    rule: 'render/source-not-allowed',
    message: `${source.kind} ${id} points at ${url}, a host the base revision does not use or allow; the guard does not fetch from it (allow the host with network.allowedHosts in .guard.yaml, changed at the base revision first)`,
    location: locationOf(source, ['spec', 'url']),
  };
}

/** A chart fetch that failed, as a chart resolution: a refused host, an unreachable one (could not check), or a source without the chart. */
export function pullFailure(pulled: Extract<PullResult, { ok: false }>, what: string, location: SourceLocation): Extract<ChartResolution, { ok: false }> {
  const message = `${what}: ${pulled.error}`;
  if (pulled.kind === 'refused') return { ok: false, rule: 'render/source-not-allowed', message, location };
  if (pulled.kind === 'unreachable') return { ok: false, kind: 'unreachable', rule: 'render/source-unreachable', message, location };
  return { ok: false, message, location };
}

const mirrorsPerRun = new WeakMap<object, ChartMirrors>();

/** How charts are fetched in this run: the base policy's allow-list, its mirrors, and whether the network may be used at all. */
export function chartPullOptions(context: ChartSourceContext): PullOptions {
  let mirrors = mirrorsPerRun.get(context.rangePulls);
  if (!mirrors) mirrorsPerRun.set(context.rangePulls, (mirrors = new ChartMirrors(context.charts?.mirrors, 'charts.mirrors in the base policy')));
  return { isAllowedUrl: context.isAllowedUrl, timeoutMs: context.helm.timeoutMs, mirrors, offline: context.charts?.resolve === 'cached' };
}

/** A source URL the guard may use: on an allowed host, or one the base policy mirrors (the guard then contacts only the mirror). */
export function isAllowedSource(url: string, options: PullOptions): boolean {
  return options.isAllowedUrl(url) || options.mirrors?.covers(url) === true || options.mirrors?.isMirrorHost(url) === true;
}

/** What the report says about where a fetched chart came from: the cache answering a range, or a mirror. */
export function pullNotices(pulled: Extract<PullResult, { ok: true }>, what: string, location: SourceLocation): ChartNotice[] {
  const notices: ChartNotice[] = [];
  if (pulled.offline) notices.push({ rule: 'render/chart-from-cache', message: `${what}: ${pulled.offline}`, location });
  if (pulled.mirror) {
    notices.push({ rule: 'render/chart-from-mirror', message: `${what}: fetched from ${pulled.mirror.url}, the mirror of ${pulled.mirror.from} (charts.mirrors in the base policy), not from the source itself`, location });
  }
  return notices;
}

export interface ChartNotice {
  rule: string;
  message: string;
  location: SourceLocation;
}
