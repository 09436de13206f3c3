import { promises as fs } from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import zlib from 'node:zlib';
import { stringify } from 'yaml';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { runCheck, sensitiveEnvironment } from '../../src/engine.js';
import { GuardError } from '../../src/errors.js';
import { archiveDigest } from '../../src/helm/chart-cache.js';
import { pullChart, unpackChartArchive, type PullResult } from '../../src/helm/pull.js';
import { redactReport } from '../../src/report/redact.js';
import { renderSarif } from '../../src/report/sarif.js';
import { renderText } from '../../src/report/text.js';
import { countingListener, routedServer, type Route } from '../support/loopback.js';
import { ChartServer } from '../support/chart-server.js';
import { TestRepo } from '../support/git-repo.js';
import { externalDnsData, incidentFixture } from '../support/paths.js';
import { FLEET_HOSTS, fleetFiles, fleetFlake, SITE_POLICY } from '../support/fleet.js';
import { BASE_VALUES, exampleRepo, externalDnsRelease } from '../support/scenario.js';
import { chartFiles, craftTgz, type CraftedEntry } from '../support/tar-craft.js';

/**
 * Red team: attacks of a hostile pull request against the defences of issue 12, each with real
 * parts (git repositories in temp dirs, the bundled helm, nix, loopback listeners that must stay
 * silent), each asserting the defence. Attacks that once got through say so and why
 * ("Was getting through"), next to the test that now holds them.
 */

let workDir: string;
const closers: Array<() => Promise<void>> = [];
const repos: TestRepo[] = [];
const cacheDir = () => path.join(workDir, 'engine-cache');

beforeAll(async () => {
  workDir = await fs.mkdtemp(path.join(os.tmpdir(), 'guard-red-team-'));
});
afterAll(async () => {
  await fs.rm(workDir, { recursive: true, force: true });
});
afterEach(async () => {
  await Promise.all(closers.splice(0).map((close) => close()));
  await Promise.all(repos.splice(0).map((r) => r.remove()));
});

function track<T extends TestRepo>(repo: T): T {
  repos.push(repo);
  return repo;
}

const silentListener = () => countingListener(closers);

const chartHost = (routes: Record<string, Route>) => routedServer(routes, closers);

const onlyHost = (host: string) => (url: string) => {
  try {
    return new URL(url.includes('://') ? url.replace(/^oci:/, 'http:') : `http://${url}`).host === host;
  } catch {
    return false;
  }
};

const index = (chart: string, version: string, url: string, digest?: string) =>
  stringify({ apiVersion: 'v1', entries: { [chart]: [{ name: chart, version, urls: [url], ...(digest ? { digest } : {}) }] } });

async function pull(repositoryUrl: string, allowedHost: string, request: { chart?: string; version?: string } = {}): Promise<PullResult> {
  const cache = await fs.mkdtemp(path.join(workDir, 'cache-'));
  return pullChart({ repositoryUrl, chart: request.chart ?? 'evil', version: request.version ?? '1.0.0' }, cache, { isAllowedUrl: onlyHost(allowedHost), timeoutMs: 10_000 });
}

async function guardError(promise: Promise<unknown>): Promise<GuardError> {
  try {
    await promise;
  } catch (error) {
    if (error instanceof GuardError) return error;
    throw error;
  }
  throw new Error('expected the guard to refuse (exit 2), but the check completed');
}

function withEnv(values: Record<string, string>): void {
  const saved = Object.fromEntries(Object.keys(values).map((k) => [k, process.env[k]]));
  Object.assign(process.env, values);
  closers.push(async () => {
    for (const [k, v] of Object.entries(saved)) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
  });
}

// ---------------------------------------------------------------------------------------------
// Class 3: chart fetching. The allow-list is the base's hosts; every URL a reply names is checked.
// ---------------------------------------------------------------------------------------------

describe('RT class 3: host spellings, userinfo and redirects cannot reach a host the base does not allow', () => {
  it('an index entry naming another loopback port in 13 spellings (decimal, hex, octal, short, IPv4-mapped IPv6, localhost., userinfo, backslash) reaches nothing', async () => {
    const other = await silentListener();
    const repository = await chartHost({});
    const p = other.port;
    const spellings = [
      `http://2130706433:${p}/evil.tgz`,
      `http://0x7f000001:${p}/evil.tgz`,
      `http://0177.0.0.1:${p}/evil.tgz`,
      `http://127.1:${p}/evil.tgz`,
      `http://127.0.0.1.:${p}/evil.tgz`,
      `http://[::ffff:127.0.0.1]:${p}/evil.tgz`,
      `http://localhost:${p}/evil.tgz`,
      `http://localhost.:${p}/evil.tgz`,
      `http://LOCALHOST:${p}/evil.tgz`,
      `http://${repository.host}@127.0.0.1:${p}/evil.tgz`,
      `http://127.0.0.1:${p}\\@${repository.host}/evil.tgz`,
      `http://127.0.0.1:${p}#@${repository.host}/evil.tgz`,
      `//127.0.0.1:${p}/evil.tgz`,
    ];
    for (const spelling of spellings) {
      const host = await chartHost({ '/index.yaml': index('evil', '1.0.0', spelling) });
      const result = await pull(host.url, host.host);
      expect(result.ok, spelling).toBe(false);
      if (!result.ok) expect(['refused', 'failed'], `${spelling}: ${result.error}`).toContain(result.kind);
    }
    expect(other.connections()).toBe(0);
  });

  it('a redirect to a scheme-relative URL, an upper-case scheme, or userinfo naming the allowed host reaches nothing', async () => {
    const other = await silentListener();
    const locations = [`//127.0.0.1:${other.port}/x`, `HTTP://127.0.0.1:${other.port}/x`, `http://127.0.0.1:${other.port}%2F@127.0.0.1/x`, `http://[::ffff:7f00:1]:${other.port}/x`];
    for (const location of locations) {
      const tgz = craftTgz(chartFiles('evil', '1.0.0'));
      const repository = await chartHost({ '/index.yaml': index('evil', '1.0.0', 'evil-1.0.0.tgz'), '/evil-1.0.0.tgz': () => ({ status: 308, headers: { location } }), '/x': tgz });
      const result = await pull(repository.url, repository.host);
      expect(result.ok, location).toBe(false);
    }
    expect(other.connections()).toBe(0);
  });

  it('a chart URL with credentials for the allowed host is not fetched, and the password is in no message', async () => {
    const tgz = craftTgz(chartFiles('evil', '1.0.0'));
    const repository = await chartHost({ '/evil.tgz': tgz });
    await chartHost({});
    const served = await chartHost({ '/index.yaml': index('evil', '1.0.0', `http://bob:Pa55-RT-0xdeadbeef@${repository.host}/evil.tgz`) });
    const result = await pull(served.url, served.host);
    expect(result.ok).toBe(false);
    if (!result.ok) expect(result.error).not.toContain('Pa55-RT-0xdeadbeef');
    expect(repository.requests).toEqual([]);
  });

  it('an index.yaml sent gzip-encoded that inflates past the bound is stopped (no 64 MiB+ in memory, quickly)', async () => {
    const bomb = zlib.gzipSync(Buffer.alloc(200 * 1024 * 1024, 0x20), { level: 9 });
    expect(bomb.length).toBeLessThan(1024 * 1024);
    const repository = await chartHost({ '/index.yaml': () => ({ status: 200, headers: { 'content-encoding': 'gzip', 'content-type': 'application/x-yaml' }, body: bomb }) });
    const started = Date.now();
    const result = await pull(repository.url, repository.host);
    expect(result.ok).toBe(false);
    if (!result.ok) expect(result.error).toMatch(/more than/);
    expect(Date.now() - started).toBeLessThan(20_000);
  });
});

