import { promises as fs } from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { parse, stringify } from 'yaml';
import { checkRevisions, type Report } from '../../src/engine.js';
import { forgetBuilds } from '../../src/flux/kustomize-build.js';
import type { TestRepo } from '../support/git-repo.js';
import { BASE_VALUES, externalDnsRelease, exampleRepo } from '../support/scenario.js';

/**
 * Kustomizations a change cannot reach are built neither at base nor at head, even with no cache
 * (src/flux/unreached.ts), and whatever the static view cannot see for sure is still built and
 * checked. Counted in `kubectl kustomize` runs, never timed.
 */
let repo: TestRepo | undefined;
afterEach(async () => {
  await repo?.remove();
  repo = undefined;
});

const APPS = 4;
const BAD_FLAG = '--traefik-disable-legacy';
const ks = (metadata: Record<string, string>, spec: Record<string, unknown>) =>
  stringify({ apiVersion: 'kustomize.toolkit.fluxcd.io/v1', kind: 'Kustomization', metadata, spec: { interval: '1h', prune: true, sourceRef: { kind: 'GitRepository', name: 'flux-system', namespace: 'flux-system' }, ...spec } });

function release(name: string, values: Record<string, unknown>, extra: Record<string, unknown> = {}): string {
  const object = parse(externalDnsRelease(values, extra)) as { metadata: Record<string, string> };
  object.metadata = { name };
  return stringify(object);
}

const HR = (i: number) => `kubernetes/apps/app-${i}/dns/app/helmrelease.yaml`;
const CLUSTER_APPS = 'clusters/main/cluster-apps.yaml';

/**
 * home-ops shaped (as test/engine/speed-shapes.test.ts): flux-system applies cluster-apps, whose
 * generated folder holds one namespace folder per app, each applying `dns-i` with a component.
 * app-1's values come from a configMapGenerator; app-2 also uses the `extra` component, which holds a release of its own.
 */
function homeOps(parentPatches: unknown[] = [], shared = false): Record<string, string> {
  const files: Record<string, string> = {
    'clusters/main/flux-system/gotk-sync.yaml': [
      stringify({ apiVersion: 'source.toolkit.fluxcd.io/v1', kind: 'GitRepository', metadata: { name: 'flux-system', namespace: 'flux-system' }, spec: { interval: '1h', ref: { branch: 'main' }, url: 'ssh://git@example.net/home-ops' } }),
      ks({ name: 'flux-system', namespace: 'flux-system' }, { path: './clusters/main', sourceRef: { kind: 'GitRepository', name: 'flux-system' } }),
    ].join('---\n'),
    'clusters/main/flux-system/kustomization.yaml': 'resources:\n  - gotk-sync.yaml\n',
    'clusters/main/kustomization.yaml': 'resources:\n  - ./flux-system\n  - ./cluster-apps.yaml\n',
    [CLUSTER_APPS]: ks({ name: 'cluster-apps', namespace: 'flux-system' }, {
      path: './kubernetes/apps',
      sourceRef: { kind: 'GitRepository', name: 'flux-system' },
      patches: [
        { target: { group: 'kustomize.toolkit.fluxcd.io', kind: 'Kustomization' }, patch: stringify({ apiVersion: 'kustomize.toolkit.fluxcd.io/v1', kind: 'Kustomization', metadata: { name: 'not-used' }, spec: { postBuild: { substituteFrom: [{ kind: 'ConfigMap', name: 'cluster-settings' }] } } }) },
        ...parentPatches,
      ],
    }),
    'kubernetes/components/common/kustomization.yaml': 'apiVersion: kustomize.config.k8s.io/v1alpha1\nkind: Component\nresources:\n  - ./settings.yaml\n',
    'kubernetes/components/common/settings.yaml': stringify({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'cluster-settings' }, data: { TXT_OWNER: 'main' } }),
    'kubernetes/components/txt-owner/kustomization.yaml': stringify({
      apiVersion: 'kustomize.config.k8s.io/v1alpha1',
      kind: 'Component',
      patches: [{ target: { kind: 'HelmRelease' }, patch: stringify([{ op: 'add', path: '/spec/values/txtOwnerId', value: '${TXT_OWNER}' }]) }],
    }),
    'kubernetes/components/extra/kustomization.yaml': 'apiVersion: kustomize.config.k8s.io/v1alpha1\nkind: Component\nresources:\n  - ./helmrelease.yaml\n',
    'kubernetes/components/extra/helmrelease.yaml': release('extra-dns', { ...BASE_VALUES, extraArgs: ['--cloudflare-proxied'] }),
  };
  for (let i = 0; i < APPS; i++) {
    const ns = `app-${i}`;
    const components = ['../../../../components/txt-owner', ...(i === 2 ? ['../../../../components/extra'] : [])];
    files[`kubernetes/apps/${ns}/kustomization.yaml`] = stringify({ apiVersion: 'kustomize.config.k8s.io/v1beta1', kind: 'Kustomization', namespace: ns, components: ['../../components/common'], resources: ['./dns/ks.yaml'] });
    files[`kubernetes/apps/${ns}/dns/ks.yaml`] = ks({ name: `dns-${i}` }, { path: `./kubernetes/apps/${ns}/dns/app`, targetNamespace: ns, components });
    if (i === 0 && shared) {
      files[`kubernetes/apps/${ns}/dns/app/kustomization.yaml`] = 'resources:\n  - ./helmrelease.yaml\n';
      files[HR(i)] = release(`dns-${i}`, BASE_VALUES, { valuesFrom: [{ kind: 'ConfigMap', name: 'shared-values' }] });
    } else if (i === 1) {
      files[`kubernetes/apps/${ns}/dns/app/kustomization.yaml`] = stringify({ resources: ['./helmrelease.yaml'], configMapGenerator: [{ name: 'dns-1-values', files: ['values.yaml=./values.yaml'] }], generatorOptions: { disableNameSuffixHash: true } });
      files[`kubernetes/apps/${ns}/dns/app/values.yaml`] = stringify({ extraArgs: ['--cloudflare-proxied'] });
      files[HR(i)] = release(`dns-${i}`, BASE_VALUES, { valuesFrom: [{ kind: 'ConfigMap', name: 'dns-1-values' }] });
    } else {
      files[`kubernetes/apps/${ns}/dns/app/kustomization.yaml`] = 'resources:\n  - ./helmrelease.yaml\n';
      files[HR(i)] = release(`dns-${i}`, { ...BASE_VALUES, extraArgs: ['--cloudflare-proxied'] });
    }
  }
  if (shared) {
    // Values dns-0 takes from a ConfigMap another Kustomization (a sibling of cluster-apps) applies in its namespace.
    files['clusters/main/kustomization.yaml'] += '  - ./shared.yaml\n';
    files['clusters/main/shared.yaml'] = ks({ name: 'shared', namespace: 'flux-system' }, { path: './kubernetes/shared', targetNamespace: 'app-0', sourceRef: { kind: 'GitRepository', name: 'flux-system' } });
    files['kubernetes/shared/kustomization.yaml'] = 'resources:\n  - ./values.yaml\n';
    files['kubernetes/shared/values.yaml'] = stringify({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'shared-values' }, data: { 'values.yaml': stringify({ extraArgs: ['--cloudflare-proxied'] }) } });
  }
  return files;
}

