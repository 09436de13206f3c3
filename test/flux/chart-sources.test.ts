import { execa } from 'execa';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { stringify } from 'yaml';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import net from 'node:net';
import { runCheck } from '../../src/engine.js';
import { resolveHelm } from '../../src/helm/binary.js';
import { importChart } from '../../src/helm/import.js';
import { renderRevision } from '../../src/inspect/render-releases.js';
import { ChartServer } from '../support/chart-server.js';
import type { TestRepo } from '../support/git-repo.js';
import { OciRegistry } from '../support/oci-registry.js';
import { incidentFixture, repoRoot } from '../support/paths.js';
import { BASE_VALUES, exampleRepo } from '../support/scenario.js';

const fixtureChart = path.join(incidentFixture, 'base', 'charts', 'external-dns');
let workDir: string;
let registry: OciRegistry;
let charts: ChartServer;
let cacheDir: string;
let repo: TestRepo | undefined;
const listeners: net.Server[] = [];

/** The example chart at another version; its appVersion becomes the image tag the chart renders. */
async function chartAt(version: string, appVersion: string): Promise<string> {
  const dir = path.join(workDir, `external-dns-${version}`, 'external-dns');
  await fs.cp(fixtureChart, dir, { recursive: true });
  const chartYaml = await fs.readFile(path.join(dir, 'Chart.yaml'), 'utf8');
  await fs.writeFile(path.join(dir, 'Chart.yaml'), chartYaml.replace(/^version:.*$/m, `version: ${version}`).replace(/^appVersion:.*$/m, `appVersion: ${appVersion}`));
  return dir;
}

beforeAll(async () => {
  workDir = await fs.mkdtemp(path.join(os.tmpdir(), 'guard-chart-sources-'));
  cacheDir = path.join(workDir, 'cache');
  [registry, charts] = await Promise.all([OciRegistry.start(), ChartServer.start([fixtureChart])]);
  await registry.pushChart(await chartAt('1.19.0', 'v0.19.0'));
  await registry.pushChart(await chartAt('1.20.0', 'v0.20.0'));
}, 60_000);
afterAll(async () => {
  await Promise.all([registry?.stop(), charts?.stop()]);
  await fs.rm(workDir, { recursive: true, force: true });
});
afterEach(async () => {
  await Promise.all(listeners.splice(0).map((server) => new Promise((resolve) => server.close(resolve))));
  await repo?.remove();
  repo = undefined;
});

const object = (apiVersion: string, kind: string, name: string, spec: Record<string, unknown>, namespace = 'flux-system') =>
  stringify({ apiVersion, kind, metadata: { name, namespace }, spec });

const chartRefRelease = (name: string, chartRef: Record<string, unknown>, values: Record<string, unknown> = BASE_VALUES) =>
  object('helm.toolkit.fluxcd.io/v2', 'HelmRelease', name, { interval: '30m', chartRef, values }, 'networking');

const chartRelease = (name: string, chart: Record<string, unknown>, values: Record<string, unknown> = BASE_VALUES) =>
  object('helm.toolkit.fluxcd.io/v2', 'HelmRelease', name, { interval: '30m', chart: { spec: chart }, values }, 'networking');

const ociRepository = (name: string, url: string, ref: Record<string, unknown>) =>
  object('source.toolkit.fluxcd.io/v1beta2', 'OCIRepository', name, { interval: '1h', url, ref, insecure: true });

/** The base policy, letting the guard fetch from the loopback registry. */
const policyAllowing = async (host: string) =>
  `${await fs.readFile(path.join(incidentFixture, 'base', '.guard.yaml'), 'utf8')}network:\n  allowedHosts: ["${host}"]\n`;

async function renderAtChange(names: string[]) {
  const revision = await renderRevision({ cwd: repo!.dir, rev: 'change', names, cacheDir });
  return new Map(revision.releases.map((r) => [r.key.split('/')[1], r]));
}

const gitSource = { kind: 'GitRepository', name: 'flux-system', namespace: 'flux-system' };