describe('RT class 3: OCI registries cannot send the guard elsewhere', () => {
  const manifestOf = (layer: string, size: number, extra: Record<string, unknown> = {}) =>
    JSON.stringify({ schemaVersion: 2, layers: [{ mediaType: 'application/vnd.cncf.helm.chart.content.v1.tar+gzip', digest: layer, size, ...extra }] });
  const pullOci = async (host: string, version: string, allowed = onlyHost(host)) =>
    pullChart({ repositoryUrl: `oci://${host}/charts`, chart: 'evil', version, plainHttp: true }, await fs.mkdtemp(path.join(workDir, 'cache-')), { isAllowedUrl: allowed, timeoutMs: 10_000 });

  it('a tag list whose Link header names another host (absolute, scheme-relative) is not followed there', async () => {
    const other = await silentListener();
    const registry = await chartHost({
      '/v2/charts/evil/tags/list': (url) => url.includes('last=')
        ? { status: 200, body: JSON.stringify({ tags: [] }) }
        : { status: 200, headers: { link: `<http://${other.host}/v2/charts/evil/tags/list?last=1.0.0&n=1000>; rel="next", <//${other.host}/v2/charts/evil/tags/list?last=x>; rel="next"` }, body: JSON.stringify({ tags: ['1.0.0'] }) },
    });
    const result = await pullOci(registry.host, '>=1.0.0');
    expect(result.ok).toBe(false);
    expect(other.connections()).toBe(0);
  });

  it('a token realm with userinfo naming the registry, or a realm on another port of the same address, gets no connection', async () => {
    const other = await silentListener();
    for (const realm of [`http://REGISTRY@127.0.0.1:${other.port}/token`, `http://127.0.0.1:${other.port}/token`, `http://[::ffff:127.0.0.1]:${other.port}/token`]) {
      const registry = await chartHost({
        '/v2/charts/evil/manifests/1.0.0': () => ({ status: 401, headers: { 'www-authenticate': `Bearer realm="${realm.replace('REGISTRY', 'x')}",service="x"` } }),
      });
      const result = await pullOci(registry.host, '1.0.0');
      expect(result.ok, realm).toBe(false);
    }
    expect(other.connections()).toBe(0);
  });

  it('a foreign layer descriptor (urls: [another host]) is fetched from the registry by digest, never from its urls', async () => {
    const other = await silentListener();
    const tgz = craftTgz(chartFiles('evil', '1.0.0'));
    const layer = `sha256:${archiveDigest(tgz)}`;
    const registry = await chartHost({
      '/v2/charts/evil/manifests/1.0.0': () => ({ status: 200, headers: { 'content-type': 'application/vnd.oci.image.manifest.v1+json' }, body: manifestOf(layer, tgz.length, { urls: [`http://${other.host}/blob`] }) }),
      [`/v2/charts/evil/blobs/${layer}`]: tgz,
    });
    const result = await pullOci(registry.host, '1.0.0');
    expect(result).toMatchObject({ ok: true, sha256: archiveDigest(tgz) });
    expect(other.connections()).toBe(0);
  });
});

// ---------------------------------------------------------------------------------------------
// Class 2: tar tricks the chart unpacker must refuse.
// ---------------------------------------------------------------------------------------------

/** A raw 512-byte tar header (no checks), for PAX and GNU long-name records craftTgz does not make. */
function rawHeader(name: string, type: string, size: number, prefix = ''): Buffer {
  const block = Buffer.alloc(512, 0);
  const put = (text: string, offset: number, length: number) => block.write(text.slice(0, length), offset, length, 'utf8');
  const octal = (value: number, length: number) => value.toString(8).padStart(length - 1, '0') + '\0';
  put(name, 0, 100);
  put(octal(0o644, 8), 100, 8);
  put(octal(0, 8), 108, 8);
  put(octal(0, 8), 116, 8);
  put(octal(size, 12), 124, 12);
  put(octal(0, 12), 136, 12);
  put('        ', 148, 8);
  put(type, 156, 1);
  put('ustar\0', 257, 6);
  put('00', 263, 2);
  put(prefix, 345, 155);
  let sum = 0;
  for (const byte of block) sum += byte;
  put(sum.toString(8).padStart(6, '0') + '\0 ', 148, 8);
  return block;
}

function rawEntry(name: string, type: string, data: string | Buffer, prefix = ''): Buffer {
  const body = Buffer.from(data);
  return Buffer.concat([rawHeader(name, type, body.length, prefix), body, Buffer.alloc((512 - (body.length % 512)) % 512)]);
}

function paxRecord(key: string, value: string): string {
  const tail = ` ${key}=${value}\n`;
  let length = tail.length + 1;
  while (String(length).length + tail.length !== length) length = String(length).length + tail.length;
  return `${length}${tail}`;
}

/** The plain chart's entries as raw tar bytes, then the extra raw entries, gzip-compressed. */
function tgzWith(...extra: Buffer[]): Buffer {
  const plain = zlib.gunzipSync(craftTgz(chartFiles('evil', '1.0.0')));
  return zlib.gzipSync(Buffer.concat([plain.subarray(0, plain.length - 1024), ...extra, Buffer.alloc(1024)]));
}

describe('RT class 2: archive entries that name their path another way are refused', () => {
  const target = `guard-rt-escaped-${process.pid}.txt`;
  // [what, entries, must be refused]; the others may be read, but only as plain files inside the chart.
  const cases: Array<[string, Buffer, boolean]> = [
    ['a PAX path record ../../ over a harmless name', Buffer.concat([rawEntry('PaxHeader/x', 'x', paxRecord('path', `evil/../../${target}`)), rawEntry('evil/files/harmless', '0', 'pwned')]), true],
    ['a PAX global header setting an absolute path for what follows', Buffer.concat([rawEntry('GlobalHead', 'g', paxRecord('path', `/tmp/${target}`)), rawEntry('evil/files/harmless', '0', 'pwned')]), false],
    ['a GNU long name (type L) of ../', Buffer.concat([rawEntry('././@LongLink', 'L', `evil/../../${target}\0`), rawEntry('evil/files/harmless', '0', 'pwned')]), true],
    ['a ustar prefix field of ../..', rawEntry(target, '0', 'pwned', 'evil/../..'), true],
    ['a PAX linkpath on a symbolic link to /proc/self/environ', Buffer.concat([rawEntry('PaxHeader/y', 'x', paxRecord('linkpath', '/proc/self/environ')), rawEntry('evil/files/env', '2', '')]), true],
    ['a GNU sparse file', rawEntry('evil/files/sparse', 'S', 'x'), false],
  ];
  it.each(cases)('%s', async (_what, entries, refused) => {
    const into = await fs.mkdtemp(path.join(workDir, 'unpack-'));
    const result = await unpackChartArchive(tgzWith(entries), into);
    if (refused) expect(result.ok).toBe(false);
    if (result.ok) {
      // Accepted only if it stayed inside the chart and is not a link.
      const files = await fs.readdir(result.dir, { recursive: true, withFileTypes: true });
      expect(files.every((f) => !f.isSymbolicLink())).toBe(true);
    }
    expect(await fs.stat(path.join(into, '..', '..', target)).catch(() => undefined)).toBeUndefined();
    expect(await fs.stat(path.join('/tmp', target)).catch(() => undefined)).toBeUndefined();
    expect(await fs.stat(path.join(path.dirname(into), target)).catch(() => undefined)).toBeUndefined();
  });
});

// ---------------------------------------------------------------------------------------------
// Class 6: deploy policy. Sites from the base; nix reads nothing of the machine.
// ---------------------------------------------------------------------------------------------

async function fleetRepo(policy = SITE_POLICY, files: Record<string, string> = {}): Promise<TestRepo> {
  const repo = track(await TestRepo.create());
  await repo.commit('fleet', { ...fleetFiles(), '.guard.yaml': policy, ...files });
  await repo.branch('change');
  return repo;
}

const checkFleet = (repo: TestRepo) => runCheck({ cwd: repo.dir, base: 'main', head: 'change', cacheDir: cacheDir() });

/** Store paths (folders) that hold a file of this name: what nix copied of the machine. */
async function storeCopiesOf(fileName: string): Promise<string[]> {
  const entries = await fs.readdir('/nix/store').catch(() => [] as string[]);
  const found: string[] = [];
  for (const entry of entries) {
    if (!entry.endsWith('-source')) continue;
    if (await fs.stat(path.join('/nix/store', entry, fileName)).then(() => true, () => false)) found.push(entry);
  }
  return found;
}

