import { parse, stringify } from 'yaml';
import { BASE_VALUES, externalDnsRelease } from './scenario.js';

/** A Flux Kustomization in flux-system built from the flux-system GitRepository. */
export function fluxKustomization(name: string, spec: Record<string, unknown>): string {
  return stringify({ apiVersion: 'kustomize.toolkit.fluxcd.io/v1', kind: 'Kustomization', metadata: { name, namespace: 'flux-system' }, spec: { interval: '1h', prune: true, sourceRef: { kind: 'GitRepository', name: 'flux-system' }, ...spec } });
}

/** The example external-dns HelmRelease under another name, with these extra args and a txtOwnerId (a ${VAR} by default). */
export function namedRelease(name: string, extraArgs: string[], txtOwner = '${TXT_OWNER}'): string {
  const value = parse(externalDnsRelease({ ...BASE_VALUES, txtOwnerId: txtOwner, extraArgs })) as { metadata: Record<string, string> };
  value.metadata = { name };
  return stringify(value);
}
