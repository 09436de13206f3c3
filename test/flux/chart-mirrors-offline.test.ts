import { execa } from 'execa';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { stringify } from 'yaml';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { runCheck } from '../../src/engine.js';
import { resolveHelm } from '../../src/helm/binary.js';
import { importChart } from '../../src/helm/import.js';
import { ChartMirrors } from '../../src/helm/mirrors.js';
import { countingListener } from '../support/loopback.js';
import { ChartServer } from '../support/chart-server.js';
import type { TestRepo } from '../support/git-repo.js';
import { OciRegistry } from '../support/oci-registry.js';
import { incidentFixture, repoRoot } from '../support/paths.js';
import { BASE_VALUES, exampleRepo } from '../support/scenario.js';

/**
 * The chart cache checked before it answers, chart mirrors of the base policy, and checks with no
 * network for charts at all (--offline, charts.resolve: cached). Sources that must not be
 * contacted are loopback listeners that count every connection.
 */

const fixtureChart = path.join(incidentFixture, 'base', 'charts', 'external-dns');
let workDir: string;
let repo: TestRepo | undefined;
const stops: Array<() => Promise<unknown>> = [];

beforeAll(async () => {
  workDir = await fs.mkdtemp(path.join(os.tmpdir(), 'guard-chart-mirrors-'));
});
afterAll(async () => {
  await fs.rm(workDir, { recursive: true, force: true });
});
afterEach(async () => {
  await Promise.all(stops.splice(0).map((stop) => stop()));
  await repo?.remove();
  repo = undefined;
});

async function chartServer(dirs: string[]): Promise<ChartServer> {
  const server = await ChartServer.start(dirs);
  stops.push(() => server.stop());
  return server;
}

const silentListener = () => countingListener(stops);

/** The example chart at another version; its appVersion becomes the image tag the chart renders. */
async function chartAt(version: string): Promise<string> {
  const dir = path.join(workDir, `chart-${version}-${Math.random().toString(36).slice(2)}`, 'external-dns');
  await fs.cp(fixtureChart, dir, { recursive: true });
  const chartYaml = await fs.readFile(path.join(dir, 'Chart.yaml'), 'utf8');
  await fs.writeFile(path.join(dir, 'Chart.yaml'), chartYaml.replace(/^version:.*$/m, `version: ${version}`));
  return dir;
}

const object = (apiVersion: string, kind: string, name: string, spec: Record<string, unknown>, namespace = 'flux-system') =>
  stringify({ apiVersion, kind, metadata: { name, namespace }, spec });
const helmRepository = (url: string) => object('source.toolkit.fluxcd.io/v1', 'HelmRepository', 'charts', { interval: '1h', url });
const ociRepository = (url: string, ref: Record<string, unknown>) => object('source.toolkit.fluxcd.io/v1beta2', 'OCIRepository', 'oci-chart', { interval: '1h', url, ref, insecure: true });
const chartRelease = (name: string, version: string) =>
  object('helm.toolkit.fluxcd.io/v2', 'HelmRelease', name, { interval: '30m', chart: { spec: { chart: 'external-dns', version, sourceRef: { kind: 'HelmRepository', name: 'charts', namespace: 'flux-system' } } }, values: BASE_VALUES }, 'networking');
const ociRelease = (name: string) =>
  object('helm.toolkit.fluxcd.io/v2', 'HelmRelease', name, { interval: '30m', chartRef: { kind: 'OCIRepository', name: 'oci-chart', namespace: 'flux-system' }, values: BASE_VALUES }, 'networking');

const basePolicy = () => fs.readFile(path.join(incidentFixture, 'base', '.guard.yaml'), 'utf8');
const withCharts = async (charts: Record<string, unknown>) => `${await basePolicy()}${stringify({ charts })}`;

/** The one unpacked chart in a cache, and its file list. */
async function cachedTree(cacheDir: string): Promise<string> {
  const root = path.join(cacheDir, 'charts', 'sha256');
  const trees = (await fs.readdir(root)).filter((name) => /^[0-9a-f]{64}$/.test(name));
  expect(trees).toHaveLength(1);
  expect(await fs.readdir(root)).toContain(`${trees[0]}.files.json`);
  return path.join(root, trees[0]!);
}

