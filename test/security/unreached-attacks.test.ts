import { promises as fs } from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { parse, stringify } from 'yaml';
import { checkRevisions, type Report } from '../../src/engine.js';
import { forgetBuilds } from '../../src/flux/kustomize-build.js';
import type { TestRepo } from '../support/git-repo.js';
import { incidentFixture } from '../support/paths.js';
import { BASE_VALUES, externalDnsRelease, exampleRepo } from '../support/scenario.js';

/**
 * Pull requests that try to slip a bad flag past the skip plan of src/flux/unreached.ts: each one
 * alters a release's rendered args through an indirect path, and the release must still be rendered
 * and blocked. A release counted "unchanged" here would be a silent pass of exactly the incident.
 */
let repo: TestRepo | undefined;
afterEach(async () => {
  await repo?.remove();
  repo = undefined;
});

const BAD_FLAG = '--traefik-disable-legacy';
const GOOD = '--cloudflare-proxied';
const APPS = 3;
const SOURCE = { kind: 'GitRepository', name: 'flux-system', namespace: 'flux-system' };
const ks = (metadata: Record<string, string>, spec: Record<string, unknown>) =>
  stringify({ apiVersion: 'kustomize.toolkit.fluxcd.io/v1', kind: 'Kustomization', metadata, spec: { interval: '1h', prune: true, sourceRef: SOURCE, ...spec } });

function release(name: string, values: Record<string, unknown>, extra: Record<string, unknown> = {}): string {
  const object = parse(externalDnsRelease(values, extra)) as { metadata: Record<string, string> };
  object.metadata = { name };
  return stringify(object);
}
const chartSpec = (more: Record<string, unknown>) => ({ chart: { spec: { chart: './charts/external-dns', version: '1.19.0', sourceRef: SOURCE, ...more } } });

const HR = (i: number) => `kubernetes/apps/app-${i}/dns/app/helmrelease.yaml`;
const APP_KUSTOMIZATION = (i: number) => `kubernetes/apps/app-${i}/dns/app/kustomization.yaml`;

/** flux-system applies cluster-apps (./kubernetes/apps, no kustomization file), each app-i folder applies dns-i, and `shared` applies ./kubernetes/shared. */
function homeOps(): Record<string, string> {
  const files: Record<string, string> = {
    'clusters/main/flux-system/gotk-sync.yaml': [
      stringify({ apiVersion: 'source.toolkit.fluxcd.io/v1', kind: 'GitRepository', metadata: { name: 'flux-system', namespace: 'flux-system' }, spec: { interval: '1h', ref: { branch: 'main' }, url: 'ssh://git@example.net/home-ops' } }),
      ks({ name: 'flux-system', namespace: 'flux-system' }, { path: './clusters/main' }),
    ].join('---\n'),
    'clusters/main/flux-system/kustomization.yaml': 'resources:\n  - gotk-sync.yaml\n',
    'clusters/main/kustomization.yaml': 'resources:\n  - ./flux-system\n  - ./cluster-apps.yaml\n  - ./shared.yaml\n',
    'clusters/main/cluster-apps.yaml': ks({ name: 'cluster-apps', namespace: 'flux-system' }, { path: './kubernetes/apps' }),
    'clusters/main/shared.yaml': ks({ name: 'shared', namespace: 'flux-system' }, { path: './kubernetes/shared', targetNamespace: 'app-0' }),
    'kubernetes/shared/kustomization.yaml': 'resources:\n  - ./values.yaml\n',
    'kubernetes/shared/values.yaml': stringify({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'shared-values' }, data: { 'values.yaml': stringify({ extraArgs: [GOOD] }) } }),
    'kubernetes/components/extra/kustomization.yaml': 'apiVersion: kustomize.config.k8s.io/v1alpha1\nkind: Component\ncomponents:\n  - ../deeper\n',
    'kubernetes/components/deeper/kustomization.yaml': 'apiVersion: kustomize.config.k8s.io/v1alpha1\nkind: Component\nresources:\n  - ./helmrelease.yaml\n',
    'kubernetes/components/deeper/helmrelease.yaml': release('deep-dns', { ...BASE_VALUES, extraArgs: [GOOD] }),
    'kubernetes/values/dns-1.yaml': stringify({ extraArgs: [GOOD] }),
  };
  for (let i = 0; i < APPS; i++) {
    const ns = `app-${i}`;
    files[`kubernetes/apps/${ns}/kustomization.yaml`] = stringify({ namespace: ns, resources: ['./dns/ks.yaml'] });
    files[`kubernetes/apps/${ns}/dns/ks.yaml`] = ks({ name: `dns-${i}` }, { path: `./kubernetes/apps/${ns}/dns/app`, targetNamespace: ns });
    files[APP_KUSTOMIZATION(i)] = 'resources:\n  - ./helmrelease.yaml\n';
    files[HR(i)] = release(`dns-${i}`, { ...BASE_VALUES, extraArgs: [GOOD] });
  }
  return files;
}

