import { isMap, parseAllDocuments } from 'yaml';
import type { HelmRelease } from './helmrelease.js';

/** helm-controller labels every object it applies with the HelmRelease that owns it. */
export function withFluxLabels(manifests: string, release: Pick<HelmRelease, 'name' | 'namespace'>): string {
  const documents = parseAllDocuments(manifests);
  const out: string[] = [];
  for (const document of documents) {
    if (document.errors.length > 0 || !isMap(document.contents)) {
      if (document.contents !== null) out.push(document.toString().trimEnd());
      continue;
    }
    document.setIn(['metadata', 'labels', 'helm.toolkit.fluxcd.io/name'], release.name);
    document.setIn(['metadata', 'labels', 'helm.toolkit.fluxcd.io/namespace'], release.namespace);
    out.push(document.toString({ lineWidth: 0 }).replace(/^---\n/, '').trimEnd());
  }
  return out.map((d) => `---\n${d}\n`).join('');
}
