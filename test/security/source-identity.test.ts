import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parse as parseYaml, stringify } from 'yaml';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { runCheck, type Report } from '../../src/engine.js';
import { classifyGitRepository, repositoryIdentity } from '../../src/flux/source-identity.js';
import type { RepoInventory } from '../../src/flux/discover.js';
import type { RepoObject } from '../../src/flux/objects.js';
import type { TestRepo } from '../support/git-repo.js';
import { incidentFixture } from '../support/paths.js';
import { BASE_VALUES, exampleRepo, externalDnsRelease } from '../support/scenario.js';

/**
 * "Which repository is this" is decided from the base (remotes, bootstrap source URL, root sources)
 * and applied to both revisions: a change cannot make a fork this repository, nor move what the base
 * checked onto a source the guard cannot read without a blocking error.
 */

const INCIDENT_FLAG = '--traefik-disable-legacy';
const HR = 'infrastructure/external-dns/helmrelease.yaml';
let workDir: string;
const repos: TestRepo[] = [];
const cacheDir = () => path.join(workDir, 'cache');

beforeAll(async () => {
  workDir = await fs.mkdtemp(path.join(os.tmpdir(), 'guard-source-identity-'));
});
afterAll(async () => {
  await fs.rm(workDir, { recursive: true, force: true });
});
afterEach(async () => {
  await Promise.all(repos.splice(0).map((r) => r.remove()));
});

async function repoWith(files: Record<string, string> = {}): Promise<TestRepo> {
  const repo = await exampleRepo(files);
  repos.push(repo);
  return repo;
}

const object = (apiVersion: string, kind: string, name: string, spec: Record<string, unknown>, namespace = 'flux-system') => stringify({ apiVersion, kind, metadata: { name, namespace }, spec });
const gitRepository = (name: string, url: string, ref: Record<string, string> = { branch: 'main' }) => object('source.toolkit.fluxcd.io/v1', 'GitRepository', name, { interval: '1m', url, ref });
const fluxKustomization = (name: string, spec: Record<string, unknown>) =>
  object('kustomize.toolkit.fluxcd.io/v1', 'Kustomization', name, { interval: '10m', prune: true, sourceRef: { kind: 'GitRepository', name: 'flux-system' }, ...spec });
const APPS_KUSTOMIZE = 'apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources:\n  - release.yaml\n';
const appliedRelease = (values: Record<string, unknown>) => externalDnsRelease(values).replace('name: external-dns\n', 'name: applied\n');
const FLEET = 'https://github.com/acme/fleet.git';
const bootstrap = () => [gitRepository('flux-system', FLEET), fluxKustomization('flux-system', { path: './clusters/prod' })].join('---\n');

function bySeverity(report: Report, rule: string) {
  return report.findings.filter((f) => f.rule === rule).map((f) => [f.severity, f.subject.name]);
}

describe('a chart source the change introduces that is not this repository', () => {
  it('moving a checked release onto it blocks (flux/source-moved), with the base as the evidence', async () => {
    const repo = await repoWith();
    const moved = externalDnsRelease({ ...BASE_VALUES, extraArgs: [INCIDENT_FLAG] }).replace('name: flux-system\n', 'name: attacker-charts\n');
    await repo.commit('move the chart', { 'flux/attacker.yaml': gitRepository('attacker-charts', 'https://git.example.net/attacker/charts.git'), [HR]: moved });
    const report = await runCheck({ cwd: repo.dir, base: 'main', head: 'change', cacheDir: cacheDir() });
    expect(report.releases.find((r) => r.name === 'external-dns')?.status).toBe('not-checked');
    const finding = report.findings.find((f) => f.rule === 'flux/source-moved');
    expect(finding).toMatchObject({ severity: 'error', subject: { name: 'external-dns' }, introduced: true });
    expect(finding?.message).toMatch(/base rendered and checked/);
    expect(finding?.message).toMatch(/gitRepositories/);
    expect(finding?.evidence?.join('\n')).toMatch(/base: chart/);
    expect(report.summary.verdict).toBe('fail');
  });
});