/** A folder of the machine (outside every revision) holding a marker file, as a runner's ~/.ssh or checkout .git would be. */
async function hostFolder(): Promise<{ dir: string; marker: string }> {
  const dir = await fs.mkdtemp(path.join(workDir, 'host-secret-'));
  const marker = `rt-host-marker-${process.pid}-${Math.random().toString(36).slice(2)}`;
  await fs.writeFile(path.join(dir, marker), `HOST-SECRET-${marker}\n`);
  return { dir, marker };
}

describe('RT class 6: the site of a redeployed host comes from the base, whatever the change names it', () => {
  // Was getting through: a hostname the pattern does not match (upper case: DNS and ssh do not care) falls back to the node name, which the change chose; src/deploy/sites.ts:patternGroups/siteOf
  it('a node re-pointed at CC-SE-STO-CORE-01.example.net (upper case) while keeping its hel name is a sto redeploy: two sites, blocked', async () => {
    const repo = await fleetRepo();
    const flake = fleetFlake({ extraNodeAttributes: { 'cc-fi-hel-core-01': 'hostname = "CC-SE-STO-CORE-01.example.net";' } });
    await repo.commit('tune hel', { 'flake.nix': flake, 'hosts/cc-fi-hel-k3s-02.nix': '{\n  role = "tuned";\n}\n' });
    const report = await checkFleet(repo);
    const moved = report.deploy?.targets.find((t) => t.node === 'cc-fi-hel-core-01');
    expect(moved?.change).toBe('changed');
    expect(moved?.site).not.toBe('hel');
    expect(report.summary.verdict).toBe('fail');
  });

  // Was getting through: the hostname is an address the base deploys to in site sto, but sites fall back to the node name the change keeps; src/deploy/sites.ts:siteOf (base hostnames are never consulted)
  it('a hel-named node re-pointed at the address the base deploys to in sto is a sto redeploy, not hel', async () => {
    const ips: Record<string, string> = { 'cc-fr-lau-store-01': '10.0.1.1', 'cc-fi-hel-k3s-02': '10.0.2.1', 'cc-fi-hel-core-01': '10.0.2.2', 'cc-se-sto-core-01': '10.0.3.1' };
    const byIp = (overrides: Record<string, string> = {}) => fleetFlake({ extraNodeAttributes: Object.fromEntries(FLEET_HOSTS.map((h) => [h, `hostname = "${overrides[h] ?? ips[h]}";`])) });
    const repo = await fleetRepo(SITE_POLICY, { 'flake.nix': byIp() });
    await repo.commit('tune hel', { 'flake.nix': byIp({ 'cc-fi-hel-core-01': '10.0.3.1' }), 'hosts/cc-fi-hel-k3s-02.nix': '{\n  role = "tuned";\n}\n' });
    const report = await checkFleet(repo);
    expect(report.deploy?.targets.find((t) => t.node === 'cc-fi-hel-core-01')).toMatchObject({ change: 'changed', hostname: '10.0.3.1' });
    expect(report.deploy?.targets.find((t) => t.node === 'cc-fi-hel-core-01')?.site).not.toBe('hel');
    expect(report.summary.verdict).toBe('fail');
  });
});

