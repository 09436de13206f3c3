import { COULD_NOT_CHECK_RULE, versionFree, type Severity, type SourceLocation } from '../findings.js';
import { resolveSchemaReferences, subchartSchemasReferRemote } from '../helm/schema-refs.js';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { checkValuesSchema, schemaVerdict, schemaVerdictKey, type ChartValuesModel, type SchemaVerdict } from '../checks/values-schema.js';
import type { SchemaVerdicts } from '../checks/schema-verdicts.js';
import { templateValueRefs } from '../checks/template-value-refs.js';
import { parseYamlFile } from '../yaml/source.js';
import { asRecord, locationOf } from './objects.js';
import { resolveKubectl } from '../kustomize/binary.js';
import { postRender, postRendererKustomizations } from './post-render.js';
import { actionSettings, type ReleaseAction } from './release-settings.js';
import { withFluxLabels } from './flux-labels.js';
import { resolveHelm } from '../helm/binary.js';
import { memoized } from '../tools/memo.js';
import { RenderCache } from '../helm/render-cache.js';
import { helmTemplate } from '../helm/template.js';
import type { RenderedRelease } from '../model/release.js';
import { extractContainers, WORKLOADS_MODEL } from '../model/workloads.js';
import { resolveChart, type ChartSourceContext } from './chart-source.js';
import { describeRelease, type HelmRelease } from './helmrelease.js';
import { fluxReleaseName, fluxReleaseNamespace } from './release-name.js';
import { SetSyntaxError } from './strvals.js';
import { mergeFluxValues, type PositionedValues } from './values-merge.js';
import { collectValuesLayers } from './values-sources.js';

export interface RenderSettings {
  kubeVersion?: string;
  apiVersions?: string[];
  /** Upgrade when the release exists at the base revision, else install (their settings differ). */
  action?: ReleaseAction;
  /** Keep the rendered manifests (for `guard render` and `guard diff`). */
  keepManifests?: boolean;
}

export interface RenderFailure {
  rule: string;
  message: string;
  location: SourceLocation;
  /** Tool output that explains it. */
  detail?: string;
  suggestion?: string;
  /** Default: error for a failure, warning for a warning. */
  severity?: Severity;
  /** What the finding is about, stable across versions (see Finding.identity). */
  identity?: string;
}

export type RenderOutcome =
  | { ok: true; rendered: RenderedRelease; secrets: string[]; warnings?: RenderFailure[] }
  | { ok: false; failures: RenderFailure[]; secrets: string[]; /** Deliberately not rendered (a source that is not this repository), not a failure. */ notChecked?: boolean };