describe('a Kustomization the base checked, re-pointed by the change', () => {
  it('a root Kustomization re-pointed at a fork the change adds does not make the fork this repository: blocked', async () => {
    const repo = await repoWith({ 'clusters/prod/apps.yaml': fluxKustomization('apps', { path: './apps' }), 'apps/kustomization.yaml': APPS_KUSTOMIZE, 'apps/release.yaml': appliedRelease(BASE_VALUES) });
    await repo.commit('use the fork', {
      'clusters/prod/fork.yaml': gitRepository('fork', 'https://github.com/attacker/fork.git'),
      'clusters/prod/apps.yaml': fluxKustomization('apps', { path: './apps', sourceRef: { kind: 'GitRepository', name: 'fork' } }),
    });
    const report = await runCheck({ cwd: repo.dir, base: 'main', head: 'change', cacheDir: cacheDir() });
    const moved = report.findings.find((f) => f.rule === 'flux/source-moved');
    expect(moved).toMatchObject({ severity: 'error', subject: { kind: 'Kustomization', name: 'apps' }, location: { path: 'clusters/prod/apps.yaml' } });
    expect(moved?.message).toMatch(/from GitRepository flux-system\/flux-system .*to GitRepository flux-system\/fork/);
    expect(moved?.evidence?.[0]).toMatch(/^base: applies \.\/apps from GitRepository flux-system\/flux-system, checked from this repository/);
    expect(report.summary.verdict).toBe('fail');
  });

  it('under a committed bootstrap with an origin remote, re-pointing an applied Kustomization (or renaming it) onto a fork blocks', async () => {
    for (const [name, file] of [['apps', 'clusters/prod/apps.yaml'], ['apps-renamed', 'clusters/prod/apps.yaml']] as const) {
      const repo = await repoWith({
        'clusters/prod/flux-system/gotk-sync.yaml': bootstrap(),
        'clusters/prod/apps.yaml': fluxKustomization('apps', { path: './apps' }),
        'apps/kustomization.yaml': APPS_KUSTOMIZE,
        'apps/release.yaml': appliedRelease(BASE_VALUES),
      });
      await repo.git('remote', 'add', 'origin', FLEET);
      await repo.commit('use the fork', {
        'clusters/prod/fork.yaml': gitRepository('fork', 'git@github.com:attacker/fleet.git'),
        [file]: fluxKustomization(name, { path: './apps', sourceRef: { kind: 'GitRepository', name: 'fork' } }),
      });
      const report = await runCheck({ cwd: repo.dir, base: 'main', head: 'change', cacheDir: cacheDir() });
      expect(bySeverity(report, 'flux/source-moved'), name).toEqual([['error', name]]);
      expect(report.summary.verdict, name).toBe('fail');
    }
  });

  it('re-pointing the bootstrap GitRepository URL at a fork blocks every Kustomization it fed', async () => {
    const repo = await repoWith({
      'clusters/prod/flux-system/gotk-sync.yaml': bootstrap(),
      'clusters/prod/apps.yaml': fluxKustomization('apps', { path: './apps' }),
      'apps/kustomization.yaml': APPS_KUSTOMIZE,
      'apps/release.yaml': appliedRelease(BASE_VALUES),
    });
    await repo.git('remote', 'add', 'origin', FLEET);
    await repo.commit('follow the fork', { 'clusters/prod/flux-system/gotk-sync.yaml': bootstrap().replace(FLEET, 'https://github.com/attacker/fleet.git') });
    const report = await runCheck({ cwd: repo.dir, base: 'main', head: 'change', cacheDir: cacheDir() });
    const moved = report.findings.filter((f) => f.rule === 'flux/source-moved');
    expect(moved.map((f) => f.subject.name)).toContain('flux-system');
    expect(moved.every((f) => f.severity === 'error')).toBe(true);
    expect(moved.find((f) => f.subject.name === 'apps')?.message).toMatch(/re-points GitRepository flux-system\/flux-system \(what the base checked\)/);
    expect(report.summary.verdict).toBe('fail');
  });

  it('re-pointing it at another GitRepository of this repository (the origin URL, the same branch) is no block', async () => {
    const repo = await repoWith({
      'clusters/prod/flux-system/gotk-sync.yaml': bootstrap(),
      'clusters/prod/apps.yaml': fluxKustomization('apps', { path: './apps' }),
      'apps/kustomization.yaml': APPS_KUSTOMIZE,
      'apps/release.yaml': appliedRelease(BASE_VALUES),
    });
    await repo.git('remote', 'add', 'origin', FLEET);
    await repo.commit('a second name for this repository', {
      'clusters/prod/fleet.yaml': gitRepository('fleet', 'ssh://git@github.com/acme/fleet'),
      'clusters/prod/apps.yaml': fluxKustomization('apps', { path: './apps', sourceRef: { kind: 'GitRepository', name: 'fleet' } }),
      'apps/release.yaml': appliedRelease({ ...BASE_VALUES, extraArgs: [INCIDENT_FLAG] }),
    });
    const report = await runCheck({ cwd: repo.dir, base: 'main', head: 'change', cacheDir: cacheDir() });
    expect(report.findings.filter((f) => f.rule === 'flux/source-moved' || f.rule === 'kustomize/source-not-checked')).toEqual([]);
    // Still this repository: the release is checked, and the flag is found.
    expect(report.releases.find((r) => r.name === 'applied')?.status).toBe('rendered');
    expect(report.findings.some((f) => f.rule === 'container-flags/unknown-flag' && f.subject.name === 'applied')).toBe(true);
  });

  it('a Kustomization already on another repository at base stays a notice when the change edits it', async () => {
    const repo = await repoWith({
      'clusters/prod/flux-system/gotk-sync.yaml': bootstrap(),
      'clusters/prod/vendor.yaml': [gitRepository('vendor', 'https://github.com/vendor/stack.git'), fluxKustomization('vendor', { path: './deploy', sourceRef: { kind: 'GitRepository', name: 'vendor' } })].join('---\n'),
    });
    await repo.git('remote', 'add', 'origin', FLEET);
    await repo.commit('follow the vendor elsewhere', {
      'clusters/prod/vendor.yaml': [gitRepository('vendor', 'https://github.com/vendor/stack.git', { tag: 'v2.0.0' }), fluxKustomization('vendor', { path: './deploy/v2', sourceRef: { kind: 'GitRepository', name: 'vendor' } })].join('---\n'),
    });
    const report = await runCheck({ cwd: repo.dir, base: 'main', head: 'change', cacheDir: cacheDir() });
    expect(bySeverity(report, 'kustomize/source-not-checked')).toEqual([['notice', 'vendor']]);
    expect(bySeverity(report, 'flux/source-moved')).toEqual([]);
    expect(report.summary.verdict).toBe('pass');
  });
});

