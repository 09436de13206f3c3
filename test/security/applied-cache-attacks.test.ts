import { promises as fs } from 'node:fs';
import path from 'node:path';
import v8 from 'node:v8';
import { describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { checkRevisions, type CheckResult } from '../../src/engine.js';
import { applyRevisions, type ApplySettings } from '../../src/flux/apply-revisions.js';
import { forgetBuilds } from '../../src/flux/kustomize-build.js';
import { CommitSnapshot, WorktreeSnapshot, remoteUrls } from '../../src/git/repo.js';
import { fluxKustomization, namedRelease } from '../support/flux-tree.js';
import type { TestRepo } from '../support/git-repo.js';
import { exampleRepo } from '../support/scenario.js';
import { useTempDirs } from '../support/temp-dirs.js';

/**
 * Red-team attacks on the "both revisions as Flux applies them" cache (src/flux/apply-revisions.ts,
 * src/flux/discovery-cache.ts). Every test asserts that a warm run answers exactly what a cold run
 * (noCache, or a fresh cacheDir) answers, or that the warm run misses. A failing test is a hole.
 */
const { tempDir: tempFolder, keepRepo } = useTempDirs();
const tempDir = (prefix = 'guard-applied-attack-') => tempFolder(prefix);
const ks = fluxKustomization;
const release = namedRelease;

const SETTINGS_CM = stringify({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'settings', namespace: 'flux-system' }, data: { TXT_OWNER: 'main' } });
const SETTINGS_SECRET = stringify({ apiVersion: 'v1', kind: 'Secret', metadata: { name: 'secret-settings', namespace: 'flux-system' }, stringData: { API_TOKEN: 'hunter2-token', TXT_SECRET: 's3cr3t-owner-value' } });

/** The applied-cache test's tree, plus the shapes that stress serialization and the engine's use of the result. */
function richTree(): Record<string, string | null> {
  return {
    'infrastructure/external-dns/helmrelease.yaml': null,
    'clusters/main/source.yaml': stringify({ apiVersion: 'source.toolkit.fluxcd.io/v1', kind: 'GitRepository', metadata: { name: 'flux-system', namespace: 'flux-system' }, spec: { interval: '1h', url: 'ssh://git@example.net/ops', ref: { branch: 'main' } } }),
    'clusters/main/settings.yaml': [SETTINGS_CM, SETTINGS_SECRET].join('---\n'),
    'clusters/main/apps.yaml': ks('apps', { path: './apps', targetNamespace: 'networking', postBuild: { substituteFrom: [{ kind: 'ConfigMap', name: 'settings' }, { kind: 'Secret', name: 'secret-settings' }] } }),
    // A Kustomization the change to apps/ cannot reach: skipped (unbuilt releases listed as unchanged).
    'clusters/main/other.yaml': ks('other', { path: './other', targetNamespace: 'other' }),
    'other/kustomization.yaml': 'resources:\n  - ./dns-o.yaml\n',
    'other/dns-o.yaml': release('dns-o', [], 'other'),
    // Patches, components, a List with anchors and aliases, __proto__ keys.
    'clusters/main/infra.yaml': ks('infra', {
      path: './infra',
      components: ['../components/labels'],
      patches: [{ patch: 'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\ndata:\n  patched: "yes"\n', target: { kind: 'ConfigMap', name: 'a' } }],
    }),
    'infra/kustomization.yaml': 'resources:\n  - ./list.yaml\n',
    'infra/list.yaml': [
      'apiVersion: v1',
      'kind: List',
      'items:',
      '  - apiVersion: v1',
      '    kind: ConfigMap',
      '    metadata: &meta',
      '      name: a',
      '      labels: { shared: "1" }',
      '    data: &d',
      '      __proto__: polluted',
      '      k: v',
      '  - apiVersion: v1',
      '    kind: ConfigMap',
      '    metadata: { name: b }',
      '    data: *d',
      '',
    ].join('\n'),
    'components/labels/kustomization.yaml': 'apiVersion: kustomize.config.k8s.io/v1alpha1\nkind: Component\nlabels:\n  - pairs: { team: infra }\n',
    // A plain kustomize folder no Flux Kustomization reaches: built as a unit.
    'standalone/kustomization.yaml': 'resources:\n  - ./cm.yaml\n',
    'standalone/cm.yaml': stringify({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'standalone', namespace: 'default' }, data: { x: '1' } }),
    // Bad input: a duplicate key, a tab, non-UTF-8.
    'misc/broken.yaml': 'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: dup\n  name: dup2\n',
    'misc/latin1.yaml': Buffer.from([0x61, 0x3a, 0x20, 0xe9, 0x0a]).toString('latin1'),
    'apps/kustomization.yaml': 'resources:\n  - ./dns-a.yaml\n  - ./dns-b.yaml\n',
    'apps/dns-a.yaml': release('dns-a', ['--cloudflare-proxied']),
    'apps/dns-b.yaml': release('dns-b', ['--cloudflare-proxied']),
  };
}