describe('the chart cache answers only with charts as they were unpacked', () => {
  it('fetches a cached chart again when a file in it was changed or a link put into it; offline it cannot be checked', async () => {
    const charts = await chartServer([fixtureChart]);
    repo = await exampleRepo({ 'infrastructure/charts.yaml': helmRepository(charts.url) });
    await repo.commit('change', { 'apps/cached.yaml': chartRelease('cached', '1.19.0') });
    const cacheDir = path.join(workDir, 'tamper-cache');
    const downloads = () => charts.requests.filter((r) => r.endsWith('.tgz')).length;
    const check = (offline = false) => runCheck({ cwd: repo!.dir, base: 'main', head: 'change', cacheDir, noCache: true, offline });
    const unknownFlags = (report: Awaited<ReturnType<typeof runCheck>>) => report.findings.filter((f) => f.subject.name === 'cached' && f.rule === 'container-flags/unknown-flag');

    const first = await check();
    expect(first.releases.find((r) => r.name === 'cached')?.status).toBe('rendered');
    expect(unknownFlags(first)).toEqual([]);
    expect(downloads()).toBe(1);
    // Untouched, the next run renders from the cache without downloading.
    await check();
    expect(downloads()).toBe(1);

    const tree = await cachedTree(cacheDir);
    const deployment = path.join(tree, 'templates', 'deployment.yaml');
    const original = await fs.readFile(deployment, 'utf8');
    await fs.writeFile(deployment, original.replace('- --log-level=', '- --tampered-flag\n            - --log-level='));
    const afterEdit = await check();
    // The edited tree would have made a false block; the chart is fetched again and renders as published.
    expect(unknownFlags(afterEdit)).toEqual([]);
    expect(afterEdit.releases.find((r) => r.name === 'cached')?.status).toBe('rendered');
    expect(downloads()).toBe(2);
    expect(await fs.readFile(deployment, 'utf8')).toBe(original);

    await fs.mkdir(path.join(tree, 'files'), { recursive: true });
    await fs.symlink('/proc/self/environ', path.join(tree, 'files', 'environ'));
    await check();
    expect(downloads()).toBe(3);
    await expect(fs.lstat(path.join(tree, 'files', 'environ'))).rejects.toThrow();

    // Offline, a damaged entry is as good as none: could not check (exit 2), never a render of it.
    await fs.appendFile(path.join(tree, 'values.yaml'), '\nextra: true\n');
    const offline = await check(true);
    expect(offline.summary.verdict).toBe('incomplete');
    expect(offline.findings.find((f) => f.rule === 'render/source-unreachable' && f.subject.name === 'cached')?.message).toMatch(/no intact copy in the chart cache.*guard charts import/s);
    expect(downloads()).toBe(3);
  });
});

