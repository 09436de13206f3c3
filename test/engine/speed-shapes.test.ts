import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { parse, stringify } from 'yaml';
import { checkRevisions } from '../../src/engine.js';
import { forgetBuilds } from '../../src/flux/kustomize-build.js';
import type { TestRepo } from '../support/git-repo.js';
import { BASE_VALUES, externalDnsRelease, exampleRepo } from '../support/scenario.js';

/**
 * Speed on real repository shapes, proved by counts (never by timings): what the guard reads
 * (only what git tracks, and untracked files that are not ignored) and how many `kubectl
 * kustomize` runs a check needs (one per distinct input; none for what the change cannot reach).
 */
let repo: TestRepo | undefined;
const cleanup: string[] = [];
afterEach(async () => {
  await repo?.remove();
  repo = undefined;
  for (const dir of cleanup.splice(0)) await fs.rm(dir, { recursive: true, force: true });
});

async function tempCache(): Promise<string> {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'guard-speed-cache-'));
  cleanup.push(dir);
  return dir;
}

/** The incident's release (v0.19.0 given the flag it removed), under another name. */
function badRelease(name: string, namespace = 'networking'): string {
  const release = parse(externalDnsRelease({ ...BASE_VALUES, extraArgs: ['--traefik-disable-legacy'] })) as { metadata: Record<string, string> };
  release.metadata = { name, namespace };
  return stringify(release);
}

describe('only files git tracks (and untracked ones it does not ignore) are read', () => {
  it('never reads an ignored node_modules/, in discovery or in a generated kustomization', async () => {
    repo = await exampleRepo({
      '.gitignore': 'node_modules/\n',
      // A Flux Kustomization whose folder has no kustomization.yaml: Flux generates one from what is there.
      'clusters/main/apps.yaml': stringify({
        apiVersion: 'kustomize.toolkit.fluxcd.io/v1',
        kind: 'Kustomization',
        metadata: { name: 'apps', namespace: 'flux-system' },
        spec: { interval: '1h', path: './apps', prune: true, sourceRef: { kind: 'GitRepository', name: 'flux-system' } },
      }),
      'clusters/main/source.yaml': stringify({
        apiVersion: 'source.toolkit.fluxcd.io/v1',
        kind: 'GitRepository',
        metadata: { name: 'flux-system', namespace: 'flux-system' },
        spec: { interval: '1h', url: 'ssh://git@example.net/ops', ref: { branch: 'main' } },
      }),
      'apps/config.yaml': stringify({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'apps', namespace: 'default' }, data: { a: 'b' } }),
    });
    const ignored: Record<string, string> = {};
    for (let i = 0; i < 150; i++) ignored[`node_modules/pkg-${i}/fixtures/deploy.yaml`] = stringify({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: `pkg-${i}` }, data: { i: String(i) } });
    ignored['node_modules/pkg-0/fixtures/kustomization.yaml'] = 'resources:\n  - deploy.yaml\n';
    ignored['node_modules/incident/helmrelease.yaml'] = badRelease('from-node-modules');
    ignored['apps/node_modules/incident/helmrelease.yaml'] = badRelease('from-apps-node-modules');
    // Untracked, not ignored: the working tree as the author will commit it. Read.
    ignored['apps/untracked/helmrelease.yaml'] = badRelease('untracked-dns');
    await repo.write(ignored);

    const { report } = await checkRevisions({ cwd: repo.dir, base: 'main', cacheDir: await tempCache(), all: true });
    const flagged = report.findings.filter((f) => f.rule === 'container-flags/unknown-flag').map((f) => f.subject.name);
    expect(flagged).toEqual(['untracked-dns']);
    const names = report.releases.map((r) => r.name).sort();
    expect(names).toEqual(['external-dns', 'untracked-dns']);
    expect(JSON.stringify(report)).not.toContain('node_modules');
  });
});

const APPS = 6;
const HR = (i: number) => `kubernetes/apps/app-${i}/dns/app/helmrelease.yaml`;

function txtOwnerComponent(extra: object[]): string {
  return stringify({
    apiVersion: 'kustomize.config.k8s.io/v1alpha1',
    kind: 'Component',
    patches: [{ target: { kind: 'HelmRelease' }, patch: stringify([{ op: 'add', path: '/spec/values/txtOwnerId', value: '${TXT_OWNER}' }, ...extra]) }],
  });
}