/** The report without what differs between two runs of the same check by nature (none of it a finding). */
function comparable(result: CheckResult): unknown {
  return { report: result.report, secrets: [...result.secrets].sort() };
}

/** Only the findings and releases (when head info legitimately differs: a commit against a working tree). */
function verdictOf(result: CheckResult): unknown {
  const { findings, releases, summary } = result.report;
  return { findings, releases: [...releases].sort((a, b) => `${a.namespace}/${a.name}`.localeCompare(`${b.namespace}/${b.name}`)), summary, secrets: [...result.secrets].sort() };
}

async function check(options: Parameters<typeof checkRevisions>[0]): Promise<CheckResult> {
  forgetBuilds();
  return checkRevisions(options);
}

async function writeLatin1(dir: string): Promise<void> {
  await fs.writeFile(path.join(dir, 'misc/latin1.yaml'), Buffer.from([0x61, 0x3a, 0x20, 0xe9, 0x0a]));
}

/** A cold run (fresh cache, then noCache), a warm run, compared. */
async function coldWarm(options: Omit<Parameters<typeof checkRevisions>[0], 'cacheDir' | 'noCache'>) {
  const cacheDir = await tempDir();
  const noCache = await check({ ...options, noCache: true });
  const cold = await check({ ...options, cacheDir });
  const warm = await check({ ...options, cacheDir });
  return { noCache, cold, warm, cacheDir };
}

async function richRepo(): Promise<TestRepo> {
  const r = await exampleRepo(richTree());
  await writeLatin1(r.dir);
  await r.git('add', '--all');
  await r.git('commit', '--quiet', '--amend', '--no-edit');
  await r.git('branch', '-f', 'main', 'HEAD');
  await fs.symlink('../apps/dns-a.yaml', path.join(r.dir, 'misc/link.yaml'));
  await r.commit('a link');
  await r.git('branch', '-f', 'main', 'HEAD');
  return r;
}

/** Walks two graphs in the same order: the same shape, the same prototypes, the same sharing of objects. */
function shapeOf(value: unknown): unknown[] {
  const seen = new Map<object, number>();
  const out: unknown[] = [];
  const walk = (v: unknown, depth: number): void => {
    if (depth > 200) return;
    if (v === null || typeof v !== 'object') {
      out.push(typeof v === 'number' && Object.is(v, -0) ? '-0' : typeof v === 'function' ? 'fn' : v);
      return;
    }
    const id = seen.get(v);
    if (id !== undefined) {
      out.push(`ref#${id}`);
      return;
    }
    seen.set(v, seen.size);
    const proto = Object.getPrototypeOf(v);
    out.push(`proto:${proto === null ? 'null' : (proto.constructor?.name ?? '?')}`);
    out.push(`symbols:${Object.getOwnPropertySymbols(v).length}`);
    out.push(`hidden:${Object.getOwnPropertyNames(v).filter((k) => !Object.getOwnPropertyDescriptor(v, k)!.enumerable && !(Array.isArray(v) && k === 'length')).join(',')}`);
    if (v instanceof Map) for (const [k, x] of v) (walk(k, depth + 1), walk(x, depth + 1));
    else if (v instanceof Set) for (const x of v) walk(x, depth + 1);
    else if (Buffer.isBuffer(v)) out.push(v.toString('hex'));
    else for (const k of Object.keys(v)) (out.push(`key:${k}`), walk((v as Record<string, unknown>)[k], depth + 1));
  };
  walk(value, 0);
  return out;
}

