import type { DraftFinding, Subject } from '../findings.js';
import type { AppliedObject } from './graph.js';
import { isFluxKustomization } from './kustomization.js';
import { objectId, type RepoObject } from './objects.js';

/**
 * Two copies of one object: both applied in one tree (one cluster), or a copy written outside
 * every Kustomization beside the one a Kustomization applies. The applied one is what the
 * cluster gets, so it is what is checked; the other copy is named, never silently preferred.
 */
export function findDuplicates(applied: AppliedObject[], written: RepoObject[]): { findings: DraftFinding[]; shadowed: RepoObject[] } {
  const findings: DraftFinding[] = [];
  const groups = new Map<string, AppliedObject[]>();
  for (const item of applied) {
    if (isFluxKustomization(item.object)) continue; // the graph reports those
    const key = `${item.cluster}\0${idOf(item.object)}`;
    groups.set(key, [...(groups.get(key) ?? []), item]);
  }
  for (const group of groups.values()) {
    const [first, ...others] = group;
    for (const other of others) {
      if (other.by === first!.by && other.object.file === first!.object.file) continue;
      findings.push({
        rule: 'flux/duplicate-object',
        severity: 'warning',
        message: `${describe(other.object)} is applied twice in one cluster: by ${first!.by} (${first!.object.file}) and by ${other.by} (${other.object.file}); the two would fight over it (the guard checks the first)`,
        location: other.object.document.start,
        subject: subjectOf(other.object),
        related: [{ ...first!.object.document.start, message: 'the other copy' }],
      });
    }
  }
  const appliedById = new Map<string, AppliedObject>();
  for (const item of applied) if (!appliedById.has(idOf(item.object))) appliedById.set(idOf(item.object), item);
  const shadowed: RepoObject[] = [];
  for (const object of written) {
    const twin = appliedById.get(idOf(object));
    if (!twin) continue;
    shadowed.push(object);
    findings.push({
      rule: 'flux/duplicate-object',
      severity: 'warning',
      message: `${describe(object)} in ${object.file} is outside every Flux Kustomization, and ${twin.by} applies another copy from ${twin.object.file}; the applied one is what the cluster gets and what is checked (remove or rename the copy)`,
      location: object.document.start,
      subject: subjectOf(object),
      related: [{ ...twin.object.document.start, message: 'the applied copy' }],
    });
  }
  return { findings, shadowed };
}

function idOf(object: RepoObject): string {
  return objectId(object.kind, object.namespace, object.name);
}

function describe(object: RepoObject): string {
  return `${object.kind} ${object.namespace ?? 'default'}/${object.name}`;
}

function subjectOf(object: RepoObject): Subject {
  const kind = object.kind === 'HelmRelease' ? 'HelmRelease' : object.kind === 'Kustomization' ? 'Kustomization' : 'Config';
  return kind === 'Config' ? { kind, name: `${object.kind}/${object.namespace ?? 'default'}/${object.name}` } : { kind, namespace: object.namespace ?? 'default', name: object.name };
}
