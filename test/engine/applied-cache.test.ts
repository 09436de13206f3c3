import { promises as fs } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { checkRevisions, type CheckResult } from '../../src/engine.js';
import { forgetBuilds } from '../../src/flux/kustomize-build.js';
import { fluxKustomization, namedRelease } from '../support/flux-tree.js';
import { exampleRepo } from '../support/scenario.js';
import { useTempDirs } from '../support/temp-dirs.js';

/**
 * A rerun of the same revisions reads both revisions as Flux applies them from the cache
 * (src/flux/discovery-cache.ts): the same report, nothing parsed or built. Anything that could
 * change what Flux applies misses, and a damaged or failed entry is never used.
 */
const { tempDir, keepRepo } = useTempDirs();
const tempCache = () => tempDir('guard-applied-cache-');
const ks = fluxKustomization;
const release = namedRelease;

/** Flux applies apps/ (generated kustomization) with substitution from a Secret and a ConfigMap; two apps, one with the incident's flag. */
function fluxTree(): Record<string, string | null> {
  return {
    'infrastructure/external-dns/helmrelease.yaml': null,
    'clusters/main/source.yaml': stringify({ apiVersion: 'source.toolkit.fluxcd.io/v1', kind: 'GitRepository', metadata: { name: 'flux-system', namespace: 'flux-system' }, spec: { interval: '1h', url: 'ssh://git@example.net/ops', ref: { branch: 'main' } } }),
    'clusters/main/settings.yaml': [
      stringify({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'settings', namespace: 'flux-system' }, data: { TXT_OWNER: 'main' } }),
      stringify({ apiVersion: 'v1', kind: 'Secret', metadata: { name: 'secret-settings', namespace: 'flux-system' }, stringData: { API_TOKEN: 'hunter2-token' } }),
    ].join('---\n'),
    'clusters/main/apps.yaml': ks('apps', { path: './apps', targetNamespace: 'networking', postBuild: { substituteFrom: [{ kind: 'ConfigMap', name: 'settings' }, { kind: 'Secret', name: 'secret-settings' }] } }),
    'apps/kustomization.yaml': 'resources:\n  - ./dns-a.yaml\n  - ./dns-b.yaml\n',
    'apps/dns-a.yaml': release('dns-a', ['--cloudflare-proxied']),
    'apps/dns-b.yaml': release('dns-b', ['--cloudflare-proxied']),
  };
}

/** The report without what differs between two runs of the same check by nature (none of it a finding). */
function comparable(result: CheckResult): unknown {
  return { report: result.report, secrets: [...result.secrets].sort() };
}

async function check(options: Parameters<typeof checkRevisions>[0]): Promise<CheckResult> {
  forgetBuilds();
  return checkRevisions(options);
}