describe('applied cache: v8 round-trip fidelity', () => {
  it('a warm applyRevisions result has the same prototypes, hidden/symbol keys, object sharing and no run-specific paths', async () => {
    const repo = keepRepo(await richRepo());
    await repo.commit('the incident flag, the ConfigMap removed', {
      'apps/dns-b.yaml': release('dns-b', ['--traefik-disable-legacy']),
      'clusters/main/settings.yaml': SETTINGS_SECRET,
    });
    const root = repo.dir;
    const baseSha = await repo.git('rev-parse', 'main');
    const headSha = await repo.git('rev-parse', 'change');
    const cacheDir = await tempDir();
    const settings = async (): Promise<ApplySettings> => ({
      root,
      remoteUrls: await remoteUrls(root),
      configFile: '.guard.yaml',
      helpDir: '.guard/help',
      all: false,
      gitRepositories: {},
      clusterObjects: [],
      timeoutMs: 120_000,
      scratchDir: await tempDir('guard-run-attack-'),
      cacheDir,
    });
    forgetBuilds();
    const cold = await applyRevisions(new CommitSnapshot(root, baseSha, 'base'), new CommitSnapshot(root, headSha, 'head'), await settings());
    forgetBuilds();
    const warm = await applyRevisions(new CommitSnapshot(root, baseSha, 'base'), new CommitSnapshot(root, headSha, 'head'), await settings());
    expect(cold.fromCache).toBe(false);
    expect(warm.fromCache).toBe(true);
    const strip = ({ fromCache: _f, ...rest }: typeof cold) => rest;
    expect(shapeOf(strip(warm))).toEqual(shapeOf(strip(cold)));
    expect(strip(warm)).toStrictEqual(strip(cold));
    // Nothing of the cold run's scratch folder (deleted after the run) is kept in the entry.
    expect(JSON.stringify(v8.deserialize(v8.serialize(strip(cold))), (_k, v) => (v instanceof Map ? [...v] : v instanceof Set ? [...v] : v))).not.toMatch(/guard-run-attack-|guard-kustomize-home-/);
  });
});

