import { execa } from 'execa';
import { existsSync, promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { runCheck, type Report } from '../../src/engine.js';
import type { Finding } from '../../src/findings.js';
import { parseStoredHelp } from '../../src/flags/help-header.js';
import { APP_CHART, appRelease, lineOf, pushTestImages, type AppContainer, type TestImages } from '../support/capture-scenario.js';
import { TestRepo } from '../support/git-repo.js';
import { pushImage } from '../support/image-builder.js';
import { countingListener, type Closers } from '../support/loopback.js';
import { OciRegistry } from '../support/oci-registry.js';
import { externalDnsData, incidentFixture, repoRoot } from '../support/paths.js';
import { registryProxy } from '../support/registry-proxy.js';
import { assertValidReport } from '../support/report-schema.js';
import { BASE_VALUES, externalDnsRelease } from '../support/scenario.js';

/**
 * Issue 14, end to end: no help recorded anywhere, the guard takes each image's help from the image
 * itself. A real docker-registry on 127.0.0.1 holds images built here (no Docker) from Debian
 * binaries, one per CLI framework, and from a stand-in for external-dns (see compileStandIn); the
 * guard pulls them, runs their --help in bubblewrap and checks the rendered args against it.
 */

const cli = path.join(repoRoot, 'build', 'cli.js');
const HR = 'infrastructure/external-dns/helmrelease.yaml';
const TOOLS = 'apps/tools/helmrelease.yaml';

let registry: OciRegistry;
let images: TestImages;
let work: string;
let repo: TestRepo | undefined;
let cacheDir: string;
let caseCount = 0;
const closers: Closers = [];

beforeAll(async () => {
  work = await fs.mkdtemp(path.join(os.tmpdir(), 'guard-capture-e2e-'));
  registry = await OciRegistry.start();
  images = await pushTestImages(registry.host, work);
}, 60_000);

afterAll(async () => {
  await registry?.stop();
  if (work) await fs.rm(work, { recursive: true, force: true });
});

beforeEach(() => {
  cacheDir = path.join(work, `cache-${++caseCount}`);
});

afterEach(async () => {
  await repo?.remove();
  repo = undefined;
  for (const close of closers.splice(0)) await close();
});

const image = (name: string, host = registry.host) => `${host}/${name}`;

function guard(args: string[], cwd: string) {
  return execa('node', [cli, ...args], { cwd, reject: false, env: { GUARD_CACHE_DIR: cacheDir, NO_COLOR: '1' } });
}

async function check(head: string): Promise<Report> {
  const report = await runCheck({ cwd: repo!.dir, base: 'main', head, cacheDir });
  assertValidReport(report);
  return report;
}

const rulesOf = (report: Report, container?: string) =>
  report.findings.filter((f) => f.rule.startsWith('container-flags/') && (container === undefined || f.subject.container === container)).map((f) => f.rule);

function only(report: Report, rule: string): Finding {
  const found = report.findings.filter((f) => f.rule === rule);
  expect(found, `${rule} in ${JSON.stringify(report.findings.map((f) => [f.rule, f.message]), null, 1)}`).toHaveLength(1);
  return found[0]!;
}

/** A repository with the app chart and one release on main, and branches each holding a change. */
async function appRepo(base: Record<string, string | null>, branches: Record<string, Record<string, string | null>> = {}): Promise<TestRepo> {
  repo = await TestRepo.create();
  await repo.commit('base', { ...APP_CHART, ...base });
  for (const [name, files] of Object.entries(branches)) {
    await repo.branch(name, 'main');
    await repo.commit(name, files);
  }
  await repo.git('checkout', '--quiet', 'main');
  return repo;
}

describe('the incident with no .guard/help at all', () => {
  it('blocks the unknown flag from the help captured out of the image, and passes the benign change', async () => {
    // The external-dns image holds a stand-in binary printing the real v0.19.0 help (no real binary here).
    const dns = { repository: image('external-dns/external-dns'), tag: 'v0.19.0' };
    const incident = externalDnsRelease({ ...BASE_VALUES, image: dns, sources: ['service', 'ingress', 'traefik-proxy'], extraArgs: ['--traefik-disable-new', '--traefik-disable-legacy'] });
    const benign = externalDnsRelease({ ...BASE_VALUES, image: dns, sources: ['service', 'ingress', 'traefik-proxy'], extraArgs: ['--traefik-disable-new', '--traefik-enable-legacy'] });
    repo = await TestRepo.create();
    await repo.copy(path.join(incidentFixture, 'base', 'charts'), 'charts');
    await repo.commit('base', { [HR]: externalDnsRelease({ ...BASE_VALUES, image: dns }) });
    await repo.branch('fix-traefik-flags');
    await repo.commit('Fix ExternalDNS Traefik source flags', { [HR]: incident });
    await repo.branch('tune-external-dns', 'main');
    await repo.commit('tune', { [HR]: benign });
    expect(existsSync(path.join(repo.dir, '.guard'))).toBe(false);

    const blocked = await guard(['check', '--base', 'main', '--head', 'fix-traefik-flags', '--format', 'json'], repo.dir);
    expect(blocked.exitCode, blocked.stderr).toBe(1);
    const report = JSON.parse(blocked.stdout) as Report;
    assertValidReport(report);
    expect(report.summary.verdict).toBe('fail');
    const finding = only(report, 'container-flags/unknown-flag');
    expect(finding.message).toContain('--traefik-disable-legacy');
    expect(finding.location).toEqual(expect.objectContaining({ path: HR, line: lineOf(incident, '--traefik-disable-legacy') }));
    expect(finding.suggestion).toBe('--traefik-enable-legacy');
    expect(finding.evidence?.join('\n')).toContain(`captured from ${dns.repository}:v0.19.0@${images.digests['external-dns/external-dns:v0.19.0']}`);

    const passed = await guard(['check', '--base', 'main', '--head', 'tune-external-dns', '--format', 'json'], repo.dir);
    expect(passed.exitCode, passed.stdout + passed.stderr).toBe(0);
    const benignReport = JSON.parse(passed.stdout) as Report;
    expect(benignReport.summary.verdict).toBe('pass');
    expect(rulesOf(benignReport)).toEqual([]);
  });
});

/** One container per CLI framework, each image built from a Debian binary (kubectl: the bundled one). */
function frameworkContainers(variant: 'base' | 'valid' | 'invalid'): AppContainer[] {
  const args: Record<string, Record<typeof variant, string[]>> = {
    etcd: {
      base: ['--name=node1', '--data-dir=/var/lib/etcd'],
      valid: ['--name=node1', '--data-dir=/var/lib/etcd', '--snapshot-count=5000'],
      invalid: ['--name=node1', '--data-dri=/var/lib/etcd'],
    },
    alertmanager: {
      base: ['--storage.path=/alertmanager', '--log.level=info'],
      valid: ['--storage.path=/alertmanager', '--log.level=debug', '--cluster.listen-address='],
      invalid: ['--storage.path=/alertmanager', '--log.level=verbose'],
    },
    runc: { base: ['list', '--format=json'], valid: ['list', '--quiet'], invalid: ['list', '--fromat=json'] },
    ripgrep: { base: ['--hidden', '--max-depth=3', 'TODO', '/srv'], valid: ['--hidden', '--max-depth=5', 'FIXME', '/srv'], invalid: ['--hidden', '--max-depht=3', 'TODO', '/srv'] },
    argparse: { base: ['--port=9000', '--mode=fast'], valid: ['--port', '9001', '--verbose'], invalid: ['--port=9000', '--mode=quick'] },
    // `kubectl proxy` takes the global --v: read from `kubectl options`, captured with the subcommand's help.
    kubectl: { base: ['proxy', '--port=8001'], valid: ['proxy', '--port=8001', '--v=4'], invalid: ['proxy', '--prot=8001', '--v=4'] },
  };
  return Object.entries(args).map(([name, variants]) => ({ name, image: image(`debian/${name}:1`), args: variants[variant] }));
}

describe('one real binary per framework, captured from its image', () => {
  it('passes valid args and blocks invalid ones with the rule the binary would fail on', async () => {
    await appRepo(
      { [TOOLS]: appRelease('tools', frameworkContainers('base')) },
      { valid: { [TOOLS]: appRelease('tools', frameworkContainers('valid')) }, invalid: { [TOOLS]: appRelease('tools', frameworkContainers('invalid')) } },
    );
    const valid = await check('valid');
    expect(valid.findings.filter((f) => f.rule.startsWith('container-flags/')).map((f) => [f.rule, f.message])).toEqual([]);
    expect(valid.summary.verdict).toBe('pass');

    const invalid = await check('invalid');
    expect(invalid.summary.verdict).toBe('fail');
    expect(rulesOf(invalid, 'etcd')).toEqual(['container-flags/unknown-flag']);
    expect(rulesOf(invalid, 'alertmanager')).toEqual(['container-flags/bad-enum']);
    expect(rulesOf(invalid, 'runc')).toEqual(['container-flags/unknown-flag']);
    expect(rulesOf(invalid, 'ripgrep')).toEqual(['container-flags/unknown-flag']);
    expect(rulesOf(invalid, 'argparse')).toEqual(['container-flags/bad-enum']);
    expect(rulesOf(invalid, 'kubectl')).toEqual(['container-flags/unknown-flag']);
    const kubectl = invalid.findings.find((f) => f.subject.container === 'kubectl')!;
    expect(kubectl.message).toContain('--prot');
    expect(kubectl.evidence?.join('\n')).toContain('proxy --help');
  });
});

describe('finding the program the container runs', () => {
  it('uses the amd64 image of an index (after its whiteout, through a symlinked entrypoint) and follows an exec wrapper script', async () => {
    // multi/search:1: amd64 runs rg through /usr/local/bin/search -> /usr/bin/rg (a zstd layer that
    // also whites out a decoy earlier on PATH); its arm64 image runs another program of that name.
    const containers = (args: string[]): AppContainer[] => [
      { name: 'indexed', image: image('multi/search:1'), args },
      { name: 'wrapped', image: image('wrapped/search:1'), args },
    ];
    const head = appRelease('search', containers(['--hidden', '--max-depht=3', 'TODO', '/srv']));
    await appRepo({ [TOOLS]: appRelease('search', containers(['--hidden', 'TODO', '/srv'])) }, { change: { [TOOLS]: head } });
    const report = await check('change');
    for (const container of ['indexed', 'wrapped']) {
      const findings = report.findings.filter((f) => f.subject.container === container && f.rule.startsWith('container-flags/'));
      expect(findings.map((f) => f.rule), container).toEqual(['container-flags/unknown-flag']);
      expect(findings[0]!.message).toContain('--max-depht');
      expect(findings[0]!.suggestion).toMatch(/^--max-depth/);
      expect(findings[0]!.location).toEqual(expect.objectContaining({ path: TOOLS, line: lineOf(head, '--max-depht=3') }));
    }
    const indexed = report.findings.find((f) => f.subject.container === 'indexed')!;
    expect(indexed.evidence?.join('\n')).toContain(`@${images.digests['multi/search:1']} (/usr/local/bin/search --help`);
    const wrapped = report.findings.find((f) => f.subject.container === 'wrapped')!;
    expect(wrapped.evidence?.join('\n')).toContain('(/usr/bin/rg --help');
  });
});

describe('help files are checked against the image', () => {
  it('blocks a bump that brings a forged help file for the new tag: the captured help disagrees and the flag is blocked', async () => {
    const dns = image('external-dns/external-dns');
    const values = { ...BASE_VALUES, sources: ['service', 'traefik-proxy'], extraArgs: ['--traefik-disable-legacy'] };
    repo = await TestRepo.create();
    await repo.copy(path.join(incidentFixture, 'base', 'charts'), 'charts');
    const captured = await guard(['flags', 'capture', `${dns}:v0.18.0`], repo.dir);
    expect(captured.exitCode, captured.stderr).toBe(0);
    const recordedFile = `.guard/help/${dns}/v0.18.0.txt`;
    const recorded = parseStoredHelp(await fs.readFile(path.join(repo.dir, recordedFile), 'utf8'));
    expect(recorded.provenance).toMatchObject({ image: `${dns}:v0.18.0`, digest: images.digests['external-dns/external-dns:v0.18.0'], platform: 'linux/amd64', command: '/bin/external-dns --help', method: 'bubblewrap' });
    expect(recorded.text).toContain('--[no-]traefik-disable-legacy');
    await repo.commit('base', { [HR]: externalDnsRelease({ ...values, image: { repository: dns, tag: 'v0.18.0' } }) });

    // The change bumps to v0.19.0 and brings "its" help: v0.18.0's text, which still lists the flag.
    const forgedFile = `.guard/help/${dns}/v0.19.0.txt`;
    const bumped = externalDnsRelease({ ...values, image: { repository: dns, tag: 'v0.19.0' } });
    await repo.branch('bump');
    await repo.commit('bump external-dns', { [HR]: bumped, [forgedFile]: await fs.readFile(path.join(externalDnsData, 'help-v0.18.0.txt'), 'utf8') });
    const report = await check('bump');
    expect(report.summary.verdict).toBe('fail');
    const disagrees = only(report, 'container-flags/help-disagrees');
    expect(disagrees).toMatchObject({ severity: 'error', location: { path: forgedFile, line: 1 } });
    expect(disagrees.message).toContain('traefik-disable-legacy');
    const blocked = report.findings.filter((f) => f.rule === 'container-flags/removed-in-upgrade' || f.rule === 'container-flags/unknown-flag');
    expect(blocked).toHaveLength(1);
    expect(blocked[0]!).toMatchObject({ severity: 'error', location: { path: HR, line: lineOf(bumped, '--traefik-disable-legacy') } });
    expect(blocked[0]!.evidence?.join('\n')).toContain(`captured from ${dns}:v0.19.0@${images.digests['external-dns/external-dns:v0.19.0']}`);
  });

  it('captures a tag that moved since its help was recorded, says so, and checks against the new help', async () => {
    const moving = image('moving/tool:stable');
    await pushImage(registry.host, 'moving/tool', 'stable', images.built['debian/ripgrep:1']!);
    repo = await TestRepo.create();
    const captured = await guard(['flags', 'capture', moving], repo.dir);
    expect(captured.exitCode, captured.stderr).toBe(0);
    const recorded = parseStoredHelp(await fs.readFile(path.join(repo.dir, `.guard/help/${registry.host}/moving/tool/stable.txt`), 'utf8'));
    expect(recorded.provenance?.digest).toBe(images.digests['debian/ripgrep:1']);
    await repo.commit('base', { ...APP_CHART, [TOOLS]: appRelease('tool', [{ name: 'tool', image: moving, args: ['--hidden', 'TODO'] }]) });
    // The tag now points to another program (the external-dns stand-in, kingpin).
    const now = await pushImage(registry.host, 'moving/tool', 'stable', images.built['external-dns/external-dns:v0.19.0']!);
    await repo.branch('change');
    await repo.commit('change', { [TOOLS]: appRelease('tool', [{ name: 'tool', image: moving, args: ['--source=service', '--provider=aws', '--hidden'] }]) });
    const report = await check('change');
    const moved = only(report, 'container-flags/tag-moved');
    expect(moved.severity).toBe('notice');
    expect(moved.message).toContain(`now points to ${now}, not ${images.digests['debian/ripgrep:1']}`);
    const flags = report.findings.filter((f) => f.rule !== 'container-flags/tag-moved' && f.rule.startsWith('container-flags/'));
    expect(flags.map((f) => f.rule)).toEqual(['container-flags/unknown-flag']);
    expect(flags[0]!.message).toContain('--hidden');
    expect(flags[0]!.evidence?.join('\n')).toContain(`@${now}`);
  });
});

describe('guard flags capture IMAGE', () => {
  it('stores nothing and exits non-zero when the image prints no help or the tag does not exist', async () => {
    repo = await TestRepo.create();
    const silent = await guard(['flags', 'capture', image('broken/silent:1')], repo.dir);
    expect(silent.exitCode).not.toBe(0);
    expect(silent.stderr).toContain(`${image('broken/silent:1')}: not captured: \`/bin/silent --help\` could not be started (exit 127)`);
    const mute = await guard(['flags', 'capture', image('broken/mute:1')], repo.dir);
    expect(mute.exitCode).not.toBe(0);
    expect(mute.stderr).toContain(`${image('broken/mute:1')}: not captured: \`/bin/mute --help\` printed nothing (exit 0)`);
    const missing = await guard(['flags', 'capture', image('broken/silent:no-such-tag')], repo.dir);
    expect(missing.exitCode).not.toBe(0);
    expect(missing.stderr).toContain(`${image('broken/silent:no-such-tag')}: not captured:`);
    expect(missing.stderr).toContain('404');
    expect(existsSync(path.join(repo.dir, '.guard'))).toBe(false);
  });

  it('writes the help with its provenance: the amd64 image of an index, a subcommand with its global flags', async () => {
    repo = await TestRepo.create();
    const search = await guard(['flags', 'capture', image('multi/search:1')], repo.dir);
    expect(search.exitCode, search.stderr).toBe(0);
    const stored = parseStoredHelp(await fs.readFile(path.join(repo.dir, `.guard/help/${registry.host}/multi/search/1.txt`), 'utf8'));
    expect(stored.provenance).toMatchObject({ image: image('multi/search:1'), digest: images.digests['multi/search:1'], platform: 'linux/amd64', command: '/usr/local/bin/search --help', method: 'bubblewrap' });
    expect(stored.text).toContain('--max-depth');

    const kubectl = await guard(['flags', 'capture', image('debian/kubectl:1'), '--args', 'proxy --port=8001'], repo.dir);
    expect(kubectl.exitCode, kubectl.stderr).toBe(0);
    const proxy = parseStoredHelp(await fs.readFile(path.join(repo.dir, `.guard/help/${registry.host}/debian/kubectl/1.txt`), 'utf8'));
    expect(proxy.provenance?.command).toBe('/usr/local/bin/kubectl proxy --help; /usr/local/bin/kubectl options');
    expect(proxy.text).toContain('--port');
    expect(proxy.text).toContain('--v=');
  });
});

describe('registries', () => {
  it('says "could not check" (exit 2) when the registry of an upgraded image is down', async () => {
    const down = `127.0.0.1:${await closedPort()}`;
    const rgHelp = (await execa('/usr/bin/rg', ['--help'])).stdout;
    await appRepo(
      { [`.guard/help/${down}/app/tool/v1.txt`]: rgHelp, [TOOLS]: appRelease('tool', [{ name: 'tool', image: `${down}/app/tool:v1`, args: ['--hidden', 'TODO'] }]) },
      { bump: { [TOOLS]: appRelease('tool', [{ name: 'tool', image: `${down}/app/tool:v2`, args: ['--hidden', 'TODO'] }]) } },
    );
    const result = await guard(['check', '--base', 'main', '--head', 'bump', '--format', 'json'], repo!.dir);
    expect(result.exitCode, result.stderr).toBe(2);
    const report = JSON.parse(result.stdout) as Report;
    expect(report.summary.verdict).toBe('incomplete');
    const finding = only(report, 'container-flags/capture-unreachable');
    expect(finding.message).toContain(`${down}/app/tool:v2`);
  });

  it('never contacts a registry the base revision does not use: the moved container is unverified', async () => {
    const elsewhere = await countingListener(closers);
    await appRepo(
      { [TOOLS]: appRelease('tool', [{ name: 'tool', image: image('debian/ripgrep:1'), args: ['--hidden', 'TODO'] }]) },
      { move: { [TOOLS]: appRelease('tool', [{ name: 'tool', image: `${elsewhere.host}/debian/ripgrep:2`, args: ['--hidden', 'TODO'] }]) } },
    );
    const report = await check('move');
    const finding = only(report, 'container-flags/unverified-upgrade');
    expect(finding.severity).toBe('error');
    expect(finding.message).toContain(`${elsewhere.host}/debian/ripgrep is not an image repository the base revision runs`);
    expect(report.summary.verdict).toBe('fail');
    expect(elsewhere.connections()).toBe(0);
  });

  it('captures from a registry that asks for a token', async () => {
    const proxy = await registryProxy(registry.host, { kind: 'bearer' }, closers);
    const head = appRelease('tool', [{ name: 'tool', image: image('debian/ripgrep:1', proxy.host), args: ['--hidden', '--max-depht=3', 'TODO'] }]);
    await appRepo({ [TOOLS]: appRelease('tool', [{ name: 'tool', image: image('debian/ripgrep:1', proxy.host), args: ['--hidden', 'TODO'] }]) }, { change: { [TOOLS]: head } });
    const report = await check('change');
    const finding = only(report, 'container-flags/unknown-flag');
    expect(finding.location).toEqual(expect.objectContaining({ path: TOOLS, line: lineOf(head, '--max-depht=3') }));
    expect(proxy.tokensIssued()).toBeGreaterThan(0);
    expect(proxy.requests.some((r) => r.path.startsWith('/v2/') && r.authorization === undefined)).toBe(true);
    expect(proxy.requests.some((r) => r.path.includes('/manifests/') && r.authorization?.startsWith('Bearer '))).toBe(true);
  });
});

/** A loopback port nothing listens on: a registry that is down. */
async function closedPort(): Promise<number> {
  const net = await import('node:net');
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as import('node:net').AddressInfo;
      server.close(() => resolve(port));
    });
  });
}
