import { readdirSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { runCheck } from '../../src/engine.js';
import { findingKey, type Finding } from '../../src/findings.js';
import { diffRevisions } from '../../src/inspect/diff-releases.js';
import { renderRevision } from '../../src/inspect/render-releases.js';
import { mergeReports } from '../../src/report/merge.js';
import type { TestRepo } from '../support/git-repo.js';
import { fixtures } from '../support/paths.js';
import { exampleRepo } from '../support/scenario.js';

/**
 * The same HelmRelease namespace/name in two clusters (flux2-kustomize-helm-example layout,
 * fixtures/real-patterns/two-clusters) is two releases: paired base-to-head within its cluster,
 * one status row each, findings that name the cluster. Real kustomize, helm and git.
 */
const cacheDir = path.join(os.tmpdir(), 'guard-test-cache');
const PROD = 'apps/production/external-dns-values.yaml';
const STAGING = 'apps/staging/external-dns-values.yaml';
const PROD_CLUSTER = 'clusters/production/flux-system';
const STAGING_CLUSTER = 'clusters/staging/flux-system';
const BAD_FLAG = '    extraArgs:\n      - --traefik-disable-legacy\n';

let repo: TestRepo | undefined;
afterEach(async () => {
  await repo?.remove();
  repo = undefined;
});

function twoClusters(): Record<string, string> {
  const root = path.join(fixtures, 'real-patterns', 'two-clusters');
  const out: Record<string, string> = {};
  const walk = (dir: string) => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const full = path.join(dir, entry.name);
      if (entry.isDirectory()) walk(full);
      else if (entry.name !== 'README.md') out[path.relative(root, full)] = readFileSync(full, 'utf8');
    }
  };
  walk(root);
  return out;
}

async function twoClusterRepo(base: Record<string, string>, change: Record<string, string>): Promise<TestRepo> {
  repo = await exampleRepo({ 'infrastructure/external-dns/helmrelease.yaml': null, ...base });
  await repo.commit('change', change);
  return repo;
}

const unknownFlags = (findings: Finding[]) => findings.filter((f) => f.rule === 'container-flags/unknown-flag');

describe('Two clusters with the same HelmRelease namespace/name', () => {
  it('the incident flag added in production only: one finding, for production, introduced; staging unchanged', async () => {
    const files = twoClusters();
    await twoClusterRepo(files, { [PROD]: files[PROD]! + BAD_FLAG });
    const report = await runCheck({ cwd: repo!.dir, base: 'main', head: 'change', cacheDir });

    expect(report.releases.map((r) => [r.namespace, r.name, r.cluster, r.status])).toEqual([
      ['networking', 'external-dns', PROD_CLUSTER, 'rendered'],
      ['networking', 'external-dns', STAGING_CLUSTER, 'unchanged'],
    ]);
    const flagged = unknownFlags(report.findings);
    expect(flagged).toHaveLength(1);
    expect(flagged[0]).toMatchObject({ severity: 'error', introduced: true, location: { path: PROD, line: 9 }, subject: { kind: 'HelmRelease', namespace: 'networking', name: 'external-dns', cluster: PROD_CLUSTER } });
    expect(report.summary).toMatchObject({ releasesTotal: 2, releasesChecked: 1, releasesUnchanged: 1, verdict: 'fail' });
  });

  it('sharded: each cluster\'s release in the merged report, the finding once', async () => {
    const files = twoClusters();
    await twoClusterRepo(files, { [PROD]: files[PROD]! + BAD_FLAG });
    const shards = await Promise.all([1, 2].map((index) => runCheck({ cwd: repo!.dir, base: 'main', head: 'change', cacheDir, shard: { index, total: 2 } })));
    const merged = mergeReports(shards);
    expect(merged.releases.map((r) => [r.cluster, r.status])).toEqual([[PROD_CLUSTER, 'rendered'], [STAGING_CLUSTER, 'unchanged']]);
    expect(unknownFlags(merged.findings).map((f) => [f.subject.cluster, f.introduced])).toEqual([[PROD_CLUSTER, true]]);
  });

  it('staging already had the flag: production\'s copy is introduced, staging\'s is not; two findings with two keys', async () => {
    const files = twoClusters();
    await twoClusterRepo({ ...files, [STAGING]: files[STAGING]! + BAD_FLAG }, { [PROD]: files[PROD]! + BAD_FLAG });
    const report = await runCheck({ cwd: repo!.dir, base: 'main', head: 'change', cacheDir, all: true });

    const flagged = unknownFlags(report.findings);
    expect(flagged.map((f) => [f.subject.cluster, f.location.path, f.introduced]).sort()).toEqual([
      [PROD_CLUSTER, PROD, true],
      [STAGING_CLUSTER, STAGING, false],
    ]);
    expect(new Set(flagged.map(findingKey)).size).toBe(2);
    expect(report.summary.introduced).toBe(report.findings.filter((f) => f.introduced).length);
  });

  it('a finding on a file both clusters share is two findings, told apart by the cluster', async () => {
    const files = twoClusters();
    const BASE_HR = 'apps/base/external-dns/helmrelease.yaml';
    await twoClusterRepo(files, { [BASE_HR]: files[BASE_HR]!.replace('      - --cloudflare-proxied', '      - --cloudflare-proxied\n      - --traefik-disable-legacy') });
    const report = await runCheck({ cwd: repo!.dir, base: 'main', head: 'change', cacheDir });

    const flagged = unknownFlags(report.findings);
    expect(flagged.map((f) => [f.subject.cluster, f.location.path, f.introduced]).sort()).toEqual([
      [PROD_CLUSTER, BASE_HR, true],
      [STAGING_CLUSTER, BASE_HR, true],
    ]);
    expect(report.releases.map((r) => r.status)).toEqual(['rendered', 'rendered']);
  });

  it('guard diff pairs each cluster\'s release with its own base: only production changes', async () => {
    const files = twoClusters();
    await twoClusterRepo(files, { [PROD]: files[PROD]!.replace('txtOwnerId: production', 'txtOwnerId: production-2') });
    const [base, head] = await Promise.all([
      renderRevision({ cwd: repo!.dir, rev: 'main', cacheDir }),
      renderRevision({ cwd: repo!.dir, rev: 'change', cacheDir }),
    ]);
    expect(head.releases.map((r) => [r.key, r.cluster])).toEqual([
      ['networking/external-dns', PROD_CLUSTER],
      ['networking/external-dns', STAGING_CLUSTER],
    ]);
    const diffs = diffRevisions(base, head);
    expect(diffs.map((d) => [d.key, d.status])).toEqual([
      [`networking/external-dns (cluster ${PROD_CLUSTER})`, 'changed'],
      [`networking/external-dns (cluster ${STAGING_CLUSTER})`, 'unchanged'],
    ]);
    expect(diffs[0]!.patch).toMatch(/^\+\s+- --txt-owner-id=production-2$/m);
  });
});