describe('applied cache: warm equals cold', () => {
  it('rich repository, commit head (escalated removed substitution source, Secret values, List, patches, components, units, bad YAML, link, skipped Kustomization)', async () => {
    const repo = keepRepo(await richRepo());
    await repo.commit('the incident flag, the ConfigMap removed', {
      'apps/dns-b.yaml': release('dns-b', ['--traefik-disable-legacy']),
      'clusters/main/settings.yaml': SETTINGS_SECRET,
    });
    const { noCache, cold, warm } = await coldWarm({ cwd: repo.dir, base: 'main', head: 'change' });
    expect(warm.timings.appliedFromCache).toBe(true);
    expect(cold.report.findings.some((f) => f.severity === 'error' && /this change removes it/.test(f.message))).toBe(true);
    expect(comparable(cold)).toEqual(comparable(noCache));
    expect(comparable(warm)).toEqual(comparable(cold));
    expect(JSON.stringify(warm.report)).not.toContain('hunter2-token');
  });

  it('rich repository, a change that skips an unreachable Kustomization: unbuilt releases and findings equal', async () => {
    const repo = keepRepo(await richRepo());
    await repo.commit('the incident flag', { 'apps/dns-b.yaml': release('dns-b', ['--traefik-disable-legacy']) });
    const { noCache, cold, warm } = await coldWarm({ cwd: repo.dir, base: 'main', head: 'change' });
    expect(warm.timings.appliedFromCache).toBe(true);
    expect(cold.report.releases.some((r) => r.name === 'dns-o' && r.status === 'unchanged')).toBe(true);
    expect(comparable(cold)).toEqual(comparable(noCache));
    expect(comparable(warm)).toEqual(comparable(cold));
  });

  it('rich repository, working-tree head', async () => {
    const repo = keepRepo(await richRepo());
    await repo.write({ 'apps/dns-b.yaml': release('dns-b', ['--traefik-disable-legacy']), 'clusters/main/settings.yaml': SETTINGS_SECRET });
    const { noCache, cold, warm } = await coldWarm({ cwd: repo.dir, base: 'main' });
    expect(warm.timings.appliedFromCache).toBe(true);
    expect(comparable(cold)).toEqual(comparable(noCache));
    expect(comparable(warm)).toEqual(comparable(cold));
  });

  it("a commit's entry answering for an identical working tree gives the working tree's cold verdict", async () => {
    const repo = keepRepo(await richRepo());
    await repo.commit('the incident flag', { 'apps/dns-b.yaml': release('dns-b', ['--traefik-disable-legacy']) });
    const cacheDir = await tempDir();
    await check({ cwd: repo.dir, base: 'main', head: 'change', cacheDir });
    // The working tree is the change commit, file for file (the link is not a file of either).
    const warm = await check({ cwd: repo.dir, base: 'main', cacheDir });
    const cold = await check({ cwd: repo.dir, base: 'main', noCache: true });
    expect(warm.timings.appliedFromCache).toBe(true);
    expect(verdictOf(warm)).toEqual(verdictOf(cold));
  });

  it('a symbolic link added to the working tree after the entry was kept is still reported', async () => {
    const repo = keepRepo(await richRepo());
    await repo.write({ 'apps/dns-b.yaml': release('dns-b', ['--traefik-disable-legacy']) });
    const cacheDir = await tempDir();
    await check({ cwd: repo.dir, base: 'main', cacheDir });
    // A link is not part of the tree digest: the same key.
    await fs.symlink('dns-a.yaml', path.join(repo.dir, 'apps/dns-link.yaml'));
    const warm = await check({ cwd: repo.dir, base: 'main', cacheDir });
    const cold = await check({ cwd: repo.dir, base: 'main', noCache: true });
    expect(warm.timings.appliedFromCache).toBe(true);
    expect(cold.report.findings.some((f) => f.rule === 'repo/symlink-not-followed' && f.location.path === 'apps/dns-link.yaml')).toBe(true);
    expect(comparable(warm)).toEqual(comparable(cold));
  });

  it('a file newly ignored through .git/info/exclude (outside both trees) misses', async () => {
    const repo = keepRepo(await exampleRepo(richTree()));
    await repo.write({ 'apps/dns-c.yaml': release('dns-c', ['--traefik-disable-legacy']), 'apps/kustomization.yaml': 'resources:\n  - ./dns-a.yaml\n  - ./dns-b.yaml\n  - ./dns-c.yaml\n' });
    const cacheDir = await tempDir();
    await check({ cwd: repo.dir, base: 'main', cacheDir });
    await fs.appendFile(path.join(repo.dir, '.git/info/exclude'), 'apps/dns-c.yaml\n');
    const warm = await check({ cwd: repo.dir, base: 'main', cacheDir });
    const cold = await check({ cwd: repo.dir, base: 'main', noCache: true });
    expect(comparable(warm)).toEqual(comparable(cold));
  });

  it('another --config file with the same trees misses (or agrees)', async () => {
    const repo = keepRepo(await exampleRepo(richTree()));
    const policy = await fs.readFile(path.join(repo.dir, '.guard.yaml'), 'utf8');
    await repo.commit('alternative policy', { 'policy/strict.yaml': `${policy}\ncluster:\n  objects: [Secret/flux-system/secret-settings]\n` });
    await repo.git('branch', '-f', 'main', 'HEAD');
    await repo.commit('the incident flag', { 'apps/dns-b.yaml': release('dns-b', ['--traefik-disable-legacy']) });
    const cacheDir = await tempDir();
    await check({ cwd: repo.dir, base: 'main', head: 'change', cacheDir });
    const warm = await check({ cwd: repo.dir, base: 'main', head: 'change', cacheDir, configFile: 'policy/strict.yaml' });
    const cold = await check({ cwd: repo.dir, base: 'main', head: 'change', noCache: true, configFile: 'policy/strict.yaml' });
    expect(comparable(warm)).toEqual(comparable(cold));
  });

  it('two concurrent checks of the same revisions, one cache folder: both agree with a cold run and the entry is good', async () => {
    const repo = keepRepo(await richRepo());
    await repo.commit('the incident flag', { 'apps/dns-b.yaml': release('dns-b', ['--traefik-disable-legacy']) });
    const cacheDir = await tempDir();
    forgetBuilds();
    const [a, b] = await Promise.all([checkRevisions({ cwd: repo.dir, base: 'main', head: 'change', cacheDir }), checkRevisions({ cwd: repo.dir, base: 'main', head: 'change', cacheDir })]);
    const cold = await check({ cwd: repo.dir, base: 'main', head: 'change', noCache: true });
    const warm = await check({ cwd: repo.dir, base: 'main', head: 'change', cacheDir });
    expect(warm.timings.appliedFromCache).toBe(true);
    for (const r of [a, b, warm]) expect(comparable(r)).toEqual(comparable(cold));
  });
});