/** HelmRelease -> merged values -> chart -> helm template -> containers, as helm-controller would install it. */
export async function renderRelease(release: HelmRelease, context: ChartSourceContext, settings: RenderSettings): Promise<RenderOutcome> {
  const collected = collectValuesLayers(release, context.inventory, context);
  if (collected.problems.length > 0) {
    return { ok: false, secrets: collected.secrets, failures: collected.problems.map((p) => ({ rule: p.rule, message: p.message, location: p.location })) };
  }
  if (release.invalid) {
    return { ok: false, secrets: collected.secrets, failures: [{ rule: 'render/failed', message: release.invalid.message, location: release.invalid.location }] };
  }
  const chart = await resolveChart(release, context);
  if (!chart.ok) {
    // An allowed host that did not answer is not the change's fault: the guard could not check (exit 2).
    // The rest of the run goes on, and the verdict is "incomplete" (exit 2) unless something else blocks.
    if (chart.kind === 'unreachable') {
      return {
        ok: false,
        secrets: collected.secrets,
        failures: [{ rule: COULD_NOT_CHECK_RULE, message: `could not check: ${chart.message}`, location: chart.location, identity: 'chart', severity: 'warning' }],
        notChecked: true,
      };
    }
    const notChecked = chart.kind === 'not-checked' || chart.rule === 'render/source-not-checked';
    return {
      ok: false,
      secrets: collected.secrets,
      // One chart per release: its message names versions and revisions, the identity does not.
      failures: [{ rule: chart.rule ?? 'render/chart-missing', message: chart.message, location: chart.location, identity: 'chart', ...(chart.severity ? { severity: chart.severity } : notChecked ? { severity: 'notice' as const } : {}) }],
      ...(notChecked ? { notChecked } : {}),
    };
  }
  let values: ReturnType<typeof mergeFluxValues>;
  try {
    values = mergeFluxValues(collected.layers);
  } catch (error) {
    if (!(error instanceof SetSyntaxError)) throw error;
    const targetPath = collected.layers.find((l) => l.kind === 'targetPath');
    return {
      ok: false,
      secrets: collected.secrets,
      failures: [{ rule: 'render/values-invalid', message: `valuesFrom targetPath value cannot be set the way Flux sets it (helm --set syntax): ${error.message}; escape commas in the value as \\,`, location: targetPath?.origin ?? release.locations.name }],
    };
  }
  const action = actionSettings(release, settings.action ?? 'upgrade');
  const chartModel = await loadChartValuesModel(chart.dir, context.renderCache, context.cacheDir);
  const schemaCheck = checkValuesSchema({
    values,
    verdict: await knownSchemaVerdict(chartModel, values, context.schemaVerdicts),
    chart: chartModel,
    subject: { kind: 'HelmRelease', namespace: release.namespace, name: release.name },
    fallback: release.locations.version,
  });
  const valueWarnings: RenderFailure[] = schemaCheck.warnings.map((w) => ({ rule: w.rule, message: w.message.replace(/^HelmRelease [^:]+: /, ''), location: w.location, suggestion: w.suggestion, identity: w.identity }));
  if (schemaCheck.errors.length > 0 && action.disableSchemaValidation) {
    // helm will not validate, so the install goes ahead with these values: said, not blocked.
    valueWarnings.push(...schemaCheck.errors.map((e) => ({
      rule: e.rule,
      message: `${e.message.replace(/^HelmRelease [^:]+: /, '').replace(/; helm refuses to install it$/, '')}; not enforced because spec.${action.action}.disableSchemaValidation is set`,
      location: e.location,
      identity: e.identity,
    })));
  } else if (schemaCheck.errors.length > 0) {
    return {
      ok: false,
      secrets: collected.secrets,
      failures: schemaCheck.errors.map((e) => ({ rule: e.rule, message: e.message.replace(/^HelmRelease [^:]+: /, ''), location: e.location, identity: e.identity })),
    };
  }
  const identity = {
    name: release.name,
    namespace: release.namespace,
    targetNamespace: release.targetNamespace,
    releaseName: release.releaseName,
    storageNamespace: release.storageNamespace,
  };
  const releaseName = fluxReleaseName(identity);
  const namespace = fluxReleaseNamespace(identity);
  const request = {
    releaseName,
    namespace,
    chartDir: chart.dir,
    values: values.values,
    kubeVersion: settings.kubeVersion,
    apiVersions: settings.apiVersions,
    includeCrds: action.crds !== 'Skip',
    noHooks: action.disableHooks,
    // helm fetches a schema's http(s) $refs over the network when it validates (the chart's and each
    // subchart's); inside the guard's fence that fails every render. The guard validated the values
    // above, with the documents found in the chart (or said it could not), so helm is not asked to.
    skipSchemaValidation: action.disableSchemaValidation || chartModel.remoteReferences === true,
    // A chart may render differently on upgrade ({{ if .Release.IsUpgrade }}); part of the cache key below.
    isUpgrade: action.action === 'upgrade',
  };
  const postRenderers = postRendererKustomizations(release);
  const renderOnce = async () => {
    const result = await helmTemplate(request, context.helm);
    if (!result.ok) return { error: result.error };
    const applied = postRenderers.length > 0
      ? await postRender(result.manifests, postRenderers, path.join(context.scratchDir, 'post-render', `${namespace}-${releaseName}-${process.hrtime.bigint()}`), context.helm.timeoutMs)
      : { ok: true as const, manifests: result.manifests };
    if (!applied.ok) return { error: `post-renderer (spec.postRenderers kustomize) failed: ${applied.error}`, postRender: true };
    const extracted = extractContainers(applied.manifests, namespace);
    return { containers: extracted.containers, inspection: extracted.inspection, ...(settings.keepManifests ? { manifests: withFluxLabels(applied.manifests, release) } : {}) };
  };
  const helm = await resolveHelm();
  const rendered = chart.digest
    ? await context.renderCache.get(
        RenderCache.key({ v: 4, model: WORKLOADS_MODEL, helm: helm.version, chart: chart.digest, ...request, chartDir: undefined, postRenderers, kubectl: postRenderers.length > 0 ? (await resolveKubectl()).version : undefined, manifests: settings.keepManifests === true }),
        renderOnce,
      )
    : await renderOnce();
  if ('error' in rendered) {
    return {
      ok: false,
      secrets: collected.secrets,
      failures: [{
        rule: 'render/failed',
        message: 'postRender' in rendered ? firstLine(rendered.error) : `helm template failed for chart ${chart.description}: ${firstLine(rendered.error)}`,
        location: 'postRender' in rendered ? locationOf(release.object, ['spec', 'postRenderers']) : release.locations.version,
        identity: `${'postRender' in rendered ? 'post-render' : 'helm-template'}\u0000${versionFree(firstLine(rendered.error)).replace(/(?<!\S)\/\S+/g, '<path>')}`,
        detail: rendered.error,
      }],
    };
  }
  const containers = rendered.containers;
  return {
    ok: true,
    secrets: collected.secrets,
    warnings: [
      ...collected.unknown.map((u) => ({ rule: 'render/values-unknown', message: u.message, location: u.location })),
      ...collected.assumed.map((a) => ({ rule: 'render/values-from-external', severity: 'notice' as const, message: a.message, location: a.location })),
      ...(chart.notices ?? []).map((n) => ({ ...n, severity: 'notice' as const, identity: n.rule })),
      ...valueWarnings,
    ],
    rendered: {
      release,
      subject: { kind: 'HelmRelease', namespace: release.namespace, name: release.name },
      releaseName,
      namespace,
      values,
      ...(chart.defaults ? { chartDefaults: chart.defaults } : {}),
      containers,
      ...(rendered.inspection ? { inspection: rendered.inspection } : {}),
      chartDescription: chart.description,
      ...(rendered.manifests !== undefined ? { manifests: rendered.manifests } : {}),
    },
  };
}

