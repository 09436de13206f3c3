import { createHash } from 'node:crypto';
import path from 'node:path';
import type { Snapshot } from '../git/repo.js';
import type { RepoInventory } from './discover.js';
import type { HelmRelease } from './helmrelease.js';
import { objectId } from './objects.js';
import { findReferenced } from './values-sources.js';

/**
 * Digest of everything a release's render depends on in the repository: the HelmRelease,
 * the objects its valuesFrom names, its chart source object and, for charts in the repository,
 * the chart's files. Equal digests at base and head mean the change cannot affect the render.
 */
export async function releaseFingerprint(release: HelmRelease, inventory: RepoInventory, snapshot: Snapshot): Promise<string> {
  const hash = createHash('sha256');
  hash.update(JSON.stringify(release.object.body));
  for (const reference of release.valuesFrom) {
    const source = findReferenced(inventory, reference.kind, release.namespace, reference.name, release.object.file);
    hash.update(JSON.stringify(source?.body ?? null));
  }
  const sourceRef = release.chart?.sourceRef;
  if (sourceRef) {
    const sourceObject = inventory.byId.get(objectId(sourceRef.kind, sourceRef.namespace, sourceRef.name));
    hash.update(JSON.stringify(sourceObject?.body ?? null));
    if (sourceRef.kind === 'GitRepository' && release.chart) {
      hash.update(await snapshot.treeDigest(path.posix.normalize(release.chart.name.replace(/^\.\//, ''))));
    }
  }
  return hash.digest('hex');
}
