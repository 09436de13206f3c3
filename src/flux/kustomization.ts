import type { SourceLocation } from '../findings.js';
import { asRecord, asString, locationOf, type RepoObject } from './objects.js';

/** A Flux Kustomization (kustomize.toolkit.fluxcd.io), the parts that decide what it applies. */
export interface FluxKustomization {
  object: RepoObject;
  name: string;
  namespace: string;
  /** Repository-relative folder kustomize builds ('' for the root). */
  path: string;
  sourceRef: { kind: string; name: string; namespace: string };
  targetNamespace?: string;
  namePrefix?: string;
  nameSuffix?: string;
  patches: unknown[];
  images: unknown[];
  components: string[];
  commonMetadata?: { labels?: Record<string, string>; annotations?: Record<string, string> };
  postBuild?: {
    substitute: Record<string, string>;
    substituteFrom: Array<{ kind: 'ConfigMap' | 'Secret'; name: string; optional: boolean; location: SourceLocation }>;
  };
  locations: { path: SourceLocation; postBuild: SourceLocation; name: SourceLocation };
}

export function isFluxKustomization(object: RepoObject): boolean {
  return object.kind === 'Kustomization' && object.apiVersion.startsWith('kustomize.toolkit.fluxcd.io/');
}

export function readFluxKustomization(object: RepoObject): FluxKustomization {
  const spec = asRecord(object.body.spec) ?? {};
  const namespace = object.namespace ?? 'default';
  const sourceRef = asRecord(spec.sourceRef) ?? {};
  const postBuild = asRecord(spec.postBuild);
  const metadata = asRecord(spec.commonMetadata);
  return {
    object,
    name: object.name,
    namespace,
    path: normalizePath(asString(spec.path) ?? ''),
    sourceRef: { kind: asString(sourceRef.kind) ?? 'GitRepository', name: asString(sourceRef.name) ?? '', namespace: asString(sourceRef.namespace) ?? namespace },
    targetNamespace: asString(spec.targetNamespace),
    namePrefix: asString(spec.namePrefix),
    nameSuffix: asString(spec.nameSuffix),
    patches: Array.isArray(spec.patches) ? spec.patches : [],
    images: Array.isArray(spec.images) ? spec.images : [],
    components: Array.isArray(spec.components) ? spec.components.filter((c): c is string => typeof c === 'string') : [],
    commonMetadata: metadata ? { labels: stringMap(metadata.labels), annotations: stringMap(metadata.annotations) } : undefined,
    postBuild: postBuild
      ? {
          substitute: stringMap(postBuild.substitute) ?? {},
          substituteFrom: (Array.isArray(postBuild.substituteFrom) ? postBuild.substituteFrom : []).flatMap((entry, index) => {
            const ref = asRecord(entry);
            const kind = asString(ref?.kind);
            const name = asString(ref?.name);
            if ((kind !== 'ConfigMap' && kind !== 'Secret') || !name) return [];
            return [{ kind, name, optional: ref?.optional === true, location: locationOf(object, ['spec', 'postBuild', 'substituteFrom', index]) }];
          }),
        }
      : undefined,
    locations: {
      path: locationOf(object, ['spec', 'path']),
      postBuild: locationOf(object, ['spec', 'postBuild']),
      name: locationOf(object, ['metadata', 'name']),
    },
  };
}

/** `./apps/prod/` -> `apps/prod`; `./` -> ''. */
function normalizePath(raw: string): string {
  const parts = raw.split('/').filter((p) => p !== '' && p !== '.');
  return parts.join('/');
}

function stringMap(value: unknown): Record<string, string> | undefined {
  const record = asRecord(value);
  if (!record) return undefined;
  return Object.fromEntries(Object.entries(record).map(([k, v]) => [k, v === null || v === undefined ? '' : String(v)]));
}
