import type { DeployNode } from '../nix/eval-deploy.js';

export interface SiteRules {
  /** Regex with a named group `site`, matched against the node name and then its hostname. */
  hostPattern?: string;
  /** Explicit node name or hostname -> site. */
  hosts?: Record<string, string>;
}

export interface SiteAssignment {
  site?: string;
  /** How the site was found, for the plan. */
  source: 'node attribute' | 'hosts map' | 'hostPattern' | 'unknown';
  /** Other named groups of the hostname pattern, e.g. country or role. */
  groups: Record<string, string>;
}

/** A node's site: its own `site` attribute, else the config's explicit map, else the hostname pattern. */
export function siteOf(node: Pick<DeployNode, 'name' | 'hostname' | 'site'>, rules: SiteRules): SiteAssignment {
  const groups = patternGroups(node, rules.hostPattern);
  const { site: fromPattern, ...others } = groups;
  if (node.site) return { site: node.site, source: 'node attribute', groups: others };
  const mapped = rules.hosts?.[node.name] ?? rules.hosts?.[node.hostname];
  if (mapped) return { site: mapped, source: 'hosts map', groups: others };
  if (fromPattern) return { site: fromPattern, source: 'hostPattern', groups: others };
  return { source: 'unknown', groups: others };
}

function patternGroups(node: Pick<DeployNode, 'name' | 'hostname'>, hostPattern: string | undefined): Record<string, string> {
  if (!hostPattern) return {};
  const pattern = new RegExp(hostPattern);
  for (const candidate of [node.name, node.hostname]) {
    const groups = pattern.exec(candidate)?.groups;
    if (groups) return Object.fromEntries(Object.entries(groups).filter((entry): entry is [string, string] => entry[1] !== undefined));
  }
  return {};
}
