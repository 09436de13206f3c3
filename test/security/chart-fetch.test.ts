import { promises as fs } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { stringify } from 'yaml';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { runCheck } from '../../src/engine.js';
import { archiveDigest } from '../../src/helm/chart-cache.js';
import { pullChart, unpackChartArchive, type PullResult } from '../../src/helm/pull.js';
import { countingListener, routedServer, type Route } from '../support/loopback.js';
import type { TestRepo } from '../support/git-repo.js';
import { BASE_VALUES, exampleRepo } from '../support/scenario.js';
import { repoRoot } from '../support/paths.js';
import { chartFiles, craftTgz, type CraftedEntry } from '../support/tar-craft.js';

/**
 * Charts are fetched by the guard itself under the base policy's allow-list (every request,
 * every redirect hop, every URL an index names), and unpacked without links, devices or paths
 * out of the chart. Listeners that must stay silent count every connection they get.
 */

let workDir: string;
const closers: Array<() => Promise<void>> = [];
let repo: TestRepo | undefined;

beforeAll(async () => {
  workDir = await fs.mkdtemp(path.join(os.tmpdir(), 'guard-chart-fetch-'));
});
afterAll(async () => {
  await fs.rm(workDir, { recursive: true, force: true });
});
afterEach(async () => {
  await Promise.all(closers.splice(0).map((close) => close()));
  await repo?.remove();
  repo = undefined;
});

const silentListener = () => countingListener(closers);

const chartHost = (routes: Record<string, Route>) => routedServer(routes, closers);

const onlyHost = (host: string) => (url: string) => {
  try {
    return new URL(url.includes('://') ? url : `oci://${url}`).host === host;
  } catch {
    return false;
  }
};

const index = (chart: string, version: string, url: string, digest?: string) =>
  stringify({ apiVersion: 'v1', entries: { [chart]: [{ name: chart, version, urls: [url], ...(digest ? { digest } : {}) }] } });

async function pull(repositoryUrl: string, allowedHost: string, request: { chart?: string; version?: string } = {}): Promise<PullResult> {
  const cacheDir = await fs.mkdtemp(path.join(workDir, 'cache-'));
  return pullChart({ repositoryUrl, chart: request.chart ?? 'evil', version: request.version ?? '1.0.0' }, cacheDir, { isAllowedUrl: onlyHost(allowedHost), timeoutMs: 10_000 });
}

