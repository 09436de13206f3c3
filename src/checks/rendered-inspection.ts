import type { DraftFinding } from '../findings.js';
import type { RenderedRelease } from '../model/release.js';

/** Distinct entries listed in one finding before "and N more". */
const LISTED = 5;

/**
 * What reading the rendered output found besides containers: a key written twice (helm-controller's
 * post-renderer refuses the document, so the release fails), objects holding containers the guard
 * does not read, documents it could not read. Each one visible, never dropped in silence.
 */
export function inspectionFindings(rendered: RenderedRelease): DraftFinding[] {
  const inspection = rendered.inspection;
  if (!inspection) return [];
  const at = rendered.release.locations.version;
  const subject = rendered.subject;
  const findings: DraftFinding[] = [];
  for (const duplicate of inspection.duplicateKeys.slice(0, LISTED)) {
    const object = duplicate.kind ? `${duplicate.kind}/${duplicate.name ?? '?'}` : 'a rendered document';
    findings.push({
      rule: 'render/duplicate-key',
      severity: 'error',
      message: `${object}${duplicate.template ? ` (${duplicate.template})` : ''} writes the key "${duplicate.key}" twice at ${duplicate.path}: helm-controller passes every render through its kustomize post-renderer, which refuses the document (mapping key "${duplicate.key}" already defined), so the install or upgrade fails; kubectl and the API server would keep the last value, and that is what the other checks read`,
      location: at,
      subject,
      evidence: [`rendered output lines ${duplicate.firstLine} and ${duplicate.line}: "${duplicate.key}:" in the same mapping`, `helm-controller would fail with: error while running post render on files: yaml: unmarshal errors: mapping key "${duplicate.key}" already defined (its origin-labels post-renderer reads every render with kustomize; see fluxcd/helm-controller#286)`],
      suggestion: `write "${duplicate.key}" once in the chart template${duplicate.template ? ` ${duplicate.template}` : ''}`,
    });
  }
  if (inspection.notInspected.length > 0) {
    const listed = inspection.notInspected.slice(0, LISTED).map((o) => `${o.kind}/${o.name} (${o.path})`);
    const more = inspection.notInspected.length - listed.length;
    findings.push({
      rule: 'render/kinds-not-inspected',
      severity: 'notice',
      message: `containers in ${listed.join(', ')}${more > 0 ? ` and ${more} more` : ''} are not inspected: the guard reads pod specs of Pod, Deployment, StatefulSet, DaemonSet, ReplicaSet, ReplicationController, Job, CronJob and any kind with spec.template.spec or spec.jobTemplate.spec.template.spec; their flags are not verified`,
      location: at,
      subject,
    });
  }
  for (const unreadable of inspection.unreadable.slice(0, LISTED)) {
    findings.push({
      rule: 'render/unreadable-output',
      severity: 'warning',
      message: `a rendered document${unreadable.template ? ` (${unreadable.template})` : ''} could not be read, so its containers are not checked: ${unreadable.message}`,
      location: at,
      subject,
    });
  }
  return findings;
}