/** home-ops shaped: flux-system applies cluster-apps, whose folder (no kustomization.yaml) holds one namespace folder per app, each applying a child Kustomization with components. */
function homeOps(apps: number): Record<string, string> {
  const files: Record<string, string> = {
    'clusters/main/flux-system/gotk-sync.yaml': [
      stringify({ apiVersion: 'source.toolkit.fluxcd.io/v1', kind: 'GitRepository', metadata: { name: 'flux-system', namespace: 'flux-system' }, spec: { interval: '1h', ref: { branch: 'main' }, url: 'ssh://git@example.net/home-ops' } }),
      stringify({ apiVersion: 'kustomize.toolkit.fluxcd.io/v1', kind: 'Kustomization', metadata: { name: 'flux-system', namespace: 'flux-system' }, spec: { interval: '1h', path: './clusters/main', prune: true, sourceRef: { kind: 'GitRepository', name: 'flux-system' } } }),
    ].join('---\n'),
    'clusters/main/flux-system/kustomization.yaml': 'resources:\n  - gotk-sync.yaml\n',
    'clusters/main/kustomization.yaml': 'resources:\n  - ./flux-system\n  - ./cluster-apps.yaml\n',
    'clusters/main/cluster-apps.yaml': stringify({
      apiVersion: 'kustomize.toolkit.fluxcd.io/v1',
      kind: 'Kustomization',
      metadata: { name: 'cluster-apps', namespace: 'flux-system' },
      spec: {
        interval: '1h',
        path: './kubernetes/apps',
        prune: true,
        sourceRef: { kind: 'GitRepository', name: 'flux-system' },
        patches: [{
          target: { group: 'kustomize.toolkit.fluxcd.io', kind: 'Kustomization' },
          patch: stringify({ apiVersion: 'kustomize.toolkit.fluxcd.io/v1', kind: 'Kustomization', metadata: { name: 'not-used' }, spec: { postBuild: { substituteFrom: [{ kind: 'ConfigMap', name: 'cluster-settings' }] } } }),
        }],
      },
    }),
    'kubernetes/components/common/kustomization.yaml': 'apiVersion: kustomize.config.k8s.io/v1alpha1\nkind: Component\nresources:\n  - ./settings.yaml\n',
    'kubernetes/components/common/settings.yaml': stringify({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'cluster-settings' }, data: { TXT_OWNER: 'main' } }),
    'kubernetes/components/txt-owner/kustomization.yaml': txtOwnerComponent([]),
  };
  for (let i = 0; i < apps; i++) {
    const ns = `app-${i}`;
    files[`kubernetes/apps/${ns}/kustomization.yaml`] = stringify({ apiVersion: 'kustomize.config.k8s.io/v1beta1', kind: 'Kustomization', namespace: ns, components: ['../../components/common'], resources: ['./dns/ks.yaml'] });
    files[`kubernetes/apps/${ns}/dns/ks.yaml`] = stringify({
      apiVersion: 'kustomize.toolkit.fluxcd.io/v1',
      kind: 'Kustomization',
      metadata: { name: `dns-${i}` },
      spec: { interval: '1h', path: `./kubernetes/apps/${ns}/dns/app`, targetNamespace: ns, components: ['../../../../components/txt-owner'], prune: true, sourceRef: { kind: 'GitRepository', name: 'flux-system', namespace: 'flux-system' } },
    });
    files[`kubernetes/apps/${ns}/dns/app/kustomization.yaml`] = 'resources:\n  - ./helmrelease.yaml\n';
    const release = parse(externalDnsRelease({ ...BASE_VALUES, extraArgs: ['--cloudflare-proxied'] })) as { metadata: Record<string, string> };
    release.metadata = { name: `dns-${i}` };
    files[HR(i)] = stringify(release);
  }
  return files;
}

