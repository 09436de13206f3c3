import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { create as createTar } from 'tar';
import { afterEach, describe, expect, it } from 'vitest';
import { runCheck } from '../../src/engine.js';
import { addLocalDependencies, checkoutFiles, localDependencyFolders, planLocalDependencies, snapshotFiles } from '../../src/flux/chart-dependencies.js';
import { CommitSnapshot } from '../../src/git/repo.js';
import { helmTemplate, templateArguments } from '../../src/helm/template.js';
import { TestRepo } from '../support/git-repo.js';
import { BASE_VALUES, exampleRepo, externalDnsRelease } from '../support/scenario.js';

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0)) await cleanup();
});

async function tempDir(): Promise<string> {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'guard-chart-deps-'));
  cleanups.push(() => fs.rm(dir, { recursive: true, force: true }));
  return dir;
}

async function repoWith(files: Record<string, string>): Promise<{ repo: TestRepo; snapshot: CommitSnapshot }> {
  const repo = await TestRepo.create();
  cleanups.push(() => repo.remove());
  const sha = await repo.commit('charts', files);
  return { repo, snapshot: new CommitSnapshot(repo.dir, sha, sha.slice(0, 7)) };
}

const chartYaml = (name: string, version: string, dependencies = '') => `apiVersion: v2\nname: ${name}\nversion: ${version}\n${dependencies ? `dependencies:\n${dependencies}` : ''}`;
const LIB = {
  'charts/lib/Chart.yaml': chartYaml('lib', '0.1.0'),
  'charts/lib/templates/cm.yaml': 'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: from-lib-{{ .Release.Name }}\n',
};
const dependsOnLib = (extra = '') => `  - name: lib\n    version: ">=0.1.0"\n    repository: file://../lib\n${extra}`;
const HELM = { homeDir: '', timeoutMs: 60_000 };
const helmOptions = async () => ({ ...HELM, homeDir: path.join(await tempDir(), 'helm-home') });

