import type { SourceLocation } from '../findings.js';
import type { PullResult } from '../helm/pull.js';
import type { ChartResolution } from './chart-source.js';
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