async function check(base: Record<string, string>, change: Record<string, string | null>) {
  repo = await exampleRepo({ 'infrastructure/external-dns/helmrelease.yaml': null, ...base });
  await repo.commit('change', change);
  forgetBuilds();
  return checkRevisions({ cwd: repo.dir, base: 'main', head: 'change', noCache: true });
}

/** Releases the change blocks for the flag it introduces. */
function blocked(report: Report): string[] {
  return report.findings.filter((f) => f.rule === 'container-flags/unknown-flag' && f.introduced).map((f) => `${f.subject.namespace}/${f.subject.name}`).sort();
}

describe('Kustomizations a change cannot reach are not built, cold (issue 15)', () => {
  it('a no-op PR builds no Kustomization and renders nothing, and still counts every release as unchanged', async () => {
    const { report, timings } = await check(homeOps(), {});
    expect(timings.kustomizeBuilds).toBe(0);
    expect(timings.helmRenders).toBe(0);
    expect(report.summary).toMatchObject({ releasesTotal: APPS + 1, releasesUnchanged: APPS + 1, releasesChecked: 0, verdict: 'pass' });
    expect(report.releases.map((r) => `${r.namespace}/${r.name}`).sort()).toEqual(['app-0/dns-0', 'app-1/dns-1', 'app-2/dns-2', 'app-2/extra-dns', 'app-3/dns-3']);
  });

  it('a PR that touches only files nothing reads builds no Kustomization', async () => {
    const { report, timings } = await check(homeOps(), { 'README.md': '# home-ops\n', 'docs/notes.txt': 'nothing to build\n' });
    expect(timings.kustomizeBuilds).toBe(0);
    expect(report.summary).toMatchObject({ releasesTotal: APPS + 1, releasesUnchanged: APPS + 1 });
  });

  it('a one-release PR builds only its chain: flux-system and cluster-apps once (equal at base and head), its own Kustomization at each', async () => {
    const files = homeOps();
    const { report, timings } = await check(files, { [HR(3)]: files[HR(3)]!.replace('--cloudflare-proxied', BAD_FLAG) });
    expect(timings.kustomizeBuilds).toBe(4);
    expect(blocked(report)).toEqual(['app-3/dns-3']);
    expect(report.summary).toMatchObject({ releasesTotal: APPS + 1, releasesChecked: 1, releasesUnchanged: APPS, verdict: 'fail' });
  });

  it('a change to a file of a component only a sibling uses builds that sibling and checks its release', async () => {
    const files = homeOps();
    const component = 'kubernetes/components/extra/helmrelease.yaml';
    const { report, timings } = await check(files, { [component]: files[component]!.replace('--cloudflare-proxied', BAD_FLAG) });
    expect(blocked(report)).toEqual(['app-2/extra-dns']);
    expect(timings.kustomizeBuilds).toBe(4);
  });

  it('a change to a file a configMapGenerator reads is checked through the release\'s valuesFrom', async () => {
    const files = homeOps();
    const values = 'kubernetes/apps/app-1/dns/app/values.yaml';
    const { report, timings } = await check(files, { [values]: files[values]!.replace('--cloudflare-proxied', BAD_FLAG) });
    expect(blocked(report)).toEqual(['app-1/dns-1']);
    expect(timings.kustomizeBuilds).toBe(4);
  });

  it('a parent\'s patch that rewrites a child\'s path: the folder the child really builds is checked', async () => {
    // cluster-apps points dns-0 at app-3's folder: a change there reaches dns-0 too, whatever dns-0's file says.
    const files = homeOps([{ target: { kind: 'Kustomization', name: 'dns-0' }, patch: stringify([{ op: 'replace', path: '/spec/path', value: './kubernetes/apps/app-3/dns/app' }]) }]);
    const { report } = await check(files, { [HR(3)]: files[HR(3)]!.replace('--cloudflare-proxied', BAD_FLAG) });
    expect(blocked(report)).toEqual(['app-0/dns-3', 'app-3/dns-3']);
  });

  it('a change to an object an unreached release takes its values from, applied by another Kustomization, checks that release', async () => {
    const files = homeOps([], true);
    const values = 'kubernetes/shared/values.yaml';
    const { report, timings } = await check(files, { [values]: files[values]!.replace('--cloudflare-proxied', BAD_FLAG) });
    expect(blocked(report)).toEqual(['app-0/dns-0']);
    // flux-system, cluster-apps, dns-0 (shared by base and head), shared at each.
    expect(timings.kustomizeBuilds).toBe(5);
  });

  it('a change to a postBuild substitution source re-renders every release that substitutes from it', async () => {
    const files = homeOps();
    const settings = 'kubernetes/components/common/settings.yaml';
    const { report } = await check(files, { [settings]: files[settings]!.replace('TXT_OWNER: main', 'TXT_OWNER: other') });
    // extra-dns is added by a component after txt-owner's patch ran: it substitutes nothing.
    expect(report.releases.filter((r) => r.status === 'rendered').map((r) => r.name).sort()).toEqual(['dns-0', 'dns-1', 'dns-2', 'dns-3']);
    expect(report.summary).toMatchObject({ releasesTotal: APPS + 1, releasesUnchanged: 1 });
  });

  it('a child Kustomization the PR adds is built and checked', async () => {
    const files = homeOps();
    const { report } = await check(files, {
      'kubernetes/apps/app-9/kustomization.yaml': files['kubernetes/apps/app-0/kustomization.yaml']!.replace('app-0', 'app-9'),
      'kubernetes/apps/app-9/dns/ks.yaml': ks({ name: 'dns-9' }, { path: './kubernetes/apps/app-9/dns/app', targetNamespace: 'app-9' }),
      'kubernetes/apps/app-9/dns/app/kustomization.yaml': 'resources:\n  - ./helmrelease.yaml\n',
      'kubernetes/apps/app-9/dns/app/helmrelease.yaml': release('dns-9', { ...BASE_VALUES, extraArgs: [BAD_FLAG] }),
    });
    expect(blocked(report)).toEqual(['app-9/dns-9']);
  });

  it('a change to the chart every release renders re-renders them all, unreached Kustomizations included', async () => {
    const files = homeOps();
    repo = await exampleRepo({ 'infrastructure/external-dns/helmrelease.yaml': null, ...files });
    const values = await fs.readFile(path.join(repo.dir, 'charts/external-dns/values.yaml'), 'utf8');
    await repo.commit('change', { 'charts/external-dns/values.yaml': `${values}\n# touched\n` });
    forgetBuilds();
    const { report } = await checkRevisions({ cwd: repo.dir, base: 'main', head: 'change', noCache: true });
    expect(report.summary).toMatchObject({ releasesTotal: APPS + 1, releasesChecked: APPS + 1 });
  });
});
