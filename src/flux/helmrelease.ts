import type { SourceLocation } from '../findings.js';
import { asRecord, asString, HELMRELEASE_API_VERSIONS, locationOf, type RepoObject } from './objects.js';

export interface SourceRef {
  kind: string;
  name: string;
  namespace: string;
}

export interface ValuesReference {
  kind: 'ConfigMap' | 'Secret';
  name: string;
  valuesKey: string;
  targetPath?: string;
  optional: boolean;
  location: SourceLocation;
}

export interface HelmRelease {
  object: RepoObject;
  name: string;
  namespace: string;
  targetNamespace?: string;
  releaseName?: string;
  storageNamespace?: string;
  chart: { name: string; version?: string; sourceRef: SourceRef; valuesFiles: string[] } | undefined;
  valuesFrom: ValuesReference[];
  values: Record<string, unknown> | undefined;
  locations: {
    name: SourceLocation;
    chart: SourceLocation;
    /** The chart version line, where an upgrade is made: the place to point at for chart defaults. */
    version: SourceLocation;
    sourceRef: SourceLocation;
  };
  /** Why this object cannot be rendered, when its spec is incomplete. */
  invalid?: { message: string; location: SourceLocation };
}

export function isHelmRelease(object: RepoObject): boolean {
  return object.kind === 'HelmRelease' && object.apiVersion.startsWith('helm.toolkit.fluxcd.io/');
}

export function isSupportedHelmReleaseVersion(object: RepoObject): boolean {
  return (HELMRELEASE_API_VERSIONS as readonly string[]).includes(object.apiVersion);
}

export function readHelmRelease(object: RepoObject): HelmRelease {
  const spec = asRecord(object.body.spec) ?? {};
  const namespace = object.namespace ?? 'default';
  const chartSpec = asRecord(asRecord(spec.chart)?.spec);
  const sourceRefBody = asRecord(chartSpec?.sourceRef);
  const at = (p: Array<string | number>) => locationOf(object, p);
  const locations = {
    name: at(['metadata', 'name']),
    chart: at(['spec', 'chart', 'spec', 'chart']),
    version: chartSpec?.version !== undefined ? at(['spec', 'chart', 'spec', 'version']) : at(['spec', 'chart', 'spec', 'chart']),
    sourceRef: at(['spec', 'chart', 'spec', 'sourceRef']),
  };
  const release: HelmRelease = {
    object,
    name: object.name,
    namespace,
    targetNamespace: asString(spec.targetNamespace),
    releaseName: asString(spec.releaseName),
    storageNamespace: asString(spec.storageNamespace),
    chart: undefined,
    valuesFrom: [],
    values: asRecord(spec.values),
    locations,
  };
  const chartName = asString(chartSpec?.chart);
  const sourceKind = asString(sourceRefBody?.kind);
  const sourceName = asString(sourceRefBody?.name);
  if (spec.chartRef !== undefined) {
    release.invalid = { message: 'spec.chartRef (OCIRepository/HelmChart) is not supported yet', location: at(['spec', 'chartRef']) };
  } else if (!chartName || !sourceKind || !sourceName) {
    release.invalid = { message: 'spec.chart.spec needs chart and sourceRef.kind/name', location: at(['spec', 'chart']) };
  } else {
    const version = chartSpec?.version;
    release.chart = {
      name: chartName,
      version: version === undefined || version === null ? undefined : String(version),
      sourceRef: { kind: sourceKind, name: sourceName, namespace: asString(sourceRefBody?.namespace) ?? namespace },
      valuesFiles: Array.isArray(chartSpec?.valuesFiles) ? chartSpec.valuesFiles.map(String) : [],
    };
  }
  if (spec.values !== undefined && spec.values !== null && !asRecord(spec.values)) {
    release.invalid ??= { message: 'spec.values must be a map of values; Flux rejects this HelmRelease', location: at(['spec', 'values']) };
  }
  const valuesFrom = Array.isArray(spec.valuesFrom) ? spec.valuesFrom : [];
  valuesFrom.forEach((entry, index) => {
    const ref = asRecord(entry);
    const kind = asString(ref?.kind);
    const name = asString(ref?.name);
    const location = at(['spec', 'valuesFrom', index]);
    if ((kind !== 'ConfigMap' && kind !== 'Secret') || !name) {
      release.invalid ??= { message: `spec.valuesFrom[${index}] needs kind ConfigMap or Secret and a name`, location };
      return;
    }
    release.valuesFrom.push({
      kind,
      name,
      valuesKey: asString(ref?.valuesKey) ?? 'values.yaml',
      targetPath: asString(ref?.targetPath),
      optional: ref?.optional === true,
      location,
    });
  });
  return release;
}

export function describeRelease(release: Pick<HelmRelease, 'namespace' | 'name'>): string {
  return `HelmRelease ${release.namespace}/${release.name}`;
}
