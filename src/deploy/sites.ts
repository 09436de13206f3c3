import type { DeployNode } from '../nix/eval-deploy.js';

export interface SiteRules {
  /** Regex with a named group `site`, matched against the hostname (lower case, no trailing dot). */
  hostPattern?: string;
  /** Explicit hostname (or, for nodes of the base revision, node name) -> site. */
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

/** The site of every host the base revision deploys to, by normalised hostname (or address). */
export type BaseSites = Map<string, Omit<SiteAssignment, 'conflict' | 'unconfirmed'>>;

/**
 * DNS names and ssh do not care about case or a trailing dot: `CC-SE-STO-01.example.net.` is the
 * host `cc-se-sto-01.example.net`.
 */
export function normalizeHostname(hostname: string): string {
  return hostname.trim().toLowerCase().replace(/\.+$/, '');
}

/**
 * Sites of the hosts the base revision deploys to. Everything here is base data, so a base node's
 * name and its own `site` attribute may place its hostname when the policy does not. A hostname the
 * base places in two different sites is left out (unknown), never guessed.
 */
export function baseSites(baseNodes: NodeNames[], rules: SiteRules): BaseSites {
  const sites: BaseSites = new Map();
  const ambiguous = new Set<string>();
  for (const node of baseNodes) {
    const host = normalizeHostname(node.hostname);
    const found = fromPolicy(host, rules) ?? fromPolicy(normalizeHostname(node.name), rules)
      ?? (node.site !== undefined ? { site: node.site, source: 'base node attribute' as const, groups: {} } : undefined);
    if (!found?.site || ambiguous.has(host)) continue;
    const known = sites.get(host);
    if (known && known.site !== found.site) {
      sites.delete(host);
      ambiguous.add(host);
    } else if (!known) {
      sites.set(host, found);
    }
  }
  return sites;
}

/**
 * A node's site comes from the base revision only, and from the host the deploy tool contacts, never
 * from the node name (which the change chooses): the base policy's explicit map and its hostname
 * pattern applied to the hostname, then the site of that same hostname (or address) in the base
 * revision. A hostname none of these places is an unknown site. The node's own `site` attribute in
 * the change may only agree; when it does not, the base's site is used and the disagreement reported.
 * `baseNode` (the node of the same name at base) counts as part of the base revision.
 */
export function siteOf(node: NodeNames, rules: SiteRules, baseNode?: NodeNames, base?: BaseSites): SiteAssignment {
  const host = normalizeHostname(node.hostname);
  const known = base ?? new Map();
  const fromBaseNode = baseNode ? baseSites([baseNode], rules).get(host) : undefined;
  const found = fromPolicy(host, rules) ?? known.get(host) ?? fromBaseNode;
  const assignment: SiteAssignment = found ? { site: found.site, source: found.source, groups: { ...found.groups } } : { source: 'unknown', groups: {} };
  if (node.site !== undefined && node.site !== assignment.site) {
    if (assignment.site) assignment.conflict = node.site;
    else assignment.unconfirmed = node.site;
  }
  return assignment;
}

/** The policy's own answer for one name: the explicit map (exact, then the first DNS label), then the pattern. */
function fromPolicy(host: string, rules: SiteRules): Omit<SiteAssignment, 'conflict' | 'unconfirmed'> | undefined {
  const mapped = mapLookup(rules.hosts, host) ?? mapLookup(rules.hosts, host.split('.')[0]!);
  if (mapped !== undefined) return { site: mapped, source: 'hosts map', groups: {} };
  const { site, ...groups } = patternGroups(host, rules.hostPattern);
  return site ? { site, source: 'hostPattern', groups } : undefined;
}

function mapLookup(hosts: Record<string, string> | undefined, key: string): string | undefined {
  if (!hosts) return undefined;
  if (Object.hasOwn(hosts, key)) return hosts[key];
  const entry = Object.entries(hosts).find(([name]) => normalizeHostname(name) === key);
  return entry?.[1];
}

const compiled = new Map<string, RegExp>();

function patternGroups(host: string, hostPattern: string | undefined): Record<string, string> {
  if (!hostPattern) return {};
  // Hostnames are at most 253 characters; a longer string from the change is not matched (bounded regex work).
  if (host.length > 253) return {};
  let pattern = compiled.get(hostPattern);
  if (!pattern) compiled.set(hostPattern, (pattern = new RegExp(hostPattern)));
  const groups = pattern.exec(host)?.groups;
  return groups ? Object.fromEntries(Object.entries(groups).filter((entry): entry is [string, string] => entry[1] !== undefined)) : {};
}
