import { parseOwned } from '../yaml/shared-parse.js';
import type { DraftFinding } from '../findings.js';
import { ORIGIN_ANNOTATION } from './built-objects.js';
import type { FluxKustomization } from './kustomization.js';
import { asRecord, locationOf, objectId, type RepoObject, type SubstitutedVariable } from './objects.js';
import { substituteVariables, SubstitutionError, VALID_VARIABLE_NAME } from './substitute.js';

const SUBSTITUTE_KEY = 'kustomize.toolkit.fluxcd.io/substitute';

export type ObjectLookup = (kind: string, namespace: string, name: string, nearFile: string) => RepoObject | undefined;

/** substituteFrom objects found and not found, by "Kind/namespace/name": a source the base had and the change removes is an error. */
export interface SubstitutionSources {
  present: Set<string>;
  missing: Map<string, DraftFinding[]>;
}

export interface PostBuildContext {
  lookup: ObjectLookup;
  /** `.guard.yaml` cluster.objects: created in the cluster, not in Git. */
  clusterObjects: ReadonlySet<string>;
  findings: DraftFinding[];
  secrets: string[];
  sources: SubstitutionSources;
}

type Definitions = Map<string, Omit<SubstitutedVariable, 'name'>>;

/** The variables of one Kustomization, read once for all the objects it builds. */
export function variablesOf(spec: FluxKustomization, context: PostBuildContext): Definitions {
  const vars: Definitions = new Map();
  for (const reference of spec.postBuild?.substituteFrom ?? []) {
    const id = objectId(reference.kind, spec.namespace, reference.name);
    const source = context.lookup(reference.kind, spec.namespace, reference.name, spec.object.file);
    if (!source) {
      if (reference.optional || context.clusterObjects.has(id) || context.clusterObjects.has(`${reference.kind}/*/${reference.name}`)) continue;
      const earlier = context.sources.missing.get(id)?.[0];
      if (earlier) {
        // One notice per missing object, however many Kustomizations name it (a parent's patch often adds it to all).
        earlier.related = [...(earlier.related ?? []), { ...reference.location, message: `also named by Kustomization ${spec.namespace}/${spec.name}` }];
        continue;
      }
      const notice: DraftFinding = {
        ...kustomizationFinding(
          spec,
          'kustomize/substitute-from-missing',
          'notice',
          `${reference.kind} ${spec.namespace}/${reference.name} named in postBuild.substituteFrom is not in the repository; the guard assumes it is created in the cluster (at bootstrap, or by external-secrets or SOPS) and builds without its variables (declare it in .guard.yaml under cluster.objects as "${id}" to say so)`,
          reference.location,
        ),
        identity: id,
      };
      context.findings.push(notice);
      context.sources.missing.set(id, [...(context.sources.missing.get(id) ?? []), notice]);
      continue;
    }
    context.sources.present.add(id);
    for (const [key, value] of Object.entries(dataOf(source))) {
      const field = source.kind === 'Secret' && asRecord(source.body.stringData)?.[key] !== undefined ? 'stringData' : 'data';
      vars.set(key, { value: value.replaceAll('\n', ''), source: `${source.kind} ${spec.namespace}/${source.name}`, location: locationOf(source, [field, key]) });
      if (source.kind === 'Secret' && value.length >= 4) context.secrets.push(value);
    }
  }
  for (const [key, value] of Object.entries(spec.postBuild?.substitute ?? {})) {
    vars.set(key, { value: value.replaceAll('\n', ''), source: `Kustomization ${spec.namespace}/${spec.name} postBuild.substitute`, location: locationOf(spec.object, ['spec', 'postBuild', 'substitute', key]) });
  }
  const invalid = [...vars.keys()].find((name) => !VALID_VARIABLE_NAME.test(name));
  if (invalid) {
    context.findings.push(kustomizationFinding(spec, 'kustomize/substitute-failed', 'error', `variable name "${invalid}" is invalid (must match ^[_a-zA-Z][_a-zA-Z0-9]*$), so Flux fails the whole Kustomization`, spec.locations.postBuild));
    return new Map([[invalid, { value: '', source: '', location: spec.locations.postBuild }]]);
  }
  return vars;
}

