import type { DraftFinding } from '../findings.js';
import type { HelmRelease } from '../flux/helmrelease.js';
import { asRecord, locationOf } from '../flux/objects.js';

/**
 * The condition behind the incident's "cannot remediate failed release": when an upgrade fails and
 * the HelmRelease has no upgrade remediation (retries 0, the default), helm-controller leaves the
 * release failed until someone intervenes, even after the bad change is reverted. With
 * `spec.upgrade.strategy.name: RetryOnFailure` (Flux 2.6+) a failed upgrade is retried every
 * `retryInterval` without remediation, so it does not get stuck: nothing to say there. (The install
 * strategy governs first installs only; an upgrade never reads it.)
 */
export function checkRemediation(release: HelmRelease): DraftFinding[] {
  const spec = asRecord(release.object.body.spec) ?? {};
  if (asRecord(asRecord(spec.upgrade)?.strategy)?.name === 'RetryOnFailure') return [];
  const upgrade = asRecord(asRecord(spec.upgrade)?.remediation);
  const retries = typeof upgrade?.retries === 'number' ? upgrade.retries : 0;
  if (retries !== 0) return [];
  const strategy = typeof upgrade?.strategy === 'string' ? upgrade.strategy : undefined;
  const where = upgrade ? ['spec', 'upgrade', 'remediation'] : asRecord(spec.upgrade) ? ['spec', 'upgrade'] : ['metadata', 'name'];
  return [{
    rule: 'helmrelease/remediation',
    severity: 'warning',
    message: `HelmRelease ${release.namespace}/${release.name}: a failed upgrade is not remediated (upgrade.remediation.retries is ${upgrade?.retries === undefined ? 'unset, so 0' : '0'}${strategy ? `, strategy ${strategy}` : ''}); helm-controller then stops at "cannot remediate failed release" until someone intervenes`,
    location: locationOf(release.object, where),
    subject: { kind: 'HelmRelease', namespace: release.namespace, name: release.name },
    identity: 'upgrade.remediation',
    suggestion: 'spec.upgrade.remediation: { retries: 3, remediateLastFailure: true } (rollback is the default strategy), or spec.upgrade.strategy.name: RetryOnFailure',
  }];
}
