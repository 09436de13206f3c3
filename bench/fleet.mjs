// Fleet evaluation at scale: a toy deploy-rs fleet whose hosts each cost a NixOS-like amount of
// evaluation (a large attribute set folded), checked by the guard (one nix process per node, a pool
// sized by CPUs and deploy.evalMemoryMB, results cached, reads traced) against its floor: one bare
// `nix eval` per host and revision, as many at once as the guard runs.
//
// Memory: every nix process's VmHWM is sampled from /proc while the guard runs; the peak is the
// largest sum over the nix processes alive at once. Single-host figures come from GNU time.
import { execa } from 'execa';
import { promises as fs, readdirSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { evaluateDeploy } from '../build/deploy/evaluate.js';
import { CommitSnapshot } from '../build/git/repo.js';

const gitEnv = { GIT_AUTHOR_NAME: 'bench', GIT_AUTHOR_EMAIL: 'bench@example.net', GIT_COMMITTER_NAME: 'bench', GIT_COMMITTER_EMAIL: 'bench@example.net' };
const NIX_FLAGS = ['--extra-experimental-features', 'nix-command flakes', '--offline', '--option', 'build-users-group', ''];

const hostName = (i) => `cc-xx-${['lau', 'hel', 'sto', 'ams', 'fra'][i % 5]}-node-${String(i).padStart(2, '0')}`;

function flake(hosts, cost) {
  const nodes = Array.from({ length: hosts }, (_, i) => `      ${hostName(i)} = node "${hostName(i)}";`).join('\n');
  return `{
  outputs = { self }: let
    system = "x86_64-linux";
    work = name: let
      attrs = builtins.listToAttrs (builtins.genList (i: { name = "\${name}-\${toString i}"; value = i * 3; }) ${cost});
    in toString (builtins.foldl' (a: b: a + b) 0 (builtins.attrValues attrs));
    node = name: let host = import (./hosts + "/\${name}.nix"); in {
      hostname = "\${name}.example.net";
      profiles.system.path = builtins.derivation { inherit name system; builder = "/bin/sh"; args = [ "-c" "echo \${host.role} \${work name} > $out" ]; };
    };
  in { deploy.nodes = {
${nodes}
  }; };
}
`;
}

/** Sum of VmHWM (KB) of the nix processes alive now, and each one's. */
function nixMemory() {
  let sum = 0;
  for (const pid of readdirSync('/proc')) {
    if (!/^\d+$/.test(pid)) continue;
    try {
      const status = readFileSync(`/proc/${pid}/status`, 'utf8');
      if (!/^Name:\s+nix$/m.test(status)) continue;
      sum += Number(/^VmHWM:\s+(\d+)/m.exec(status)?.[1] ?? 0);
    } catch {
      // gone meanwhile
    }
  }
  return sum;
}

async function sampled(fn) {
  let peak = 0;
  const timer = setInterval(() => (peak = Math.max(peak, nixMemory())), 50);
  const started = performance.now();
  try {
    const result = await fn();
    return { ms: performance.now() - started, peakKB: peak, result };
  } finally {
    clearInterval(timer);
  }
}

/** One bare nix eval per host and revision, `parallel` at a time; the largest one's max RSS. */
async function floor(repo, revs, hosts, parallel) {
  const list = path.join(repo, '..', 'floor-list');
  const rss = path.join(repo, '..', 'floor-rss');
  await fs.writeFile(list, revs.flatMap((rev) => Array.from({ length: hosts }, (_, i) => `git+file://${repo}?rev=${rev}#deploy.nodes.${hostName(i)}.profiles.system.path.outPath`)).join('\n') + '\n');
  await fs.rm(rss, { force: true });
  // Warm nix's copy of each revision so the floor pays for evaluation only, like the guard's pool after its first process.
  for (const rev of revs) await execa('nix', [...NIX_FLAGS, 'flake', 'metadata', `git+file://${repo}?rev=${rev}`]);
  const started = performance.now();
  await execa('bash', ['-c', `xargs -P ${parallel} -L 1 /usr/bin/time -a -o ${rss} -f %M nix ${NIX_FLAGS.map((f) => `'${f}'`).join(' ')} eval --raw < ${list} > /dev/null`]);
  const ms = performance.now() - started;
  const largestKB = Math.max(...(await fs.readFile(rss, 'utf8')).split('\n').filter((l) => /^\d+$/.test(l)).map(Number));
  return { ms, largestKB };
}

/**
 * `hosts` toy hosts of `cost` attributes each. A PR changes one host's module (every host is evaluated
 * at base and head: a .nix file changed), then the same PR again (warm), then a YAML-only PR on the same
 * base (no evaluation: nothing the flake reads changed).
 */
export async function benchFleetScale(hosts, { cost = 150_000 } = {}) {
  const work = await fs.mkdtemp(path.join(os.tmpdir(), 'guard-bench-fleet-scale-'));
  const repo = path.join(work, 'repo');
  try {
    await fs.mkdir(path.join(repo, 'hosts'), { recursive: true });
    await fs.mkdir(path.join(repo, 'clusters'), { recursive: true });
    const git = (...args) => execa('git', args, { cwd: repo, env: gitEnv });
    await git('init', '-q', '-b', 'main');
    await fs.writeFile(path.join(repo, 'flake.nix'), flake(hosts, cost));
    for (let i = 0; i < hosts; i++) await fs.writeFile(path.join(repo, 'hosts', `${hostName(i)}.nix`), '{ role = "default"; }\n');
    await fs.writeFile(path.join(repo, 'clusters', 'app.yaml'), 'replicas: 1\n');
    await git('add', '-A');
    await git('commit', '-qm', 'fleet');
    const base = (await git('rev-parse', 'HEAD')).stdout;
    await fs.writeFile(path.join(repo, 'hosts', `${hostName(0)}.nix`), '{ role = "tuned"; }\n');
    await git('commit', '-qam', 'tune one host');
    const head = (await git('rev-parse', 'HEAD')).stdout;
    await git('checkout', '-q', '-b', 'yaml', base);
    await fs.writeFile(path.join(repo, 'clusters', 'app.yaml'), 'replicas: 2\n');
    await git('commit', '-qam', 'scale');
    const yaml = (await git('rev-parse', 'HEAD')).stdout;

    const cacheDir = path.join(work, 'cache');
    const policy = { tool: 'deploy-rs', sites: { hostPattern: '^cc-[a-z]{2}-(?<site>[a-z]{3})-' } };
    let evaluations = 0;
    const check = (headRev) =>
      sampled(() =>
        evaluateDeploy(
          { root: repo, baseSha: base, headRev, base: new CommitSnapshot(repo, base, 'base'), head: new CommitSnapshot(repo, headRev, 'head') },
          policy,
          { cacheDir, onEvaluate: () => evaluations++ },
        ),
      );
    const cold = await check(head);
    const coldEvaluations = evaluations;
    const concurrency = Number(/(\d+) nix process/.exec(cold.result.log?.join('\n') ?? '')?.[1] ?? os.availableParallelism());
    const warm = await check(head);
    const warmEvaluations = evaluations - coldEvaluations;
    const unread = await check(yaml);
    const unreadEvaluations = evaluations - coldEvaluations - warmEvaluations;
    const bare = await floor(repo, [base, head], hosts, concurrency);
    if (cold.result.kind !== 'planned') throw new Error(`fleet benchmark: expected a plan, got ${cold.result.kind}`);
    const changed = cold.result.input.plan.targets.filter((t) => t.change === 'changed').length;

    const mb = (kb) => `${(kb / 1024).toFixed(0)} MB`;
    const x = (a, b) => `${(a / b).toFixed(2)}x`;
    console.log(`\n## fleet at scale: ${hosts} toy hosts (${cost} attributes each), ${concurrency} nix processes at once (${os.availableParallelism()} cores)`);
    console.log(`floor: bare nix eval per host, base and head (${2 * hosts}): ${bare.ms.toFixed(0)} ms, largest ${mb(bare.largestKB)}`);
    console.log(`PR changing one host, cold:     ${cold.ms.toFixed(0).padStart(6)} ms  ${x(cold.ms, bare.ms)} the floor (target <= 1.3x); ${coldEvaluations} evaluations, ${changed} changed`);
    console.log(`  nix memory at once:           ${mb(cold.peakKB).padStart(9)}  ${x(cold.peakKB, bare.largestKB * concurrency)} largest single host x ${concurrency} (target <= 1.5x)`);
    console.log(`  warm rerun (same PR):         ${warm.ms.toFixed(0).padStart(6)} ms  ${x(warm.ms, cold.ms)} the cold run (target <= 0.1x); ${warmEvaluations} evaluations`);
    console.log(`YAML-only PR, same base:        ${unread.ms.toFixed(0).padStart(6)} ms  ${x(unread.ms, cold.ms)} the cold run; ${unreadEvaluations} evaluations`);
    return { hosts, concurrency, cold, warm, unread, bare };
  } finally {
    await fs.rm(work, { recursive: true, force: true });
  }
}
