import type { SourceLocation } from '../findings.js';
import { locatePath, type YamlDocument } from '../yaml/source.js';

/** A Kubernetes object found in the repository, with where it is written. */
export interface RepoObject {
  apiVersion: string;
  kind: string;
  name: string;
  /** metadata.namespace as written (may be absent). */
  namespace?: string;
  file: string;
  document: YamlDocument;
  body: Record<string, unknown>;
  /** Post-build variables a Flux Kustomization substituted into this object, with where each is defined. */
  variables?: SubstitutedVariable[];
  /**
   * The root of the Flux Kustomization tree that applied it (one cluster, usually): the same
   * object in two clusters is two objects. Absent for objects no Flux Kustomization applies.
   */
  cluster?: string;
}

export interface SubstitutedVariable {
  name: string;
  value: string;
  /** e.g. "ConfigMap flux-system/site-vars" or "Kustomization flux-system/apps postBuild.substitute" */
  source: string;
  location: SourceLocation;
}

export const HELMRELEASE_API_VERSIONS = [
  'helm.toolkit.fluxcd.io/v2',
  'helm.toolkit.fluxcd.io/v2beta2',
  'helm.toolkit.fluxcd.io/v2beta1',
] as const;

export function locationOf(object: RepoObject, path: Array<string | number>): SourceLocation {
  return locatePath(object.document.positions, path) ?? object.document.start;
}

export function objectId(kind: string, namespace: string | undefined, name: string): string {
  return `${kind}/${namespace ?? 'default'}/${name}`;
}

export function asRecord(value: unknown): Record<string, unknown> | undefined {
  return value !== null && typeof value === 'object' && !Array.isArray(value) ? (value as Record<string, unknown>) : undefined;
}

export function asString(value: unknown): string | undefined {
  return typeof value === 'string' ? value : undefined;
}

interface ObjectIndex {
  length: number;
  byKindName: Map<string, RepoObject[]>;
  byFile: Map<string, RepoObject[]>;
}

/** Indexes of an inventory's objects, made on first use: lookups per release or per built object were a scan of every object. */
const indexes = new WeakMap<readonly RepoObject[], ObjectIndex>();

function indexOf(objects: readonly RepoObject[]): ObjectIndex {
  let index = indexes.get(objects);
  // An array that grew since (objects are only ever appended) is indexed again.
  if (!index || index.length !== objects.length) {
    index = { length: objects.length, byKindName: new Map(), byFile: new Map() };
    for (const object of objects) {
      const key = `${object.kind}\0${object.name}`;
      (index.byKindName.get(key) ?? index.byKindName.set(key, []).get(key)!).push(object);
      (index.byFile.get(object.file) ?? index.byFile.set(object.file, []).get(object.file)!).push(object);
    }
    indexes.set(objects, index);
  }
  return index;
}

/** The objects of this kind and name, in the order of `objects`. */
export function objectsNamed(objects: readonly RepoObject[], kind: string, name: string): readonly RepoObject[] {
  return indexOf(objects).byKindName.get(`${kind}\0${name}`) ?? [];
}

/** The objects written in `file`, in the order of `objects`. */
export function objectsInFile(objects: readonly RepoObject[], file: string): readonly RepoObject[] {
  return indexOf(objects).byFile.get(file) ?? [];
}
