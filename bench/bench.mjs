// Speed of gitops-guard against its floor: the tools themselves, run bare in the same session.
//
//   npm run bench                 N = 10, 100 and 500 HelmReleases over 3 charts, a home-ops shaped
//                                 repository (80 Flux Kustomizations) at 80 and 500 releases, and fleets of 12 and 50 hosts
//   npm run bench -- 100          one size only (flat corpus)
//   npm run bench -- home-ops 80  the home-ops shaped corpus only, at 80 releases
//   npm run bench -- fleet        the fleet at scale only (12 and 50 toy hosts with a per-host cost: bench/fleet.mjs)
//
// Floors: `helm template` of the same releases with the same values, started by xargs -P <cores>
// (no node involved), `kubectl kustomize` of each distinct Kustomization folder once, and a bare
// `nix eval` per host at base and head for the fleet (bench/fleet.mjs).
import { execa } from 'execa';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { stringify } from 'yaml';
import { checkRevisions } from '../build/engine.js';
import { resolveHelm } from '../build/helm/binary.js';

import { forgetBuilds } from '../build/flux/kustomize-build.js';
import { resolveKubectl } from '../build/kustomize/binary.js';
import { benchFleetScale } from './fleet.mjs';
import { CHART, floorBuilds, homeOpsFiles, packageChart, releaseValues, serveCharts, writeFiles } from './home-ops.mjs';

const root = fileURLToPath(new URL('..', import.meta.url));
const fleetOnly = process.argv[2] === 'fleet';
const homeOpsOnly = process.argv[2] === 'home-ops';
const sizes = homeOpsOnly || fleetOnly ? [] : process.argv[2] ? [Number(process.argv[2])] : [10, 100, 500];
const homeOpsSizes = homeOpsOnly ? (process.argv[3] ? [Number(process.argv[3])] : [80, 500]) : process.argv[2] ? [] : [80, 500];
const cores = os.availableParallelism();
const CHARTS = ['external-dns', 'dns-edge', 'dns-internal'];
const gitEnv = { GIT_AUTHOR_NAME: 'bench', GIT_AUTHOR_EMAIL: 'bench@example.net', GIT_COMMITTER_NAME: 'bench', GIT_COMMITTER_EMAIL: 'bench@example.net' };

const time = async (fn) => {
  const started = performance.now();
  const result = await fn();
  return { ms: performance.now() - started, result };
};
const fmt = (ms) => `${ms.toFixed(0)} ms`;
const ratio = (a, b) => `${(a / b).toFixed(2)}x`;

function values(i, interval) {
  return { interval, sources: ['service', 'ingress'], policy: 'sync', provider: { name: 'cloudflare' }, txtOwnerId: `owner-${i}` };
}

function release(i, interval) {
  return stringify({
    apiVersion: 'helm.toolkit.fluxcd.io/v2',
    kind: 'HelmRelease',
    metadata: { name: `dns-${i}`, namespace: 'networking' },
    spec: {
      chart: { spec: { chart: `./charts/${CHARTS[i % CHARTS.length]}`, version: '1.19.0', sourceRef: { kind: 'GitRepository', name: 'flux-system', namespace: 'flux-system' } } },
      values: values(i, interval),
    },
  });
}

async function makeRepo(work, n) {
  const repo = path.join(work, 'repo');
  const git = (...args) => execa('git', args, { cwd: repo, env: gitEnv });
  await fs.mkdir(repo, { recursive: true });
  await git('init', '-q', '-b', 'main');
  for (const chart of CHARTS) {
    await fs.cp(path.join(root, 'fixtures/incident/base/charts/external-dns'), path.join(repo, 'charts', chart), { recursive: true });
    const chartYaml = path.join(repo, 'charts', chart, 'Chart.yaml');
    await fs.writeFile(chartYaml, (await fs.readFile(chartYaml, 'utf8')).replace('name: external-dns', `name: ${chart}`));
  }
  await fs.cp(path.join(root, 'fixtures/incident/base/.guard'), path.join(repo, '.guard'), { recursive: true });
  await fs.mkdir(path.join(repo, 'releases'));
  for (let i = 0; i < n; i++) await fs.writeFile(path.join(repo, 'releases', `dns-${i}.yaml`), release(i, '1m'));
  await git('add', '-A');
  await git('commit', '-qm', 'base');
  await git('checkout', '-qb', 'all');
  for (let i = 0; i < n; i++) await fs.writeFile(path.join(repo, 'releases', `dns-${i}.yaml`), release(i, '2m'));
  await git('commit', '-qam', 'change every release');
  await git('checkout', '-qb', 'one', 'main');
  await fs.writeFile(path.join(repo, 'releases', 'dns-0.yaml'), release(0, '3m'));
  await git('commit', '-qam', 'change one release');
  await git('checkout', '-q', 'main');
  return repo;
}