describe('chart fetches stay on the hosts the base revision allows', () => {
  it('refuses an index entry that points at another loopback port: that listener gets no connection', async () => {
    const other = await silentListener();
    const repository = await chartHost({ '/index.yaml': index('evil', '1.0.0', `http://${other.host}/evil-1.0.0.tgz`) });
    const result = await pull(repository.url, repository.host);
    expect(result).toMatchObject({ ok: false, kind: 'refused', host: other.host });
    if (!result.ok) expect(result.error).toMatch(new RegExp(`host ${other.host}.*network\\.allowedHosts`));
    expect(other.connections()).toBe(0);
  });

  it('refuses a redirect of the chart archive, and of index.yaml, to another host', async () => {
    const other = await silentListener();
    const tgz = craftTgz(chartFiles('evil', '1.0.0'));
    const redirect = () => ({ status: 302, headers: { location: `http://${other.host}/stolen` } });
    const archiveRedirect = await chartHost({ '/index.yaml': index('evil', '1.0.0', 'evil-1.0.0.tgz'), '/evil-1.0.0.tgz': redirect });
    const indexRedirect = await chartHost({ '/index.yaml': redirect, '/real.tgz': tgz });
    for (const repository of [archiveRedirect, indexRedirect]) {
      const result = await pull(repository.url, repository.host);
      expect(result).toMatchObject({ ok: false, kind: 'refused', host: other.host });
      if (!result.ok) expect(result.error).toContain('redirected from');
    }
    expect(archiveRedirect.requests).toEqual(['/index.yaml', '/evil-1.0.0.tgz']);
    expect(other.connections()).toBe(0);
  });

  it('follows a redirect on the allowed host, and checks the archive against the index digest', async () => {
    const tgz = craftTgz(chartFiles('good', '1.2.3'));
    const good = await chartHost({
      '/index.yaml': index('good', '1.2.3', 'charts/good-1.2.3.tgz', archiveDigest(tgz)),
      '/charts/good-1.2.3.tgz': () => ({ status: 301, headers: { location: '/blobs/good.tgz' } }),
      '/blobs/good.tgz': tgz,
    });
    const result = await pull(good.url, good.host, { chart: 'good', version: '~1.2.0' });
    expect(result).toMatchObject({ ok: true, version: '1.2.3', sha256: archiveDigest(tgz) });
    const tampered = await chartHost({ '/index.yaml': index('good', '1.2.3', 'good.tgz', archiveDigest(tgz).replace(/^./, '0')), '/good.tgz': tgz });
    const refused = await pull(tampered.url, tampered.host, { chart: 'good', version: '1.2.3' });
    expect(refused).toMatchObject({ ok: false, kind: 'failed' });
    if (!refused.ok) expect(refused.error).toContain('the index says');
  });

  it('tells an allowed host that does not answer (could not check) from a refused one', async () => {
    const closed = await silentListener();
    const result = await pull(`http://${closed.host}`, closed.host);
    expect(result).toMatchObject({ ok: false, kind: 'unreachable', host: closed.host });
    const failing = await chartHost({ '/index.yaml': () => ({ status: 503 }) });
    expect(await pull(failing.url, failing.host)).toMatchObject({ ok: false, kind: 'unreachable' });
    const missing = await chartHost({ '/index.yaml': index('other', '1.0.0', 'other.tgz') });
    expect(await pull(missing.url, missing.host)).toMatchObject({ ok: false, kind: 'failed' });
  });

  it('refuses an OCI token realm on another host, and a blob redirected to one', async () => {
    const other = await silentListener();
    const realm = await chartHost({
      '/v2/charts/evil/manifests/1.0.0': () => ({ status: 401, headers: { 'www-authenticate': `Bearer realm="http://${other.host}/token",service="x"` } }),
    });
    const cacheDir = await fs.mkdtemp(path.join(workDir, 'cache-'));
    const viaRealm = await pullChart({ repositoryUrl: `oci://${realm.host}/charts`, chart: 'evil', version: '1.0.0', plainHttp: true }, cacheDir, { isAllowedUrl: onlyHost(realm.host), timeoutMs: 10_000 });
    expect(viaRealm).toMatchObject({ ok: false, kind: 'refused', host: other.host });
    const layer = `sha256:${'a'.repeat(64)}`;
    const manifest = JSON.stringify({ schemaVersion: 2, layers: [{ mediaType: 'application/vnd.cncf.helm.chart.content.v1.tar+gzip', digest: layer, size: 100 }] });
    const blob = await chartHost({
      '/v2/charts/evil/manifests/1.0.0': () => ({ status: 200, headers: { 'content-type': 'application/vnd.oci.image.manifest.v1+json' }, body: manifest }),
      [`/v2/charts/evil/blobs/${layer}`]: () => ({ status: 307, headers: { location: `http://${other.host}/blob` } }),
    });
    const viaBlob = await pullChart({ repositoryUrl: `oci://${blob.host}/charts`, chart: 'evil', version: '1.0.0', plainHttp: true }, cacheDir, { isAllowedUrl: onlyHost(blob.host), timeoutMs: 10_000 });
    expect(viaBlob).toMatchObject({ ok: false, kind: 'refused', host: other.host });
    expect(other.connections()).toBe(0);
  });

  it('takes an anonymous token from an allowed realm, and never sends it to the host a blob is redirected to', async () => {
    const tgz = craftTgz(chartFiles('tokened', '2.0.0'));
    const layer = `sha256:${archiveDigest(tgz)}`;
    const manifest = JSON.stringify({ schemaVersion: 2, layers: [{ mediaType: 'application/vnd.cncf.helm.chart.content.v1.tar+gzip', digest: layer, size: tgz.length }] });
    const seen: Array<string | undefined> = [];
    const storage = http.createServer((request, response) => {
      seen.push(request.headers.authorization);
      response.writeHead(200);
      response.end(tgz);
    });
    await new Promise<void>((resolve) => storage.listen(0, '127.0.0.1', resolve));
    closers.push(() => new Promise((resolve) => storage.close(() => resolve())));
    const storageHost = `127.0.0.1:${(storage.address() as net.AddressInfo).port}`;
    const authorized = (headers: http.IncomingHttpHeaders) => headers.authorization === 'Bearer anon-token';
    let registryHost = '';
    const registry = http.createServer((request, response) => {
      const url = request.url ?? '';
      if (url.startsWith('/token')) {
        response.writeHead(200, { 'content-type': 'application/json' });
        response.end(JSON.stringify({ token: 'anon-token' }));
      } else if (!authorized(request.headers)) {
        response.writeHead(401, { 'www-authenticate': `Bearer realm="http://${registryHost}/token",service="${registryHost}",scope="repository:charts/tokened:pull"` });
        response.end();
      } else if (url === '/v2/charts/tokened/manifests/2.0.0') {
        response.writeHead(200, { 'content-type': 'application/vnd.oci.image.manifest.v1+json' });
        response.end(manifest);
      } else if (url === `/v2/charts/tokened/blobs/${layer}`) {
        response.writeHead(307, { location: `http://${storageHost}/blob` });
        response.end();
      } else {
        response.writeHead(404);
        response.end();
      }
    });
    await new Promise<void>((resolve) => registry.listen(0, '127.0.0.1', resolve));
    closers.push(() => new Promise((resolve) => registry.close(() => resolve())));
    registryHost = `127.0.0.1:${(registry.address() as net.AddressInfo).port}`;
    const cacheDir = await fs.mkdtemp(path.join(workDir, 'cache-'));
    const allowed = (url: string) => [registryHost, storageHost].includes(new URL(url.replace(/^oci:/, 'http:')).host);
    const result = await pullChart({ repositoryUrl: `oci://${registryHost}/charts`, chart: 'tokened', version: '2.0.0', plainHttp: true }, cacheDir, { isAllowedUrl: allowed, timeoutMs: 10_000 });
    expect(result).toMatchObject({ ok: true, version: '2.0.0', sha256: archiveDigest(tgz) });
    expect(seen).toEqual([undefined]);
  });

  it('does not speak plain http to an OCI registry unless the source is marked insecure', async () => {
    const registry = await chartHost({});
    const cacheDir = await fs.mkdtemp(path.join(workDir, 'cache-'));
    const result = await pullChart({ repositoryUrl: `oci://${registry.host}/charts`, chart: 'evil', version: '1.0.0' }, cacheDir, { isAllowedUrl: onlyHost(registry.host), timeoutMs: 5_000 });
    // https to a plain-http listener: a TLS failure, and no request was ever read as HTTP.
    expect(result.ok).toBe(false);
    expect(registry.requests).toEqual([]);
  });
});