type LoadedChartModel = ChartValuesModel & { remoteReferences?: boolean };

/** The schema's verdict on these values, from the kept verdicts or worked out (and kept); undefined where there is no schema to ask. */
async function knownSchemaVerdict(chartModel: ChartValuesModel, values: PositionedValues, verdicts: SchemaVerdicts | undefined): Promise<SchemaVerdict | undefined> {
  if (!chartModel.schema || (chartModel.unresolvedReferences ?? []).length > 0) return undefined;
  const chart = { ...chartModel, schema: chartModel.schema };
  const key = schemaVerdictKey(chart, values);
  const kept = await verdicts?.get(key);
  if (kept) return kept;
  const verdict = schemaVerdict(chart, values);
  await verdicts?.set(key, verdict);
  return verdict;
}

const chartModelsPerRun = new WeakMap<object, Map<string, Promise<LoadedChartModel>>>();

/** The chart's values.yaml, values.schema.json with the documents it $refs, and the value paths its templates read (read once per chart directory and run). */
function loadChartValuesModel(dir: string, run: object, cacheDir: string): Promise<LoadedChartModel> {
  let chartModels = chartModelsPerRun.get(run);
  if (!chartModels) chartModelsPerRun.set(run, (chartModels = new Map<string, Promise<LoadedChartModel>>()));
  return memoized(chartModels, dir, async () => {
    const read = (name: string) => fs.readFile(path.join(dir, name), 'utf8').catch(() => undefined);
    const [valuesText, schemaText, chartText] = await Promise.all([read('values.yaml'), read('values.schema.json'), read('Chart.yaml')]);
    const defaults = valuesText ? asRecord(parseYamlFile(valuesText, 'values.yaml').documents[0]?.value) ?? {} : {};
    let schema: Record<string, unknown> | undefined;
    try {
      schema = schemaText ? asRecord(JSON.parse(schemaText)) : undefined;
    } catch {
      schema = undefined;
    }
    const chartName = (chartText && /^name:\s*(\S+)/m.exec(chartText)?.[1]) || path.basename(dir);
    const [subchartsRemote, templateRefs] = await Promise.all([subchartSchemasReferRemote(dir), templateValueRefs(dir)]);
    if (!schema) return { defaults, chartName, remoteReferences: subchartsRemote, templateRefs };
    const references = await resolveSchemaReferences(dir, schema, cacheDir);
    return { defaults, schema, chartName, references: references.documents, unresolvedReferences: references.unresolved, remoteReferences: references.remote || subchartsRemote, templateRefs };
  });
}

/** helm's error, on one line, without its generic hints. */
function firstLine(text: string): string {
  const lines = text.split('\n').map((l) => l.trim()).filter((l) => l !== '' && !l.startsWith('Use --debug'));
  return (lines.slice(0, 4).join(' ') || 'no output').replace(/^Error:\s*/, '');
}