/** The floor: bare helm template of `count` releases, `parallel` at a time, started by xargs. */
async function helmFloor(work, repo, count, parallel, interval) {
  const helm = (await resolveHelm()).path;
  const dir = path.join(work, `floor-${interval}`);
  await fs.mkdir(dir, { recursive: true });
  const lines = [];
  for (let i = 0; i < count; i++) {
    await fs.writeFile(path.join(dir, `${i}.json`), JSON.stringify(values(i, interval)));
    lines.push(`dns-${i} ${path.join(repo, 'charts', CHARTS[i % CHARTS.length])} ${path.join(dir, `${i}.json`)}`);
  }
  await fs.writeFile(path.join(dir, 'list'), lines.join('\n') + '\n');
  const { ms } = await time(() =>
    execa('bash', ['-c', `xargs -P ${parallel} -L 1 sh -c '"$0" template "$1" "$2" --namespace networking --values "$3" >/dev/null' ${helm} < ${path.join(dir, 'list')}`]),
  );
  return ms;
}

async function peakMemoryKb(repo, cacheDir, args) {
  const result = await execa('/usr/bin/time', ['-f', '%M', 'node', path.join(root, 'build/cli.js'), 'check', ...args, '--format', 'json'], {
    cwd: repo,
    reject: false,
    env: { GUARD_CACHE_DIR: cacheDir },
  });
  return Number(result.stderr.trim().split('\n').at(-1));
}

async function benchReleases(n) {
  const work = await fs.mkdtemp(path.join(os.tmpdir(), 'guard-bench-'));
  const repo = await makeRepo(work, n);
  const floorFull = await helmFloor(work, repo, n, cores, '1m');
  const floorBoth = await helmFloor(work, repo, n * 2, cores, '2m');
  const floorOne = await helmFloor(work, repo, 2, 1, '3m');
  const cache = (name) => path.join(work, `cache-${name}`);

  const full = await time(() => checkRevisions({ cwd: repo, base: 'main', head: 'main', all: true, cacheDir: cache('full') }));
  const allCold = await time(() => checkRevisions({ cwd: repo, base: 'main', head: 'all', cacheDir: cache('all') }));
  const allWarm = await time(() => checkRevisions({ cwd: repo, base: 'main', head: 'all', cacheDir: cache('all') }));
  const one = await time(() => checkRevisions({ cwd: repo, base: 'main', head: 'one', cacheDir: cache('one') }));
  const oneCli = await time(() => execa('node', [path.join(root, 'build/cli.js'), 'check', '--base', 'main', '--head', 'one', '--format', 'json'], { cwd: repo, reject: false, env: { GUARD_CACHE_DIR: cache('one-cli') } }));
  const memory = await peakMemoryKb(repo, cache('memory'), ['--base', 'main', '--head', 'main', '--all']);

  console.log(`\n## ${n} HelmReleases over ${CHARTS.length} charts (${cores} cores, ${cores} helm at a time in the floor)`);
  console.log(`floor: helm template x ${n}: ${fmt(floorFull)}; x ${n * 2}: ${fmt(floorBoth)}; one release twice: ${fmt(floorOne)}`);
  console.log(`full check (--all):             ${fmt(full.ms).padStart(9)}  ${ratio(full.ms, floorFull)} the floor of ${n} renders   (${full.result.timings.helmRenders} helm renders)`);
  console.log(`PR changing every release:      ${fmt(allCold.ms).padStart(9)}  ${ratio(allCold.ms, floorBoth)} the floor of ${n * 2} renders`);
  console.log(`  warm-cache rerun:             ${fmt(allWarm.ms).padStart(9)}  ${ratio(allWarm.ms, allCold.ms)} the cold run (${allWarm.result.timings.renderCacheHits} cache hits)`);
  console.log(`PR changing one release:        ${fmt(one.ms).padStart(9)}  ${ratio(one.ms, floorOne)} rendering it twice; whole CLI process: ${fmt(oneCli.ms)}`);
  console.log(`peak memory (full check, CLI):  ${(memory / 1024).toFixed(0)} MB`);
  await fs.rm(work, { recursive: true, force: true });
}