describe('chart archives are unpacked without links, devices or paths out of the chart', () => {
  const unpack = async (entries: CraftedEntry[]) => unpackChartArchive(craftTgz(entries), await fs.mkdtemp(path.join(workDir, 'unpack-')));

  it('unpacks a plain chart (control)', async () => {
    const result = await unpack(chartFiles('plain', '0.1.0'));
    expect(result).toMatchObject({ ok: true, version: '0.1.0' });
    if (result.ok) expect(await fs.readFile(path.join(result.dir, 'templates', 'leak.yaml'), 'utf8')).toContain('.Files.Get');
  });

  it.each([
    ['a symbolic link to /proc/self/environ', { name: 'evil/files/data', type: '2', linkname: '/proc/self/environ' }, /symbolic link evil\/files\/data -> \/proc\/self\/environ/],
    ['a symbolic link to ../../.git/config', { name: 'evil/files/data', type: '2', linkname: '../../.git/config' }, /symbolic link .*\.git\/config/],
    ['a hard link to /etc/passwd', { name: 'evil/files/data', type: '1', linkname: '/etc/passwd' }, /hard link/],
    ['a device file', { name: 'evil/files/data', type: '3' }, /device file/],
    ['a ../ path', { name: 'evil/../../escaped.txt', data: 'x' }, /leaves the chart/],
    ['an absolute path', { name: '/tmp/guard-escaped.txt', data: 'x' }, /absolute path/],
  ] as Array<[string, CraftedEntry, RegExp]>)('refuses %s', async (_what, entry, message) => {
    const into = await fs.mkdtemp(path.join(workDir, 'unpack-'));
    const result = await unpackChartArchive(craftTgz([...chartFiles('evil', '1.0.0'), entry]), into);
    expect(result.ok).toBe(false);
    if (!result.ok) expect(result.error).toMatch(message);
    // Nothing was published, and nothing was written next to the cache.
    expect(await fs.readdir(path.join(into, 'charts', 'sha256'))).toEqual([]);
    expect(await fs.readdir(into)).toEqual(['charts']);
  });

  it('stops a chart that unpacks to more than 100 MiB, and one with too many files', async () => {
    const bomb = craftTgz([...chartFiles('bomb', '1.0.0'), { name: 'bomb/files/zeros', size: 300 * 1024 * 1024 }]);
    expect(bomb.length).toBeLessThan(2 * 1024 * 1024);
    const started = Date.now();
    const big = await unpackChartArchive(bomb, await fs.mkdtemp(path.join(workDir, 'unpack-')));
    expect(big.ok).toBe(false);
    if (!big.ok) expect(big.error).toMatch(/more than 104857600 bytes/);
    expect(Date.now() - started).toBeLessThan(20_000);
    const many = Array.from({ length: 10_001 }, (_, i) => ({ name: `many/files/f${i}`, data: '' }));
    const crowded = await unpack([...chartFiles('many', '1.0.0'), ...many]);
    expect(crowded.ok).toBe(false);
    if (!crowded.ok) expect(crowded.error).toMatch(/more than 10000 files/);
  });
});