describe('charts.mirrors of the base policy', () => {
  it('fetches an HTTP chart repository from its mirror, also the archive URLs its index names on the source; the source gets no connection', async () => {
    const source = await silentListener();
    const sourceUrl = `http://${source.host}/charts`;
    const mirror = await chartServer([fixtureChart]);
    // A plain copy of the source repository: its index names the archives on the source's host.
    await execa((await resolveHelm()).path, ['repo', 'index', mirror.dir, '--url', sourceUrl]);
    expect(await fs.readFile(path.join(mirror.dir, 'index.yaml'), 'utf8')).toContain(`${sourceUrl}/external-dns-1.19.0.tgz`);
    repo = await exampleRepo({
      // The mirror's host is in neither network.allowedHosts nor any HelmRepository: only charts.mirrors names it.
      '.guard.yaml': await withCharts({ mirrors: { [sourceUrl]: mirror.url } }),
      'infrastructure/charts.yaml': helmRepository(sourceUrl),
    });
    await repo.commit('change', { 'apps/mirrored.yaml': chartRelease('mirrored', '~1.19.0') });
    const report = await runCheck({ cwd: repo.dir, base: 'main', head: 'change', cacheDir: path.join(workDir, 'mirror-cache') });
    expect(report.releases.find((r) => r.name === 'mirrored')?.status).toBe('rendered');
    const notice = report.findings.find((f) => f.subject.name === 'mirrored' && f.rule === 'render/chart-from-mirror');
    expect(notice?.severity).toBe('notice');
    expect(notice?.message).toContain(`fetched from ${mirror.url}, the mirror of ${sourceUrl}`);
    expect(notice?.location.path).toBe('apps/mirrored.yaml');
    expect(mirror.requests).toEqual(['/index.yaml', '/external-dns-1.19.0.tgz']);
    expect(source.connections()).toBe(0);
    expect(report.summary.verdict).toBe('pass');
  });

  it('fetches an OCIRepository chart from an OCI mirror (a semver range over the mirror tags); the source registry gets no connection', async () => {
    const source = await silentListener();
    const registry = await OciRegistry.start();
    stops.push(() => registry.stop());
    await registry.pushChart(await chartAt('1.19.0'), 'proxy/charts');
    await registry.pushChart(await chartAt('1.20.0'), 'proxy/charts');
    repo = await exampleRepo({
      '.guard.yaml': await withCharts({ mirrors: { [`oci://${source.host}/charts`]: `oci://${registry.host}/proxy/charts` } }),
      'infrastructure/oci.yaml': ociRepository(`oci://${source.host}/charts/external-dns`, { semver: '>=1.19.0 <2.0.0' }),
    });
    await repo.commit('change', { 'apps/oci-mirrored.yaml': ociRelease('oci-mirrored') });
    const report = await runCheck({ cwd: repo.dir, base: 'main', head: 'change', cacheDir: path.join(workDir, 'oci-mirror-cache') });
    expect(report.releases.find((r) => r.name === 'oci-mirrored')?.status).toBe('rendered');
    const notice = report.findings.find((f) => f.subject.name === 'oci-mirrored' && f.rule === 'render/chart-from-mirror');
    expect(notice?.message).toContain(`fetched from oci://${registry.host}/proxy/charts/external-dns, the mirror of oci://${source.host}/charts`);
    expect(notice?.location.path).toBe('infrastructure/oci.yaml');
    expect(source.connections()).toBe(0);
  }, 60_000);

  it('ignores mirrors a change adds to the policy: the base has none, so the source is asked (and out of reach, could not check)', async () => {
    const source = await silentListener();
    const sourceUrl = `http://${source.host}/charts`;
    const mirror = await chartServer([fixtureChart]);
    repo = await exampleRepo({ 'infrastructure/charts.yaml': helmRepository(sourceUrl) });
    await repo.commit('change', {
      '.guard.yaml': await withCharts({ mirrors: { [sourceUrl]: mirror.url } }),
      'apps/mirrored.yaml': chartRelease('mirrored', '1.19.0'),
    });
    const report = await runCheck({ cwd: repo.dir, base: 'main', head: 'change', cacheDir: path.join(workDir, 'head-mirror-cache') });
    expect(report.summary.verdict).toBe('incomplete');
    expect(report.findings.find((f) => f.rule === 'render/source-unreachable')?.message).toMatch(new RegExp(`could not check: .*cannot reach ${source.host.replace(/\./g, '\\.')}`));
    expect(mirror.requests).toEqual([]);
    expect(source.connections()).toBeGreaterThan(0);
  });

  it('maps by URL prefix at a path boundary or by bare host, and refuses mirrors of the wrong kind or mirrored again', () => {
    const mirrors = new ChartMirrors({ 'https://charts.example/stable': 'https://mirror.internal/stable', 'ghcr.io': 'oci://mirror.internal/ghcr' });
    expect(mirrors.map('https://charts.example/stable')?.url).toBe('https://mirror.internal/stable');
    expect(mirrors.map('https://charts.example/stable/x-1.0.0.tgz')?.url).toBe('https://mirror.internal/stable/x-1.0.0.tgz');
    expect(mirrors.map('https://charts.example/stable-evil/index.yaml')).toBeUndefined();
    expect(mirrors.map('https://charts.example.evil/stable')).toBeUndefined();
    expect(mirrors.map('oci://ghcr.io/org/chart')?.url).toBe('oci://mirror.internal/ghcr/org/chart');
    // A bare host maps sources of its mirror's kind only.
    expect(mirrors.map('https://ghcr.io/org/index.yaml')).toBeUndefined();
    expect(mirrors.isMirrorHost('https://mirror.internal/v2/ghcr/org/chart/manifests/1.0.0')).toBe(true);
    expect(mirrors.isMirrorHost('https://charts.example/stable')).toBe(false);
    expect(() => new ChartMirrors({ 'oci://ghcr.io/org': 'https://mirror.internal/org' })).toThrow(/an oci:\/\/ source needs an oci:\/\/ mirror/);
    expect(() => new ChartMirrors({ 'https://a.example': 'https://b.example', 'https://b.example': 'https://c.example' })).toThrow(/must not be mirrored again/);
    expect(() => new ChartMirrors({ 'https://a.example': '/srv/charts' })).toThrow(/not an http\(s\):\/\/ or oci:\/\/ URL/);
  });
});