/** UNREACHED_ATTACKS_ALL=1 runs every attack with --all: what a full build reports, to validate the attacks themselves. */
async function check(base: Record<string, string>, change: Record<string, string | null>, all = process.env.UNREACHED_ATTACKS_ALL === '1') {
  repo = await exampleRepo({ 'infrastructure/external-dns/helmrelease.yaml': null, ...base });
  await repo.commit('change', change);
  forgetBuilds();
  return checkRevisions({ cwd: repo.dir, base: 'main', head: 'change', noCache: true, ...(all ? { all: true } : {}) });
}

function blocked(report: Report): string[] {
  if (process.env.UNREACHED_ATTACKS_DEBUG) console.log(JSON.stringify({ releases: report.releases, findings: report.findings.map((f) => [f.rule, f.message]) }, null, 1));
  return report.findings.filter((f) => f.rule === 'container-flags/unknown-flag' && f.introduced).map((f) => `${f.subject.namespace}/${f.subject.name}`).sort();
}

const bad = (text: string) => text.replaceAll(GOOD, BAD_FLAG);

describe('the skip plan cannot be talked into skipping a release the change alters (unreached.ts)', () => {
  it('a valuesFiles entry at the source root, written without a slash', async () => {
    const files = homeOps();
    files[HR(1)] = release('dns-1', BASE_VALUES, chartSpec({ valuesFiles: ['./charts/external-dns/values.yaml', 'dns-1-values.yaml'] }));
    files['dns-1-values.yaml'] = stringify({ extraArgs: [GOOD] });
    const { report } = await check(files, { 'dns-1-values.yaml': bad(files['dns-1-values.yaml']) });
    expect(blocked(report)).toEqual(['app-1/dns-1']);
  });

  it('a valuesFiles entry that climbs above the source root, which confines it to the root', async () => {
    const files = homeOps();
    files[HR(1)] = release('dns-1', BASE_VALUES, chartSpec({ valuesFiles: ['./charts/external-dns/values.yaml', '../../dns-1-values.yaml'] }));
    files['dns-1-values.yaml'] = stringify({ extraArgs: [GOOD] });
    const { report } = await check(files, { 'dns-1-values.yaml': bad(files['dns-1-values.yaml']) });
    expect(blocked(report)).toEqual(['app-1/dns-1']);
  });

  it('a valuesFiles entry a component adds with a JSON patch, its value without a slash', async () => {
    const files = homeOps();
    files['kubernetes/components/vf/kustomization.yaml'] = stringify({
      apiVersion: 'kustomize.config.k8s.io/v1alpha1',
      kind: 'Component',
      patches: [{ target: { kind: 'HelmRelease' }, patch: stringify([{ op: 'add', path: '/spec/chart/spec/valuesFiles', value: ['charts/external-dns/values.yaml', 'prod.yaml'] }]) }],
    });
    files['prod.yaml'] = stringify({ extraArgs: [GOOD] });
    files[HR(2)] = release('dns-2', BASE_VALUES);
    files['kubernetes/apps/app-2/dns/ks.yaml'] = ks({ name: 'dns-2' }, { path: './kubernetes/apps/app-2/dns/app', targetNamespace: 'app-2', components: ['../../../../components/vf'] });
    const { report } = await check(files, { 'prod.yaml': bad(files['prod.yaml']) });
    expect(blocked(report)).toEqual(['app-2/dns-2']);
  });

  it('a valuesFiles entry that postBuild substitutes', async () => {
    const files = homeOps();
    files['kubernetes/apps/app-1/dns/ks.yaml'] = ks({ name: 'dns-1' }, { path: './kubernetes/apps/app-1/dns/app', targetNamespace: 'app-1', postBuild: { substitute: { VALUES: 'kubernetes/values/dns-1.yaml' } } });
    files[HR(1)] = release('dns-1', BASE_VALUES, chartSpec({ valuesFiles: ['./charts/external-dns/values.yaml', '${VALUES}'] }));
    const { report } = await check(files, { 'kubernetes/values/dns-1.yaml': bad(files['kubernetes/values/dns-1.yaml']!) });
    expect(blocked(report)).toEqual(['app-1/dns-1']);
  });

  it('a valuesFrom name that postBuild substitutes, the ConfigMap applied by another Kustomization', async () => {
    const files = homeOps();
    files['kubernetes/apps/app-0/dns/ks.yaml'] = ks({ name: 'dns-0' }, { path: './kubernetes/apps/app-0/dns/app', targetNamespace: 'app-0', postBuild: { substitute: { SHARED: 'shared' } } });
    files[HR(0)] = release('dns-0', BASE_VALUES, { valuesFrom: [{ kind: 'ConfigMap', name: '${SHARED}-values' }] });
    const { report } = await check(files, { 'kubernetes/shared/values.yaml': bad(files['kubernetes/shared/values.yaml']!) });
    expect(blocked(report)).toEqual(['app-0/dns-0']);
  });

  it('a ConfigMap whose own name postBuild substitutes', async () => {
    const files = homeOps();
    files['clusters/main/shared.yaml'] = ks({ name: 'shared', namespace: 'flux-system' }, { path: './kubernetes/shared', targetNamespace: 'app-0', postBuild: { substitute: { WHO: 'shared' } } });
    files['kubernetes/shared/values.yaml'] = files['kubernetes/shared/values.yaml']!.replace('name: shared-values', 'name: ${WHO}-values');
    files[HR(0)] = release('dns-0', BASE_VALUES, { valuesFrom: [{ kind: 'ConfigMap', name: 'shared-values' }] });
    const { report } = await check(files, { 'kubernetes/shared/values.yaml': bad(files['kubernetes/shared/values.yaml']!) });
    expect(blocked(report)).toEqual(['app-0/dns-0']);
  });

  it('a namePrefix a parent\'s patch gives a Kustomization whose ConfigMap a release reads', async () => {
    const files = homeOps();
    files['clusters/main/kustomization.yaml'] += stringify({ patches: [{ target: { kind: 'Kustomization', name: 'shared' }, patch: stringify([{ op: 'add', path: '/spec/namePrefix', value: 'p-' }]) }] });
    files[HR(0)] = release('dns-0', BASE_VALUES, { valuesFrom: [{ kind: 'ConfigMap', name: 'p-shared-values' }] });
    const { report } = await check(files, { 'kubernetes/shared/values.yaml': bad(files['kubernetes/shared/values.yaml']!) });
    expect(blocked(report)).toEqual(['app-0/dns-0']);
  });

  it('a sibling\'s folder as a resource, named with a roundabout spelling, and a file referenced in two places', async () => {
    const files = homeOps();
    files[APP_KUSTOMIZATION(0)] = 'resources:\n  - ./../app/../../../app-2/dns/./app\n';
    const { report } = await check(files, { [HR(2)]: bad(files[HR(2)]!) });
    expect(blocked(report)).toEqual(['app-0/dns-2', 'app-2/dns-2']);
  });

  it('a release in a component two components deep', async () => {
    const files = homeOps();
    files['kubernetes/apps/app-1/dns/ks.yaml'] = ks({ name: 'dns-1' }, { path: './kubernetes/apps/app-1/dns/app', targetNamespace: 'app-1', components: ['../../../../components/extra'] });
    const deep = 'kubernetes/components/deeper/helmrelease.yaml';
    const { report } = await check(files, { [deep]: bad(files[deep]!) });
    expect(blocked(report)).toEqual(['app-1/deep-dns']);
  });

  it('a configMapGenerator file in a sub-folder, spelled the long way', async () => {
    const files = homeOps();
    files[APP_KUSTOMIZATION(1)] = stringify({ resources: ['./helmrelease.yaml'], configMapGenerator: [{ name: 'dns-1-values', files: ['values.yaml=./vals/../vals/dns-1.yaml'] }], generatorOptions: { disableNameSuffixHash: true } });
    files['kubernetes/apps/app-1/dns/app/vals/dns-1.yaml'] = files['kubernetes/values/dns-1.yaml']!;
    files[HR(1)] = release('dns-1', BASE_VALUES, { valuesFrom: [{ kind: 'ConfigMap', name: 'dns-1-values' }] });
    const { report } = await check(files, { 'kubernetes/apps/app-1/dns/app/vals/dns-1.yaml': bad(files['kubernetes/values/dns-1.yaml']!) });
    expect(blocked(report)).toEqual(['app-1/dns-1']);
  });

  it('a release renamed (moved) in a folder Flux generates the kustomization of', async () => {
    const files = homeOps();
    delete files[APP_KUSTOMIZATION(2)];
    const { report } = await check(files, { [HR(2)]: null, 'kubernetes/apps/app-2/dns/app/hr.yml': bad(files[HR(2)]!) });
    expect(blocked(report)).toEqual(['app-2/dns-2']);
  });

  it('a release added in a folder Flux generates the kustomization of, as a multi-document file with anchors', async () => {
    const files = homeOps();
    delete files[APP_KUSTOMIZATION(2)];
    const hr = release('new-dns', { ...BASE_VALUES, extraArgs: [BAD_FLAG] }).replace('  name: new-dns\n', `  name: new-dns\n  annotations:\n    flag: &flag ${BAD_FLAG}\n`).replace(`- ${BAD_FLAG}`, '- *flag');
    const added = `${stringify({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'x' }, data: { a: 'b' } })}---\n${hr}`;
    const { report } = await check(files, { 'kubernetes/apps/app-2/dns/app/sub/new.yaml': added });
    expect(blocked(report)).toEqual(['app-2/new-dns']);
  });

  it('a release in a JSON file whose valuesFiles name a file no Kustomization reads', async () => {
    const files = homeOps();
    files[APP_KUSTOMIZATION(2)] = 'resources:\n  - ./helmrelease.json\n';
    delete files[HR(2)];
    files['kubernetes/apps/app-2/dns/app/helmrelease.json'] = JSON.stringify(parse(release('dns-2', BASE_VALUES, chartSpec({ valuesFiles: ['./charts/external-dns/values.yaml', 'kubernetes/values/dns-1.yaml'] }))));
    const { report } = await check(files, { 'kubernetes/values/dns-1.yaml': bad(files['kubernetes/values/dns-1.yaml']!) });
    expect(blocked(report)).toEqual(['app-2/dns-2']);
  });

  it('a HelmChart the release takes by chartRef, its valuesFiles at the root', async () => {
    const files = homeOps();
    files['clusters/main/kustomization.yaml'] += '  - ./helmchart.yaml\n';
    files['clusters/main/helmchart.yaml'] = stringify({ apiVersion: 'source.toolkit.fluxcd.io/v1', kind: 'HelmChart', metadata: { name: 'dns-chart', namespace: 'flux-system' }, spec: { interval: '1h', chart: './charts/external-dns', version: '1.19.0', sourceRef: { kind: 'GitRepository', name: 'flux-system' }, valuesFiles: ['charts/external-dns/values.yaml', 'hc-values.yaml'] } });
    files['hc-values.yaml'] = stringify({ extraArgs: [GOOD] });
    const object = parse(release('dns-0', BASE_VALUES)) as { spec: Record<string, unknown> };
    delete object.spec.chart;
    object.spec.chartRef = { kind: 'HelmChart', name: 'dns-chart', namespace: 'flux-system' };
    files[HR(0)] = stringify(object);
    const { report } = await check(files, { 'hc-values.yaml': bad(files['hc-values.yaml']) });
    expect(blocked(report)).toEqual(['app-0/dns-0']);
  });

  it('args a parent\'s Flux patch gives a child Kustomization\'s own patches', async () => {
    const files = homeOps();
    const childPatch = (flag: string) => ({ target: { kind: 'Kustomization', name: 'dns-1' }, patch: stringify([{ op: 'add', path: '/spec/patches', value: [{ target: { kind: 'HelmRelease' }, patch: stringify([{ op: 'add', path: '/spec/values/extraArgs/-', value: flag }]) }] }]) });
    files['clusters/main/cluster-apps.yaml'] = ks({ name: 'cluster-apps', namespace: 'flux-system' }, { path: './kubernetes/apps', patches: [childPatch('--once')] });
    const { report } = await check(files, { 'clusters/main/cluster-apps.yaml': ks({ name: 'cluster-apps', namespace: 'flux-system' }, { path: './kubernetes/apps', patches: [childPatch(BAD_FLAG)] }) });
    expect(blocked(report)).toEqual(['app-1/dns-1']);
  });

  it('a kustomize patch file two components deep, reached through a Flux Kustomization\'s components', async () => {
    const files = homeOps();
    files['kubernetes/components/deeper/kustomization.yaml'] = 'apiVersion: kustomize.config.k8s.io/v1alpha1\nkind: Component\npatches:\n  - path: ./args.yaml\n    target:\n      kind: HelmRelease\n';
    files['kubernetes/components/deeper/args.yaml'] = stringify([{ op: 'add', path: '/spec/values/extraArgs/-', value: '--once' }]);
    delete files['kubernetes/components/deeper/helmrelease.yaml'];
    files['kubernetes/apps/app-1/dns/ks.yaml'] = ks({ name: 'dns-1' }, { path: './kubernetes/apps/app-1/dns/app', targetNamespace: 'app-1', components: ['../../../../components/extra'] });
    const { report } = await check(files, { 'kubernetes/components/deeper/args.yaml': files['kubernetes/components/deeper/args.yaml'].replace('--once', BAD_FLAG) });
    expect(blocked(report)).toEqual(['app-1/dns-1']);
  });

  it('a kustomization file named Kustomization, a release in an upper-case .YAML file, a path with a trailing slash', async () => {
    const files = homeOps();
    delete files[APP_KUSTOMIZATION(1)];
    delete files[HR(1)];
    files['kubernetes/apps/app-1/dns/app/Kustomization'] = 'resources:\n  - ./HelmRelease.YAML\n';
    files['kubernetes/apps/app-1/dns/app/HelmRelease.YAML'] = release('dns-1', { ...BASE_VALUES, extraArgs: [GOOD] });
    files['kubernetes/apps/app-1/dns/ks.yaml'] = ks({ name: 'dns-1' }, { path: './kubernetes/apps/app-1/dns/app/', targetNamespace: 'app-1' });
    const { report } = await check(files, { 'kubernetes/apps/app-1/dns/app/HelmRelease.YAML': bad(files['kubernetes/apps/app-1/dns/app/HelmRelease.YAML']!) });
    expect(blocked(report)).toEqual(['app-1/dns-1']);
  });

  it('a postBuild substitution source applied by another Kustomization, named only inside a parent\'s JSON patch value', async () => {
    const files = homeOps();
    files['kubernetes/shared/vars.yaml'] = stringify({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'dns-vars' }, data: { EXTRA: GOOD } });
    files['kubernetes/shared/kustomization.yaml'] = 'resources:\n  - ./values.yaml\n  - ./vars.yaml\n';
    files['clusters/main/cluster-apps.yaml'] = ks({ name: 'cluster-apps', namespace: 'flux-system' }, {
      path: './kubernetes/apps',
      patches: [{ target: { kind: 'Kustomization', name: 'dns-2' }, patch: stringify([{ op: 'add', path: '/spec/postBuild', value: {} }, { op: 'add', path: '/spec/postBuild/substituteFrom', value: [{ kind: 'ConfigMap', name: 'dns-vars' }] }]) }],
    });
    files[HR(2)] = release('dns-2', { ...BASE_VALUES, extraArgs: ['${EXTRA}'] });
    const { report } = await check(files, { 'kubernetes/shared/vars.yaml': bad(files['kubernetes/shared/vars.yaml']) });
    expect(blocked(report)).toEqual(['app-2/dns-2']);
  });

  it('a ConfigMap a release reads, deleted from a folder Flux generates the kustomization of', async () => {
    const files = homeOps();
    delete files['kubernetes/shared/kustomization.yaml'];
    files[HR(0)] = release('dns-0', BASE_VALUES, { valuesFrom: [{ kind: 'ConfigMap', name: 'shared-values' }] });
    const { report } = await check(files, { 'kubernetes/shared/values.yaml': null });
    expect(report.releases.find((r) => r.name === 'dns-0')?.status).not.toBe('unchanged');
  });

  it('a namePrefix hidden behind a YAML merge key in a kustomization', async () => {
    const files = homeOps();
    files['kubernetes/shared/kustomization.yaml'] = 'resources:\n  - ./values.yaml\n<<: {namePrefix: p-}\n';
    files[HR(0)] = release('dns-0', BASE_VALUES, { valuesFrom: [{ kind: 'ConfigMap', name: 'p-shared-values' }] });
    const { report } = await check(files, { 'kubernetes/shared/values.yaml': bad(files['kubernetes/shared/values.yaml']!) });
    expect(blocked(report)).toEqual(['app-0/dns-0']);
  });

  it('a substituteFrom key spelled with a YAML escape', async () => {
    const files = homeOps();
    files['kubernetes/shared/vars.yaml'] = stringify({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'dns-vars' }, data: { EXTRA: GOOD } });
    files['kubernetes/shared/kustomization.yaml'] = 'resources:\n  - ./values.yaml\n  - ./vars.yaml\n';
    files['kubernetes/apps/app-2/dns/ks.yaml'] = ks({ name: 'dns-2' }, { path: './kubernetes/apps/app-2/dns/app', targetNamespace: 'app-2', postBuild: { ESCAPED: [{ kind: 'ConfigMap', name: 'dns-vars' }] } }).replace('ESCAPED:', '"substitute\\x46rom":');
    files[HR(2)] = release('dns-2', { ...BASE_VALUES, extraArgs: ['${EXTRA}'] });
    const { report } = await check(files, { 'kubernetes/shared/vars.yaml': bad(files['kubernetes/shared/vars.yaml']) });
    expect(blocked(report)).toEqual(['app-2/dns-2']);
  });

  it('a Flux Kustomization written in JSON, applying a ConfigMap written in JSON that a release reads', async () => {
    const files = homeOps();
    files['clusters/main/kustomization.yaml'] = files['clusters/main/kustomization.yaml']!.replace('./shared.yaml', './shared.json');
    files['clusters/main/shared.json'] = JSON.stringify(parse(files['clusters/main/shared.yaml']!));
    delete files['clusters/main/shared.yaml'];
    files['kubernetes/shared/kustomization.yaml'] = 'resources:\n  - ./values.json\n';
    files['kubernetes/shared/values.json'] = JSON.stringify(parse(files['kubernetes/shared/values.yaml']!));
    delete files['kubernetes/shared/values.yaml'];
    files[HR(0)] = release('dns-0', BASE_VALUES, { valuesFrom: [{ kind: 'ConfigMap', name: 'shared-values' }] });
    const { report } = await check(files, { 'kubernetes/shared/values.json': bad(files['kubernetes/shared/values.json']) });
    expect(blocked(report)).toEqual(['app-0/dns-0']);
  });

  it('a Flux Kustomization whose component climbs above the source root', async () => {
    const files = homeOps();
    files['kubernetes/apps/app-1/dns/ks.yaml'] = ks({ name: 'dns-1' }, { path: './kubernetes/apps/app-1/dns/app', targetNamespace: 'app-1', components: ['../../../../../../../../kubernetes/components/extra'] });
    const deep = 'kubernetes/components/deeper/helmrelease.yaml';
    const { report } = await check(files, { [deep]: bad(files[deep]!) });
    expect(report.releases.find((r) => r.name === 'deep-dns' && r.namespace === 'app-1')?.status ?? 'not applied').not.toBe('unchanged');
  });

  it('a help file change under a helpDir the policy spells ./.guard/help/', async () => {
    const files = homeOps();
    const config = `${await fs.readFile(path.join(incidentFixture, 'base', '.guard.yaml'), 'utf8')}flags:\n  helpDir: ./.guard/help/\n`;
    const help = '.guard/help/registry.k8s.io/external-dns/external-dns/v0.19.0.txt';
    repo = await exampleRepo({ 'infrastructure/external-dns/helmrelease.yaml': null, ...files, '.guard.yaml': config });
    const text = await fs.readFile(path.join(repo.dir, help), 'utf8');
    await repo.commit('change', { [help]: text.split('\n').filter((line) => !line.includes('cloudflare-proxied')).join('\n') });
    forgetBuilds();
    const { report } = await checkRevisions({ cwd: repo.dir, base: 'main', head: 'change', noCache: true, all: process.env.UNREACHED_ATTACKS_ALL === '1' });
    if (process.env.UNREACHED_ATTACKS_DEBUG) console.log(JSON.stringify(report.summary), report.findings.map((f) => [f.rule, f.subject.name, f.introduced]));
    expect(report.releases.filter((r) => r.status === 'unchanged').map((r) => r.name)).toEqual([]);
  });

  it('a ConfigMap made by a builtin generator config (generators:) in another Kustomization', async () => {
    const files = homeOps();
    files['kubernetes/shared/kustomization.yaml'] = 'generators:\n  - ./gen.yaml\n';
    files['kubernetes/shared/gen.yaml'] = stringify({ apiVersion: 'builtin', kind: 'ConfigMapGenerator', metadata: { name: 'shared-values' }, files: ['values.yaml=data/values.yaml'], options: { disableNameSuffixHash: true } });
    files['kubernetes/shared/data/values.yaml'] = stringify({ extraArgs: [GOOD] });
    delete files['kubernetes/shared/values.yaml'];
    files[HR(0)] = release('dns-0', BASE_VALUES, { valuesFrom: [{ kind: 'ConfigMap', name: 'shared-values' }] });
    const { report } = await check(files, { 'kubernetes/shared/data/values.yaml': bad(files['kubernetes/shared/data/values.yaml']) });
    expect(blocked(report)).toEqual(['app-0/dns-0']);
  });

  it('a no-op builds nothing, and --all builds every Kustomization of both revisions', async () => {
    const noop = await check(homeOps(), {});
    expect(noop.timings.kustomizeBuilds).toBe(0);
    expect(noop.report.summary.releasesChecked).toBe(0);
    expect(noop.report.summary.releasesUnchanged).toBe(noop.report.summary.releasesTotal);
    await repo!.remove();
    const files = homeOps();
    const all = await check(files, { [HR(2)]: bad(files[HR(2)]!) }, true);
    expect(blocked(all.report)).toEqual(['app-2/dns-2']);
    // flux-system, cluster-apps, shared, dns-0..2: shared by base and head where equal, dns-2 twice.
    expect(all.timings.kustomizeBuilds).toBe(7);
  });

  it('a one-release PR still builds only its chain, beside a release whose valuesFrom name is substituted', async () => {
    const files = homeOps();
    files['kubernetes/apps/app-0/dns/ks.yaml'] = ks({ name: 'dns-0' }, { path: './kubernetes/apps/app-0/dns/app', targetNamespace: 'app-0', postBuild: { substitute: { SHARED: 'shared' } } });
    files[HR(0)] = release('dns-0', BASE_VALUES, { valuesFrom: [{ kind: 'ConfigMap', name: '${SHARED}-values' }] });
    const { report, timings } = await check(files, { [HR(2)]: bad(files[HR(2)]!) });
    expect(blocked(report)).toEqual(['app-2/dns-2']);
    expect(timings.kustomizeBuilds).toBe(4);
  });
});