describe('hostile charts in a pull request', () => {
  const release = (name: string, chart: Record<string, unknown>) =>
    stringify({ apiVersion: 'helm.toolkit.fluxcd.io/v2', kind: 'HelmRelease', metadata: { name, namespace: 'networking' }, spec: { interval: '30m', chart: { spec: chart }, upgrade: { remediation: { retries: 3, remediateLastFailure: true } }, values: BASE_VALUES } });
  const gitSource = (name = 'flux-system') => ({ kind: 'GitRepository', name, namespace: 'flux-system' });

  it('refuses a packaged chart whose files are links to /proc/self/environ and .git/config', async () => {
    repo = await exampleRepo();
    const archive = (link: string) => craftTgz([...chartFiles('leak', '1.0.0'), { name: 'leak/files/data', type: '2', linkname: link }]);
    await fs.mkdir(path.join(repo.dir, 'vendor'), { recursive: true });
    await fs.writeFile(path.join(repo.dir, 'vendor', 'environ.tgz'), archive('/proc/self/environ'));
    await fs.writeFile(path.join(repo.dir, 'vendor', 'git-config.tgz'), archive('../../.git/config'));
    await repo.git('config', 'guard.marker', 'GIT-CONFIG-MARKER-7731');
    await repo.commit('change', {
      'apps/environ.yaml': release('environ', { chart: './vendor/environ.tgz', sourceRef: gitSource() }),
      'apps/git-config.yaml': release('git-config', { chart: './vendor/git-config.tgz', sourceRef: gitSource() }),
    });
    const report = await runCheck({ cwd: repo.dir, base: 'main', head: 'change', cacheDir: path.join(workDir, 'engine-cache') });
    for (const name of ['environ', 'git-config']) {
      const finding = report.findings.find((f) => f.subject.name === name);
      expect(finding).toMatchObject({ rule: 'render/chart-missing', severity: 'error' });
      expect(finding?.message).toMatch(/symbolic link leak\/files\/data/);
    }
    const text = JSON.stringify(report);
    expect(text).not.toContain('GIT-CONFIG-MARKER-7731');
    expect(text).not.toMatch(/PATH=|HOME=/);
  });

  it('copies a working-tree chart without following a link to ../../.git/config', async () => {
    repo = await exampleRepo();
    await repo.git('config', 'guard.marker', 'GIT-CONFIG-MARKER-5519');
    await repo.commit('change', { 'apps/linked.yaml': release('linked', { chart: './charts/external-dns', sourceRef: gitSource() }) });
    await fs.mkdir(path.join(repo.dir, 'charts', 'external-dns', 'files'), { recursive: true });
    await fs.symlink('../../../.git/config', path.join(repo.dir, 'charts', 'external-dns', 'files', 'config'));
    const report = await runCheck({ cwd: repo.dir, base: 'main', cacheDir: path.join(workDir, 'engine-cache') });
    const finding = report.findings.find((f) => f.subject.name === 'linked');
    expect(finding?.message).toMatch(/charts\/external-dns\/files\/config is a symbolic link at working tree/);
    expect(JSON.stringify(report)).not.toContain('GIT-CONFIG-MARKER-5519');
    // The same link committed: refused at the commit too.
    const linked = await repo.commit('commit the link');
    const committed = await runCheck({ cwd: repo.dir, base: 'main', head: linked, cacheDir: path.join(workDir, 'engine-cache') });
    expect(committed.findings.find((f) => f.subject.name === 'linked')?.message).toMatch(/files\/config is a symbolic link at /);
    expect(JSON.stringify(committed)).not.toContain('GIT-CONFIG-MARKER-5519');
  });

  it('copies a chart from a mapped checkout without following its links, and reads its values files the same way', async () => {
    const checkout = await fs.mkdtemp(path.join(workDir, 'vendor-checkout-'));
    await fs.cp(path.join(repoRoot, 'fixtures', 'incident', 'base', 'charts', 'external-dns'), path.join(checkout, 'charts', 'dns'), { recursive: true });
    await fs.mkdir(path.join(checkout, 'charts', 'dns', 'files'));
    await fs.symlink('/proc/self/environ', path.join(checkout, 'charts', 'dns', 'files', 'env'));
    await fs.symlink('/etc', path.join(checkout, 'etc'));
    const vendor = stringify({ apiVersion: 'source.toolkit.fluxcd.io/v1', kind: 'GitRepository', metadata: { name: 'vendor', namespace: 'flux-system' }, spec: { interval: '1h', url: 'https://git.example.net/vendor/charts.git' } });
    const policy = `${await fs.readFile(path.join(repoRoot, 'fixtures', 'incident', 'base', '.guard.yaml'), 'utf8')}gitRepositories:\n  flux-system/vendor: ${JSON.stringify(checkout)}\n`;
    repo = await exampleRepo({ '.guard.yaml': policy, 'flux/vendor.yaml': vendor });
    await repo.commit('change', {
      'apps/mapped.yaml': release('mapped', { chart: './charts/dns', sourceRef: gitSource('vendor') }),
      'apps/mapped-values.yaml': release('mapped-values', { chart: './charts/dns', sourceRef: gitSource('vendor'), valuesFiles: ['etc/passwd'] }),
    });
    const report = await runCheck({ cwd: repo.dir, base: 'main', head: 'change', cacheDir: path.join(workDir, 'engine-cache') });
    expect(report.findings.find((f) => f.subject.name === 'mapped')?.message).toMatch(/charts\/dns\/files\/env is a symbolic link/);
    await fs.rm(path.join(checkout, 'charts', 'dns', 'files'), { recursive: true });
    const again = await runCheck({ cwd: repo.dir, base: 'main', head: 'change', cacheDir: path.join(workDir, 'engine-cache') });
    expect(again.releases.find((r) => r.name === 'mapped')?.status).toBe('rendered');
    // etc -> /etc in the checkout is not followed: the values file is simply not there.
    expect(again.findings.find((f) => f.subject.name === 'mapped-values')?.message).toContain('values file etc/passwd is not in GitRepository flux-system/vendor');
    expect(JSON.stringify(again)).not.toContain('root:x:0:0');
  });

  it('does not fetch from another port that an index in the base-allowed repository names', async () => {
    const other = await silentListener();
    const repository = await chartHost({ '/index.yaml': index('evil', '1.0.0', `http://${other.host}/evil-1.0.0.tgz`) });
    const helmRepository = stringify({ apiVersion: 'source.toolkit.fluxcd.io/v1', kind: 'HelmRepository', metadata: { name: 'charts', namespace: 'flux-system' }, spec: { interval: '1h', url: repository.url } });
    repo = await exampleRepo({ 'infrastructure/charts.yaml': helmRepository });
    await repo.commit('change', { 'apps/evil.yaml': release('evil', { chart: 'evil', version: '1.0.0', sourceRef: { kind: 'HelmRepository', name: 'charts', namespace: 'flux-system' } }) });
    const report = await runCheck({ cwd: repo.dir, base: 'main', head: 'change', cacheDir: path.join(workDir, 'engine-cache') });
    const finding = report.findings.find((f) => f.subject.name === 'evil');
    expect(finding?.rule).toBe('render/source-not-allowed');
    expect(finding?.message).toContain(`host ${other.host}`);
    expect(finding?.message).toContain('network.allowedHosts');
    expect(repository.requests).toEqual(['/index.yaml']);
    expect(other.connections()).toBe(0);
  });

  it('reports a chart from another Git repository as not checked (a warning: the change adds the release), and passes when nothing else blocks', async () => {
    const upstream = stringify({ apiVersion: 'source.toolkit.fluxcd.io/v1', kind: 'GitRepository', metadata: { name: 'upstream', namespace: 'flux-system' }, spec: { interval: '1h', url: 'https://git.example.net/vendor/charts.git', ref: { branch: 'main' } } });
    const own = stringify({ apiVersion: 'source.toolkit.fluxcd.io/v1', kind: 'GitRepository', metadata: { name: 'flux-system', namespace: 'flux-system' }, spec: { interval: '1h', url: 'https://git.example.net/ops/cluster.git', ref: { branch: 'main' } } });
    repo = await exampleRepo({ 'flux/sources.yaml': `${own}---\n${upstream}` });
    await repo.commit('change', { 'apps/foreign.yaml': release('foreign', { chart: './charts/not-here', sourceRef: gitSource('upstream') }) });
    const report = await runCheck({ cwd: repo.dir, base: 'main', head: 'change', cacheDir: path.join(workDir, 'engine-cache') });
    const finding = report.findings.find((f) => f.subject.name === 'foreign' && f.rule.startsWith('render/'));
    expect(finding).toMatchObject({ rule: 'render/source-not-checked', severity: 'warning' });
    expect(finding?.message).toContain('GitRepository flux-system/upstream, which is not this repository');
    expect(finding?.message).toContain('gitRepositories');
    expect(finding?.message).not.toContain('Chart.yaml');
    expect(report.findings.filter((f) => f.severity === 'error')).toEqual([]);
    expect(report.summary.verdict).toBe('pass');
  });
});