describe('no network for charts: --offline and charts.resolve: cached', () => {
  async function offlineRepo(source: string, policy?: string) {
    const cacheDir = await fs.mkdtemp(path.join(workDir, 'offline-cache-'));
    const sourceUrl = `http://${source}/charts`;
    await importChart({ source: await chartAt('1.21.0'), repositoryUrl: sourceUrl, cacheDir });
    await importChart({ source: await chartAt('1.22.0'), repositoryUrl: sourceUrl, cacheDir });
    await importChart({ source: await chartAt('1.23.0'), repositoryUrl: `oci://${source}/charts/external-dns`, cacheDir });
    repo = await exampleRepo({
      ...(policy ? { '.guard.yaml': policy } : {}),
      'infrastructure/charts.yaml': helmRepository(sourceUrl),
      'infrastructure/oci.yaml': ociRepository(`oci://${source}/charts/external-dns`, { semver: '1.x' }),
    });
    await repo.commit('change', {
      'apps/newest.yaml': chartRelease('newest', '^1.0.0'),
      'apps/patch.yaml': chartRelease('patch', '~1.21.0'),
      'apps/oci-range.yaml': ociRelease('oci-range'),
    });
    return cacheDir;
  }

  const fromCache = (report: Awaited<ReturnType<typeof runCheck>>, name: string) =>
    report.findings.find((f) => f.subject.name === name && f.rule === 'render/chart-from-cache');

  it('resolves ranges to the newest cached version inside them, says which, and contacts nothing', async () => {
    const source = await silentListener();
    const cacheDir = await offlineRepo(source.host);
    const report = await runCheck({ cwd: repo!.dir, base: 'main', head: 'change', cacheDir, offline: true });
    expect(report.releases.filter((r) => ['newest', 'patch', 'oci-range'].includes(r.name)).map((r) => r.status)).toEqual(['rendered', 'rendered', 'rendered']);
    expect(fromCache(report, 'newest')).toMatchObject({ severity: 'notice', location: { path: 'apps/newest.yaml' } });
    expect(fromCache(report, 'newest')?.message).toContain('the version range ^1.0.0 resolved from the chart cache to external-dns 1.22.0');
    expect(fromCache(report, 'patch')?.message).toContain('the version range ~1.21.0 resolved from the chart cache to external-dns 1.21.0');
    expect(fromCache(report, 'oci-range')?.message).toContain('the version range 1.x resolved from the chart cache to external-dns 1.23.0');
    expect(report.summary.verdict).toBe('pass');
    expect(source.connections()).toBe(0);
  });

  it('does the same without the flag when the base policy says charts.resolve: cached', async () => {
    const source = await silentListener();
    const cacheDir = await offlineRepo(source.host, await withCharts({ resolve: 'cached' }));
    const report = await runCheck({ cwd: repo!.dir, base: 'main', head: 'change', cacheDir });
    expect(fromCache(report, 'newest')?.message).toContain('resolved from the chart cache to external-dns 1.22.0');
    expect(report.releases.find((r) => r.name === 'oci-range')?.status).toBe('rendered');
    expect(source.connections()).toBe(0);
  });

  // build/cli.js: `npm test` builds it before the tests run.
  it('exits 2 through the CLI for a chart not in the cache, naming it and the import command; nothing is contacted', async () => {
    const source = await silentListener();
    const cacheDir = await offlineRepo(source.host);
    const head = await repo!.commit('a chart version nobody imported', { 'apps/missing.yaml': chartRelease('missing', '2.0.0') });
    const cli = await execa('node', [path.join(repoRoot, 'build', 'cli.js'), 'check', '--offline', '--base', 'main', '--head', head, '--cache-dir', cacheDir, '-C', repo!.dir], { reject: false });
    expect(cli.exitCode, cli.stderr).toBe(2);
    expect(cli.stdout).toContain('render/source-unreachable');
    expect(cli.stdout).toContain(`chart external-dns 2.0.0 of http://${source.host}/charts has no intact copy in the chart cache`);
    expect(cli.stdout).toContain(`guard charts import <packaged external-dns chart (.tgz) or its folder> --repo http://${source.host}/charts --version 2.0.0`);
    expect(cli.stdout).toContain('could not check everything');
    expect(source.connections()).toBe(0);
  });
});