describe('RT class 2/6: nix copies nothing of the machine into the store', () => {
  // Was getting through: `nix flake metadata` locks (fetches) a path: input into the world-readable /nix/store before localInputs judges it; src/nix/eval-deploy.ts:evaluateDeployNodes (nix sees the whole file system)
  it('an unlocked path: input naming a folder of the machine is refused before nix copies it into /nix/store', async () => {
    const host = await hostFolder();
    const repo = await fleetRepo();
    const flake = fleetFlake().replace('outputs = { self }: let', `inputs.sec = { url = "path:${host.dir}"; flake = false; };\n  outputs = { self, sec }: let`);
    await repo.commit('read the host', { 'flake.nix': flake });
    const error = await guardError(checkFleet(repo));
    expect(error.message).toContain('flake input "sec"');
    expect(await storeCopiesOf(host.marker)).toEqual([]);
  });

  // Was getting through: fetchTree { type = "path"; narHash } counts as locked under pure-eval, so nix 2.8 copies any folder into /nix/store and the report quotes its store path and NAR hash; src/nix/eval-deploy.ts:evaluateDeployNodes
  it('builtins.fetchTree of a machine folder with a made-up narHash copies nothing and reports no hash of it', async () => {
    const host = await hostFolder();
    const repo = await fleetRepo();
    const fetch = `builtins.fetchTree { type = "path"; path = "${host.dir}"; narHash = "sha256-${'A'.repeat(43)}="; }`;
    const flake = fleetFlake().replace('common = import ./modules/common.nix;', `common = { motd = builtins.readFile "\${${fetch}}/${host.marker}"; };`);
    await repo.commit('read the host at eval time', { 'flake.nix': flake });
    const outcome = await checkFleet(repo).then((report) => JSON.stringify(report), (error: Error) => error.message);
    expect(outcome).not.toMatch(/got 'sha256-/);
    expect(outcome).not.toContain(`HOST-SECRET-${host.marker}`);
    expect(await storeCopiesOf(host.marker)).toEqual([]);
  });

  it('a flake that asks for its own nix settings (nixConfig: allowed-uris, restrict-eval off, substituters) gets none: the listener stays silent', async () => {
    const other = await silentListener();
    const repo = await fleetRepo();
    const flake = fleetFlake()
      .replace('description = "Fleet";', `description = "Fleet";\n  nixConfig = { allowed-uris = "http://127.0.0.1:${other.port}"; restrict-eval = false; pure-eval = false; extra-substituters = [ "http://127.0.0.1:${other.port}" ]; };`)
      .replace('common = import ./modules/common.nix;', `common = { motd = builtins.readFile (builtins.fetchurl "http://127.0.0.1:${other.port}/motd"); };`);
    await repo.commit('widen my own fence', { 'flake.nix': flake });
    const error = await guardError(checkFleet(repo));
    expect(error.message).toContain('could not check the deploy targets');
    expect(other.connections()).toBe(0);
  });

  it('a flake.lock path input spelled /nix/store/../../<machine folder> is refused as outside the revision', async () => {
    const host = await hostFolder();
    const repo = await fleetRepo();
    const sneaky = `/nix/store/../..${host.dir}`;
    const flake = fleetFlake().replace('outputs = { self }: let', `inputs.sec = { url = "path:${sneaky}"; flake = false; };\n  outputs = { self, sec }: let`);
    const lock = JSON.stringify({
      nodes: { root: { inputs: { sec: 'sec' } }, sec: { flake: false, locked: { type: 'path', path: sneaky, narHash: `sha256-${'B'.repeat(43)}=`, lastModified: 1 }, original: { type: 'path', path: sneaky } } },
      root: 'root',
      version: 7,
    });
    await repo.commit('read the host through the store', { 'flake.nix': flake, 'flake.lock': lock });
    const error = await guardError(checkFleet(repo));
    expect(error.message).toContain('flake input "sec"');
    expect(error.message).not.toContain(`HOST-SECRET-${host.marker}`);
  });
});

// ---------------------------------------------------------------------------------------------
// Class 5: policy from the base only. A change that widens its own fence has no effect.
// ---------------------------------------------------------------------------------------------

const HR = 'infrastructure/external-dns/helmrelease.yaml';
const INCIDENT_FLAG = '--traefik-disable-legacy';
const helmRelease = (name: string, chart: Record<string, unknown>, values: Record<string, unknown> = BASE_VALUES) =>
  stringify({ apiVersion: 'helm.toolkit.fluxcd.io/v2', kind: 'HelmRelease', metadata: { name, namespace: 'networking' }, spec: { interval: '30m', chart: { spec: chart }, upgrade: { remediation: { retries: 3, remediateLastFailure: true } }, values } });
const object = (apiVersion: string, kind: string, name: string, spec: Record<string, unknown>, namespace = 'flux-system') => stringify({ apiVersion, kind, metadata: { name, namespace }, spec });

describe('RT class 5: a change cannot widen the fence that judges it', () => {
  it('a .guard.yaml the change adds with allowedHosts ["*"], a mirror to loopback and gitRepositories: {x: "/"} changes nothing: no contact, no host file, exit 0 impossible with the flag', async () => {
    const other = await silentListener();
    const mirror = await silentListener();
    const repo = track(await exampleRepo());
    await repo.commit('widen', {
      '.guard.yaml': `version: 1\nnetwork:\n  allowedHosts: ["*", "**", "127.0.0.1:*"]\ncharts:\n  mirrors:\n    "https://charts.example.net": "http://${mirror.host}"\ngitRepositories:\n  flux-system/host-root: "/"\nrules:\n  render/source-not-allowed: "off"\n  container-flags/unknown-flag: "off"\n`,
      'flux/sources.yaml': [
        object('source.toolkit.fluxcd.io/v1', 'HelmRepository', 'loopback', { interval: '1h', url: `http://${other.host}` }),
        object('source.toolkit.fluxcd.io/v1', 'HelmRepository', 'mirrored', { interval: '1h', url: 'https://charts.example.net' }),
        object('source.toolkit.fluxcd.io/v1', 'GitRepository', 'host-root', { interval: '1h', url: 'https://git.example.net/elsewhere.git', ref: { branch: 'main' } }),
      ].join('---\n'),
      'apps/loopback.yaml': helmRelease('loopback', { chart: 'evil', version: '1.0.0', sourceRef: { kind: 'HelmRepository', name: 'loopback', namespace: 'flux-system' } }),
      'apps/mirrored.yaml': helmRelease('mirrored', { chart: 'evil', version: '1.0.0', sourceRef: { kind: 'HelmRepository', name: 'mirrored', namespace: 'flux-system' } }),
      'apps/host-root.yaml': helmRelease('host-root', { chart: './etc', sourceRef: { kind: 'GitRepository', name: 'host-root', namespace: 'flux-system' }, valuesFiles: ['etc/passwd'] }),
      [HR]: externalDnsRelease({ ...BASE_VALUES, extraArgs: [INCIDENT_FLAG] }),
    });
    const report = await runCheck({ cwd: repo.dir, base: 'main', head: 'change', cacheDir: cacheDir() });
    expect(other.connections()).toBe(0);
    expect(mirror.connections()).toBe(0);
    expect(report.findings.find((f) => f.subject.name === 'loopback')?.rule).toBe('render/source-not-allowed');
    expect(report.findings.find((f) => f.subject.name === 'host-root')?.rule).toBe('render/source-not-checked');
    expect(JSON.stringify(report)).not.toMatch(/root:x:0:0/);
    expect(report.findings.some((f) => f.rule === 'container-flags/unknown-flag' && f.severity === 'error')).toBe(true);
    expect(report.summary.verdict).toBe('fail');
  });
});

// ---------------------------------------------------------------------------------------------
// Class 10 / report integrity: ways to keep the incident flag out of what the guard renders.
// ---------------------------------------------------------------------------------------------

describe('RT class 10: the incident flag cannot pass by being hidden from the render', () => {
  // Was getting through: helm template is always run as an install (.Release.IsUpgrade false), while helm-controller upgrades a release the base already has; src/helm/template.ts:templateArguments (no --is-upgrade), src/flux/render.ts (action not passed, not in the render-cache key)
  it('a chart that adds the flag only on upgrade ({{ if .Release.IsUpgrade }}) is rendered as helm-controller upgrades it: blocked', async () => {
    const repo = track(await exampleRepo());
    const template = await fs.readFile(path.join(repo.dir, 'charts/external-dns/templates/deployment.yaml'), 'utf8');
    const hidden = template.replace('            - --provider={{ .Values.provider.name }}\n', `            - --provider={{ .Values.provider.name }}\n            {{- if .Release.IsUpgrade }}\n            - ${INCIDENT_FLAG}\n            {{- end }}\n`);
    expect(hidden).not.toBe(template);
    await repo.commit('only on upgrade', { 'charts/external-dns/templates/deployment.yaml': hidden });
    const report = await runCheck({ cwd: repo.dir, base: 'main', head: 'change', cacheDir: cacheDir() });
    expect(report.releases.find((r) => r.name === 'external-dns')?.status).toBe('rendered');
    expect(report.findings.some((f) => f.rule === 'container-flags/unknown-flag' && f.message.includes('traefik-disable-legacy'))).toBe(true);
    expect(report.summary.verdict).toBe('fail');
  });

  // Was getting through: a chart source the change introduces that is not this repository is only a notice (render/source-not-checked), so moving a checked release onto it, flag and all, exits 0; src/flux/chart-source.ts:resolveFromGit (foreign) + src/engine.ts:uncheckedReleaseFloor (notice)
  it('moving a checked release onto a GitRepository the change adds (not this repository), with the flag, does not pass', async () => {
    const repo = track(await exampleRepo());
    const foreign = object('source.toolkit.fluxcd.io/v1', 'GitRepository', 'attacker-charts', { interval: '1m', url: 'https://git.example.net/attacker/charts.git', ref: { branch: 'main' } });
    const moved = externalDnsRelease({ ...BASE_VALUES, extraArgs: [INCIDENT_FLAG] }).replace('name: flux-system\n', 'name: attacker-charts\n');
    expect(moved).toContain('attacker-charts');
    await repo.commit('move the chart', { 'flux/attacker.yaml': foreign, [HR]: moved });
    const report = await runCheck({ cwd: repo.dir, base: 'main', head: 'change', cacheDir: cacheDir() });
    expect(report.releases.find((r) => r.name === 'external-dns')?.status).toBe('not-checked');
    expect(report.summary.verdict).toBe('fail');
  });

  // Decided: the guard never holds the cluster's age key, so values it cannot decrypt cannot be judged.
  // Blocking them would block every secret rotation (a false block, the worst result); they are a
  // warning naming the Secret instead, never silent (--fail-on warning makes it block).
  it('the flag inside a SOPS-encrypted values Secret the change adds is a visible warning naming the Secret, not a silent pass', async () => {
    const repo = track(await exampleRepo());
    const sopsSecret = [
      'apiVersion: v1',
      'kind: Secret',
      'metadata:',
      '  name: dns-extra',
      '  namespace: networking',
      'stringData:',
      '  values.yaml: ENC[AES256_GCM,data:bm90IHJlYWxseSBlbmNyeXB0ZWQ=,iv:aXY=,tag:dGFn,type:str]',
      'sops:',
      '  age:',
      '    - recipient: age1ql3z7hjy54pw3hyww5ayyfg7zqgvc7w3j2elw8zmrj2kg5sfn9aqmcac8p',
      '      enc: |',
      '        -----BEGIN AGE ENCRYPTED FILE-----',
      '        YWdlLWVuY3J5cHRpb24ub3JnL3YxCi0+IFgyNTUxOSBmYWtl',
      '        -----END AGE ENCRYPTED FILE-----',
      '  lastmodified: "2026-11-29T16:00:00Z"',
      '  mac: ENC[AES256_GCM,data:bWFj,iv:aXY=,tag:dGFn,type:str]',
      '  version: 3.9.0',
      '',
    ].join('\n');
    await repo.commit('values from an encrypted Secret', {
      'infrastructure/external-dns/dns-extra.sops.yaml': sopsSecret,
      [HR]: externalDnsRelease(BASE_VALUES, { valuesFrom: [{ kind: 'Secret', name: 'dns-extra' }] }),
    });
    const report = await runCheck({ cwd: repo.dir, base: 'main', head: 'change', cacheDir: cacheDir() });
    const unknown = report.findings.filter((f) => f.rule === 'render/values-unknown');
    expect(unknown.map((f) => f.severity)).toEqual(['warning']);
    expect(unknown[0]!.message).toContain('dns-extra');
    expect(unknown[0]!.introduced).toBe(true);
    const strict = await runCheck({ cwd: repo.dir, base: 'main', head: 'change', cacheDir: cacheDir(), failOn: 'warning' });
    expect(strict.summary.verdict).toBe('fail');
  });

  // Was getting through: the fingerprint hashes the chart folder only, so a change to a file:// dependency that source-controller packs into the chart leaves the release "unchanged" and unrendered; src/flux/fingerprint.ts:hashChartSource (and src/flux/chart-source.ts:resolveFromGit never resolves file:// dependencies, so such a chart is render/failed whenever it is touched)
  it('a change only to a file:// dependency of the chart (Chart.yaml dependencies) re-renders the release', async () => {
    const library = { 'charts/extras/Chart.yaml': 'apiVersion: v2\nname: extras\nversion: 0.1.0\n', 'charts/extras/templates/cm.yaml': 'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: extras\ndata:\n  a: "1"\n' };
    const repo = track(await exampleRepo(library));
    const chartYaml = await fs.readFile(path.join(repo.dir, 'charts/external-dns/Chart.yaml'), 'utf8');
    await repo.git('checkout', '--quiet', 'main');
    await repo.commit('depend on extras', { 'charts/external-dns/Chart.yaml': `${chartYaml}dependencies:\n  - name: extras\n    version: 0.1.0\n    repository: file://../extras\n` });
    await repo.branch('change');
    await repo.commit('only the dependency', { 'charts/extras/templates/deploy.yaml': `apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: extra\nspec:\n  selector: {matchLabels: {a: b}}\n  template:\n    metadata: {labels: {a: b}}\n    spec:\n      containers:\n        - name: external-dns\n          image: registry.k8s.io/external-dns/external-dns:v0.19.0\n          args: ["${INCIDENT_FLAG}"]\n` });
    const report = await runCheck({ cwd: repo.dir, base: 'main', head: 'change', cacheDir: cacheDir() });
    expect(report.releases.find((r) => r.name === 'external-dns')?.status).not.toBe('unchanged');
    expect(report.summary.verdict).toBe('fail');
  });
});

// ---------------------------------------------------------------------------------------------
// Class 8: redaction. Encoded forms of a Secret value or of the guard's own tokens.
// ---------------------------------------------------------------------------------------------

/** RFC 4648 base32, as sprig's b32enc writes it. */
function base32(text: string): string {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
  let bits = '';
  for (const byte of Buffer.from(text)) bits += byte.toString(2).padStart(8, '0');
  let out = '';
  for (let i = 0; i < bits.length; i += 5) out += alphabet[parseInt(bits.slice(i, i + 5).padEnd(5, '0'), 2)];
  return out.padEnd(Math.ceil(out.length / 8) * 8, '=');
}

/** Every window of `size` characters of the secret: any of them in an output is a leak. */
const windows = (secret: string, size = 12) => Array.from({ length: secret.length - size + 1 }, (_, i) => secret.slice(i, i + size));

describe('RT class 8: a chart the change edits re-encodes a Secret value into an unknown flag', () => {
  const SECRET = 'Tok<en>&S3cr3t-4242xyzQ';
  // Was getting through: the safety net knows the Secret value raw, trimmed, base64 and URL-encoded only; a chart that prints it hex (printf "%x"), base32 (b32enc), upper-cased or JSON-escaped (toJson: \u003c) is quoted in the evidence unmasked, because the argument is not found in the values; src/report/redact.ts:sensitiveForms, src/checks/container-flags.ts:toFinding (fromValues false -> no mask)
  it('the hex, base32, upper-case and JSON-escaped forms reach no report (JSON, SARIF, text)', async () => {
    const repo = track(await exampleRepo());
    const template = await fs.readFile(path.join(repo.dir, 'charts/external-dns/templates/deployment.yaml'), 'utf8');
    const leaking = template.replace('            - --provider={{ .Values.provider.name }}\n', [
      '            - --provider={{ .Values.provider.name }}',
      '            {{- with .Values.leak }}',
      '            - --leak-hex={{ printf "%x" . }}',
      '            - --leak-b32={{ b32enc . }}',
      '            - --leak-upper={{ upper . }}',
      '            - --leak-json={{ toJson . }}',
      '            {{- end }}',
      '',
    ].join('\n'));
    const secret = `apiVersion: v1\nkind: Secret\nmetadata:\n  name: leak-values\n  namespace: networking\nstringData:\n  values.yaml: |\n    leak: "${SECRET}"\n`;
    await repo.commit('encode it', {
      'charts/external-dns/templates/deployment.yaml': leaking,
      'infrastructure/external-dns/leak-values.yaml': secret,
      [HR]: externalDnsRelease(BASE_VALUES, { valuesFrom: [{ kind: 'Secret', name: 'leak-values' }] }),
    });
    const { checkRevisions } = await import('../../src/engine.js');
    const { report, secrets } = await checkRevisions({ cwd: repo.dir, base: 'main', head: 'change', cacheDir: cacheDir() });
    expect(report.findings.filter((f) => f.rule === 'container-flags/unknown-flag' && /--leak-/.test(f.message)).length).toBeGreaterThanOrEqual(4);
    const outputs = [JSON.stringify(report), JSON.stringify(renderSarif(report)), await renderText(report, (file) => fs.readFile(path.join(repo.dir, file), 'utf8'), { color: false, secrets })];
    const forms = [Buffer.from(SECRET).toString('hex'), base32(SECRET).replace(/=+$/, ''), SECRET.toUpperCase(), ...windows(SECRET)];
    for (const output of outputs) for (const form of forms) expect(output, form).not.toContain(form);
  });
});

describe('RT class 8: the guard\'s own tokens in encoded forms a tool prints', () => {
  const TOKEN = 'ghs_RTr3dT3amJobT0ken0123456789abcdEF';
  const AGE_KEY = 'AGE-SECRET-KEY-1RTQ9Z8Y7X6W5V4U3T2S1R0QPONMLKJIHGFEDCBA0987654321ZYX';
  const finding = (text: string) => ({
    rule: 'render/failed', severity: 'error' as const, message: 'helm template failed', location: { path: HR, line: 1 },
    subject: { kind: 'HelmRelease' as const, namespace: 'networking', name: 'external-dns' }, introduced: true, evidence: [text],
  });
  const net = (text: string) => {
    const [out] = redactReport({ findings: [finding(text)] }, [], sensitiveEnvironment(process.env)).findings;
    return out!.evidence![0]!;
  };

  it('control: the token raw, in base64 and in `x-access-token:` basic auth is redacted', () => {
    withEnv({ GITHUB_TOKEN: TOKEN });
    for (const text of [TOKEN, Buffer.from(TOKEN).toString('base64'), `AUTHORIZATION: basic ${Buffer.from(`x-access-token:${TOKEN}`).toString('base64')}`]) {
      expect(net(`printed: ${text}`)).not.toContain(text);
    }
  });

  // Was getting through: sensitiveForms has no hex form (xxd -p, od, printf %x, Go's %x of a []byte); src/report/redact.ts:sensitiveForms
  it('the job token printed as hex (xxd -p) is redacted', () => {
    withEnv({ GITHUB_TOKEN: TOKEN });
    const hex = Buffer.from(`GITHUB_TOKEN=${TOKEN}\0HOME=/root\0`).toString('hex');
    const out = net(`xxd -p /proc/self/environ:\n${hex.replace(/(.{60})/g, '$1\n')}`);
    expect(out.replace(/\n/g, '')).not.toContain(Buffer.from(TOKEN.slice(4, 20)).toString('hex'));
  });

  // Was getting through: base64 of a longer text wrapped at 76 columns (coreutils base64, MIME) splits the token's encoded run across a line break, and only whole runs are matched; src/report/redact.ts:sensitiveForms/replacer
  it('the job token inside base64 wrapped at 76 columns (base64 /proc/self/environ) is redacted whatever the wrap position', () => {
    withEnv({ GITHUB_TOKEN: TOKEN });
    for (let pad = 0; pad < 64; pad++) {
      const blob = Buffer.from(`PATH=/usr/bin\0HOME=/root\0X=${'y'.repeat(pad + 20)}\0GITHUB_TOKEN=${TOKEN}\0CI=true\0`).toString('base64').replace(/(.{76})/g, '$1\n');
      const out = net(`base64 /proc/self/environ:\n${blob}`);
      const joined = out.split('***REDACTED***').map((part) => part.replace(/\n/g, ''));
      const decoded = joined.flatMap((part) => [0, 1, 2, 3].map((drop) => Buffer.from(part.slice(drop), 'base64').toString('latin1')));
      for (const window of windows(TOKEN, 10)) expect(decoded.some((d) => d.includes(window)), `pad ${pad}: ${window}`).toBe(false);
    }
  });

  // Was getting through: sensitiveEnvironment picks variables by name (TOKEN|SECRET|PASSWORD|...|API_KEY); SOPS_AGE_KEY (and any *_KEY, e.g. SSH_KEY) is not one, so the age key is never redacted; src/engine.ts:sensitiveEnvironment
  it('SOPS_AGE_KEY of the runner is treated as a token of the guard: never printed', () => {
    withEnv({ SOPS_AGE_KEY: AGE_KEY });
    expect(sensitiveEnvironment(process.env)).toContain(AGE_KEY);
    expect(net(`sops: failed to decrypt with ${AGE_KEY}`)).not.toContain(AGE_KEY);
  });
});

// ---------------------------------------------------------------------------------------------
// Landed at 16:1x: kustomize builds (src/flux/kustomize-build.ts, src/kustomize/*).
// ---------------------------------------------------------------------------------------------

const fluxKustomization = (name: string, spec: Record<string, unknown>) => stringify({
  apiVersion: 'kustomize.toolkit.fluxcd.io/v1',
  kind: 'Kustomization',
  metadata: { name, namespace: 'flux-system' },
  spec: { interval: '10m', prune: true, sourceRef: { kind: 'GitRepository', name: 'flux-system' }, ...spec },
});

describe('RT kustomize: what a build reads is what its cache key covers', () => {
  // Was getting through: the build cache key (RevisionTree.readsOf) covers the strings of kustomization.yaml only, not the files a generator/transformer config names (`generators: [gen.yaml]` -> `files: [values.yaml=...]`); base and head share one build, so the changed values never reach the render; src/flux/revision-tree.ts:readsOf, src/flux/kustomize-build.ts:cacheKey
  it('a values file named only inside a builtin ConfigMapGenerator config (generators: [gen.yaml]) is rebuilt when it changes: the flag is seen', async () => {
    const release = externalDnsRelease(BASE_VALUES, { valuesFrom: [{ kind: 'ConfigMap', name: 'dns-values', valuesKey: 'values.yaml' }] }).replace('name: external-dns\n', 'name: generated\n');
    const repo = track(await exampleRepo({
      'clusters/prod/apps.yaml': fluxKustomization('apps', { path: './apps' }),
      'apps/kustomization.yaml': 'apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources:\n  - release.yaml\ngenerators:\n  - values-generator.yaml\n',
      'apps/values-generator.yaml': 'apiVersion: builtin\nkind: ConfigMapGenerator\nmetadata:\n  name: dns-values\n  namespace: networking\nfiles:\n  - values.yaml=dns-values.txt\noptions:\n  disableNameSuffixHash: true\n',
      'apps/dns-values.txt': 'txtOwnerId: prod\n',
      'apps/release.yaml': release,
    }));
    await repo.commit('only the generated values', { 'apps/dns-values.txt': `txtOwnerId: prod\nextraArgs:\n  - ${INCIDENT_FLAG}\n` });
    const report = await runCheck({ cwd: repo.dir, base: 'main', head: 'change', cacheDir: cacheDir() });
    expect(report.releases.find((r) => r.name === 'generated')?.status).toBe('rendered');
    expect(report.findings.some((f) => f.subject.name === 'generated' && f.rule === 'container-flags/unknown-flag')).toBe(true);
    expect(report.summary.verdict).toBe('fail');
  });

  it('a Flux Kustomization at the repository root whose generator reads .git/config (and .git/../.git/config) gets no byte of the clone\'s config, committed or working tree', async () => {
    const repo = track(await exampleRepo());
    await repo.git('config', 'http.https://github.com/.extraheader', 'AUTHORIZATION: basic RT-GIT-CONFIG-MARKER-8812');
    const files = {
      'clusters/prod/root.yaml': fluxKustomization('root', { path: './' }),
      'kustomization.yaml': 'apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources:\n  - infrastructure/external-dns/helmrelease.yaml\nconfigMapGenerator:\n  - name: leak\n    namespace: networking\n    files:\n      - config=.git/config\n      - again=.git/../.git/config\n      - head=.git/HEAD\n',
    };
    await repo.commit('read the clone', files);
    for (const head of ['change', undefined]) {
      const report = await runCheck({ cwd: repo.dir, base: 'main', ...(head ? { head } : {}), cacheDir: cacheDir() }).then((r) => JSON.stringify(r), (error: Error) => error.message);
      expect(report).not.toContain('RT-GIT-CONFIG-MARKER-8812');
      expect(report).not.toContain('extraheader');
    }
  });

  it('remote sources kustomize reads outside resources (openapi.path, crds, configurations, a helmCharts repo) are refused and never contacted', async () => {
    const other = await silentListener();
    const url = `http://127.0.0.1:${other.port}`;
    for (const field of [`openapi:\n  path: ${url}/schema.json\n`, `crds:\n  - ${url}/crd.yaml\n`, `configurations:\n  - ${url}/conf.yaml\n`, `helmCharts:\n  - name: x\n    repo: ${url}\n    version: 1.0.0\n`]) {
      const repo = track(await exampleRepo());
      await repo.commit('remote', {
        'clusters/prod/apps.yaml': fluxKustomization('apps', { path: './apps' }),
        'apps/kustomization.yaml': `apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources:\n  - release.yaml\n${field}`,
        'apps/release.yaml': externalDnsRelease(BASE_VALUES).replace('name: external-dns\n', 'name: remote\n'),
      });
      const report = await runCheck({ cwd: repo.dir, base: 'main', head: 'change', cacheDir: cacheDir() }).then((r) => r, () => undefined);
      if (report) expect(report.summary.verdict, field).toBe('fail');
    }
    expect(other.connections()).toBe(0);
  });
});

// ---------------------------------------------------------------------------------------------
// Class 9: caches are trusted with nothing.
// ---------------------------------------------------------------------------------------------

describe('RT class 9: a render cache entry replaced by a pipe, a link or a folder', () => {
  it('is ignored without hanging or reading through it, and the verdict stays the one the render gives', async () => {
    const { execa } = await import('execa');
    const repo = track(await exampleRepo());
    await repo.commit('incident', { [HR]: externalDnsRelease({ ...BASE_VALUES, extraArgs: [INCIDENT_FLAG] }) });
    const cache = await fs.mkdtemp(path.join(workDir, 'poison-'));
    const first = await runCheck({ cwd: repo.dir, base: 'main', head: 'change', cacheDir: cache });
    expect(first.summary.verdict).toBe('fail');
    const rendersDir = path.join(cache, 'renders');
    const entries = (await fs.readdir(rendersDir, { recursive: true })).map(String).filter((f) => f.endsWith('.json'));
    expect(entries.length).toBeGreaterThan(0);
    for (const [index, entry] of entries.entries()) {
      const file = path.join(rendersDir, entry);
      await fs.rm(file);
      if (index % 3 === 0) await execa('mkfifo', [file]);
      else if (index % 3 === 1) await fs.symlink('/proc/self/environ', file);
      else await fs.mkdir(file);
    }
    const started = Date.now();
    const second = await runCheck({ cwd: repo.dir, base: 'main', head: 'change', cacheDir: cache });
    expect(Date.now() - started).toBeLessThan(30_000);
    expect(second.summary.verdict).toBe('fail');
    expect(second.findings.map((f) => f.rule).sort()).toEqual(first.findings.map((f) => f.rule).sort());
    expect(JSON.stringify(second)).not.toMatch(/PATH=|HOME=/);
  });
});

describe('RT class 3: OCI names that would walk the registry API', () => {
  it.each(['evil/../../other', 'Evil', 'evil%2f..%2fother', 'evil/./x', 'evil?x=1'])('chart name %s is refused before any request', async (chart) => {
    const registry = await chartHost({});
    const result = await pullChart({ repositoryUrl: `oci://${registry.host}/charts`, chart, version: '1.0.0', plainHttp: true }, await fs.mkdtemp(path.join(workDir, 'cache-')), { isAllowedUrl: onlyHost(registry.host), timeoutMs: 5_000 });
    expect(result.ok).toBe(false);
    expect(registry.requests).toEqual([]);
  });
});

describe('RT class 9: a kustomize build cache entry replaced by a named pipe', () => {
  // Was getting through: the on-disk kustomize build cache reads its entry with fs.readFile and no lstat/size check (the render cache has both), so a FIFO planted in a shared cache blocks the check forever; src/flux/kustomize-build.ts:fromDisk
  it('does not stall the check', async () => {
    const { execa } = await import('execa');
    const repo = track(await exampleRepo({
      'clusters/prod/apps.yaml': fluxKustomization('apps', { path: './apps' }),
      'apps/kustomization.yaml': 'apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources:\n  - release.yaml\n',
      'apps/release.yaml': externalDnsRelease(BASE_VALUES).replace('name: external-dns\n', 'name: built\n'),
    }));
    await repo.commit('incident', { 'apps/release.yaml': externalDnsRelease({ ...BASE_VALUES, extraArgs: [INCIDENT_FLAG] }).replace('name: external-dns\n', 'name: built\n') });
    const cache = await fs.mkdtemp(path.join(workDir, 'poison-k-'));
    await runCheck({ cwd: repo.dir, base: 'main', head: 'change', cacheDir: cache });
    const buildsDir = path.join(cache, 'kustomize');
    const entries = (await fs.readdir(buildsDir, { recursive: true })).map(String).filter((f) => f.endsWith('.json')).map((f) => path.join(buildsDir, f));
    expect(entries.length).toBeGreaterThan(0);
    for (const file of entries) {
      await fs.rm(file);
      await execa('mkfifo', [file]);
    }
    // Unblock any reader stuck on a pipe once the test has its answer, so the worker can exit.
    closers.push(async () => {
      for (const file of entries) {
        const handle = await fs.open(file, fs.constants.O_WRONLY | fs.constants.O_NONBLOCK).catch(() => undefined);
        await handle?.close();
      }
    });
    // A fresh process (this one keeps the builds in memory): the guard's CLI from source.
    const second = await execa(path.join(process.cwd(), 'node_modules/.bin/vite-node'), [path.join(process.cwd(), 'src/cli.ts'), 'check', '-C', repo.dir, '--base', 'main', '--head', 'change', '--cache-dir', cache], { reject: false, timeout: 30_000 });
    expect(second.timedOut).toBe(false);
    expect(second.exitCode).toBe(1);
  });
});

// ---------------------------------------------------------------------------------------------
// Class 1/2/8 end to end: the runner's token and age key, links to them, every output format.
// ---------------------------------------------------------------------------------------------

describe('RT end to end: links to the environment and the clone config, with the job token and age key set', () => {
  const TOKEN = 'ghs_RTe2eJobT0ken9876543210zyxwvuTS';
  const AGE_KEY = 'AGE-SECRET-KEY-1RTE2EQQQ9Z8Y7X6W5V4U3T2S1R0PONMLKJIHGFEDCBA09876';
  const basic = Buffer.from(`x-access-token:${TOKEN}`).toString('base64');
  const forbidden = [TOKEN, basic, AGE_KEY, 'extraheader', 'RT-CLONE-MARKER'];

  async function leakyRepo(): Promise<TestRepo> {
    const repo = track(await exampleRepo());
    await repo.git('config', 'http.https://github.com/.extraheader', `AUTHORIZATION: basic ${basic}`);
    await repo.git('config', 'guard.marker', 'RT-CLONE-MARKER');
    await fs.mkdir(path.join(repo.dir, 'apps'), { recursive: true });
    await fs.symlink('/proc/self/environ', path.join(repo.dir, 'apps', 'env.yaml'));
    await fs.symlink('../.git/config', path.join(repo.dir, 'apps', 'config.yaml'));
    await fs.mkdir(path.join(repo.dir, 'charts', 'external-dns', 'files'), { recursive: true });
    await fs.symlink('/proc/self/environ', path.join(repo.dir, 'charts', 'external-dns', 'files', 'env'));
    await repo.commit('links', { [HR]: externalDnsRelease({ ...BASE_VALUES, extraArgs: [INCIDENT_FLAG, '--x={{ .Files.Get "files/env" }}'] }) });
    return repo;
  }

  it('the CLI prints none of them in text, JSON or SARIF, for the commit and for the working tree', async () => {
    const { execa } = await import('execa');
    const repo = await leakyRepo();
    const cli = [path.join(process.cwd(), 'src/cli.ts'), 'check', '-C', repo.dir, '--base', 'main', '--cache-dir', cacheDir()];
    for (const [format, head] of [['text', 'change'], ['json', 'change'], ['sarif', undefined], ['text', undefined]] as const) {
      const result = await execa(path.join(process.cwd(), 'node_modules/.bin/vite-node'), [...cli, '--format', format, ...(head ? ['--head', head] : [])], {
        reject: false, timeout: 120_000, env: { ...process.env, GITHUB_TOKEN: TOKEN, SOPS_AGE_KEY: AGE_KEY, NO_COLOR: '1' },
      });
      expect(result.exitCode, `${format} ${head}: ${result.stderr}`).toBe(1);
      for (const value of forbidden) {
        expect(result.stdout, `${format} ${head ?? 'worktree'}: ${value}`).not.toContain(value);
        expect(result.stderr, `${format} ${head ?? 'worktree'}: ${value}`).not.toContain(value);
      }
    }
  }, 240_000);

  it('and none reaches a forge (statuses, review comments, summary markdown)', async () => {
    withEnv({ GITHUB_TOKEN: TOKEN, SOPS_AGE_KEY: AGE_KEY });
    const { execa } = await import('execa');
    const { checkRevisions } = await import('../../src/engine.js');
    const { publishReport, publisherFor } = await import('../../src/forge/publish.js');
    const { FakeForge } = await import('../support/fake-forge.js');
    const repo = await leakyRepo();
    const { report } = await checkRevisions({ cwd: repo.dir, base: 'main', head: 'change', cacheDir: cacheDir() });
    expect(report.summary.verdict).toBe('fail');
    const diff = (await execa('git', ['diff', 'main', 'change'], { cwd: repo.dir })).stdout;
    for (const kind of ['github', 'forgejo'] as const) {
      const forge = await FakeForge.start(kind);
      closers.push(() => forge.stop());
      forge.diff = diff;
      const target = { forge: kind, apiUrl: forge.apiUrl, token: 't', owner: 'o', repo: 'r', sha: 'b'.repeat(40), pullNumber: 3 };
      await publishReport(report, target, 'review', publisherFor(target, { retryBaseMs: 5, throttle: false }));
      const sent = JSON.stringify(forge.requests);
      for (const value of forbidden) expect(sent, `${kind}: ${value}`).not.toContain(value);
    }
  });
});

describe('RT class 8: URL credentials with an unescaped @ in the password', () => {
  // Was getting through: the userinfo pattern stops at the first @, but URL parsers (WHATWG, Go) take the last one as the end of the userinfo, so the rest of the password is printed; src/report/redact.ts:scrubUrlCredentials
  it('are scrubbed whole, as a URL parser reads them', async () => {
    const { scrubUrlCredentials } = await import('../../src/report/redact.js');
    const url = 'https://ci:Mirr0r@Pa55w0rd-7@mirror.internal/charts';
    expect(new URL(url).password).toBe('Mirr0r%40Pa55w0rd-7');
    const out = scrubUrlCredentials(`index.yaml of ${url} answered 401`);
    expect(out).not.toContain('Pa55w0rd-7');
    expect(out).toContain('mirror.internal/charts');
  });
});

describe('RT report integrity: a release that the base checked cannot leave the check quietly', () => {
  // Was getting through: the sources of root Kustomizations are taken from the head, so a root Kustomization the change re-points at a fork makes the fork "this repository": the release is counted unchanged from this tree (0 findings) while Flux applies the fork; src/flux/source-identity.ts:classifyGitRepository (rootSources from the change)
  it('moving the (root) Kustomization of a checked release onto a fork the change adds does not pass', async () => {
    const release = externalDnsRelease(BASE_VALUES).replace('name: external-dns\n', 'name: applied\n');
    const repo = track(await exampleRepo({
      'clusters/prod/apps.yaml': fluxKustomization('apps', { path: './apps' }),
      'apps/kustomization.yaml': 'apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources:\n  - release.yaml\n',
      'apps/release.yaml': release,
    }));
    const fork = object('source.toolkit.fluxcd.io/v1', 'GitRepository', 'fork', { interval: '1m', url: 'https://github.com/attacker/fork.git', ref: { branch: 'main' } });
    await repo.commit('use the fork', {
      'clusters/prod/fork.yaml': fork,
      'clusters/prod/apps.yaml': fluxKustomization('apps', { path: './apps', sourceRef: { kind: 'GitRepository', name: 'fork' } }),
    });
    const report = await runCheck({ cwd: repo.dir, base: 'main', head: 'change', cacheDir: cacheDir() });
    expect(report.summary.verdict).toBe('fail');
  });
});

describe('RT report integrity: the same move under a bootstrap Kustomization', () => {
  // Was getting through: with flux-system bootstrap files committed, the fork is "not this repository": its Kustomization is a notice (kustomize/source-not-checked) while the release is still rendered from THIS tree's ./apps (not what Flux applies), exit 0; src/flux/kustomize-apply.ts (a foreign Kustomization's folder still checked as a plain kustomize unit, the source change itself only a notice)
  it('moving an applied Kustomization onto a fork the change adds does not pass', async () => {
    const bootstrap = [
      object('source.toolkit.fluxcd.io/v1', 'GitRepository', 'flux-system', { interval: '1m', url: 'https://github.com/acme/fleet.git', ref: { branch: 'main' } }),
      fluxKustomization('flux-system', { path: './clusters/prod' }),
    ].join('---\n');
    const release = externalDnsRelease(BASE_VALUES).replace('name: external-dns\n', 'name: applied\n');
    const repo = track(await exampleRepo({
      'clusters/prod/flux-system/gotk-sync.yaml': bootstrap,
      'clusters/prod/apps.yaml': fluxKustomization('apps', { path: './apps' }),
      'apps/kustomization.yaml': 'apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources:\n  - release.yaml\n',
      'apps/release.yaml': release,
    }));
    await repo.git('remote', 'add', 'origin', 'https://github.com/acme/fleet.git');
    const fork = object('source.toolkit.fluxcd.io/v1', 'GitRepository', 'fork', { interval: '1m', url: 'https://github.com/attacker/fork.git', ref: { branch: 'main' } });
    await repo.commit('use the fork', {
      'clusters/prod/fork.yaml': fork,
      'clusters/prod/apps.yaml': fluxKustomization('apps', { path: './apps', sourceRef: { kind: 'GitRepository', name: 'fork' } }),
    });
    const report = await runCheck({ cwd: repo.dir, base: 'main', head: 'change', cacheDir: cacheDir() });
    if (process.env.RT_DEBUG) console.log('DBG', JSON.stringify({ r: report.releases, f: report.findings.map((f) => [f.rule, f.severity, f.message.slice(0, 200)]) }));
    expect(report.summary.verdict).toBe('fail');
  });
});

describe('RT class 3/10: a version range resolves to the chart Flux would install', () => {
  // Was getting through: ranges are read with npm semver, where a prerelease counts only on the same major.minor.patch; helm's index (Masterminds semver, what source-controller uses) lets a constraint with a prerelease (>=1.0.0-0) pick any prerelease. The guard renders 1.4.0 (its flag is known) while Flux installs 1.5.0-rc.1 (flag removed); src/helm/versions.ts:pickVersion/parseConstraint
  it('>=1.0.0-0 picks 1.5.0-rc.1 over 1.4.0, as source-controller does, and the flag its image dropped blocks', async () => {
    const charts: string[] = [];
    for (const [version, appVersion] of [['1.4.0', 'v0.14.1'], ['1.5.0-rc.1', 'v0.19.0']]) {
      const dir = await fs.mkdtemp(path.join(workDir, 'chart-'));
      const chart = path.join(dir, 'external-dns');
      await fs.cp(path.join(incidentFixture, 'base', 'charts', 'external-dns'), chart, { recursive: true });
      const chartYaml = await fs.readFile(path.join(chart, 'Chart.yaml'), 'utf8');
      await fs.writeFile(path.join(chart, 'Chart.yaml'), chartYaml.replace(/^version: .*$/m, `version: ${version}`).replace(/^appVersion: .*$/m, `appVersion: ${appVersion}`));
      charts.push(chart);
    }
    const server = await ChartServer.start(charts);
    closers.push(() => server.stop());
    const help = await fs.readFile(path.join(externalDnsData, 'help-v0.14.1.txt'), 'utf8');
    const repo = track(await exampleRepo({
      '.guard/help/registry.k8s.io/external-dns/external-dns/v0.14.1.txt': help,
      'flux/dns-charts.yaml': object('source.toolkit.fluxcd.io/v1', 'HelmRepository', 'dns-charts', { interval: '1h', url: server.url }),
    }));
    await repo.commit('ranged', { 'apps/ranged.yaml': helmRelease('ranged', { chart: 'external-dns', version: '>=1.0.0-0', sourceRef: { kind: 'HelmRepository', name: 'dns-charts', namespace: 'flux-system' } }, { ...BASE_VALUES, extraArgs: [INCIDENT_FLAG] }) });
    const report = await runCheck({ cwd: repo.dir, base: 'main', head: 'change', cacheDir: path.join(workDir, 'range-cache') });
    expect(report.releases.find((r) => r.name === 'ranged')?.status).toBe('rendered');
    expect(report.findings.some((f) => f.subject.name === 'ranged' && /unknown-flag|removed-in-upgrade/.test(f.rule))).toBe(true);
    expect(report.summary.verdict).toBe('fail');
  });
});

describe('RT class 8: a broken Secret whose kind is written another way', () => {
  // Was getting through: Secret documents are recognised line by line (`kind: Secret` on one line, a tag allowed); an anchor (`kind: &k Secret`) or the value on the next line (`kind:` / `  Secret`) leaves the document unmasked in the text report's code frame of its yaml/invalid finding (JSON and SARIF are clean); src/report/masked-source.ts:SECRET_KIND/maskSecretSource
  it('is masked in every code frame, whatever YAML spelling names its kind', async () => {
    const { checkRevisions } = await import('../../src/engine.js');
    const repo = track(await exampleRepo());
    await repo.commit('broken secrets', {
      'apps/dns.yaml': 'apiVersion: v1\nkind: &k Secret\nmetadata:\n  name: broken\nstringData:\n  password: Anch0rSecret-42x\n   token: [Anch0rSecret-42x\n',
      'apps/db.yaml': 'apiVersion: v1\nkind:\n  Secret\nmetadata:\n  name: broken-too\nstringData:\n  password: NextL1neSecret-42x\n   token: [NextL1neSecret-42x\n',
    });
    const { report, secrets } = await checkRevisions({ cwd: repo.dir, base: 'main', head: 'change', cacheDir: cacheDir() });
    expect([...new Set(report.findings.filter((f) => f.rule === 'yaml/invalid').map((f) => f.location.path))].sort()).toEqual(['apps/db.yaml', 'apps/dns.yaml']);
    const text = await renderText(report, (file) => fs.readFile(path.join(repo.dir, file), 'utf8'), { color: false, secrets });
    for (const output of [JSON.stringify(report), JSON.stringify(renderSarif(report)), text]) {
      expect(output).not.toContain('Anch0rSecret-42x');
      expect(output).not.toContain('NextL1neSecret-42x');
    }
  });
});
