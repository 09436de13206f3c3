import path from 'node:path';
import type { RepoInventory } from './discover.js';
import { asRecord, asString } from './objects.js';

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
}

export type GitSource =
  | { kind: 'this' }
  | { kind: 'mapped'; dir: string }
  | { kind: 'foreign'; url?: string; reason: string };

/** The Flux bootstrap convention: the cluster's own GitRepository, often created outside Git. */
const BOOTSTRAP_SOURCE = 'flux-system/flux-system';

export function classifyGitRepository(ref: { namespace: string; name: string }, inventory: RepoInventory, context: SourceIdentityContext): GitSource {
  const key = `${ref.namespace}/${ref.name}`;
  const mapped = context.gitRepositories[key];
  if (mapped !== undefined) {
    return mapped === '.' || mapped === '' ? { kind: 'this' } : { kind: 'mapped', dir: path.resolve(context.repoRoot, mapped) };
  }
  const url = gitRepositoryUrl(inventory, ref);
  const own = ownUrls(inventory, context);
  if (url !== undefined && own.size > 0) {
    if (!own.has(normalizeGitUrl(url))) return { kind: 'foreign', url, reason: `its URL ${url} is not this repository's` };
    // Same repository, another branch or tag: not the revision being checked.
    const tracked = gitRepositoryRef(inventory, ref);
    const rootRefs = [BOOTSTRAP_SOURCE, ...(context.rootSources ?? [])].filter((k) => k !== key).map((k) => gitRepositoryRef(inventory, splitKey(k))).filter((r) => r !== undefined);
    // Without the root's ref written down (bootstrap made it), only a default branch is taken for the revision checked.
    const expected = rootRefs.length > 0 ? rootRefs : ['branch main', 'branch master'];
    if (tracked !== undefined && !expected.includes(tracked)) {
      return { kind: 'foreign', url, reason: `it follows ${tracked} of this repository, not the revision being checked` };
    }
    return { kind: 'this' };
  }
  if (key === BOOTSTRAP_SOURCE || context.rootSources?.has(key)) return { kind: 'this' };
  if (url === undefined) return { kind: 'foreign', reason: `GitRepository ${key} is not defined in this repository and is not its Flux bootstrap source` };
  return { kind: 'foreign', url, reason: `its URL ${url} is not known to be this repository's` };
}

/** This repository's URLs: its remotes, and the URL of its bootstrap/root GitRepository where it is written down. */
function ownUrls(inventory: RepoInventory, context: SourceIdentityContext): Set<string> {
  const urls = new Set(context.remoteUrls.map(normalizeGitUrl).filter((u) => u !== ''));
  for (const key of [BOOTSTRAP_SOURCE, ...(context.rootSources ?? [])]) {
    const [namespace, name] = key.split('/') as [string, string];
    const url = gitRepositoryUrl(inventory, { namespace, name });
    if (url) urls.add(normalizeGitUrl(url));
  }
  for (const [key, mapped] of Object.entries(context.gitRepositories)) {
    if (mapped !== '.' && mapped !== '') continue;
    const [namespace, name] = key.split('/') as [string, string];
    const url = gitRepositoryUrl(inventory, { namespace, name });
    if (url) urls.add(normalizeGitUrl(url));
  }
  return urls;
}

/** "branch main", "tag v1.2.0", ... of a GitRepository's spec.ref, when it names one. */
function gitRepositoryRef(inventory: RepoInventory, ref: { namespace: string; name: string }): string | undefined {
  const object = inventory.objects.find((o) => o.kind === 'GitRepository' && o.name === ref.name && (o.namespace ?? 'default') === ref.namespace);
  const spec = asRecord(asRecord(object?.body.spec)?.ref);
  for (const field of ['commit', 'name', 'tag', 'semver', 'branch']) {
    const value = asString(spec?.[field]);
    if (value) return `${field} ${value}`;
  }
  return undefined;
}

function splitKey(key: string): { namespace: string; name: string } {
  const [namespace, name] = key.split('/') as [string, string];
  return { namespace, name };
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