describe('kustomize runs once per distinct input, and not at all for what a change cannot reach', () => {
  // flux-system, cluster-apps and one child per app.
  const distinct = APPS + 2;

  it('a no-op check builds nothing, even cold; --all builds each Kustomization once (base and head share), then none from the cache', async () => {
    repo = await exampleRepo({ 'infrastructure/external-dns/helmrelease.yaml': null, ...homeOps(APPS) });
    forgetBuilds();
    const cold = await checkRevisions({ cwd: repo.dir, base: 'HEAD', head: 'HEAD', noCache: true });
    expect(cold.timings.kustomizeBuilds).toBe(0);
    expect(cold.timings.helmRenders).toBe(0);
    // Releases of Kustomizations the change cannot reach are still counted, unchanged, under the namespace Flux applies them in.
    expect(cold.report.summary.releasesTotal).toBe(APPS);
    expect(cold.report.summary.releasesUnchanged).toBe(APPS);
    expect(cold.report.releases.map((r) => `${r.namespace}/${r.name}`).sort()).toEqual(Array.from({ length: APPS }, (_, i) => `app-${i}/dns-${i}`));

    const cacheDir = await tempCache();
    forgetBuilds();
    expect((await checkRevisions({ cwd: repo.dir, base: 'HEAD', head: 'HEAD', cacheDir, all: true })).timings.kustomizeBuilds).toBe(distinct);
    forgetBuilds();
    const warm = await checkRevisions({ cwd: repo.dir, base: 'HEAD', head: 'HEAD', cacheDir, all: true });
    expect(warm.timings.kustomizeBuilds).toBe(0);
    expect(warm.report.summary.releasesTotal).toBe(APPS);
  });

  it('a one-release PR rebuilds only that release\'s Kustomization, and renders only that release', async () => {
    const files = homeOps(APPS);
    repo = await exampleRepo({ 'infrastructure/external-dns/helmrelease.yaml': null, ...files });
    await repo.commit('one release', { [HR(3)]: files[HR(3)]!.replace('policy: sync', 'policy: upsert-only') });

    // Cold: only the release's chain (flux-system and cluster-apps shared by base and head, dns-3 at each).
    forgetBuilds();
    const cold = await checkRevisions({ cwd: repo.dir, base: 'main', head: 'change', noCache: true });
    expect(cold.timings.kustomizeBuilds).toBe(4);
    expect(cold.report.releases.filter((r) => r.status === 'rendered').map((r) => r.name)).toEqual(['dns-3']);
    expect(cold.report.summary).toMatchObject({ releasesChecked: 1, releasesUnchanged: APPS - 1 });

    // The base already checked in full (CI caches it): the change's own path is the only build.
    const cacheDir = await tempCache();
    forgetBuilds();
    await checkRevisions({ cwd: repo.dir, base: 'main', head: 'main', cacheDir, all: true });
    forgetBuilds();
    const pr = await checkRevisions({ cwd: repo.dir, base: 'main', head: 'change', cacheDir });
    expect(pr.timings.kustomizeBuilds).toBe(1);
    // The full check rendered the base's release too: only the head's is new.
    expect(pr.timings.helmRenders).toBe(1);
    expect(pr.report.summary).toMatchObject({ releasesChecked: 1, releasesUnchanged: APPS - 1 });
  });

  it('a change to a component rebuilds exactly the Kustomizations that read it', async () => {
    const files = homeOps(APPS);
    repo = await exampleRepo({ 'infrastructure/external-dns/helmrelease.yaml': null, ...files });
    const cacheDir = await tempCache();
    forgetBuilds();
    await checkRevisions({ cwd: repo.dir, base: 'main', head: 'main', cacheDir, all: true });

    // The common component is read by cluster-apps' build (namespace folders), not by the apps' own builds.
    await repo.commit('settings', { 'kubernetes/components/common/settings.yaml': files['kubernetes/components/common/settings.yaml']!.replace('TXT_OWNER: main', 'TXT_OWNER: main\n  EXTRA: "1"') });
    forgetBuilds();
    expect((await checkRevisions({ cwd: repo.dir, base: 'main', head: 'change', cacheDir })).timings.kustomizeBuilds).toBe(1);

    // The txt-owner component is read by every app's build, and by nothing else.
    await repo.commit('txt owner', { 'kubernetes/components/txt-owner/kustomization.yaml': txtOwnerComponent([{ op: 'add', path: '/spec/values/logLevel', value: 'debug' }]) });
    forgetBuilds();
    const components = await checkRevisions({ cwd: repo.dir, base: 'change~1', head: 'change', cacheDir });
    expect(components.timings.kustomizeBuilds).toBe(APPS);
    expect(components.report.summary.releasesChecked).toBe(APPS);
  });
});
