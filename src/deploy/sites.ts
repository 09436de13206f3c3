import type { DeployNode } from '../nix/eval-deploy.js';

export interface SiteRules {
  /** Regex with a named group `site`, matched against the hostname and then the node name. */
  hostPattern?: string;
  /** Explicit hostname or node name -> site. */
  hosts?: Record<string, string>;
}

export interface SiteAssignment {
  site?: string;
  /** How the site was found, for the plan. */
  source: 'hosts map' | 'hostPattern' | 'base node attribute' | 'unknown';
  /** Other named groups of the hostname pattern, e.g. country or role. */
  groups: Record<string, string>;
  /** The node's own `site` attribute (data of the change), when it disagrees with the site found: that site is used. */
  conflict?: string;
  /** The node's own `site` attribute, when nothing of the base confirms it: it is not used. */
  unconfirmed?: string;
}

type NodeNames = Pick<DeployNode, 'name' | 'hostname' | 'site'>;

/**
 * A node's site comes from the base revision only: the base policy's explicit map, then its hostname
 * pattern (the hostname first: it is what the deploy tool contacts), then the `site` attribute the
 * same node (same name and hostname) had in the base revision. The node's attribute in the change may
 * only agree; when it does not, the base's site is used and the disagreement is reported.
 */
export function siteOf(node: NodeNames, rules: SiteRules, baseNode?: NodeNames): SiteAssignment {
  const groups = patternGroups(node, rules.hostPattern);
  const { site: fromPattern, ...others } = groups;
  const mapped = mapLookup(rules.hosts, node.hostname) ?? mapLookup(rules.hosts, node.name);
  const fromBase = baseNode && baseNode.name === node.name && baseNode.hostname === node.hostname ? baseNode.site : undefined;
  const found: Pick<SiteAssignment, 'site' | 'source'> = mapped
    ? { site: mapped, source: 'hosts map' }
    : fromPattern
      ? { site: fromPattern, source: 'hostPattern' }
      : fromBase
        ? { site: fromBase, source: 'base node attribute' }
        : { source: 'unknown' };
  const assignment: SiteAssignment = { ...found, groups: others };
  if (node.site !== undefined && node.site !== found.site) {
    if (found.site) assignment.conflict = node.site;
    else assignment.unconfirmed = node.site;
  }
  return assignment;
}

function mapLookup(hosts: Record<string, string> | undefined, key: string): string | undefined {
  return hosts && Object.hasOwn(hosts, key) ? hosts[key] : undefined;
}

const compiled = new Map<string, RegExp>();

function patternGroups(node: Pick<DeployNode, 'name' | 'hostname'>, hostPattern: string | undefined): Record<string, string> {
  if (!hostPattern) return {};
  let pattern = compiled.get(hostPattern);
  if (!pattern) compiled.set(hostPattern, (pattern = new RegExp(hostPattern)));
  for (const candidate of [node.hostname, node.name]) {
    // Hostnames are at most 253 characters; a longer string from the change is not matched (bounded regex work).
    if (candidate.length > 253) continue;
    const groups = pattern.exec(candidate)?.groups;
    if (groups) return Object.fromEntries(Object.entries(groups).filter((entry): entry is [string, string] => entry[1] !== undefined));
  }
  return {};
}
