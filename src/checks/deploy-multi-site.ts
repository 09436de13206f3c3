import type { DraftFinding } from '../findings.js';
import { redeployed } from '../deploy/plan.js';
import type { DeployCheckInput } from '../deploy/policy.js';

/** A change that redeploys hosts in more sites at once than the policy allows (the incident's second failure). */
export function checkMultiSite(input: DeployCheckInput): DeployFindings {
  const findings: DraftFinding[] = [];
  const targets = redeployed(input.plan);
  for (const target of targets.filter((t) => !t.site)) {
    const claimed = target.siteUnconfirmed !== undefined ? `; its own site attribute ("${target.siteUnconfirmed}") is data of this change and counts only where the base policy agrees` : '';
    findings.push({
      rule: 'deploy/unknown-site',
      severity: 'error',
      message: `deploy node ${target.node.name} (${target.node.hostname}) is redeployed but the base policy gives it no site, so the rollout cannot be judged${claimed}`,
      location: input.nodeLocation(target.node.name),
      subject: { kind: 'DeployNode', name: target.node.name },
      suggestion: 'map it in the base .guard.yaml deploy.sites (hostPattern with a (?<site>...) group, or hosts); the mapping applies once merged',
    });
  }
  for (const target of targets.filter((t) => t.siteConflict !== undefined)) {
    findings.push({
      rule: 'deploy/site-mismatch',
      severity: 'warning',
      message: `deploy node ${target.node.name} (${target.node.hostname}) says site = "${target.siteConflict}", but the base policy puts it in site ${target.site} (${target.siteSource}); the rollout is judged with ${target.site}`,
      location: input.nodeLocation(target.node.name),
      subject: { kind: 'DeployNode', name: target.node.name },
      identity: `${target.siteConflict}->${target.site}`,
      suggestion: 'fix the node\'s site attribute, or change deploy.sites in .guard.yaml (a policy change applies after merge)',
    });
  }
  const bySite = new Map<string, string[]>();
  for (const target of targets) {
    const site = target.site ?? `unknown(${target.node.name})`;
    bySite.set(site, [...(bySite.get(site) ?? []), target.node.name]);
  }
  const limit = input.policy.maxSitesPerChange ?? 1;
  if (bySite.size <= limit) return findings;
  const sites = [...bySite.keys()].sort();
  const listing = sites.map((s) => `${s}: ${bySite.get(s)!.join(', ')}`).join('; ');
  const [first, ...others] = input.changedLines.length > 0 ? input.changedLines : [input.flakeLocation];
  const base: DraftFinding = {
    rule: 'deploy/multi-site',
    severity: 'error',
    message: `this change redeploys ${targets.length} hosts in ${sites.length} sites at once (${listing}); the policy allows ${limit} site${limit === 1 ? '' : 's'} per change, so one bad change or one partitioned site fails them all together`,
    location: first!,
    subject: { kind: 'DeployNode', name: sites.join('+') },
    related: others.map((l) => ({ ...l, message: 'also changed; reaches these hosts' })),
    evidence: targets.map((t) => `${t.node.name} (${t.site ?? 'unknown site'}): ${[
      ...(t.hostnameBefore !== undefined ? [`hostname ${t.hostnameBefore} -> ${t.node.hostname}`] : []),
      ...t.changedProfiles.map((p) => `${p.profile} ${shortPath(p.before)} -> ${shortPath(p.after)}`),
    ].join(', ') || t.change}`),
    suggestion: 'split the change so that each merge reaches one site, or declare a staged rollout (deploy.rollout: staged) that the deploy tooling follows',
  };
  if (input.policy.rollout === 'staged') {
    findings.push({ ...base, severity: 'notice', message: `${base.message.split(';')[0]}; allowed because the policy declares a staged rollout` });
  } else if (input.override) {
    findings.push({
      ...base,
      rule: 'deploy/override-used',
      severity: 'warning',
      message: `MULTI-SITE DEPLOY ALLOWED BY OVERRIDE in commit ${input.override.commit.slice(0, 12)} (${input.override.reason}): ${base.message.split(';')[0]}`,
    });
  } else {
    findings.push(base);
  }
  return findings;
}

type DeployFindings = DraftFinding[];

function shortPath(storePath: string | undefined): string {
  if (!storePath) return '(none)';
  return storePath.replace(/^\/nix\/store\/([a-z0-9]{8})[a-z0-9]*-/, '$1…-');
}
