import { execa } from 'execa';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { stringify } from 'yaml';
import { afterEach, describe, expect, it } from 'vitest';
import { checkRevisions, inShard, runCheck } from '../../src/engine.js';
import type { TestRepo } from '../support/git-repo.js';
import { FakeForge } from '../support/fake-forge.js';
import { repoRoot } from '../support/paths.js';
import { assertValidReport } from '../support/report-schema.js';
import { BASE_VALUES, exampleRepo, externalDnsRelease } from '../support/scenario.js';

let repo: TestRepo | undefined;
let cacheDir: string;
afterEach(async () => {
  await repo?.remove();
  repo = undefined;
});

const configMap = (owner: string) => stringify({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'dns-values', namespace: 'networking' }, data: { 'values.yaml': `txtOwnerId: ${owner}\n` } });
const withValuesFrom = externalDnsRelease(BASE_VALUES, { valuesFrom: [{ kind: 'ConfigMap', name: 'dns-values' }] });

async function affected(base: Record<string, string | null>, change: Record<string, string | null>): Promise<string[]> {
  cacheDir = await fs.mkdtemp(path.join(os.tmpdir(), 'guard-incremental-'));
  repo = await exampleRepo({ 'infrastructure/external-dns/helmrelease.yaml': withValuesFrom, 'infrastructure/external-dns/values.yaml': configMap('a'), ...base });
  await repo.commit('change', change);
  const report = await runCheck({ cwd: repo.dir, base: 'main', head: 'change', cacheDir });
  return report.releases.filter((r) => r.status !== 'unchanged').map((r) => r.name);
}

describe('only what a change can affect is rendered, and nothing it affects is skipped', () => {
  it('an unrelated file affects nothing', async () => {
    expect(await affected({}, { 'docs/readme.md': 'hello\n' })).toEqual([]);
  });

  it('a valuesFrom ConfigMap change affects the release that reads it', async () => {
    expect(await affected({}, { 'infrastructure/external-dns/values.yaml': configMap('b') })).toEqual(['external-dns']);
  });

  it('a chart file change affects every release of that chart', async () => {
    expect(await affected({}, { 'charts/external-dns/templates/extra.yaml': 'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: extra\n' })).toEqual(['external-dns']);
  });

  it('a help output or policy change affects every release', async () => {
    const help = 'charts/../.guard/help/registry.k8s.io/external-dns/external-dns/v0.19.0.txt'.replace('charts/../', '');
    const text = await fs.readFile(path.join(repoRoot, 'fixtures/external-dns/help-v0.19.0.txt'), 'utf8');
    expect(await affected({}, { [help]: text + '\n' })).toEqual(['external-dns']);
    await repo?.remove();
    expect(await affected({}, { '.guard.yaml': 'version: 1\nfailOn: warning\n' })).toEqual(['external-dns']);
  });

  it('a HelmRepository change affects the releases using it', async () => {
    const helmRepository = (url: string) => stringify({ apiVersion: 'source.toolkit.fluxcd.io/v1', kind: 'HelmRepository', metadata: { name: 'charts', namespace: 'flux-system' }, spec: { url } });
    const release = stringify({
      apiVersion: 'helm.toolkit.fluxcd.io/v2',
      kind: 'HelmRelease',
      metadata: { name: 'remote', namespace: 'apps' },
      spec: { chart: { spec: { chart: 'x', version: '1.0.0', sourceRef: { kind: 'HelmRepository', name: 'charts', namespace: 'flux-system' } } } },
    });
    // Rendering it is what proves it affected: the new URL does not answer, which is "could not check" (not unchanged).
    expect(await affected({ 'apps/remote.yaml': release, 'apps/repo.yaml': helmRepository('http://127.0.0.1:9/a') }, { 'apps/repo.yaml': helmRepository('http://127.0.0.1:9/b') })).toEqual(['remote']);
  });
});

