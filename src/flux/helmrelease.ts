import type { SourceLocation } from '../findings.js';
import { asRecord, asString, HELMRELEASE_API_VERSIONS, locationOf, type RepoObject } from './objects.js';
import { releaseIdentityProblems, type IdentityField } from './release-name.js';

export interface SourceRef {
  kind: string;
  name: string;
  namespace: string;
}

/** What spec.chart.spec of a HelmRelease, or the spec of a HelmChart, asks source-controller to fetch. */
export interface ChartSpec {
  name: string;
  version?: string;
  sourceRef: SourceRef;
  /** Relative to the source root for a GitRepository, to the chart for a chart repository. */
  valuesFiles: string[];
  /** A values file that is not there is skipped instead of failing the chart. */
  ignoreMissingValuesFiles: boolean;
}

/** spec.chartRef: a source object that already holds the chart. */
export interface ChartRef {
  kind: 'OCIRepository' | 'HelmChart';
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
  chart: ChartSpec | undefined;
  chartRef?: ChartRef;
  valuesFrom: ValuesReference[];
  values: Record<string, unknown> | undefined;
  locations: {
    name: SourceLocation;
    chart: SourceLocation;
    /** The chart version line, where an upgrade is made: the place to point at for chart defaults. */
    version: SourceLocation;
    sourceRef: SourceLocation;
    chartRef: SourceLocation;
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
  const at = (p: Array<string | number>) => locationOf(object, p);
  // With spec.chartRef the chart is chosen by the referenced object: point chart problems at the reference.
  const chartLine = spec.chartRef !== undefined ? at(['spec', 'chartRef']) : at(['spec', 'chart', 'spec', 'chart']);
  const locations = {
    name: at(['metadata', 'name']),
    chart: chartLine,
    version: chartSpec?.version !== undefined ? at(['spec', 'chart', 'spec', 'version']) : chartLine,
    sourceRef: at(['spec', 'chart', 'spec', 'sourceRef']),
    chartRef: at(['spec', 'chartRef']),
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
  // Names that the API server or helm refuses are the finding, and are never handed to a tool.
  release.invalid = identityProblem(release, object, spec);
  if (spec.chartRef !== undefined && spec.chart !== undefined) {
    release.invalid ??= { message: 'spec.chart and spec.chartRef are mutually exclusive; Flux rejects this HelmRelease', location: locations.chartRef };
  } else if (spec.chartRef !== undefined) {
    release.chartRef = readChartRef(spec.chartRef, namespace);
    if (!release.chartRef) release.invalid ??= { message: 'spec.chartRef needs kind OCIRepository or HelmChart and a name', location: locations.chartRef };
  } else {
    release.chart = readChartSpec(chartSpec, namespace);
    if (!release.chart) release.invalid ??= { message: 'spec.chart.spec needs chart and sourceRef.kind/name', location: at(['spec', 'chart']) };
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

const FIELD_PATHS: Record<IdentityField, string[]> = {
  'metadata.name': ['metadata', 'name'],
  'metadata.namespace': ['metadata', 'namespace'],
  'spec.releaseName': ['spec', 'releaseName'],
  'spec.targetNamespace': ['spec', 'targetNamespace'],
  'spec.storageNamespace': ['spec', 'storageNamespace'],
};

/** A string that still holds a `${var}` of Flux post-build substitution: its final value is not known here. */
const UNSUBSTITUTED_ALL = /\$\{[a-zA-Z_][a-zA-Z0-9_]*(?::?[-=][a-z0-9-]*)?\}/g;

/**
 * The first name or namespace of the release that Kubernetes or helm would refuse, on its own
 * line. A field that is not a string at all (a number, a map) is refused too: the CRD types it
 * as a string.
 */
function identityProblem(release: HelmRelease, object: RepoObject, spec: Record<string, unknown>): HelmRelease['invalid'] {
  for (const field of ['releaseName', 'targetNamespace', 'storageNamespace'] as const) {
    if (spec[field] !== undefined && spec[field] !== null && typeof spec[field] !== 'string') {
      return { message: `spec.${field} must be a string; Kubernetes rejects this HelmRelease`, location: locationOf(object, ['spec', field]) };
    }
  }
  // A `${var}` is judged as if it were a plain name part: the rest must already be valid.
  const known = (value: string | undefined) => value?.replace(UNSUBSTITUTED_ALL, 'x');
  const problems = releaseIdentityProblems({
    name: known(release.name) ?? 'x',
    namespace: known(object.namespace),
    releaseName: known(release.releaseName),
    targetNamespace: known(release.targetNamespace),
    storageNamespace: known(release.storageNamespace),
  });
  const first = problems[0];
  return first ? { message: first.message, location: locationOf(object, FIELD_PATHS[first.field]) } : undefined;
}

/** Reads a chart template (HelmRelease spec.chart.spec or HelmChart spec); sourceRef.namespace defaults to `namespace`. */
export function readChartSpec(body: Record<string, unknown> | undefined, namespace: string): ChartSpec | undefined {
  const sourceRef = asRecord(body?.sourceRef);
  const name = asString(body?.chart);
  const sourceKind = asString(sourceRef?.kind);
  const sourceName = asString(sourceRef?.name);
  if (!name || !sourceKind || !sourceName) return undefined;
  const version = body?.version;
  return {
    name,
    version: version === undefined || version === null ? undefined : String(version),
    sourceRef: { kind: sourceKind, name: sourceName, namespace: asString(sourceRef?.namespace) ?? namespace },
    valuesFiles: Array.isArray(body?.valuesFiles) ? body.valuesFiles.map(String) : [],
    ignoreMissingValuesFiles: body?.ignoreMissingValuesFiles === true,
  };
}

function readChartRef(value: unknown, namespace: string): ChartRef | undefined {
  const body = asRecord(value);
  const kind = asString(body?.kind);
  const name = asString(body?.name);
  if ((kind !== 'OCIRepository' && kind !== 'HelmChart') || !name) return undefined;
  return { kind, name, namespace: asString(body?.namespace) ?? namespace };
}

export function describeRelease(release: Pick<HelmRelease, 'namespace' | 'name'>): string {
  return `HelmRelease ${release.namespace}/${release.name}`;
}