describe('file:// chart dependencies resolved as source-controller resolves them', () => {
  it('plans a missing local dependency from the same revision, under its alias when it has one', async () => {
    const { snapshot } = await repoWith({ ...LIB, 'charts/app/Chart.yaml': chartYaml('app', '1.0.0', `${dependsOnLib()}  - name: lib\n    alias: second\n    version: 0.1.x\n    repository: "file://../lib"\n`) });
    const plan = await planLocalDependencies('charts/app', snapshotFiles(snapshot));
    expect(plan).toEqual({ ok: true, dependencies: [{ name: 'lib', dir: 'charts/lib' }, { name: 'second', dir: 'charts/lib' }] });
    expect(await localDependencyFolders('charts/app', snapshotFiles(snapshot))).toEqual(['charts/lib']);
  });

  it('adds nothing for dependencies charts/ already holds (a folder or a packaged chart), or when as many subcharts as requirements are there', async () => {
    const vendored = await repoWith({ ...LIB, 'charts/app/Chart.yaml': chartYaml('app', '1.0.0', dependsOnLib()), 'charts/app/charts/lib/Chart.yaml': chartYaml('lib', '0.1.0') });
    expect(await planLocalDependencies('charts/app', snapshotFiles(vendored.snapshot))).toEqual({ ok: true, dependencies: [] });
    // source-controller's collectMissing counts first: one subchart for one requirement is "nothing missing", whatever its name.
    const counted = await repoWith({ ...LIB, 'charts/app/Chart.yaml': chartYaml('app', '1.0.0', dependsOnLib()), 'charts/app/charts/other/Chart.yaml': chartYaml('other', '0.1.0') });
    expect(await planLocalDependencies('charts/app', snapshotFiles(counted.snapshot))).toEqual({ ok: true, dependencies: [] });

    const work = await tempDir();
    await fs.mkdir(path.join(work, 'lib'));
    await fs.writeFile(path.join(work, 'lib', 'Chart.yaml'), chartYaml('lib', '0.1.0'));
    const archive = path.join(work, 'lib-0.1.0.tgz');
    await createTar({ gzip: true, file: archive, cwd: work }, ['lib']);
    const packaged = await repoWith({
      ...LIB,
      'charts/lib2/Chart.yaml': chartYaml('lib2', '0.1.0'),
      'charts/app/Chart.yaml': chartYaml('app', '1.0.0', `${dependsOnLib()}  - name: lib2\n    version: 0.1.0\n    repository: file://../lib2\n  - name: lib3\n    version: 0.1.0\n    repository: https://charts.example.net\n`),
    });
    await fs.mkdir(path.join(packaged.repo.dir, 'charts/app/charts'), { recursive: true });
    await fs.copyFile(archive, path.join(packaged.repo.dir, 'charts/app/charts/lib-0.1.0.tgz'));
    const sha = await packaged.repo.commit('packaged lib');
    const plan = await planLocalDependencies('charts/app', snapshotFiles(new CommitSnapshot(packaged.repo.dir, sha, 'head')));
    // lib is packaged in charts/ (named by its Chart.yaml inside the archive), lib3 is remote: only lib2 is added.
    expect(plan).toEqual({ ok: true, dependencies: [{ name: 'lib2', dir: 'charts/lib2' }] });
  });

  it('reads Chart.lock before Chart.yaml', async () => {
    const { snapshot } = await repoWith({
      ...LIB,
      'charts/app/Chart.yaml': chartYaml('app', '1.0.0'),
      'charts/app/Chart.lock': 'dependencies:\n  - name: lib\n    version: 0.1.0\n    repository: file://../lib\ndigest: sha256:0\ngenerated: "2026-01-01T00:00:00Z"\n',
    });
    expect(await planLocalDependencies('charts/app', snapshotFiles(snapshot))).toEqual({ ok: true, dependencies: [{ name: 'lib', dir: 'charts/lib' }] });
  });

  it('refuses a path leaving the revision, a link, a missing chart, a version outside the constraint and an empty constraint, naming the dependency', async () => {
    const cases: Array<[string, RegExp]> = [
      ['  - name: lib\n    version: 0.1.0\n    repository: file://../../../../etc\n', /dependency lib: .* leaves the repository/],
      ['  - name: lib\n    version: 0.1.0\n    repository: file://../linked\n', /dependency lib .*charts\/linked is a symbolic link/],
      ['  - name: lib\n    version: 0.1.0\n    repository: file://../absent\n', /dependency lib .*no chart found at charts\/absent/],
      ['  - name: lib\n    version: ^2.0.0\n    repository: file://../lib\n', /dependency lib .*can't get a valid version for constraint "\^2.0.0" \(the chart at charts\/lib is 0.1.0\)/],
      ['  - name: lib\n    repository: file://../lib\n', /dependency lib .*invalid version\/constraint format ""/],
    ];
    const { repo } = await repoWith({ ...LIB });
    await fs.symlink('lib', path.join(repo.dir, 'charts/linked'));
    for (const [dependencies, expected] of cases) {
      const sha = await repo.commit('case', { 'charts/app/Chart.yaml': chartYaml('app', '1.0.0', dependencies) });
      const plan = await planLocalDependencies('charts/app', snapshotFiles(new CommitSnapshot(repo.dir, sha, 'head')));
      expect(plan.ok).toBe(false);
      expect(plan.ok ? '' : plan.error).toMatch(expected);
    }
  });

  it('a dependency copied from a checkout with a link inside is refused, never read through it', async () => {
    const root = await tempDir();
    await fs.mkdir(path.join(root, 'charts/lib/templates'), { recursive: true });
    await fs.mkdir(path.join(root, 'charts/app'), { recursive: true });
    await fs.writeFile(path.join(root, 'charts/lib/Chart.yaml'), chartYaml('lib', '0.1.0'));
    await fs.symlink('/etc/passwd', path.join(root, 'charts/lib/templates/passwd.yaml'));
    await fs.writeFile(path.join(root, 'charts/app/Chart.yaml'), chartYaml('app', '1.0.0', dependsOnLib()));
    const files = checkoutFiles(root);
    const plan = await planLocalDependencies('charts/app', files);
    expect(plan.ok).toBe(true);
    const into = path.join(await tempDir(), 'app');
    await fs.mkdir(into);
    const added = await addLocalDependencies(into, plan.ok ? plan.dependencies : [], files);
    expect(added).toMatchObject({ ok: false, error: expect.stringContaining('is a symbolic link') });
  });

  it('the chart with its dependency added renders the dependency with real helm', async () => {
    const { snapshot } = await repoWith({ ...LIB, 'charts/app/Chart.yaml': chartYaml('app', '1.0.0', dependsOnLib()), 'charts/app/templates/cm.yaml': 'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: app\n' });
    const plan = await planLocalDependencies('charts/app', snapshotFiles(snapshot));
    const scratch = await tempDir();
    const dir = await snapshot.materialize('charts/app', scratch);
    const added = await addLocalDependencies(dir, plan.ok ? plan.dependencies : [], snapshotFiles(snapshot));
    expect(added).toEqual({ ok: true });
    const rendered = await helmTemplate({ releaseName: 'rel', namespace: 'ns', chartDir: dir, values: {} }, await helmOptions());
    expect(rendered.ok ? rendered.manifests : rendered.error).toContain('name: from-lib-rel');
  });
});

describe('the guard renders a chart with a file:// dependency as Flux builds it', () => {
  const INCIDENT_FLAG = '--traefik-disable-legacy';
  const HR = 'infrastructure/external-dns/helmrelease.yaml';

  async function repoWithDependency(): Promise<TestRepo> {
    const repo = await exampleRepo({ 'charts/extras/Chart.yaml': chartYaml('extras', '0.1.0'), 'charts/extras/templates/cm.yaml': 'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: extras\n' });
    cleanups.push(() => repo.remove());
    const original = await fs.readFile(path.join(repo.dir, 'charts/external-dns/Chart.yaml'), 'utf8');
    await repo.git('checkout', '--quiet', 'main');
    await repo.commit('depend on extras', { 'charts/external-dns/Chart.yaml': `${original}dependencies:\n  - name: extras\n    version: 0.1.x\n    repository: file://../extras\n` });
    await repo.branch('change');
    return repo;
  }

  it('renders it (no false block) and a change only to the dependency re-renders the release and blocks the flag', async () => {
    const repo = await repoWithDependency();
    await repo.commit('values only', { [HR]: externalDnsRelease({ ...BASE_VALUES, policy: 'upsert-only' }) });
    const clean = await runCheck({ cwd: repo.dir, base: 'main', head: 'change', cacheDir: await tempDir() });
    expect(clean.releases.find((r) => r.name === 'external-dns')?.status).toBe('rendered');
    expect(clean.findings.filter((f) => f.severity === 'error')).toEqual([]);

    await repo.commit('only the dependency', {
      'charts/extras/templates/deploy.yaml': `apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: extra\nspec:\n  selector: {matchLabels: {a: b}}\n  template:\n    metadata: {labels: {a: b}}\n    spec:\n      containers:\n        - name: external-dns\n          image: registry.k8s.io/external-dns/external-dns:v0.19.0\n          args: ["${INCIDENT_FLAG}"]\n`,
    });
    const report = await runCheck({ cwd: repo.dir, base: 'main', head: 'change', cacheDir: await tempDir() });
    expect(report.releases.find((r) => r.name === 'external-dns')?.status).toBe('rendered');
    expect(report.findings.some((f) => f.rule === 'container-flags/unknown-flag' && f.message.includes('traefik-disable-legacy'))).toBe(true);
    expect(report.summary.verdict).toBe('fail');
  });

  it('a dependency path leaving the repository is a render failure naming it, not a crash', async () => {
    const repo = await repoWithDependency();
    const chart = await fs.readFile(path.join(repo.dir, 'charts/external-dns/Chart.yaml'), 'utf8');
    await repo.commit('escape', { 'charts/external-dns/Chart.yaml': chart.replace('file://../extras', 'file://../../../../../etc') });
    const report = await runCheck({ cwd: repo.dir, base: 'main', head: 'change', cacheDir: await tempDir() });
    const finding = report.findings.find((f) => f.subject.name === 'external-dns' && f.rule === 'render/failed');
    expect(finding?.message).toMatch(/dependency extras: .* leaves the repository/);
    expect(report.summary.verdict).toBe('fail');
  });
});

describe('helm template renders an upgrade as helm-controller does', () => {
  it('passes --is-upgrade only for an upgrade, and helm then sets .Release.IsUpgrade', async () => {
    expect(templateArguments({ releaseName: 'r', namespace: 'n', chartDir: '/c', values: {}, isUpgrade: true })).toContain('--is-upgrade');
    expect(templateArguments({ releaseName: 'r', namespace: 'n', chartDir: '/c', values: {} })).not.toContain('--is-upgrade');
    const chart = path.join(await tempDir(), 'probe');
    await fs.mkdir(path.join(chart, 'templates'), { recursive: true });
    await fs.writeFile(path.join(chart, 'Chart.yaml'), chartYaml('probe', '0.1.0'));
    await fs.writeFile(path.join(chart, 'templates/cm.yaml'), 'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: probe\ndata:\n  upgrade: {{ .Release.IsUpgrade | quote }}\n  install: {{ .Release.IsInstall | quote }}\n');
    const options = await helmOptions();
    const upgrade = await helmTemplate({ releaseName: 'r', namespace: 'n', chartDir: chart, values: {}, isUpgrade: true }, options);
    const install = await helmTemplate({ releaseName: 'r', namespace: 'n', chartDir: chart, values: {} }, options);
    expect(upgrade.ok ? upgrade.manifests : upgrade.error).toContain('upgrade: "true"\n  install: "false"');
    expect(install.ok ? install.manifests : install.error).toContain('upgrade: "false"\n  install: "true"');
  });
});