/** Bare `kubectl kustomize` of each folder once, `parallel` at a time (the folders a Flux build reads, as written). */
async function kustomizeFloor(dir, folders, parallel) {
  const kubectl = (await resolveKubectl()).path;
  const list = path.join(dir, '.floor-folders');
  await fs.writeFile(list, folders.map((f) => path.join(dir, f)).join('\n') + '\n');
  const { ms } = await time(() => execa('bash', ['-c', `xargs -P ${parallel} -L 1 sh -c '"$0" kustomize "$1" >/dev/null' ${kubectl} < ${list}`]));
  return ms;
}

/** Bare `helm template` of the given releases (merged values as the HelmRelease gives them), `parallel` at a time. */
async function templateFloor(dir, archive, releases, parallel, revision) {
  const helm = (await resolveHelm()).path;
  await fs.mkdir(dir, { recursive: true });
  const lines = [];
  for (const j of releases) {
    const { fromConfigMap, inline } = releaseValues(j, revision);
    await fs.writeFile(path.join(dir, `${j}-cm.json`), JSON.stringify(fromConfigMap));
    await fs.writeFile(path.join(dir, `${j}.json`), JSON.stringify(inline));
    lines.push(`release-${j} ns-${j} ${path.join(dir, `${j}-cm.json`)} ${path.join(dir, `${j}.json`)}`);
  }
  await fs.writeFile(path.join(dir, 'list'), lines.join('\n') + '\n');
  const { ms } = await time(() =>
    execa('bash', ['-c', `xargs -P ${parallel} -L 1 sh -c '"$0" template "$1" ${archive} --namespace "$2" --values "$3" --values "$4" >/dev/null' ${helm} < ${path.join(dir, 'list')}`]),
  );
  return ms;
}

