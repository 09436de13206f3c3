/**
 * Fleet evaluation memory, one size at a time: how the guard evaluated before (one nix process for
 * every node) against what it does now (bench/fleet.mjs: one process per node in a pool sized by
 * CPUs and deploy.evalMemoryMB, results cached, reads traced, compared with one bare nix eval per host).
 *
 *   npm run build && npx vite-node bench/fleet-memory.ts -- [hosts=12] [costPerHost=150000]
 */
import { execa } from 'execa';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
// @ts-expect-error: a JavaScript module of the benchmark, run against build/
import { benchFleetScale } from './fleet.mjs';
import { ALL_NODES_APPLY, NIX_SETTINGS } from '../src/nix/eval-deploy.js';

const args = process.argv.slice(2).filter((a) => a !== '--');
const hosts = Number(args[0] ?? 12);
const cost = Number(args[1] ?? 150_000);

/** Every node in one nix process, as the guard did before: its max RSS (GNU time) and time. */
async function singleProcess(): Promise<{ rssMB: number; seconds: number }> {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'guard-fleet-single-'));
  try {
    const nodes = Array.from({ length: hosts }, (_, i) => `h${i} = node "h${i}";`).join(' ');
    await fs.writeFile(
      path.join(dir, 'flake.nix'),
      `{ outputs = { self }: let system = "x86_64-linux";
  work = name: let attrs = builtins.listToAttrs (builtins.genList (i: { name = "\${name}-\${toString i}"; value = i * 3; }) ${cost}); in toString (builtins.foldl' (a: b: a + b) 0 (builtins.attrValues attrs));
  node = name: { hostname = name; profiles.system.path = builtins.derivation { inherit name system; builder = "/bin/sh"; args = [ "-c" "echo \${work name} > $out" ]; }; };
  in { deploy.nodes = { ${nodes} }; }; }\n`,
    );
    const env = { GIT_AUTHOR_NAME: 'b', GIT_AUTHOR_EMAIL: 'b@x', GIT_COMMITTER_NAME: 'b', GIT_COMMITTER_EMAIL: 'b@x' };
    await execa('git', ['init', '-q'], { cwd: dir });
    await execa('git', ['add', '-A'], { cwd: dir });
    await execa('git', ['commit', '-qm', 'fleet'], { cwd: dir, env });
    const rev = (await execa('git', ['rev-parse', 'HEAD'], { cwd: dir })).stdout.trim();
    const flakeRef = `git+file://${dir}?rev=${rev}`;
    await execa('nix', [...NIX_SETTINGS, 'flake', 'metadata', flakeRef]);
    const started = Date.now();
    const { stderr } = await execa('/usr/bin/time', ['-f', '%M', 'nix', ...NIX_SETTINGS, 'eval', '--json', '--apply', ALL_NODES_APPLY, `${flakeRef}#deploy`], { maxBuffer: 1 << 28 });
    return { rssMB: Number(/(\d+)\s*$/.exec(stderr)?.[1] ?? 0) / 1024, seconds: (Date.now() - started) / 1000 };
  } finally {
    await fs.rm(dir, { recursive: true, force: true });
  }
}

const single = await singleProcess();
console.log(`one nix process for all ${hosts} nodes (before): peak RSS ${single.rssMB.toFixed(0)} MB, ${single.seconds.toFixed(1)} s`);
await benchFleetScale(hosts, { cost });
