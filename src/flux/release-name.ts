import { createHash } from 'node:crypto';

export interface ReleaseIdentity {
  name: string;
  namespace?: string;
  targetNamespace?: string;
  releaseName?: string;
  storageNamespace?: string;
}

const MAX_RELEASE_NAME = 53;
const MAX_NAMESPACE = 63;
const MAX_OBJECT_NAME = 253;
const SHORT_HASH = 12;

/** Kubernetes' DNS-1123 label (namespaces): lower-case alphanumerics and '-', alphanumeric at both ends. */
const DNS1123_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
/** DNS-1123 subdomain (object names, and helm's release names): labels joined by '.'. */
const DNS1123_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;

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

/** Which field of a HelmRelease an identity problem is about. */
export type IdentityField = 'metadata.name' | 'metadata.namespace' | 'spec.releaseName' | 'spec.targetNamespace' | 'spec.storageNamespace';

export interface IdentityProblem {
  field: IdentityField;
  message: string;
}

const quoted = (value: string) => JSON.stringify(value.length > 80 ? `${value.slice(0, 80)}…` : value);

/**
 * What the API server (the HelmRelease CRD's schema, object metadata rules) or helm's install
 * would refuse in the names of a release: releaseName 1..53 characters and a DNS-1123 subdomain
 * (helm's release name rule); namespaces DNS-1123 labels of at most 63; metadata.name a DNS-1123
 * subdomain. A value that fails is a finding, never handed to a tool.
 */
export function releaseIdentityProblems(release: ReleaseIdentity): IdentityProblem[] {
  const problems: IdentityProblem[] = [];
  const check = (field: IdentityField, value: string | undefined, rule: NameRule, refused: { byLength: string; byPattern: string }) => {
    if (value === undefined) return;
    const badLength = value.length === 0 || value.length > rule.max;
    if (!badLength && rule.pattern.test(value)) return;
    problems.push({ field, message: `${field} ${quoted(value)} is not a valid ${rule.name}: ${rule.describe}; ${badLength ? refused.byLength : refused.byPattern}` });
  };
  const apiServer = 'Kubernetes rejects the HelmRelease';
  check('metadata.name', release.name, OBJECT_NAME, { byLength: apiServer, byPattern: apiServer });
  check('metadata.namespace', release.namespace, NAMESPACE, { byLength: apiServer, byPattern: apiServer });
  check('spec.releaseName', release.releaseName, RELEASE_NAME, { byLength: `${apiServer} (its schema allows 1-53 characters)`, byPattern: 'helm-controller cannot install it (helm refuses the release name)' });
  check('spec.targetNamespace', release.targetNamespace, NAMESPACE, { byLength: `${apiServer} (its schema allows 1-63 characters)`, byPattern: 'no such namespace can exist, so the install fails' });
  check('spec.storageNamespace', release.storageNamespace, NAMESPACE, { byLength: `${apiServer} (its schema allows 1-63 characters)`, byPattern: 'no such namespace can exist, so helm cannot store the release' });
  return problems;
}

interface NameRule {
  name: string;
  pattern: RegExp;
  max: number;
  describe: string;
}

const LABEL_WORDS = "lower-case letters, digits and '-', starting and ending with a letter or digit";
const OBJECT_NAME: NameRule = { name: 'object name (DNS-1123 subdomain)', pattern: DNS1123_SUBDOMAIN, max: MAX_OBJECT_NAME, describe: `1-${MAX_OBJECT_NAME} characters, ${LABEL_WORDS}, '.' between parts` };
const RELEASE_NAME: NameRule = { name: 'Helm release name (DNS-1123 subdomain)', pattern: DNS1123_SUBDOMAIN, max: MAX_RELEASE_NAME, describe: `1-${MAX_RELEASE_NAME} characters, ${LABEL_WORDS}, '.' between parts` };
const NAMESPACE: NameRule = { name: 'namespace (DNS-1123 label)', pattern: DNS1123_LABEL, max: MAX_NAMESPACE, describe: `1-${MAX_NAMESPACE} characters, ${LABEL_WORDS}` };

/** A release name and namespace that may be handed to helm: the same rules, checked again where the command line is built. */
export function isValidReleaseName(name: string): boolean {
  return name.length > 0 && name.length <= MAX_RELEASE_NAME && DNS1123_SUBDOMAIN.test(name);
}

export function isValidNamespace(namespace: string): boolean {
  return namespace.length > 0 && namespace.length <= MAX_NAMESPACE && DNS1123_LABEL.test(namespace);
}
