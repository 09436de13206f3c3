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
}

/** A node's site: its own `site` attribute, else the config's explicit map, else the hostname pattern. */
export function siteOf(node: Pick<DeployNode, 'name' | 'hostname' | 'site'>, rules: SiteRules): SiteAssignment {
  if (node.site) return { site: node.site, source: 'node attribute' };
  const mapped = rules.hosts?.[node.name] ?? rules.hosts?.[node.hostname];
  if (mapped) return { site: mapped, source: 'hosts map' };
  if (rules.hostPattern) {
    const pattern = new RegExp(rules.hostPattern);
    for (const candidate of [node.name, node.hostname]) {
      const site = pattern.exec(candidate)?.groups?.site;
      if (site) return { site, source: 'hostPattern' };
    }
  }
  return { source: 'unknown' };
}
