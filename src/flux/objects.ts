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
