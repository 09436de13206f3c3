import type { DraftFinding } from '../findings.js';
import type { FiringAlert } from '../deploy/alertmanager.js';
import type { DeployTarget } from '../deploy/plan.js';
import type { DeployCheckInput } from '../deploy/policy.js';

/** Deploying into a site or host with firing critical alerts (unreachable, NotReady) fails or makes it worse. */
export function checkSiteHealth(input: DeployCheckInput): DraftFinding[] {
  const settings = input.policy.alertmanager;
  if (!settings || !input.alerts) return [];
  if (!input.alerts.ok) {
    const mode = settings.onUnreachable ?? 'warn';
    if (mode === 'ignore') return [];
    return [{
      rule: 'deploy/alerts-unavailable',
      severity: mode === 'fail' ? 'error' : 'warning',
      message: `site health unknown: ${input.alerts.error}; ${mode === 'fail' ? 'the policy fails closed' : 'deploys are not checked against live alerts'}`,
      location: input.flakeLocation,
      subject: { kind: 'DeployNode', name: 'alertmanager' },
    }];
  }
  const siteLabel = settings.siteLabel ?? 'site';
  const hostLabels = settings.hostLabels ?? ['instance', 'host', 'hostname', 'nodename', 'node'];
  const findings: DraftFinding[] = [];
  const contacted = input.plan.targets.filter((t) => t.contacted);
  for (const target of contacted) {
    const matching = input.alerts.alerts.filter((alert) => concerns(alert, target, siteLabel, hostLabels));
    if (matching.length === 0) continue;
    const why = target.change === 'unchanged' ? `is contacted by ${input.plan.tool} for this change (unchanged, but one unreachable host fails the whole batch)` : 'is redeployed by this change';
    findings.push({
      rule: 'deploy/site-unhealthy',
      severity: 'error',
      message: `deploy node ${target.node.name} (site ${target.site ?? 'unknown'}) ${why} while ${matching.length} critical alert${matching.length === 1 ? ' fires' : 's fire'} there: ${matching.map((a) => a.name).join(', ')}`,
      location: target.change === 'unchanged' ? input.flakeLocation : input.nodeLocation(target.node.name),
      subject: { kind: 'DeployNode', name: target.node.name },
      evidence: matching.map((a) => `${a.name}{${Object.entries(a.labels).filter(([k]) => k !== 'alertname').map(([k, v]) => `${k}="${v}"`).join(',')}}${a.summary ? `: ${a.summary}` : ''}${a.startsAt ? ` (since ${a.startsAt})` : ''}`),
      suggestion: 'wait until the site is healthy, or exclude it from this rollout',
    });
  }
  return findings;
}

function concerns(alert: FiringAlert, target: DeployTarget, siteLabel: string, hostLabels: string[]): boolean {
  if (target.site && alert.labels[siteLabel] === target.site) return true;
  const names = [target.node.name, target.node.hostname, target.node.hostname.split('.')[0]];
  return hostLabels.some((label) => {
    const value = alert.labels[label];
    if (!value) return false;
    const host = value.replace(/:\d+$/, '');
    return names.includes(host) || names.includes(host.split('.')[0] ?? host);
  });
}
