import path from 'node:path';
import type { Snapshot } from '../git/repo.js';
import { kubectlResolved, resolveKubectl } from '../kustomize/binary.js';
import { baseIdentityGate } from './base-identity.js';
import { discoverObjects } from './discover.js';
import { discoveryKey, readDiscovery, writeDiscovery } from './discovery-cache.js';
import { applyFluxKustomizations, type KustomizeOutcome } from './kustomize-apply.js';
import { kustomizeRuns } from './kustomize-build.js';
import type { RepositoryIdentity } from './source-identity.js';
import { UnreachedSkips } from './unreached.js';

export interface AppliedRevisions {
  base: KustomizeOutcome;
  head: KustomizeOutcome;
  /** What "this repository" is, from the base: it applies to both revisions. */
  identity: RepositoryIdentity;
}

export interface AppliedOutcome extends AppliedRevisions {
  /** Read from the cache: a rerun of the same revisions. */
  fromCache: boolean;
}

export interface ApplySettings {
  root: string;
  remoteUrls: string[];
  /** The policy file and help folder: a change to them reaches every release (no skipping). */
  configFile: string;
  helpDir: string;
  /** Build every Kustomization (--all), not only those the change can reach. */
  all: boolean;
  gitRepositories: Record<string, string>;
  clusterObjects: string[];
  timeoutMs: number;
  scratchDir: string;
  /** The on-disk cache folder (absent: --no-cache). */
  cacheDir?: string;
}

/**
 * Both revisions as Flux applies them: every YAML file discovered, Flux Kustomizations built from
 * their roots, Kustomizations the change cannot reach built by neither (unless `all`). A rerun of
 * the same revisions reads the result from the cache (discovery-cache.ts).
 */
export async function applyRevisions(baseSnapshot: Snapshot, headSnapshot: Snapshot, settings: ApplySettings): Promise<AppliedOutcome> {
  // Other repositories mapped to local folders are read from disk, outside both revisions: never kept.
  const cacheable = settings.cacheDir !== undefined && Object.keys(settings.gitRepositories).length === 0;
  if (!cacheable) return { ...(await applyBoth(baseSnapshot, headSnapshot, settings)), fromCache: false };
  const discoveryDir = path.join(settings.cacheDir!, 'applied');
  const key = await discoveryKey({
    baseTree: await baseSnapshot.treeDigest(''),
    headTree: await headSnapshot.treeDigest(''),
    context: {
      root: settings.root,
      remoteUrls: settings.remoteUrls,
      configFile: settings.configFile,
      helpDir: settings.helpDir,
      all: settings.all,
      clusterObjects: settings.clusterObjects,
      timeoutMs: settings.timeoutMs,
    },
  });
  // kubectl is part of the entry, not of the key: a repository with nothing to build never looks for it.
  const kept = await readDiscovery<KeptRevisions>(discoveryDir, key);
  if (kept && (kept.kubectl === null || kept.kubectl === (await kubectlVersion()))) return { ...kept.applied, fromCache: true };
  const failedBefore = kustomizeRuns.failed;
  const applied = await applyBoth(baseSnapshot, headSnapshot, settings);
  if (kustomizeRuns.failed === failedBefore) {
    const entry: KeptRevisions = { kubectl: kubectlResolved() ? await kubectlVersion() : null, applied };
    await writeDiscovery(discoveryDir, key, entry);
  }
  return { ...applied, fromCache: false };
}

/** What is kept: the result, and the kubectl that built it (null: nothing was built or looked up). */
interface KeptRevisions {
  kubectl: string | null;
  applied: AppliedRevisions;
}

function kubectlVersion(): Promise<string> {
  return resolveKubectl().then((k) => k.version, () => 'none');
}

async function applyBoth(baseSnapshot: Snapshot, headSnapshot: Snapshot, settings: ApplySettings): Promise<AppliedRevisions> {
  const parseCache = new Map();
  const unreached = settings.all ? undefined : new UnreachedSkips({ files: [settings.configFile], dirs: [settings.helpDir] });
  const kustomizeContext = (label: 'base' | 'head') => ({
    ...(unreached ? { skips: { plan: unreached, side: label } } : {}),
    scratchDir: path.join(settings.scratchDir, `kustomize-${label}`),
    gitRepositories: settings.gitRepositories,
    repoRoot: settings.root,
    timeoutMs: settings.timeoutMs,
    remoteUrls: settings.remoteUrls,
    clusterObjects: settings.clusterObjects,
    ...(settings.cacheDir !== undefined ? { cacheDir: path.join(settings.cacheDir, 'kustomize') } : {}),
  });
  const baseRaw = discoverObjects(baseSnapshot, parseCache);
  const identityGate = baseIdentityGate(baseRaw, { gitRepositories: settings.gitRepositories, repoRoot: settings.root, remoteUrls: settings.remoteUrls });
  const [base, head] = await Promise.all([
    baseRaw.then((raw) => applyFluxKustomizations(baseSnapshot, raw, { ...kustomizeContext('base'), onRootSources: identityGate.onRootSources })).finally(identityGate.settle),
    discoverObjects(headSnapshot, parseCache).then((raw) => applyFluxKustomizations(headSnapshot, raw, { ...kustomizeContext('head'), base: identityGate.base })),
  ]);
  const { identity } = await identityGate.base;
  return { base, head, identity };
}
