// Speed of gitops-guard against its floor: the tools themselves, run bare in the same session.
//
//   npm run bench                 N = 10, 100 and 500 HelmReleases over 3 charts, and a 50-node fleet
//   npm run bench -- 100          one size only
//
// Floors: `helm template` of the same releases with the same values, started by xargs -P <cores>
// (no node involved), and two plain `nix eval` runs (base and head) for the fleet.
import { execa } from 'execa';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { stringify } from 'yaml';
import { checkRevisions, deployPlan } from '../build/engine.js';
import { resolveHelm } from '../build/helm/binary.js';

const root = fileURLToPath(new URL('..', import.meta.url));
const sizes = process.argv[2] ? [Number(process.argv[2])] : [10, 100, 500];
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

function fleetFlake(nodes, motd) {
  const entries = Array.from({ length: nodes }, (_, i) => {
    const site = ['lau', 'hel', 'sto', 'ams', 'fra'][i % 5];
    const name = `cc-xx-${site}-node-${String(i).padStart(2, '0')}`;
    return `      ${name} = node "${name}";`;
  }).join('\n');
  return `{
  outputs = { self }: let
    system = "x86_64-linux";
    node = name: {
      hostname = "\${name}.example.net";
      profiles.system.path = builtins.derivation { inherit name system; builder = "/bin/sh"; args = [ "-c" "echo ${motd} \${name} > $out" ]; };
    };
  in {
    deploy.nodes = {
${entries}
    };
  };
}
`;
}

async function benchFleet(nodes) {
  const work = await fs.mkdtemp(path.join(os.tmpdir(), 'guard-bench-fleet-'));
  const git = (...args) => execa('git', args, { cwd: work, env: gitEnv });
  await git('init', '-q', '-b', 'main');
  await fs.writeFile(path.join(work, 'flake.nix'), fleetFlake(nodes, 'one'));
  await fs.writeFile(path.join(work, '.guard.yaml'), 'version: 1\ndeploy:\n  sites:\n    hostPattern: "^cc-[a-z]{2}-(?<site>[a-z]{3})-"\n');
  await git('add', '-A');
  await git('commit', '-qm', 'fleet');
  const base = (await git('rev-parse', 'HEAD')).stdout;
  await fs.writeFile(path.join(work, 'flake.nix'), fleetFlake(nodes, 'two'));
  await git('commit', '-qam', 'change every node');
  const head = (await git('rev-parse', 'HEAD')).stdout;
  const nixEval = (rev) =>
    execa('nix', ['--extra-experimental-features', 'nix-command flakes', '--offline', 'eval', '--json', `git+file://${work}?rev=${rev}#deploy.nodes`, '--apply', 'n: builtins.mapAttrs (k: v: v.profiles.system.path.outPath) n']);
  const floor = await time(async () => {
    await nixEval(base);
    await nixEval(head);
  });
  const guard = await time(() => deployPlan({ cwd: work, base, head }));
  console.log(`\n## fleet of ${nodes} deploy-rs nodes`);
  console.log(`floor: nix eval at base and head: ${fmt(floor.ms)}`);
  console.log(`guard targets:                  ${fmt(guard.ms).padStart(9)}  ${ratio(guard.ms, floor.ms)} the floor (${guard.result.targets.filter((t) => t.change === 'changed').length} changed)`);
  await fs.rm(work, { recursive: true, force: true });
}

for (const n of sizes) await benchReleases(n);
await benchFleet(50);