describe('charts on sources that are not this repository', () => {
  it('a release the change adds on such a source is a warning, not silent and not a block', async () => {
    const repo = await repoWith();
    const added = externalDnsRelease(BASE_VALUES).replace('name: external-dns\n', 'name: added\n').replace('name: flux-system\n', 'name: vendor-charts\n');
    await repo.commit('add a vendor release', { 'flux/vendor.yaml': gitRepository('vendor-charts', 'https://git.example.net/vendor/charts.git'), 'apps/added.yaml': added });
    const report = await runCheck({ cwd: repo.dir, base: 'main', head: 'change', cacheDir: cacheDir() });
    expect(bySeverity(report, 'render/source-not-checked')).toEqual([['warning', 'added']]);
    expect(report.releases.find((r) => r.name === 'added')?.status).toBe('not-checked');
    expect(report.summary.verdict).toBe('pass');
  });

  it('a release already on such a source at base stays a notice when the change edits it', async () => {
    const vendor = (values: Record<string, unknown>) => externalDnsRelease(values).replace('name: flux-system\n', 'name: vendor-charts\n');
    const repo = await repoWith({ 'flux/vendor.yaml': gitRepository('vendor-charts', 'https://git.example.net/vendor/charts.git'), [HR]: vendor(BASE_VALUES) });
    await repo.commit('edit it', { [HR]: vendor({ ...BASE_VALUES, extraArgs: ['--log-level=debug'] }) });
    const report = await runCheck({ cwd: repo.dir, base: 'main', head: 'change', cacheDir: cacheDir() });
    expect(bySeverity(report, 'render/source-not-checked')).toEqual([['notice', 'external-dns']]);
    expect(bySeverity(report, 'flux/source-moved')).toEqual([]);
    expect(report.summary.verdict).toBe('pass');
  });

  it('a source the base maps to this repository in .guard.yaml may take the release: checked, no block', async () => {
    const guardYaml = await fs.readFile(path.join(incidentFixture, 'base', '.guard.yaml'), 'utf8');
    const repo = await repoWith({ '.guard.yaml': `${guardYaml}gitRepositories:\n  flux-system/mirror: "."\n` });
    const moved = externalDnsRelease({ ...BASE_VALUES, extraArgs: [INCIDENT_FLAG] }).replace('name: flux-system\n', 'name: mirror\n');
    await repo.commit('move to the mirror name', { 'flux/mirror.yaml': gitRepository('mirror', 'https://git.example.net/elsewhere/mirror.git'), [HR]: moved });
    const report = await runCheck({ cwd: repo.dir, base: 'main', head: 'change', cacheDir: cacheDir() });
    expect(bySeverity(report, 'flux/source-moved')).toEqual([]);
    expect(report.releases.find((r) => r.name === 'external-dns')?.status).toBe('rendered');
    expect(report.findings.some((f) => f.rule === 'container-flags/unknown-flag')).toBe(true);
  });
});