describe('applied cache: the working tree changing during a run', () => {
  it('a working-tree file edited between the key and discovery does not poison the entry for the original content', async () => {
    // The applied-cache test's tree (no bad input of its own): the verdict is the incident flag alone.
    const tree = richTree();
    for (const f of Object.keys(tree)) if (f.startsWith('misc/')) delete tree[f];
    const repo = keepRepo(await exampleRepo(tree));
    const dangerous = release('dns-b', ['--traefik-disable-legacy']);
    const benign = release('dns-b', ['--cloudflare-proxied']);
    await repo.write({ 'apps/dns-b.yaml': dangerous });
    const cacheDir = await tempDir();
    // Simulates an editor save / `git checkout` / a build step racing the check: the head's digest
    // is taken on the dangerous content, then the file changes before discovery reads it.
    const original = WorktreeSnapshot.prototype.treeDigest;
    const file = path.join(repo.dir, 'apps/dns-b.yaml');
    let armed = true;
    WorktreeSnapshot.prototype.treeDigest = async function (this: WorktreeSnapshot, dir: string) {
      const digest = await original.call(this, dir);
      if (armed && dir === '') {
        armed = false;
        await fs.writeFile(file, benign);
      }
      return digest;
    };
    try {
      await check({ cwd: repo.dir, base: 'main', cacheDir });
    } finally {
      WorktreeSnapshot.prototype.treeDigest = original;
    }
    // The edit is undone: the working tree is the dangerous content again, the same key.
    await fs.writeFile(file, dangerous);
    const cold = await check({ cwd: repo.dir, base: 'main', noCache: true });
    expect(cold.report.summary.verdict).toBe('fail');
    expect(cold.report.findings.some((f) => f.rule === 'container-flags/unknown-flag' && f.subject.name === 'dns-b')).toBe(true);
    const warm = await check({ cwd: repo.dir, base: 'main', cacheDir });
    expect({ verdict: warm.report.summary.verdict, fromCache: warm.timings.appliedFromCache }).toEqual({ verdict: 'fail', fromCache: expect.any(Boolean) });
    expect(comparable(warm)).toEqual(comparable(cold));
  });
});

describe('kustomize build cache (the other warm cache the applied result is made from)', () => {
  it('a second kustomization file added to a folder built by an earlier run of the same pull request is not hidden by the cached build', async () => {
    const tree = richTree();
    for (const f of Object.keys(tree)) if (f.startsWith('misc/')) delete tree[f];
    const repo = keepRepo(await exampleRepo(tree));
    // Push 1 of a hostile pull request: a new Flux Kustomization over a clean folder. The guard builds it and keeps the build.
    await repo.commit('new app', {
      'clusters/main/apps2.yaml': ks('apps2', { path: './apps2', targetNamespace: 'networking' }),
      'apps2/kustomization.yaml': 'resources:\n  - ./cm.yaml\n',
      'apps2/cm.yaml': stringify({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'apps2' }, data: { a: '1' } }),
    });
    const cacheDir = await tempDir();
    const first = await check({ cwd: repo.dir, base: 'main', head: 'change', cacheDir });
    expect(first.report.findings.filter((f) => f.rule.startsWith('kustomize/'))).toEqual([]);
    // Push 2: a kustomization.yml beside it. kustomize (and so Flux) refuses the folder: "Found multiple kustomization files".
    await repo.commit('second kustomization file', { 'apps2/kustomization.yml': 'resources:\n  - ./cm.yaml\n  - ./other.yaml\n' });
    const cold = await check({ cwd: repo.dir, base: 'main', head: 'change', noCache: true });
    expect(cold.report.findings.some((f) => f.rule === 'kustomize/build-failed')).toBe(true);
    expect(cold.report.summary.verdict).toBe('fail');
    const warm = await check({ cwd: repo.dir, base: 'main', head: 'change', cacheDir });
    expect(warm.timings.appliedFromCache).toBe(false); // another head tree: the kustomize build cache answers
    expect(warm.report.summary.verdict).toBe('fail');
    expect(comparable(warm)).toEqual(comparable(cold));
  });
});
