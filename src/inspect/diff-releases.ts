import { createTwoFilesPatch } from 'diff';
import type { ReleaseManifests, RevisionManifests } from './render-releases.js';

export interface ReleaseDiff {
  /** namespace/name, with " (cluster X)" when a Flux Kustomization applies it: the same release in two clusters is two diffs. */
  key: string;
  status: 'added' | 'removed' | 'changed' | 'unchanged';
  patch: string;
}

/** Per HelmRelease (and cluster), the unified diff of what Flux would apply at base and at head. */
export function diffRevisions(base: RevisionManifests, head: RevisionManifests): ReleaseDiff[] {
  const keys = [...new Set([...base.releases, ...head.releases].map(keyOf))].sort();
  return keys.map((key) => {
    const before = base.releases.find((r) => keyOf(r) === key);
    const after = head.releases.find((r) => keyOf(r) === key);
    const text = (release: typeof before) => (release ? release.manifests ?? `# rendering failed:\n# ${release.error?.replaceAll('\n', '\n# ')}\n` : '');
    const [oldText, newText] = [text(before), text(after)];
    const status = !before ? 'added' : !after ? 'removed' : oldText === newText ? 'unchanged' : 'changed';
    const patch = status === 'unchanged' ? '' : createTwoFilesPatch(`${base.label}/${key}`, `${head.label}/${key}`, oldText, newText, undefined, undefined, { context: 3 });
    return { key, status, patch };
  });
}

function keyOf(release: ReleaseManifests): string {
  return release.cluster === undefined ? release.key : `${release.key} (cluster ${release.cluster})`;
}