async function benchHomeOps(releases, apps = 80) {
  const work = await fs.mkdtemp(path.join(os.tmpdir(), 'guard-bench-home-ops-'));
  const helm = (await resolveHelm()).path;
  const archive = await packageChart(work, helm);
  const servers = await serveCharts(work, helm, archive);
  try {
    const repo = path.join(work, 'repo');
    const git = (...args) => execa('git', args, { cwd: repo, env: gitEnv });
    await fs.mkdir(repo, { recursive: true });
    await git('init', '-q', '-b', 'main');
    await fs.cp(path.join(root, 'fixtures/incident/base/.guard'), path.join(repo, '.guard'), { recursive: true });
    await fs.writeFile(path.join(repo, '.guard.yaml'), 'version: 1\nhelm:\n  kubeVersion: "1.31.0"\n');
    const options = { apps, releases, httpUrl: servers.httpUrl, ociHost: servers.ociHost };
    await writeFiles(repo, homeOpsFiles(options));
    await git('add', '-A');
    await git('commit', '-qm', 'base');
    await git('checkout', '-qb', 'one');
    await writeFiles(repo, homeOpsFiles({ ...options, revision: 'one' }));
    await git('commit', '-qam', 'change one release');
    await git('checkout', '-q', 'main');

    // Floors, on a copy of the files as kustomize sees them (Flux's generated kustomization for cluster-apps written out).
    const copy = path.join(work, 'floor-tree');
    const { files: floorFiles, folders } = floorBuilds(apps);
    await writeFiles(copy, { ...homeOpsFiles(options), ...floorFiles });
    const floorKustomize = await kustomizeFloor(copy, folders, cores);
    const floorTemplate = await templateFloor(path.join(work, 'floor-values'), archive, Array.from({ length: releases }, (_, j) => j), cores, 'main');
    const floorFull = floorKustomize + floorTemplate;
    // One release's chain (clusters/main -> kubernetes/apps -> its app) built in order, and it rendered, twice.
    const chain = [folders[0], folders[1], folders[2]];
    let floorOne = 0;
    for (const revision of ['main', 'one']) {
      floorOne += await kustomizeFloor(copy, chain.slice(0, 1), 1);
      floorOne += await kustomizeFloor(copy, chain.slice(1, 2), 1);
      floorOne += await kustomizeFloor(copy, chain.slice(2, 3), 1);
      floorOne += await templateFloor(path.join(work, `floor-one-${revision}`), archive, [0], 1, revision);
    }

    const cache = (name) => path.join(work, `cache-${name}`);
    // Each check as a new process would run it: nothing kept in memory from the one before.
    const check = (options) => time(() => (forgetBuilds(), checkRevisions({ cwd: repo, base: 'main', ...options })));
    const full = await check({ head: 'main', all: true, cacheDir: cache('full') });
    const noop = await check({ head: 'main', cacheDir: cache('noop') });
    const noopWarm = await check({ head: 'main', cacheDir: cache('noop') });
    const one = await check({ head: 'one', cacheDir: cache('one') });
    const oneWarm = await check({ head: 'one', cacheDir: cache('one') });
    // The same as a user runs it: a new `guard check` process (the bundle npm installs) each time.
    const cli = (name) => time(() => execa('node', [path.join(root, 'dist/cli.js'), 'check', '--base', 'main', '--head', 'one', '--format', 'json'], { cwd: repo, reject: false, env: { GUARD_CACHE_DIR: cache(name) } }));
    const oneCli = await cli('one-cli');
    const oneCliWarm = await cli('one-cli');
    // CI with the base's cache (a full check of main ran before): the change's own path is all that is built.
    await check({ head: 'main', all: true, cacheDir: cache('based') });
    const oneBased = await check({ head: 'one', cacheDir: cache('based') });
    const memory = await peakMemoryKb(repo, cache('memory'), ['--base', 'main', '--head', 'main', '--all']);
    const summary = full.result.report.summary;
    const t = (r) => `${r.result.timings.kustomizeBuilds} kustomize, ${r.result.timings.helmRenders} helm`;

    console.log(`\n## home-ops shaped: ${apps + 2} Flux Kustomizations (${apps} apps with components), ${releases} HelmReleases of ${CHART} (OCI chartRef + HTTP HelmRepository on loopback) (${cores} cores)`);
    console.log(`floor: kubectl kustomize x ${folders.length}: ${fmt(floorKustomize)}; helm template x ${releases}: ${fmt(floorTemplate)}; one release's chain and render, twice: ${fmt(floorOne)}`);
    console.log(`full check (--all):             ${fmt(full.ms).padStart(9)}  ${ratio(full.ms, floorFull)} the floor   (${t(full)}; ${summary.releasesChecked}/${summary.releasesTotal} checked)`);
    console.log(`no-op PR, cold cache:           ${fmt(noop.ms).padStart(9)}  ${ratio(noop.ms, full.ms)} the full check   (${t(noop)})`);
    console.log(`no-op PR, warm cache:           ${fmt(noopWarm.ms).padStart(9)}  ${ratio(noopWarm.ms, full.ms)} the full check   (${t(noopWarm)})`);
    console.log(`PR changing one release:        ${fmt(one.ms).padStart(9)}  ${ratio(one.ms, floorOne)} its chain and render twice   (${t(one)})`);
    console.log(`  warm-cache rerun:             ${fmt(oneWarm.ms).padStart(9)}  ${ratio(oneWarm.ms, one.ms)} the cold run   (${t(oneWarm)}${oneWarm.result.timings.appliedFromCache ? '; both revisions as applied from the cache' : ''})`);
    console.log(`  whole CLI process, cold/warm: ${fmt(oneCli.ms).padStart(9)} / ${fmt(oneCliWarm.ms)}  ${ratio(oneCliWarm.ms, oneCli.ms)}`);
    console.log(`  with the base's cache:        ${fmt(oneBased.ms).padStart(9)}  ${ratio(oneBased.ms, floorOne)} its chain and render twice   (${t(oneBased)})`);
    console.log(`peak memory (full check, CLI):  ${(memory / 1024).toFixed(0)} MB`);
  } finally {
    await servers.stop();
    await fs.rm(work, { recursive: true, force: true });
  }
}

for (const n of sizes) await benchReleases(n);
for (const n of homeOpsSizes) await benchHomeOps(n);
if (!homeOpsOnly && (fleetOnly || !process.argv[2])) for (const hosts of [12, 50]) await benchFleetScale(hosts);
