import path from 'node:path';
import { stringify } from 'yaml';
import { TestRepo } from './git-repo.js';
import { incidentFixture } from './paths.js';

/** A HelmRelease of the example external-dns chart with the given values. */
export function externalDnsRelease(values: Record<string, unknown>, extra: Record<string, unknown> = {}): string {
  return stringify({
    apiVersion: 'helm.toolkit.fluxcd.io/v2',
    kind: 'HelmRelease',
    metadata: { name: 'external-dns', namespace: 'networking' },
    spec: {
      interval: '30m',
      chart: { spec: { chart: './charts/external-dns', version: '1.19.0', sourceRef: { kind: 'GitRepository', name: 'flux-system', namespace: 'flux-system' } } },
      upgrade: { remediation: { retries: 3, remediateLastFailure: true } },
      ...extra,
      values,
    },
  });
}

export const BASE_VALUES = { sources: ['service', 'ingress'], policy: 'sync', provider: { name: 'cloudflare' } };

/**
 * A repository holding the example chart, the external-dns v0.19.0 help output and a policy,
 * with one commit on main; tests then commit their change on a branch.
 */
export async function exampleRepo(files: Record<string, string | null> = {}): Promise<TestRepo> {
  const repo = await TestRepo.create();
  await repo.copy(path.join(incidentFixture, 'base', 'charts'), 'charts');
  await repo.copy(path.join(incidentFixture, 'base', '.guard'), '.guard');
  await repo.copy(path.join(incidentFixture, 'base', '.guard.yaml'), '.guard.yaml');
  await repo.commit('base', { 'infrastructure/external-dns/helmrelease.yaml': externalDnsRelease(BASE_VALUES), ...files });
  await repo.branch('change');
  return repo;
}
