// Speed of `guard check` against its floor: raw `helm template` of the same releases in the same run.
// Usage: npm run bench [-- RELEASES]   (default 40 releases)
import { execa } from 'execa';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { stringify } from 'yaml';
import { runCheck } from '../build/engine.js';
import { resolveHelm } from '../build/helm/binary.js';

const root = fileURLToPath(new URL('..', import.meta.url));
const releases = Number(process.argv[2] ?? 40);
const work = await fs.mkdtemp(path.join(os.tmpdir(), 'guard-bench-'));
const repo = path.join(work, 'repo');
const git = (...args) => execa('git', args, { cwd: repo, env: { GIT_AUTHOR_NAME: 'b', GIT_AUTHOR_EMAIL: 'b@b', GIT_COMMITTER_NAME: 'b', GIT_COMMITTER_EMAIL: 'b@b' } });

function release(i, interval) {
  return stringify({
    apiVersion: 'helm.toolkit.fluxcd.io/v2',
    kind: 'HelmRelease',
    metadata: { name: `dns-${i}`, namespace: 'networking' },
    spec: {
      chart: { spec: { chart: './charts/external-dns', version: '1.19.0', sourceRef: { kind: 'GitRepository', name: 'flux-system', namespace: 'flux-system' } } },
      values: { interval, sources: ['service', 'ingress'], policy: 'sync', provider: { name: 'cloudflare' }, txtOwnerId: `owner-${i}` },
    },
  });
}

await fs.mkdir(repo, { recursive: true });
await git('init', '-q', '-b', 'main');
await fs.cp(path.join(root, 'fixtures/incident/base/charts'), path.join(repo, 'charts'), { recursive: true });
await fs.cp(path.join(root, 'fixtures/incident/base/.guard'), path.join(repo, '.guard'), { recursive: true });
for (let i = 0; i < releases; i++) await fs.writeFile(path.join(repo, `release-${i}.yaml`), release(i, '1m'));
await git('add', '-A');
await git('commit', '-qm', 'base');
await git('checkout', '-qb', 'change');
for (let i = 0; i < releases; i++) await fs.writeFile(path.join(repo, `release-${i}.yaml`), release(i, '2m'));
await git('commit', '-qam', 'change every release');

const helm = (await resolveHelm()).path;
const chart = path.join(repo, 'charts/external-dns');
const time = async (fn) => {
  const started = performance.now();
  await fn();
  return performance.now() - started;
};
const templateAll = async (parallel) => {
  const queue = [...Array(releases * 2).keys()];
  await Promise.all(Array.from({ length: parallel }, async () => {
    while (queue.length > 0) {
      const i = queue.pop();
      await execa(helm, ['template', `dns-${i}`, chart, '--namespace', 'networking']);
    }
  }));
};
// Base and head are both rendered: the floor is 2 x releases helm template runs.
const parallel = Math.max(1, os.availableParallelism());
const floor = await time(() => templateAll(parallel));
const cacheDir = path.join(work, 'cache');
const cold = await time(() => runCheck({ cwd: repo, base: 'main', head: 'change', cacheDir }));
const warm = await time(() => runCheck({ cwd: repo, base: 'main', head: 'change', cacheDir }));
const unchanged = await time(() => runCheck({ cwd: repo, base: 'change', head: 'change', cacheDir }));

const fmt = (ms) => `${ms.toFixed(0)} ms`;
console.log(`releases: ${releases} (each rendered at base and head), helm template with ${parallel} in parallel`);
console.log(`floor (raw helm template x ${releases * 2}): ${fmt(floor)}`);
console.log(`guard check, cold:     ${fmt(cold)}  ratio ${(cold / floor).toFixed(2)}x floor`);
console.log(`guard check, rerun:    ${fmt(warm)}  ratio ${(warm / floor).toFixed(2)}x floor`);
console.log(`guard check, no change: ${fmt(unchanged)}  ratio ${(unchanged / floor).toFixed(2)}x floor`);
if (process.env.BENCH_KEEP) console.log(`kept ${work}`);
else await fs.rm(work, { recursive: true, force: true });
