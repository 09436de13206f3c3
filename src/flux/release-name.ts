import { createHash } from 'node:crypto';

export interface ReleaseIdentity {
  name: string;
  namespace?: string;
  targetNamespace?: string;
  releaseName?: string;
  storageNamespace?: string;
}

const MAX_RELEASE_NAME = 53;
const SHORT_HASH = 12;

/** spec.releaseName, else [targetNamespace-]name, shortened like helm-controller past 53 characters. */
export function fluxReleaseName(release: ReleaseIdentity): string {
  const name = release.releaseName ?? (release.targetNamespace ? `${release.targetNamespace}-${release.name}` : release.name);
  return shortenReleaseName(name);
}

/** Names over 53 characters: the first 40 characters, a dash, and 12 hex digits of the name's SHA-256. */
export function shortenReleaseName(name: string): string {
  if (name.length <= MAX_RELEASE_NAME) return name;
  const digest = createHash('sha256').update(name).digest('hex');
  return `${name.slice(0, MAX_RELEASE_NAME - (SHORT_HASH + 1))}-${digest.slice(0, SHORT_HASH)}`;
}

/** The namespace the chart is installed into: targetNamespace, else the HelmRelease's own. */
export function fluxReleaseNamespace(release: ReleaseIdentity): string {
  return release.targetNamespace ?? release.namespace ?? 'default';
}