describe('chart sources as Flux resolves them', () => {
  it('renders spec.chartRef -> OCIRepository by tag, by semver range (highest match) and by digest', async () => {
    const url = `oci://${registry.host}/charts/external-dns`;
    const digest = await pushedDigest(`${url}`, '1.19.0');
    repo = await exampleRepo({ '.guard.yaml': await policyAllowing(registry.host) });
    await repo.commit('change', {
      'infrastructure/oci.yaml': [
        ociRepository('by-tag', url, { tag: '1.19.0' }),
        ociRepository('by-range', url, { semver: '>=1.19.0 <2.0.0' }),
        ociRepository('by-digest', url, { digest, tag: '1.20.0' }),
      ].join('---\n'),
      'apps/tag.yaml': chartRefRelease('tag', { kind: 'OCIRepository', name: 'by-tag', namespace: 'flux-system' }),
      'apps/range.yaml': chartRefRelease('range', { kind: 'OCIRepository', name: 'by-range', namespace: 'flux-system' }),
      'apps/digest.yaml': chartRefRelease('digest', { kind: 'OCIRepository', name: 'by-digest', namespace: 'flux-system' }),
    });
    const rendered = await renderAtChange(['tag', 'range', 'digest']);
    expect(rendered.get('tag')?.manifests).toContain('registry.k8s.io/external-dns/external-dns:v0.19.0');
    expect(rendered.get('range')?.manifests).toContain('registry.k8s.io/external-dns/external-dns:v0.20.0');
    expect(rendered.get('range')?.title).toContain('(chart 1.20.0)');
    expect(rendered.get('digest')?.error).toBeUndefined();
    // A digest wins over the tag next to it, as in source-controller.
    expect(rendered.get('digest')?.manifests).toContain('registry.k8s.io/external-dns/external-dns:v0.19.0');
    expect(rendered.get('tag')?.manifests).toContain('--source=ingress');
  });

  it('renders spec.chart from a HelmRepository of type oci with a semver range', async () => {
    repo = await exampleRepo({ '.guard.yaml': await policyAllowing(registry.host) });
    await repo.commit('change', {
      'infrastructure/oci-helmrepository.yaml': object('source.toolkit.fluxcd.io/v1', 'HelmRepository', 'oci-charts', { interval: '1h', type: 'oci', url: `oci://${registry.host}/charts`, insecure: true }),
      'apps/oci-helmrepo.yaml': chartRelease('oci-helmrepo', { chart: 'external-dns', version: '~1.19.0', sourceRef: { kind: 'HelmRepository', name: 'oci-charts', namespace: 'flux-system' } }),
    });
    const rendered = (await renderAtChange(['oci-helmrepo'])).get('oci-helmrepo');
    expect(rendered?.error).toBeUndefined();
    expect(rendered?.manifests).toContain('registry.k8s.io/external-dns/external-dns:v0.19.0');
  });

  it('re-renders a release when only its OCIRepository changes, and checks the chart it now gets', async () => {
    const url = `oci://${registry.host}/charts/external-dns`;
    const release = chartRefRelease('oci-dns', { kind: 'OCIRepository', name: 'external-dns' }, { ...BASE_VALUES, policy: 'upsert-onyl' });
    repo = await exampleRepo({
      '.guard.yaml': await policyAllowing(registry.host),
      'infrastructure/oci.yaml': ociRepository('external-dns', url, { tag: '1.19.0' }).replace('flux-system', 'networking'),
      'apps/oci-release.yaml': release,
    });
    await repo.commit('change', { 'infrastructure/oci.yaml': ociRepository('external-dns', url, { tag: '1.20.0' }).replace('flux-system', 'networking') });
    const report = await runCheck({ cwd: repo.dir, base: 'main', head: 'change', cacheDir });
    // Rendered again (not skipped as unchanged); the schema violation makes it fail.
    expect(report.releases.find((r) => r.name === 'oci-dns')?.status).toBe('failed');
    expect(report.findings.some((f) => f.rule === 'values-schema/violation' && f.subject.name === 'oci-dns')).toBe(true);
  });

  it('does not fetch from an OCI registry the base policy does not allow', async () => {
    repo = await exampleRepo();
    const oci = ociRepository('elsewhere', `oci://${registry.host}/charts/external-dns`, { tag: '1.19.0' });
    await repo.commit('change', {
      'infrastructure/oci.yaml': oci,
      'apps/blocked.yaml': chartRefRelease('blocked', { kind: 'OCIRepository', name: 'elsewhere', namespace: 'flux-system' }),
    });
    const report = await runCheck({ cwd: repo.dir, base: 'main', head: 'change', cacheDir });
    const finding = report.findings.find((f) => f.subject.name === 'blocked');
    expect(finding?.rule).toBe('render/source-not-allowed');
    expect(finding?.location).toMatchObject({ path: 'infrastructure/oci.yaml', line: lineOf(oci, 'url:') });
  });

  it('renders spec.chartRef -> HelmChart -> HelmRepository from a chart repository over HTTP', async () => {
    repo = await exampleRepo();
    await repo.commit('change', {
      'infrastructure/sources.yaml': [
        object('source.toolkit.fluxcd.io/v1', 'HelmRepository', 'charts', { interval: '1h', url: charts.url }, 'networking'),
        object('source.toolkit.fluxcd.io/v1', 'HelmChart', 'external-dns', { interval: '1h', chart: 'external-dns', version: '1.19.x', sourceRef: { kind: 'HelmRepository', name: 'charts' } }, 'networking'),
      ].join('---\n'),
      'apps/helmchart.yaml': chartRefRelease('from-helmchart', { kind: 'HelmChart', name: 'external-dns' }, { ...BASE_VALUES, txtOwnerId: 'guard-test' }),
    });
    const rendered = (await renderAtChange(['from-helmchart'])).get('from-helmchart');
    expect(rendered?.error).toBeUndefined();
    expect(rendered?.manifests).toContain('external-dns:v0.19.0');
    expect(rendered?.manifests).toContain('--txt-owner-id=guard-test');
    expect(charts.requests.some((r) => r.endsWith('.tgz'))).toBe(true);
  });

  it('resolves a semver range once per run however many releases use it, the same way on the next run', async () => {
    const names = ['a', 'b', 'c', 'd', 'e', 'f'];
    // The chart repository is in the base revision, so the guard may fetch from it.
    repo = await exampleRepo({ 'infrastructure/charts.yaml': object('source.toolkit.fluxcd.io/v1', 'HelmRepository', 'range-charts', { interval: '1h', url: charts.url }) });
    await repo.commit('change', {
      ...Object.fromEntries(names.map((n) => [`apps/${n}.yaml`, chartRelease(`range-${n}`, { chart: 'external-dns', version: '>=1.0.0 <2.0.0', sourceRef: { kind: 'HelmRepository', name: 'range-charts', namespace: 'flux-system' } }, { ...BASE_VALUES, txtOwnerId: n })])),
    });
    const runCache = path.join(workDir, 'range-cache');
    const before = charts.requests.filter((r) => r.endsWith('.tgz')).length;
    const first = await runCheck({ cwd: repo.dir, base: 'main', head: 'change', cacheDir: runCache });
    expect(first.releases.filter((r) => r.name.startsWith('range-')).map((r) => r.status)).toEqual(names.map(() => 'rendered'));
    expect(charts.requests.filter((r) => r.endsWith('.tgz')).length - before).toBe(1);
    const second = await runCheck({ cwd: repo.dir, base: 'main', head: 'change', cacheDir: runCache });
    expect(second.findings).toEqual(first.findings);
  });

  it('merges HelmChart spec.valuesFiles over the chart defaults as source-controller does', async () => {
    repo = await exampleRepo({ 'charts/external-dns/values-prod.yaml': 'logLevel: debug\nimage:\n  tag: v0.19.0-prod\n' });
    await repo.commit('change', {
      'infrastructure/helmchart.yaml': object('source.toolkit.fluxcd.io/v1', 'HelmChart', 'external-dns-prod', {
        interval: '1h', chart: './charts/external-dns', sourceRef: { kind: 'GitRepository', name: 'flux-system' }, valuesFiles: ['./charts/external-dns/values.yaml', './charts/external-dns/values-prod.yaml'],
      }),
      'apps/prod.yaml': chartRefRelease('prod', { kind: 'HelmChart', name: 'external-dns-prod', namespace: 'flux-system' }),
    });
    const manifests = (await renderAtChange(['prod'])).get('prod')?.manifests ?? '';
    expect(manifests).toContain('--log-level=debug');
    expect(manifests).toContain('external-dns:v0.19.0-prod');
    expect(manifests).toContain('--policy=sync');
  });

  it('replaces the chart values.yaml with a HelmRelease spec.chart.spec.valuesFiles list that leaves it out', async () => {
    const defaults = await fs.readFile(path.join(fixtureChart, 'values.yaml'), 'utf8');
    // The chart's own defaults pass a flag external-dns does not know; envs/prod.yaml has everything else.
    repo = await exampleRepo({
      'charts/external-dns/values.yaml': defaults.replace('extraArgs: []', 'extraArgs: ["--not-a-real-flag"]'),
      'envs/prod.yaml': defaults.replace('extraArgs: []\n', ''),
    });
    const withFiles = (files: string[], extra: Record<string, unknown> = {}) => chartRelease('prod-files', { chart: './charts/external-dns', sourceRef: gitSource, valuesFiles: files, ...extra });
    const check = async (files: string[], extra: Record<string, unknown> = {}) => {
      const head = await repo!.commit(files.join(' '), { 'apps/prod-files.yaml': withFiles(files, extra) });
      const report = await runCheck({ cwd: repo!.dir, base: 'main', head, cacheDir });
      return report.findings.filter((f) => f.subject.name === 'prod-files' && f.severity === 'error').map((f) => f.rule);
    };
    // GitRepository valuesFiles are paths from the repository root; layering them over the chart
    // defaults (helm's --values) would keep the bad flag.
    expect(await check(['envs/prod.yaml'])).toEqual([]);
    expect(await check(['./charts/external-dns/values.yaml', 'envs/prod.yaml'])).toEqual(['container-flags/unknown-flag']);
    // A path relative to the chart is not there for source-controller, unless missing files are ignored.
    expect(await check(['values.yaml'])).toEqual(['render/chart-missing']);
    expect(await check(['values.yaml', 'envs/prod.yaml'], { ignoreMissingValuesFiles: true })).toEqual([]);
  });

  it('renders again when only a values file outside the chart changes', async () => {
    const defaults = await fs.readFile(path.join(fixtureChart, 'values.yaml'), 'utf8');
    repo = await exampleRepo({
      'envs/prod.yaml': defaults,
      'apps/prod-files.yaml': chartRelease('prod-files', { chart: './charts/external-dns', sourceRef: gitSource, valuesFiles: ['envs/prod.yaml'] }),
    });
    await repo.commit('change', { 'envs/prod.yaml': defaults.replace('extraArgs: []', 'extraArgs: ["--not-a-real-flag"]') });
    const report = await runCheck({ cwd: repo.dir, base: 'main', head: 'change', cacheDir });
    expect(report.releases.find((r) => r.name === 'prod-files')?.status).not.toBe('unchanged');
    expect(report.findings.find((f) => f.subject.name === 'prod-files')?.rule).toBe('container-flags/unknown-flag');
  });

  it('renders a packaged chart (.tgz) committed to the GitRepository', async () => {
    repo = await exampleRepo();
    const helm = (await resolveHelm()).path;
    const packaged = path.join(workDir, 'packaged');
    await execa(helm, ['package', await chartAt('1.20.1', 'v0.20.1'), '--destination', packaged]);
    await fs.mkdir(path.join(repo.dir, 'vendor'), { recursive: true });
    await fs.copyFile(path.join(packaged, 'external-dns-1.20.1.tgz'), path.join(repo.dir, 'vendor', 'external-dns-1.20.1.tgz'));
    await repo.commit('change', {
      'apps/packaged.yaml': chartRelease('packaged', { chart: './vendor/external-dns-1.20.1.tgz', sourceRef: gitSource }),
      'apps/packaged-via-helmchart.yaml': [
        object('source.toolkit.fluxcd.io/v1', 'HelmChart', 'vendored', { interval: '1h', chart: 'vendor/external-dns-1.20.1.tgz', sourceRef: { kind: 'GitRepository', name: 'flux-system' } }),
        chartRefRelease('packaged-via-helmchart', { kind: 'HelmChart', name: 'vendored', namespace: 'flux-system' }),
      ].join('---\n'),
    });
    const rendered = await renderAtChange(['packaged', 'packaged-via-helmchart']);
    expect(rendered.get('packaged')?.manifests).toContain('external-dns:v0.20.1');
    expect(rendered.get('packaged-via-helmchart')?.manifests).toContain('external-dns:v0.20.1');
    // The chart's own values.schema.json still applies to a packaged chart.
    await repo.commit('bad values', { 'apps/packaged.yaml': chartRelease('packaged', { chart: './vendor/external-dns-1.20.1.tgz', sourceRef: gitSource }, { ...BASE_VALUES, policy: 'upsert-onyl' }) });
    const report = await runCheck({ cwd: repo.dir, base: 'main', head: 'change', cacheDir });
    expect(report.findings.find((f) => f.subject.name === 'packaged')?.rule).toBe('values-schema/violation');
  });

  it('fetches an exact chart version once: the next run answers it from the content-addressed cache', async () => {
    repo = await exampleRepo({ 'infrastructure/charts.yaml': object('source.toolkit.fluxcd.io/v1', 'HelmRepository', 'exact-charts', { interval: '1h', url: charts.url }) });
    await repo.commit('change', { 'apps/exact.yaml': chartRelease('exact', { chart: 'external-dns', version: '1.19.0', sourceRef: { kind: 'HelmRepository', name: 'exact-charts', namespace: 'flux-system' } }) });
    const runCache = path.join(workDir, 'exact-cache');
    const before = charts.requests.length;
    const first = await runCheck({ cwd: repo.dir, base: 'main', head: 'change', cacheDir: runCache, noCache: true });
    expect(first.releases.find((r) => r.name === 'exact')?.status).toBe('rendered');
    expect(charts.requests.slice(before)).toEqual(['/index.yaml', '/external-dns-1.19.0.tgz']);
    const again = charts.requests.length;
    await runCheck({ cwd: repo.dir, base: 'main', head: 'change', cacheDir: runCache, noCache: true });
    expect(charts.requests.length).toBe(again);
    const refs = await fs.readdir(path.join(runCache, 'charts', 'refs'));
    expect(refs).toHaveLength(1);
    expect(await fs.readFile(path.join(runCache, 'charts', 'refs', refs[0]!, 'url'), 'utf8')).toBe(`${charts.url}\n`);
  });

  it('renders charts imported with `guard charts import` while their repositories are out of reach', async () => {
    const offline = await countingListener();
    const helmRepoUrl = `http://${offline.host}/charts`;
    const ociUrl = `oci://${offline.host}/charts/external-dns`;
    const importCache = path.join(workDir, 'import-cache');
    const packaged = path.join(workDir, 'import-packaged');
    const helm = (await resolveHelm()).path;
    await execa(helm, ['package', await chartAt('1.21.0', 'v0.21.0'), '--destination', packaged]);
    // The CLI, as an air-gapped CI job would run it; a chart folder through the library.
    const cli = await execa('node', [path.join(repoRoot, 'build', 'cli.js'), 'charts', 'import', path.join(packaged, 'external-dns-1.21.0.tgz'), '--repo', helmRepoUrl, '--cache-dir', importCache], { reject: false });
    expect(cli.exitCode, cli.stderr).toBe(0);
    expect(cli.stdout).toMatch(/^imported external-dns 1\.21\.0 \(sha256:[0-9a-f]{64}\) for http:\/\/127\.0\.0\.1:\d+\/charts into /);
    await importChart({ source: await chartAt('1.22.0', 'v0.22.0'), repositoryUrl: ociUrl, cacheDir: importCache });
    repo = await exampleRepo({
      'infrastructure/offline.yaml': [
        object('source.toolkit.fluxcd.io/v1', 'HelmRepository', 'offline', { interval: '1h', url: helmRepoUrl }),
        ociRepository('offline-oci', ociUrl, { tag: '1.22.0' }),
      ].join('---\n'),
    });
    const sourceRef = { kind: 'HelmRepository', name: 'offline', namespace: 'flux-system' };
    await repo.commit('change', {
      'apps/offline-exact.yaml': chartRelease('offline-exact', { chart: 'external-dns', version: '1.21.0', sourceRef }),
      'apps/offline-oci.yaml': chartRefRelease('offline-oci', { kind: 'OCIRepository', name: 'offline-oci', namespace: 'flux-system' }),
    });
    const rendered = await renderRevision({ cwd: repo.dir, rev: 'change', names: ['offline-exact', 'offline-oci'], cacheDir: importCache });
    const byName = new Map(rendered.releases.map((r) => [r.key.split('/')[1], r]));
    expect(byName.get('offline-exact')?.manifests).toContain('external-dns:v0.21.0');
    expect(byName.get('offline-oci')?.manifests).toContain('external-dns:v0.22.0');
    // Exact versions and tags come from the cache without asking the repository.
    expect(offline.connections()).toBe(0);
    // A range asks the repository first; out of reach, the cache answers it, and says so.
    const rangeCommit = await repo.commit('range', { 'apps/offline-range.yaml': chartRelease('offline-range', { chart: 'external-dns', version: '^1.0.0', sourceRef }) });
    const range = (await renderRevision({ cwd: repo.dir, rev: rangeCommit, names: ['offline-range'], cacheDir: importCache })).releases[0];
    expect(range?.manifests).toContain('external-dns:v0.21.0');
    expect(range?.title).toContain('could not be reached; using external-dns 1.21.0 from the chart cache');
    expect(offline.connections()).toBeGreaterThan(0);
  });

  it('reports a chartRef object that is not in the repository at the chartRef line', async () => {
    repo = await exampleRepo();
    const text = chartRefRelease('orphan', { kind: 'OCIRepository', name: 'nowhere' });
    await repo.commit('change', {
      'apps/orphan.yaml': text,
      'apps/orphan-chart.yaml': chartRefRelease('orphan-chart', { kind: 'HelmChart', name: 'absent', namespace: 'flux-system' }),
    });
    const report = await runCheck({ cwd: repo.dir, base: 'main', head: 'change', cacheDir });
    const finding = report.findings.find((f) => f.subject.name === 'orphan');
    expect(finding?.rule).toBe('render/chart-missing');
    expect(finding?.message).toContain('OCIRepository networking/nowhere is not in the repository');
    expect(finding?.location).toMatchObject({ path: 'apps/orphan.yaml', line: lineOf(text, 'chartRef:') });
    expect(report.findings.find((f) => f.subject.name === 'orphan-chart')?.message).toContain('HelmChart flux-system/absent is not in the repository');
  });

  it('reports a HelmChart from a Bucket as unsupported at its sourceRef', async () => {
    repo = await exampleRepo();
    const helmChart = object('source.toolkit.fluxcd.io/v1', 'HelmChart', 'bucketed', { interval: '1h', chart: 'charts/x', sourceRef: { kind: 'Bucket', name: 'b' } });
    await repo.commit('change', {
      'infrastructure/helmchart.yaml': helmChart,
      'apps/bucketed.yaml': chartRefRelease('bucketed', { kind: 'HelmChart', name: 'bucketed', namespace: 'flux-system' }),
    });
    const report = await runCheck({ cwd: repo.dir, base: 'main', head: 'change', cacheDir });
    const finding = report.findings.find((f) => f.subject.name === 'bucketed');
    expect(finding?.message).toContain('Bucket');
    expect(finding?.location).toMatchObject({ path: 'infrastructure/helmchart.yaml', line: lineOf(helmChart, 'sourceRef:') });
  });
});