describe('the render cache', () => {
  it('renders base and head once when they are equal, and a warm rerun renders nothing with the same verdict', async () => {
    cacheDir = await fs.mkdtemp(path.join(os.tmpdir(), 'guard-cache-'));
    repo = await exampleRepo();
    await repo.commit('change', { 'infrastructure/external-dns/helmrelease.yaml': externalDnsRelease({ ...BASE_VALUES, extraArgs: ['--traefik-disable-legacy'] }) });
    const all = await checkRevisions({ cwd: repo.dir, base: 'main', head: 'main', all: true, cacheDir });
    expect(all.timings.helmRenders).toBe(1);
    const cold = await checkRevisions({ cwd: repo.dir, base: 'main', head: 'change', cacheDir });
    const warm = await checkRevisions({ cwd: repo.dir, base: 'main', head: 'change', cacheDir });
    expect(cold.timings.helmRenders).toBe(1);
    expect(warm.timings.helmRenders).toBe(0);
    expect(warm.timings.renderCacheHits).toBe(2);
    expect(warm.report.findings).toEqual(cold.report.findings);
    const uncached = await checkRevisions({ cwd: repo.dir, base: 'main', head: 'change', cacheDir, noCache: true });
    expect(uncached.report.findings).toEqual(cold.report.findings);
  });

  it('ignores an entry whose content does not hash to what it says, or that answers another key, and renders again', async () => {
    cacheDir = await fs.mkdtemp(path.join(os.tmpdir(), 'guard-cache-'));
    repo = await exampleRepo();
    await repo.commit('change', { 'infrastructure/external-dns/helmrelease.yaml': externalDnsRelease({ ...BASE_VALUES, extraArgs: ['--traefik-disable-legacy'] }) });
    const cold = await checkRevisions({ cwd: repo.dir, base: 'main', head: 'change', cacheDir });
    expect(cold.report.summary.verdict).toBe('fail');
    const entries = (await fs.readdir(path.join(cacheDir, 'renders'), { recursive: true })).filter((f) => f.endsWith('.json')).map((f) => path.join(cacheDir, 'renders', f));
    expect(entries.length).toBeGreaterThan(0);
    // A poisoned entry: the bad flag taken out of the args, the recorded hash left as it was.
    for (const file of entries) {
      const entry = JSON.parse(await fs.readFile(file, 'utf8'));
      for (const container of entry.render.containers) container.args = (container.args as string[]).filter((a) => !a.includes('traefik'));
      await fs.writeFile(file, JSON.stringify(entry));
    }
    const poisoned = await checkRevisions({ cwd: repo.dir, base: 'main', head: 'change', cacheDir });
    // The base's entry never had the flag, so it is intact and used; the head's is rendered again.
    expect(poisoned.timings).toMatchObject({ helmRenders: 1, renderCacheHits: 1 });
    expect(poisoned.report.findings).toEqual(cold.report.findings);
    // An entry moved under another key: same hash, wrong key.
    const [first] = entries as [string];
    const moved = JSON.parse(await fs.readFile(first, 'utf8'));
    moved.key = 'f'.repeat(64);
    await fs.writeFile(first, JSON.stringify(moved));
    const misplaced = await checkRevisions({ cwd: repo.dir, base: 'main', head: 'change', cacheDir });
    expect(misplaced.timings.helmRenders).toBe(1);
    expect(misplaced.report.findings).toEqual(cold.report.findings);
  });
});

describe('shards', () => {
  it('split the affected releases deterministically, and merged they give the unsharded verdict', async () => {
    cacheDir = await fs.mkdtemp(path.join(os.tmpdir(), 'guard-shards-'));
    const names = ['alpha', 'bravo', 'charlie', 'delta', 'echo', 'foxtrot', 'golf'];
    const files = (extra: string[]) =>
      Object.fromEntries(names.map((name) => [`apps/${name}.yaml`, externalDnsRelease({ ...BASE_VALUES, extraArgs: extra }).replace('name: external-dns', `name: ${name}`)]));
    repo = await exampleRepo(files([]));
    await repo.commit('change', files(['--traefik-disable-legacy']));
    const cli = path.join(repoRoot, 'build', 'cli.js');
    const env = { GUARD_CACHE_DIR: cacheDir };
    const shardFiles: string[] = [];
    const seen: string[] = [];
    for (let index = 1; index <= 3; index++) {
      const result = await execa('node', [cli, 'check', '--base', 'main', '--head', 'change', '--format', 'json', '--shard', `${index}/3`], { cwd: repo.dir, reject: false, env });
      const report = JSON.parse(result.stdout);
      assertValidReport(report);
      seen.push(...report.releases.filter((r: { status: string }) => r.status !== 'unchanged').map((r: { name: string }) => r.name));
      const file = path.join(cacheDir, `shard-${index}.json`);
      await fs.writeFile(file, result.stdout);
      shardFiles.push(file);
    }
    expect(seen.filter((n) => names.includes(n)).sort()).toEqual(names);
    const merged = await execa('node', [cli, 'report', 'merge', ...shardFiles, '--format', 'json'], { reject: false });
    expect(merged.exitCode).toBe(1);
    const whole = await runCheck({ cwd: repo.dir, base: 'main', head: 'change', cacheDir });
    const mergedReport = JSON.parse(merged.stdout);
    assertValidReport(mergedReport);
    expect(mergedReport.findings).toEqual(whole.findings);
    expect(mergedReport.summary).toEqual(whole.summary);
    const forge = await FakeForge.start('github');
    const posted = await execa('node', [cli, 'report', 'merge', ...shardFiles, '--format', 'github'], {
      reject: false,
      env: { GITHUB_ACTIONS: '', GUARD_TOKEN: 'token', GITHUB_REPOSITORY: 'o/r', GUARD_PR: '5', GUARD_SHA: whole.head.sha, GITHUB_API_URL: forge.apiUrl },
    });
    expect(posted.exitCode).toBe(1);
    expect(forge.statuses).toEqual([expect.objectContaining({ state: 'failure' })]);
    expect(forge.issueComments).toHaveLength(1);
    expect(forge.violations()).toEqual([]);
    await forge.stop();
    const partial = await execa('node', [cli, 'report', 'merge', shardFiles[0]!, shardFiles[2]!], { reject: false });
    expect(partial.exitCode).toBe(2);
    expect(partial.stderr).toContain('missing');
    expect(names.map((n) => [1, 2, 3].filter((i) => inShard(`networking/${n}`, { index: i, total: 3 })).length)).toEqual(names.map(() => 1));
  });
});
