/**
 * Fleet evaluation benchmark: peak memory (max RSS of every nix process, /usr/bin/time) and time for a
 * toy fleet whose hosts each cost a NixOS-like amount of evaluation, three ways:
 *   single    one nix process evaluating every node (how the guard evaluated before)
 *   per-host  the guard's evaluation (src/deploy/fleet-eval.ts): one process per node, a pool of N
 *   floor     one bare `nix eval` per host, one after the other
 * and a warm rerun through the evaluation cache.
 *
 *   npx vite-node bench/fleet-memory.ts -- [hosts=12] [concurrency=2] [costPerHost=400000]
 */
import { execa } from 'execa';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { EvalCache } from '../src/deploy/eval-cache.js';
import { evaluateRevision } from '../src/deploy/fleet-eval.js';
import { ALL_NODES_APPLY, NIX_SETTINGS } from '../src/nix/eval-deploy.js';

const args = process.argv.slice(2).filter((a) => a !== '--');
const hosts = Number(args[0] ?? 12);
const concurrency = Number(args[1] ?? 2);
const cost = Number(args[2] ?? 400_000);

function flake(): string {
  const nodes = Array.from({ length: hosts }, (_, i) => `      host-${String(i).padStart(3, '0')} = node "host-${i}";`).join('\n');
  // Each host builds a large attribute set and folds a long list: memory and time per host, like a NixOS system.
  return `{
  outputs = { self }: let
    system = "x86_64-linux";
    work = name: let
      attrs = builtins.listToAttrs (builtins.genList (i: { name = "\${name}-\${toString i}"; value = i * 3; }) ${cost});
      sum = builtins.foldl' (a: b: a + b) 0 (builtins.attrValues attrs);
    in toString sum;
    node = name: {
      hostname = "\${name}.example.net";
      profiles.system.path = builtins.derivation { inherit name system; builder = "/bin/sh"; args = [ "-c" "echo \${work name} > $out" ]; };
    };
  in { deploy.nodes = {
${nodes}
  }; };
}
`;
}

async function main(): Promise<void> {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'guard-fleet-bench-'));
  try {
    const repo = path.join(dir, 'repo');
    await fs.mkdir(repo);
    await fs.writeFile(path.join(repo, 'flake.nix'), flake());
    const git = (...a: string[]) => execa('git', a, { cwd: repo, env: { GIT_AUTHOR_NAME: 'b', GIT_AUTHOR_EMAIL: 'b@x', GIT_COMMITTER_NAME: 'b', GIT_COMMITTER_EMAIL: 'b@x' } });
    await git('init', '-q');
    await git('add', '-A');
    await git('commit', '-qm', 'fleet');
    const rev = (await git('rev-parse', 'HEAD')).stdout.trim();
    const flakeRef = `git+file://${repo}?rev=${rev}`;
    const log = path.join(dir, 'rss.log');
    // Every nix process the guard starts goes through /usr/bin/time, which appends its max RSS (KB).
    const wrapper = path.join(dir, 'nix-timed');
    await fs.writeFile(wrapper, `#!/bin/sh\nexec /usr/bin/time -a -o ${log} -f '%M %e' /usr/bin/nix "$@"\n`, { mode: 0o755 });
    const readLog = async () => (await fs.readFile(log, 'utf8').catch(() => '')).split('\n').filter((l) => /^\d+ /.test(l)).map((l) => ({ rssKB: Number(l.split(' ')[0]), seconds: Number(l.split(' ')[1]) }));
    const reset = () => fs.rm(log, { force: true });
    const home = path.join(dir, 'home');
    await fs.mkdir(home);
    const env = { PATH: process.env.PATH!, HOME: home };

    // Warm nix's copy of the revision so no variant pays for it alone.
    await execa('nix', [...NIX_SETTINGS, 'flake', 'metadata', flakeRef], { env });

    await reset();
    let started = Date.now();
    await execa(wrapper, [...NIX_SETTINGS, 'eval', '--json', '--apply', ALL_NODES_APPLY, `${flakeRef}#deploy`], { env, maxBuffer: 1 << 28 });
    const single = { seconds: (Date.now() - started) / 1000, rssMB: Math.max(...(await readLog()).map((r) => r.rssKB)) / 1024 };

    await reset();
    started = Date.now();
    for (let i = 0; i < hosts; i++) {
      await execa(wrapper, [...NIX_SETTINGS, 'eval', '--raw', `${flakeRef}#deploy.nodes.host-${String(i).padStart(3, '0')}.profiles.system.path.outPath`], { env });
    }
    const floorRuns = await readLog();
    const floor = { seconds: (Date.now() - started) / 1000, largestMB: Math.max(...floorRuns.map((r) => r.rssKB)) / 1024 };

    await reset();
    const cacheDir = path.join(dir, 'cache');
    const context = { nixBin: wrapper, nixVersion: 'bench', repoRoot: repo, flakeDir: '', timeoutMs: 600_000, concurrency, cache: new EvalCache(cacheDir) };
    const spec = { rev, label: 'bench', inputs: [], hosts: { isAllowed: () => false, source: 'bench' } };
    started = Date.now();
    const result = await evaluateRevision(context, spec);
    const perHostSeconds = (Date.now() - started) / 1000;
    if (!result.ok || [...result.nodes.values()].some((o) => !o.ok)) throw new Error(`per-host evaluation failed: ${JSON.stringify(result).slice(0, 500)}`);
    const runs = (await readLog()).sort((a, b) => b.rssKB - a.rssKB);
    // Upper bound of what runs at once: the `concurrency` largest processes together.
    const perHostPeakMB = runs.slice(0, concurrency).reduce((sum, r) => sum + r.rssKB, 0) / 1024;

    await reset();
    started = Date.now();
    await evaluateRevision(context, spec);
    const warmSeconds = (Date.now() - started) / 1000;
    const warmProcesses = (await readLog()).length;

    const mb = (n: number) => `${n.toFixed(0)} MB`;
    console.log(`fleet of ${hosts} toy hosts (${cost} attributes each), nix ${(await execa('nix', ['--version'])).stdout.trim()}, ${os.cpus().length} CPUs`);
    console.log(`  single process, all nodes   peak RSS ${mb(single.rssMB)}, ${single.seconds.toFixed(1)} s`);
    console.log(`  per host, pool of ${concurrency}          peak RSS <= ${mb(perHostPeakMB)} (largest process ${mb(runs[0]!.rssKB / 1024)}, ${runs.length} processes), ${perHostSeconds.toFixed(1)} s`);
    console.log(`  floor: bare nix eval per host  largest ${mb(floor.largestMB)}, ${floor.seconds.toFixed(1)} s in sequence`);
    console.log(`  warm rerun (evaluation cache)  ${warmSeconds.toFixed(2)} s, ${warmProcesses} nix processes`);
    console.log(`  memory per-host / (largest single-host floor x concurrency) = ${(perHostPeakMB / (floor.largestMB * concurrency)).toFixed(2)}`);
  } finally {
    await fs.rm(dir, { recursive: true, force: true });
  }
}

await main();
