import path from 'node:path';
import type { RepoInventory } from './discover.js';
import { asRecord, asString, type RepoObject } from './objects.js';

/**
 * Which GitRepository is the repository being checked. Only that one is read from this tree;
 * every other Git source is someone else's repository: not checked (a notice), never rebuilt
 * from this repository's files.
 */
export interface SourceIdentityContext {
  /** `.guard.yaml` gitRepositories (base revision): "ns/name" -> a local checkout; "." is this repository. */
  gitRepositories: Record<string, string>;
  repoRoot: string;
  /** URLs of this clone's remotes (origin first), as git prints them. */
  remoteUrls: string[];
  /** "ns/name" of the GitRepositories the root Kustomizations (those nothing in the repository applies) build from. */
  rootSources?: Set<string>;
  /**
   * What "this repository" is, decided from the base revision (`repositoryIdentity`). When set, it is
   * applied as is: the revision being classified (the change) cannot widen it. Absent: decided from
   * the inventory at hand (the base itself, or a tool that reads one revision).
   */
  identity?: RepositoryIdentity;
}

export type GitSource =
  | { kind: 'this' }
  | { kind: 'mapped'; dir: string }
  | { kind: 'foreign'; url?: string; reason: string };

/** Which GitRepositories are this repository, as one revision (the base) shows it. */
export interface RepositoryIdentity {
  /** host/path of this repository's URLs: the remotes, the URLs of the bootstrap/root sources and of those mapped to ".". */
  urls: Set<string>;
  /** "ns/name" taken for this repository without a URL to compare: the bootstrap source and the root sources. */
  keys: Set<string>;
  /** spec.ref ("branch main") of those keys, where written (every cluster's copy): the revisions the clusters follow. */
  refs: Set<string>;
  /** URLs (host/path) of the GitRepositories `.guard.yaml` maps, as the base writes them: the mapping is for that repository. */
  mappedUrls: Map<string, Set<string>>;
}

/** The Flux bootstrap convention: the cluster's own GitRepository, often created outside Git. */
const BOOTSTRAP_SOURCE = 'flux-system/flux-system';

/** "This repository" as `inventory` (the base revision) shows it, with the remotes and the base policy. */
export function repositoryIdentity(inventory: RepoInventory, context: Omit<SourceIdentityContext, 'identity'>): RepositoryIdentity {
  const urls = new Set(context.remoteUrls.map(normalizeGitUrl).filter((u) => u !== ''));
  const keys = new Set([BOOTSTRAP_SOURCE, ...(context.rootSources ?? [])]);
  const refs = new Set<string>();
  // Every copy: several clusters' folders each define the bootstrap source.
  for (const object of gitRepositories(inventory, keys)) {
    const url = asString(asRecord(object.body.spec)?.url);
    if (url) urls.add(normalizeGitUrl(url));
    const ref = refOf(object);
    if (ref) refs.add(ref);
  }
  const mappedUrls = new Map<string, Set<string>>();
  for (const object of gitRepositories(inventory, new Set(Object.keys(context.gitRepositories)))) {
    const key = `${object.namespace ?? 'default'}/${object.name}`;
    const url = normalizeGitUrl(asString(asRecord(object.body.spec)?.url) ?? '');
    if (url === '') continue;
    (mappedUrls.get(key) ?? mappedUrls.set(key, new Set()).get(key)!).add(url);
    const mapped = context.gitRepositories[key];
    if (mapped === '.' || mapped === '') urls.add(url);
  }
  urls.delete('');
  return { urls, keys, refs, mappedUrls };
}