/** A loopback listener that drops every connection: an allowed host that cannot be reached. */
async function countingListener(): Promise<{ host: string; connections: () => number }> {
  let count = 0;
  const server = net.createServer((socket) => {
    count++;
    socket.destroy();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  listeners.push(server);
  return { host: `127.0.0.1:${(server.address() as net.AddressInfo).port}`, connections: () => count };
}

function lineOf(text: string, needle: string): number {
  return text.split('\n').findIndex((l) => l.includes(needle)) + 1;
}

/** The manifest digest the registry holds for a pushed chart version, as `helm pull` reports it. */
async function pushedDigest(url: string, version: string): Promise<string> {
  const helm = (await resolveHelm()).path;
  const into = await fs.mkdtemp(path.join(workDir, 'digest-'));
  const env = { HELM_CONFIG_HOME: path.join(into, 'c'), HELM_CACHE_HOME: path.join(into, 'k'), HELM_DATA_HOME: path.join(into, 'd') };
  const result = await execa(helm, ['pull', url, '--version', version, '--plain-http', '--destination', into], { env, all: true });
  const digest = /Digest:\s*(sha256:[0-9a-f]{64})/.exec(result.all ?? '')?.[1];
  if (!digest) throw new Error(`no digest in helm pull output: ${result.all}`);
  return digest;
}