/** Post-build substitution of one built object, then the object as Flux applies it; undefined when Flux would fail. */
export function substitute(object: RepoObject, text: string, spec: FluxKustomization | undefined, definitions: Definitions, findings: DraftFinding[]): RepoObject | undefined {
  const finish = (body: Record<string, unknown>): RepoObject => {
    // Substitution may write the name or namespace too (`name: ${APP}`): the object is what it says after it.
    const metadata = asRecord(body.metadata);
    const name = typeof metadata?.name === 'string' && metadata.name !== '' ? metadata.name : object.name;
    const namespace = typeof metadata?.namespace === 'string' ? metadata.namespace : object.namespace;
    return { ...object, name, namespace, body: withoutOrigin(body), document: { ...object.document, value: body } };
  };
  const metadata = asRecord(object.body.metadata);
  const disabled = asRecord(metadata?.labels)?.[SUBSTITUTE_KEY] === 'disabled' || asRecord(metadata?.annotations)?.[SUBSTITUTE_KEY] === 'disabled';
  if (!spec?.postBuild || disabled || definitions.size === 0) return finish(object.body);
  if ([...definitions.keys()].some((name) => !VALID_VARIABLE_NAME.test(name))) return undefined;
  const vars = new Map([...definitions].map(([name, definition]) => [name, definition.value]));
  try {
    const result = substituteVariables(text, vars);
    const body = asRecord(parseOwned(result.text));
    if (!body) throw new SubstitutionError('the result is not an object');
    const variables = [...result.used].flatMap(([name, use]) => {
      const definition = definitions.get(name);
      return use.defined && definition ? [{ name, ...definition }] : [];
    });
    return { ...finish(body), ...(variables.length > 0 ? { variables } : {}) };
  } catch (error) {
    const message = error instanceof SubstitutionError || (error as Error).name === 'YAMLParseError' ? (error as Error).message.split('\n')[0] : String(error);
    findings.push(kustomizationFinding(spec, 'kustomize/substitute-failed', 'error', `post-build substitution of ${object.kind} ${object.name} (${object.file}) fails: ${message}; Flux would apply nothing from this Kustomization`, object.document.start));
    return undefined;
  }
}

/** A substituteFrom object the base had and the change removes is an error; one the base lacked too stays a notice. */
export function escalateRemovedSources(base: SubstitutionSources, head: SubstitutionSources): void {
  for (const [id, findings] of head.missing) {
    if (!base.present.has(id)) continue;
    for (const finding of findings) {
      finding.severity = 'error';
      finding.message = finding.message.replace(/; the guard assumes .*$/, '; the base revision has it and this change removes it, so Flux would fail to reconcile this Kustomization (mark it optional: true if it may be absent, or keep it)');
    }
  }
}

function dataOf(source: RepoObject): Record<string, string> {
  const out: Record<string, string> = {};
  const data = asRecord(source.body.data) ?? {};
  for (const [key, value] of Object.entries(data)) {
    if (typeof value !== 'string') continue;
    out[key] = source.kind === 'Secret' ? Buffer.from(value, 'base64').toString('utf8') : value;
  }
  if (source.kind === 'Secret') {
    for (const [key, value] of Object.entries(asRecord(source.body.stringData) ?? {})) if (typeof value === 'string') out[key] = value;
  }
  return out;
}

export function withoutOrigin(body: Record<string, unknown>): Record<string, unknown> {
  const metadata = asRecord(body.metadata);
  const annotations = asRecord(metadata?.annotations);
  if (!metadata || !annotations || !(ORIGIN_ANNOTATION in annotations)) return body;
  const { [ORIGIN_ANNOTATION]: _origin, ...rest } = annotations;
  const { annotations: _annotations, ...otherMetadata } = metadata;
  return { ...body, metadata: Object.keys(rest).length > 0 ? { ...otherMetadata, annotations: rest } : otherMetadata };
}

export function kustomizationFinding(spec: FluxKustomization, rule: string, severity: DraftFinding['severity'], message: string, location: DraftFinding['location']): DraftFinding {
  return { rule, severity, message: `Kustomization ${spec.namespace}/${spec.name}: ${message}`, location, subject: { kind: 'Kustomization', namespace: spec.namespace, name: spec.name } };
}