describe('a rerun of the same revisions', () => {
  it('gives the same report with nothing parsed or built, findings on the same lines, secrets still redacted', async () => {
    const repo = keepRepo(await exampleRepo(fluxTree()));
    await repo.commit('the incident flag', { 'apps/dns-b.yaml': release('dns-b', ['--traefik-disable-legacy']) });
    const cacheDir = await tempCache();
    const cold = await check({ cwd: repo.dir, base: 'main', head: 'change', cacheDir });
    expect(cold.timings.appliedFromCache).toBe(false);
    expect(cold.timings.kustomizeBuilds).toBeGreaterThan(0);
    const flagged = cold.report.findings.filter((f) => f.rule === 'container-flags/unknown-flag');
    expect(flagged.map((f) => [f.subject.name, f.location?.path])).toEqual([['dns-b', 'apps/dns-b.yaml']]);

    const warm = await check({ cwd: repo.dir, base: 'main', head: 'change', cacheDir });
    expect(warm.timings.appliedFromCache).toBe(true);
    expect(warm.timings.kustomizeBuilds).toBe(0);
    expect(comparable(warm)).toEqual(comparable(cold));
    expect(warm.secrets).toContain('hunter2-token');
    expect(JSON.stringify(warm.report)).not.toContain('hunter2-token');

    // --all is another question (every Kustomization built): not answered from the change's entry.
    const all = await check({ cwd: repo.dir, base: 'main', head: 'change', cacheDir, all: true });
    expect(all.timings.appliedFromCache).toBe(false);
  });

  it('misses when a file of either revision, the working tree or the policy changes', async () => {
    const repo = keepRepo(await exampleRepo(fluxTree()));
    const cacheDir = await tempCache();
    const first = await check({ cwd: repo.dir, base: 'main', head: 'change', cacheDir });
    expect(first.report.findings.filter((f) => f.rule === 'container-flags/unknown-flag')).toEqual([]);

    // The working tree: an untracked file (not ignored) is part of the head.
    await repo.write({ 'apps/dns-c.yaml': release('dns-c', ['--traefik-disable-legacy']), 'apps/kustomization.yaml': 'resources:\n  - ./dns-a.yaml\n  - ./dns-b.yaml\n  - ./dns-c.yaml\n' });
    const worktree = await check({ cwd: repo.dir, base: 'main', cacheDir });
    expect(worktree.timings.appliedFromCache).toBe(false);
    expect(worktree.report.findings.filter((f) => f.rule === 'container-flags/unknown-flag').map((f) => f.subject.name)).toEqual(['dns-c']);
    // The same working tree again: from the cache, the same verdict.
    const again = await check({ cwd: repo.dir, base: 'main', cacheDir });
    expect(again.timings.appliedFromCache).toBe(true);
    expect(comparable(again)).toEqual(comparable(worktree));

    // One byte of a substitution source: every release it reaches is checked again.
    await repo.write({ 'apps/dns-c.yaml': null, 'apps/kustomization.yaml': 'resources:\n  - ./dns-a.yaml\n  - ./dns-b.yaml\n' });
    await repo.commit('owner', { 'clusters/main/settings.yaml': fluxTree()['clusters/main/settings.yaml']!.replace('TXT_OWNER: main', 'TXT_OWNER: mainx') });
    const settings = await check({ cwd: repo.dir, base: 'main', head: 'change', cacheDir });
    expect(settings.timings.appliedFromCache).toBe(false);
    expect(settings.report.summary.releasesChecked).toBe(2);

    // The policy file is part of the key too (it is a file of the revision): a changed cluster.objects misses.
    await repo.commit('policy', { '.guard.yaml': (await fs.readFile(path.join(repo.dir, '.guard.yaml'), 'utf8')) + '\n# reviewed\n' });
    expect((await check({ cwd: repo.dir, base: 'main', head: 'change', cacheDir })).timings.appliedFromCache).toBe(false);
  });

  it('never uses a damaged entry, and keeps nothing of a run whose build failed', async () => {
    const repo = keepRepo(await exampleRepo(fluxTree()));
    await repo.commit('the incident flag', { 'apps/dns-b.yaml': release('dns-b', ['--traefik-disable-legacy']) });
    const cacheDir = await tempCache();
    const cold = await check({ cwd: repo.dir, base: 'main', head: 'change', cacheDir });
    const entries = await entriesUnder(path.join(cacheDir, 'applied'));
    expect(entries).toHaveLength(1);
    const data = await fs.readFile(entries[0]!);
    data[data.length - 5] = data[data.length - 5]! ^ 0xff;
    await fs.writeFile(entries[0]!, data);
    const damaged = await check({ cwd: repo.dir, base: 'main', head: 'change', cacheDir });
    expect(damaged.timings.appliedFromCache).toBe(false);
    expect(comparable(damaged)).toEqual(comparable(cold));

    // A build that fails (a resource that does not exist) may fail for reasons of this run: not kept.
    await repo.commit('broken', { 'apps/kustomization.yaml': 'resources:\n  - ./dns-a.yaml\n  - ./dns-b.yaml\n  - ./missing.yaml\n' });
    const failedCache = await tempCache();
    const broken = await check({ cwd: repo.dir, base: 'main', head: 'change', cacheDir: failedCache });
    expect(broken.report.findings.some((f) => f.rule === 'kustomize/build-failed')).toBe(true);
    expect(await entriesUnder(path.join(failedCache, 'applied'))).toEqual([]);
    const rerun = await check({ cwd: repo.dir, base: 'main', head: 'change', cacheDir: failedCache });
    expect(rerun.timings.appliedFromCache).toBe(false);
    expect(rerun.timings.kustomizeBuilds).toBeGreaterThan(0);
  });

  it('keeps the 128 entries used last: a kept CI cache does not grow with every pull request', async () => {
    const repo = keepRepo(await exampleRepo(fluxTree()));
    const cacheDir = await tempCache();
    const applied = path.join(cacheDir, 'applied');
    await check({ cwd: repo.dir, base: 'main', head: 'change', cacheDir });
    const [used] = await entriesUnder(applied);
    // 130 entries of other pull requests, older than the one in use.
    const long = new Date(Date.now() - 3600_000);
    for (let i = 0; i < 130; i++) {
      const other = path.join(applied, `${i.toString(16).padStart(64, '0')}.v8`);
      await fs.writeFile(other, 'other pull request');
      await fs.utimes(other, long, long);
    }
    await fs.utimes(used!, new Date(Date.now() - 7200_000), new Date(Date.now() - 7200_000));
    // A rerun reads it: it becomes the newest again.
    expect((await check({ cwd: repo.dir, base: 'main', head: 'change', cacheDir })).timings.appliedFromCache).toBe(true);
    // Another pull request writes its own entry, and the oldest go.
    await repo.commit('another', { 'apps/dns-a.yaml': release('dns-a', ['--cloudflare-proxied', '--interval=2m']) });
    await check({ cwd: repo.dir, base: 'main', head: 'change', cacheDir });
    const left = await entriesUnder(applied);
    expect(left).toHaveLength(128);
    expect(left).toContain(used);
    expect((await check({ cwd: repo.dir, base: 'main', head: 'change~1', cacheDir })).timings.appliedFromCache).toBe(true);
  });

  it('--no-cache neither reads nor writes it', async () => {
    const repo = keepRepo(await exampleRepo(fluxTree()));
    const cacheDir = await tempCache();
    await check({ cwd: repo.dir, base: 'main', head: 'change', cacheDir, noCache: true });
    expect(await entriesUnder(path.join(cacheDir, 'applied'))).toEqual([]);
  });
});

async function entriesUnder(dir: string): Promise<string[]> {
  return (await fs.readdir(dir).catch(() => [] as string[])).filter((file) => file.endsWith('.v8')).map((file) => path.join(dir, file));
}