export function classifyGitRepository(ref: { namespace: string; name: string }, inventory: RepoInventory, context: SourceIdentityContext): GitSource {
  const key = `${ref.namespace}/${ref.name}`;
  const url = gitRepositoryUrl(inventory, ref);
  const mapped = context.gitRepositories[key];
  if (mapped !== undefined) {
    // The base maps the repository it names there; the same name re-pointed by the change is another one.
    const mappedFor = context.identity?.mappedUrls.get(key);
    if (mappedFor && url !== undefined && !mappedFor.has(normalizeGitUrl(url))) {
      return { kind: 'foreign', url, reason: `.guard.yaml maps ${key} for ${[...mappedFor].join(', ')}, and its URL is now ${url}` };
    }
    return mapped === '.' || mapped === '' ? { kind: 'this' } : { kind: 'mapped', dir: path.resolve(context.repoRoot, mapped) };
  }
  const fromBase = context.identity !== undefined;
  const identity = context.identity ?? repositoryIdentity(inventory, context);
  if (url !== undefined && identity.urls.size > 0) {
    if (!identity.urls.has(normalizeGitUrl(url))) return { kind: 'foreign', url, reason: `its URL ${url} is not this repository's` };
    // Same repository, another branch or tag: not the revision being checked.
    const tracked = gitRepositoryRef(inventory, ref);
    const rootRefs = [...identity.refs];
    // Without the root's ref written down (bootstrap made it), only a default branch is taken for the revision checked.
    const expected = rootRefs.length > 0 ? rootRefs : ['branch main', 'branch master'];
    if (tracked !== undefined && !expected.includes(tracked)) {
      return { kind: 'foreign', url, reason: `it follows ${tracked} of this repository, not the revision being checked` };
    }
    return { kind: 'this' };
  }
  if (identity.keys.has(key)) {
    // The base shows no URL of this repository; a URL the change writes for it cannot be told to be this repository's.
    if (fromBase && url !== undefined) return { kind: 'foreign', url, reason: `its URL ${url} is not shown to be this repository's by the base revision (no remote or bootstrap URL to compare)` };
    return { kind: 'this' };
  }
  if (url === undefined) return { kind: 'foreign', reason: `GitRepository ${key} is not defined in this repository and is not its Flux bootstrap source` };
  return { kind: 'foreign', url, reason: `its URL ${url} is not known to be this repository's` };
}

/** "branch main", "tag v1.2.0", ... of a GitRepository's spec.ref, when it names one. */
function gitRepositoryRef(inventory: RepoInventory, ref: { namespace: string; name: string }): string | undefined {
  const object = inventory.objects.find((o) => o.kind === 'GitRepository' && o.name === ref.name && (o.namespace ?? 'default') === ref.namespace);
  return object ? refOf(object) : undefined;
}

function gitRepositories(inventory: RepoInventory, keys: Set<string>): RepoObject[] {
  return inventory.objects.filter((o) => o.kind === 'GitRepository' && keys.has(`${o.namespace ?? 'default'}/${o.name}`));
}

function refOf(object: RepoObject): string | undefined {
  const spec = asRecord(asRecord(object.body.spec)?.ref);
  for (const field of ['commit', 'name', 'tag', 'semver', 'branch']) {
    const value = asString(spec?.[field]);
    if (value) return `${field} ${value}`;
  }
  return undefined;
}

function gitRepositoryUrl(inventory: RepoInventory, ref: { namespace: string; name: string }): string | undefined {
  const object = inventory.objects.find((o) => o.kind === 'GitRepository' && o.name === ref.name && (o.namespace ?? 'default') === ref.namespace);
  return asString(asRecord(object?.body.spec)?.url);
}

/** host/path of a git URL, whatever its form: https://, ssh://git@host/, git@host:path, with or without .git. */
export function normalizeGitUrl(url: string): string {
  let text = url.trim();
  const scp = /^(?:[^@/]+@)?([^:/]+):(?!\/)(.*)$/.exec(text);
  if (scp && !/^[a-z][a-z0-9+.-]*:\/\//i.test(text)) text = `ssh://${scp[1]}/${scp[2]}`;
  try {
    const parsed = new URL(text);
    const pathname = parsed.pathname.replace(/\/+$/, '').replace(/\.git$/, '');
    return `${parsed.hostname.toLowerCase()}${pathname}`;
  } catch {
    return '';
  }
}
