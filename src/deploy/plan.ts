import type { DeployNode } from '../nix/eval-deploy.js';
import { baseSites, siteOf, type SiteAssignment, type SiteRules } from './sites.js';

export type DeployTool = 'deploy-rs' | 'colmena' | 'comin';

export type TargetChange = 'changed' | 'added' | 'removed' | 'unchanged';

export interface DeployTarget {
  node: DeployNode;
  site?: string;
  siteSource: string;
  /** The node's own `site` attribute where it disagrees with the base's site (which is used). */
  siteConflict?: string;
  /** The node's own `site` attribute where nothing of the base confirms it (not used). */
  siteUnconfirmed?: string;
  /** Other groups from the hostname pattern, e.g. { country: 'fi', role: 'core' }. */
  groups: Record<string, string>;
  change: TargetChange;
  /** The hostname at base, when the change points the node at another host (a redeploy to that host). */
  hostnameBefore?: string;
  /** Profiles whose outPath differs, with both derivations to explain why. */
  changedProfiles: Array<{ profile: string; before?: string; after?: string; drvBefore?: string; drvAfter?: string }>;
  /** The deploy tool will connect to it for this change (deploy-rs `deploy .` contacts every node). */
  contacted: boolean;
}

export interface DeployPlan {
  tool: DeployTool;
  targets: DeployTarget[];
}

/** Which targets a change redeploys: nodes whose profile outPaths differ between base and head. `rules` are the base policy's. */
export function planDeploy(base: DeployNode[], head: DeployNode[], rules: SiteRules, tool: DeployTool): DeployPlan {
  const before = new Map(base.map((n) => [n.name, n]));
  const after = new Map(head.map((n) => [n.name, n]));
  const targets: DeployTarget[] = [];
  const sitesAtBase = baseSites(base, rules);
  for (const node of head) {
    const old = before.get(node.name);
    const changedProfiles = diffProfiles(old, node);
    const moved = old !== undefined && old.hostname !== node.hostname;
    const change: TargetChange = !old ? 'added' : changedProfiles.length > 0 || moved ? 'changed' : 'unchanged';
    targets.push({ node, ...siteFields(siteOf(node, rules, old, sitesAtBase)), change, ...(moved ? { hostnameBefore: old.hostname } : {}), changedProfiles, contacted: false });
  }
  for (const node of base) {
    if (after.has(node.name)) continue;
    targets.push({ node, ...siteFields(siteOf(node, rules, node, sitesAtBase)), change: 'removed', changedProfiles: [], contacted: false });
  }
  const anyChange = targets.some((t) => t.change === 'changed' || t.change === 'added');
  for (const target of targets) {
    const redeployed = target.change === 'changed' || target.change === 'added';
    target.contacted = tool === 'deploy-rs' ? anyChange && target.change !== 'removed' : redeployed;
  }
  targets.sort((a, b) => (a.site ?? '~').localeCompare(b.site ?? '~') || a.node.name.localeCompare(b.node.name));
  return { tool, targets };
}

function siteFields(assignment: SiteAssignment): Pick<DeployTarget, 'site' | 'siteSource' | 'groups' | 'siteConflict' | 'siteUnconfirmed'> {
  return {
    site: assignment.site,
    siteSource: assignment.source,
    groups: assignment.groups,
    ...(assignment.conflict !== undefined ? { siteConflict: assignment.conflict } : {}),
    ...(assignment.unconfirmed !== undefined ? { siteUnconfirmed: assignment.unconfirmed } : {}),
  };
}

function diffProfiles(old: DeployNode | undefined, node: DeployNode): DeployTarget['changedProfiles'] {
  const names = new Set([...Object.keys(old?.profiles ?? {}), ...Object.keys(node.profiles)]);
  const changed: DeployTarget['changedProfiles'] = [];
  for (const profile of names) {
    const a = old?.profiles[profile];
    const b = node.profiles[profile];
    if (a?.outPath !== b?.outPath) changed.push({ profile, before: a?.outPath, after: b?.outPath, drvBefore: a?.drvPath, drvAfter: b?.drvPath });
  }
  return changed;
}

export function redeployed(plan: DeployPlan): DeployTarget[] {
  return plan.targets.filter((t) => t.change === 'changed' || t.change === 'added');
}
