import os from 'node:os';
import path from 'node:path';
import { stringify } from 'yaml';
import { afterEach, describe, expect, it } from 'vitest';
import { runCheck, type Report } from '../../src/engine.js';
import type { TestRepo } from '../support/git-repo.js';
import { BASE_VALUES, exampleRepo, externalDnsRelease } from '../support/scenario.js';

/**
 * Issue 12, class 4: discovery and identity fooled by the pull request. Only what Flux would
 * apply counts; a second copy never hides the applied one; a repository that stops finding its
 * releases says so. Each attack carries the incident's flag: none may exit clean.
 */
const cacheDir = path.join(os.tmpdir(), 'guard-test-cache');
const INCIDENT_FLAG = '--traefik-disable-legacy';
const HR = 'apps/external-dns/helmrelease.yaml';
let repo: TestRepo | undefined;
afterEach(async () => {
  await repo?.remove();
  repo = undefined;
});

const fluxKustomization = (name: string, spec: Record<string, unknown>) =>
  stringify({
    apiVersion: 'kustomize.toolkit.fluxcd.io/v1',
    kind: 'Kustomization',
    metadata: { name, namespace: 'flux-system' },
    spec: { interval: '10m', prune: true, sourceRef: { kind: 'GitRepository', name: 'flux-system' }, ...spec },
  });

/** clusters/prod applies apps/ (a kustomize folder holding the external-dns HelmRelease). */
const layout = {
  'infrastructure/external-dns/helmrelease.yaml': null,
  'clusters/prod/apps.yaml': fluxKustomization('apps', { path: './apps' }),
  'apps/kustomization.yaml': 'resources:\n  - external-dns\n',
  'apps/external-dns/kustomization.yaml': 'resources:\n  - helmrelease.yaml\n',
  [HR]: externalDnsRelease(BASE_VALUES),
};
const incident = externalDnsRelease({ ...BASE_VALUES, extraArgs: [INCIDENT_FLAG] });

async function check(base: Record<string, string | null>, change: Record<string, string | null>): Promise<Report> {
  repo = await exampleRepo(base);
  await repo.commit('change', change);
  const report = await runCheck({ cwd: repo.dir, base: 'main', head: 'change', cacheDir });
  if (process.env.DEBUG_FINDINGS) console.log(JSON.stringify(report.findings.map((f) => [f.severity, f.rule, f.message, f.location]), null, 1));
  return report;
}

function expectBlockedByTheFlag(report: Report, at: string): void {
  const flag = report.findings.filter((f) => f.rule === 'container-flags/unknown-flag');
  expect(flag.map((f) => [f.severity, f.location.path])).toEqual([['error', at]]);
  expect(flag[0]!.message).toContain(INCIDENT_FLAG);
  expect(report.summary.verdict).toBe('fail');
}

describe('discovery cannot be fooled (issue 12, class 4)', () => {
  it('a Chart.yaml at the repository root hides nothing: the release is still rendered and the flag blocks', async () => {
    const report = await check({}, {
      'Chart.yaml': 'apiVersion: v2\nname: decoy\nversion: 0.1.0\n',
      'infrastructure/external-dns/helmrelease.yaml': incident,
    });
    expectBlockedByTheFlag(report, 'infrastructure/external-dns/helmrelease.yaml');
    expect(report.releases.map((r) => r.status)).toEqual(['rendered']);
  });

  it('a Chart.yaml in the folder of the HelmRelease hides nothing outside templates/, charts/ and crds/', async () => {
    const report = await check({}, {
      'infrastructure/Chart.yaml': 'apiVersion: v2\nname: decoy\nversion: 0.1.0\n',
      'infrastructure/external-dns/helmrelease.yaml': incident,
    });
    expectBlockedByTheFlag(report, 'infrastructure/external-dns/helmrelease.yaml');
  });

  it('a benign copy outside every Kustomization does not shadow the applied HelmRelease (whatever the file order); the copy is named', async () => {
    const report = await check(layout, {
      [HR]: incident,
      // Sorted before apps/: "first one wins" would have checked this copy.
      'aaa-decoy/external-dns.yaml': externalDnsRelease(BASE_VALUES),
    });
    expectBlockedByTheFlag(report, HR);
    const duplicate = report.findings.filter((f) => f.rule === 'flux/duplicate-object');
    expect(duplicate.map((f) => f.location.path)).toEqual(['aaa-decoy/external-dns.yaml']);
    expect(duplicate[0]!.related?.map((r) => r.path)).toEqual([HR]);
    expect(report.releases).toHaveLength(1);
  });

  it('a benign copy of a valuesFrom ConfigMap outside every Kustomization does not replace the applied one', async () => {
    const values = (args: string[]) => stringify({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'external-dns-values', namespace: 'networking' }, data: { 'values.yaml': stringify({ extraArgs: args }) } });
    const base = {
      ...layout,
      'apps/external-dns/kustomization.yaml': 'resources:\n  - helmrelease.yaml\n  - values.yaml\n',
      'apps/external-dns/values.yaml': values([]),
      [HR]: externalDnsRelease(BASE_VALUES, { valuesFrom: [{ kind: 'ConfigMap', name: 'external-dns-values' }] }),
    };
    const report = await check(base, { 'apps/external-dns/values.yaml': values([INCIDENT_FLAG]), '0-decoy.yaml': values([]) });
    expectBlockedByTheFlag(report, 'apps/external-dns/values.yaml');
    expect(report.findings.filter((f) => f.rule === 'flux/duplicate-object').map((f) => f.location.path)).toEqual(['0-decoy.yaml']);
  });

  it('two Kustomizations applying the same HelmRelease in one cluster are reported, and the release is still checked', async () => {
    const report = await check(layout, {
      [HR]: incident,
      'clusters/prod/apps-again.yaml': fluxKustomization('apps-again', { path: './apps/external-dns' }),
    });
    expectBlockedByTheFlag(report, HR);
    const duplicate = report.findings.filter((f) => f.rule === 'flux/duplicate-object');
    expect(duplicate).toHaveLength(1);
    expect(duplicate[0]!.message).toContain('apps-again');
    expect(duplicate[0]!.severity).toBe('warning');
  });

  it('a patch file is never a HelmRelease of its own: a decoy "patch" carrying the flag is checked as applied (patched onto the release)', async () => {
    const patch = 'apiVersion: helm.toolkit.fluxcd.io/v2\nkind: HelmRelease\nmetadata:\n  name: external-dns\n  namespace: networking\nspec:\n  values:\n    extraArgs:\n      - --traefik-disable-legacy\n';
    const report = await check(layout, {
      'apps/external-dns/kustomization.yaml': 'resources:\n  - helmrelease.yaml\npatches:\n  - path: tune.yaml\n',
      'apps/external-dns/tune.yaml': patch,
    });
    expectBlockedByTheFlag(report, 'apps/external-dns/tune.yaml');
    expect(report.releases).toHaveLength(1);
  });

  it('a repository that had releases at base and finds none now says so loudly', async () => {
    const report = await check(layout, {
      'Chart.yaml': 'apiVersion: v2\nname: decoy\nversion: 0.1.0\n',
      [HR]: null,
      'templates/helmrelease.yaml': incident,
    });
    expect(report.releases).toHaveLength(0);
    const loud = report.findings.filter((f) => f.rule === 'render/no-releases');
    expect(loud).toHaveLength(1);
    expect(['warning', 'error']).toContain(loud[0]!.severity);
  });
});