/** A root Kustomization built from a GitRepository that is not flux-system/flux-system, with a URL the clone has no remote for. */
const ROOT_SOURCE_REPO = {
  'clusters/main/sync.yaml': `apiVersion: source.toolkit.fluxcd.io/v1
kind: GitRepository
metadata:
  name: home-kubernetes
  namespace: flux-system
spec:
  interval: 1m
  ref:
    branch: main
  url: https://github.com/someone/home-ops
---
apiVersion: kustomize.toolkit.fluxcd.io/v1
kind: Kustomization
metadata:
  name: cluster
  namespace: flux-system
spec:
  interval: 10m
  path: ./apps
  prune: true
  sourceRef:
    kind: GitRepository
    name: home-kubernetes
`,
  'apps/kustomization.yaml': 'apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources:\n  - helmrelease.yaml\n',
  'apps/helmrelease.yaml': `apiVersion: helm.toolkit.fluxcd.io/v2
kind: HelmRelease
metadata:
  name: external-dns
  namespace: networking
spec:
  interval: 30m
  upgrade:
    remediation:
      retries: 3
  chart:
    spec:
      chart: ./charts/external-dns
      version: 1.19.0
      sourceRef:
        kind: GitRepository
        name: home-kubernetes
        namespace: flux-system
  values:
    sources: [service]
    provider:
      name: cloudflare
`,
};

describe('A chart from the root Kustomization\'s own GitRepository is this repository\'s', () => {
  it('guard check renders it (not "not checked") although the clone has no remote with its URL', async () => {
    repo = await exampleRepo({ 'infrastructure/external-dns/helmrelease.yaml': null, ...ROOT_SOURCE_REPO });
    await repo.commit('change', { 'apps/helmrelease.yaml': ROOT_SOURCE_REPO['apps/helmrelease.yaml'].replace('sources: [service]', 'sources: [service, ingress]') });
    const report = await runCheck({ cwd: repo.dir, base: 'main', head: 'change', cacheDir });
    expect(report.releases.map((r) => [r.name, r.status, r.cluster])).toEqual([['external-dns', 'rendered', 'clusters/main']]);
    expect(report.findings.filter((f) => f.rule === 'render/source-not-checked' || f.rule === 'render/not-checked')).toEqual([]);
  });

  it('guard render renders it too', async () => {
    repo = await exampleRepo({ 'infrastructure/external-dns/helmrelease.yaml': null, ...ROOT_SOURCE_REPO });
    const rendered = await renderRevision({ cwd: repo.dir, rev: 'main', cacheDir });
    expect(rendered.releases).toHaveLength(1);
    expect(rendered.releases[0]!.error).toBeUndefined();
    expect(rendered.releases[0]!.manifests).toContain('--source=service');
  });
});

describe('guard render knows this clone\'s remotes', () => {
  it('a chart from a GitRepository whose URL is the clone\'s origin is rendered from this revision', async () => {
    const release = ROOT_SOURCE_REPO['apps/helmrelease.yaml'].replace('name: home-kubernetes', 'name: charts');
    repo = await exampleRepo({
      'infrastructure/external-dns/helmrelease.yaml': null,
      'clusters/main/apps.yaml': ROOT_SOURCE_REPO['clusters/main/sync.yaml'].split('---\n')[1]!.replace('name: home-kubernetes', 'name: flux-system'),
      'clusters/main/charts.yaml': ROOT_SOURCE_REPO['clusters/main/sync.yaml'].split('---\n')[0]!.replace('name: home-kubernetes', 'name: charts').replace('https://github.com/someone/home-ops', 'https://git.example.org/me/fleet.git'),
      'apps/kustomization.yaml': ROOT_SOURCE_REPO['apps/kustomization.yaml'],
      'apps/helmrelease.yaml': release,
    });
    await repo.git('remote', 'add', 'origin', 'git@git.example.org:me/fleet');
    const rendered = await renderRevision({ cwd: repo.dir, rev: 'main', cacheDir });
    expect(rendered.releases.map((r) => r.error ?? 'rendered')).toEqual(['rendered']);
    expect(rendered.releases[0]!.manifests).toContain('--source=service');
  });
});