describe('a source the base maps in .guard.yaml', () => {
  it('re-pointed by the change at another URL is no longer the mapped repository: the release the base checked blocks', async () => {
    const guardYaml = await fs.readFile(path.join(incidentFixture, 'base', '.guard.yaml'), 'utf8');
    const onMirror = (values: Record<string, unknown>) => externalDnsRelease(values).replace('name: flux-system\n', 'name: mirror\n');
    const repo = await repoWith({
      '.guard.yaml': `${guardYaml}gitRepositories:\n  flux-system/mirror: "."\n`,
      'flux/mirror.yaml': gitRepository('mirror', 'https://git.example.net/ops/mirror.git'),
      [HR]: onMirror(BASE_VALUES),
    });
    await repo.commit('re-point the mirror', { 'flux/mirror.yaml': gitRepository('mirror', 'https://git.example.net/attacker/mirror.git'), [HR]: onMirror({ ...BASE_VALUES, extraArgs: [INCIDENT_FLAG] }) });
    const report = await runCheck({ cwd: repo.dir, base: 'main', head: 'change', cacheDir: cacheDir() });
    const moved = report.findings.find((f) => f.rule === 'flux/source-moved');
    expect(moved).toMatchObject({ severity: 'error', subject: { name: 'external-dns' } });
    expect(moved?.message).toMatch(/maps flux-system\/mirror for git\.example\.net\/ops\/mirror/);
    expect(report.summary.verdict).toBe('fail');
  });
});

describe('classifyGitRepository with the base identity', () => {
  const objectOf = (text: string, file: string): RepoObject => {
    const body = (JSON.parse(JSON.stringify(parseYaml(text))) ?? {}) as Record<string, unknown>;
    const metadata = body.metadata as { name: string; namespace?: string };
    return { apiVersion: String(body.apiVersion), kind: String(body.kind), name: metadata.name, namespace: metadata.namespace, file, body } as unknown as RepoObject;
  };
  const inventoryOf = (...texts: string[]): RepoInventory => ({ objects: texts.map((t, i) => objectOf(t, `f${i}.yaml`)), byId: new Map(), problems: [], chartDirs: [] }) as unknown as RepoInventory;
  const context = { gitRepositories: {}, repoRoot: '/r', remoteUrls: [] as string[] };
  const ref = { namespace: 'flux-system', name: 'flux-system' };

  it('the bootstrap source moved to another branch, or given a URL where the base shows none, is not this repository', () => {
    const base = inventoryOf(gitRepository('flux-system', FLEET));
    const identity = repositoryIdentity(base, { ...context, rootSources: new Set(['flux-system/flux-system']) });
    expect(classifyGitRepository(ref, base, { ...context, identity })).toEqual({ kind: 'this' });
    expect(classifyGitRepository(ref, inventoryOf(gitRepository('flux-system', `${FLEET}/`, { branch: 'main' })), { ...context, identity })).toEqual({ kind: 'this' });
    expect(classifyGitRepository(ref, inventoryOf(gitRepository('flux-system', FLEET, { branch: 'evil' })), { ...context, identity }).kind).toBe('foreign');
    const unwritten = repositoryIdentity(inventoryOf(), { ...context, rootSources: new Set() });
    expect(classifyGitRepository(ref, inventoryOf(), { ...context, identity: unwritten })).toEqual({ kind: 'this' });
    expect(classifyGitRepository(ref, inventoryOf(gitRepository('flux-system', 'https://github.com/attacker/fork.git')), { ...context, identity: unwritten }).kind).toBe('foreign');
  });

  it('a mapped name keeps the URL the base gave it; one the base did not define is taken as mapped', () => {
    const mapping = { ...context, gitRepositories: { 'flux-system/platform': '.' } };
    const base = inventoryOf(gitRepository('platform', 'https://git.example.net/ops/platform.git'));
    const identity = repositoryIdentity(base, mapping);
    expect(identity.urls.has('git.example.net/ops/platform')).toBe(true);
    const platform = { namespace: 'flux-system', name: 'platform' };
    expect(classifyGitRepository(platform, base, { ...mapping, identity })).toEqual({ kind: 'this' });
    expect(classifyGitRepository(platform, inventoryOf(gitRepository('platform', 'git@git.example.net:attacker/platform.git')), { ...mapping, identity }).kind).toBe('foreign');
    const undefinedAtBase = repositoryIdentity(inventoryOf(), mapping);
    expect(classifyGitRepository(platform, inventoryOf(gitRepository('platform', 'https://git.example.net/new/platform.git')), { ...mapping, identity: undefinedAtBase })).toEqual({ kind: 'this' });
  });

  it('a root the change adds is not trusted: only the base roots and remotes say what this repository is', () => {
    const identity = repositoryIdentity(inventoryOf(), { ...context, remoteUrls: [FLEET], rootSources: new Set(['flux-system/flux-system']) });
    const head = inventoryOf(gitRepository('fork', 'https://github.com/attacker/fork.git'));
    expect(classifyGitRepository({ namespace: 'flux-system', name: 'fork' }, head, { ...context, rootSources: new Set(['flux-system/fork']), identity }).kind).toBe('foreign');
    // Without the base identity, the same inventory decides about itself (one revision read alone).
    expect(classifyGitRepository({ namespace: 'flux-system', name: 'fork' }, head, { ...context, rootSources: new Set(['flux-system/fork']) })).toEqual({ kind: 'this' });
  });
});
