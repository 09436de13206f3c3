import type { RepoInventory } from './discover.js';
import type { BaseRevision } from './kustomization-source.js';
import { repositoryIdentity, type SourceIdentityContext } from './source-identity.js';

/**
 * "This repository" decided once, from the base revision (its remotes, bootstrap source, root
 * sources), for both revisions: a change cannot make a fork this repository by re-pointing a root.
 * The base's root sources are known early in its Kustomization build, so the change's build waits
 * only for them, not for the whole base build.
 */
export interface BaseIdentityGate {
  /** Given to the base's Kustomization build. */
  onRootSources: (rootSources: Set<string>) => void;
  /** Called when the base's build ended (whatever happened): a base without Kustomizations has no roots. */
  settle: () => void;
  /** For the change's Kustomization build and for chart resolution of both revisions. */
  base: Promise<BaseRevision>;
}

export function baseIdentityGate(baseRaw: Promise<RepoInventory>, context: Omit<SourceIdentityContext, 'identity' | 'rootSources'>): BaseIdentityGate {
  let publish!: (roots: Set<string>) => void;
  const roots = new Promise<Set<string>>((resolve) => (publish = resolve));
  const base = Promise.all([baseRaw, roots]).then(([inventory, rootSources]) => ({ inventory, identity: repositoryIdentity(inventory, { ...context, rootSources }) }));
  // Awaited by whoever needs it; a failed base discovery is reported by the base build itself.
  base.catch(() => undefined);
  return { onRootSources: publish, settle: () => publish(new Set()), base };
}
