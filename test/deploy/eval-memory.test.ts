import { afterEach, describe, expect, it } from 'vitest';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { EvalCache } from '../../src/deploy/eval-cache.js';
import { evaluateDeployNodes } from '../../src/nix/eval-deploy.js';
import { TestRepo } from '../support/git-repo.js';

let repo: TestRepo | undefined;
afterEach(async () => {
  await repo?.remove();
  repo = undefined;
});

/** Two hosts: one small, one whose evaluation needs a few hundred MB (a long attribute set folded). */
const FLAKE = `{
  outputs = { self }: let
    system = "x86_64-linux";
    heavy = let attrs = builtins.listToAttrs (builtins.genList (i: { name = "k-\${toString i}"; value = i; }) 600000);
      in toString (builtins.foldl' (a: b: a + b) 0 (builtins.attrValues attrs));
    node = name: cost: { hostname = "\${name}.example.net"; profiles.system.path = builtins.derivation { inherit name system; builder = "/bin/sh"; args = [ "-c" "echo \${cost} > $out" ]; }; };
  in { deploy.nodes = { small = node "small" "1"; runaway = node "runaway" heavy; }; };
}
`;

describe('a per-process memory limit (deploy.evalMemoryMB)', () => {
  it('a host whose evaluation exceeds it fails as that host, named, not cached as its result; the other host evaluates', async () => {
    repo = await TestRepo.create();
    const rev = await repo.commit('fleet', { 'flake.nix': FLAKE });
    const result = await evaluateDeployNodes({ nixBin: 'nix', repoRoot: repo.dir, rev, flakeDir: '', timeoutMs: 120_000, label: 'head', memoryLimitMB: 200, concurrency: 1 });
    if (!result.ok) throw new Error(result.error);
    expect(result.nodes.map((n) => n.name)).toEqual(['small']);
    expect(result.failed).toHaveLength(1);
    expect(result.failed[0]).toMatchObject({ name: 'runaway', identity: 'out of memory', outOfMemory: true });
    expect(result.failed[0]!.error).toContain('200 MB of address space one evaluation may use (deploy.evalMemoryMB)');
    // Like a timeout, the limit is the runner's, not the revision's: never kept as the host's result.
    const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'guard-oom-cache-'));
    try {
      const cache = new EvalCache(dir);
      await cache.write('k', { names: ['runaway', 'small'], nodes: { small: { ok: true, node: result.nodes[0]! }, runaway: { ok: false, failure: result.failed[0]! } } });
      expect(Object.keys((await cache.read('k'))!.nodes)).toEqual(['small']);
    } finally {
      await fs.rm(dir, { recursive: true, force: true });
    }
  });
});

describe('the peak memory kept for the next run', () => {
  it('is the largest of the run, whichever revision (base, head, an ancestor) finished last', async () => {
    const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'guard-peak-'));
    try {
      const run = new EvalCache(dir);
      await run.recordPeak('.', 480);
      await run.recordPeak('.', 120);
      expect(await new EvalCache(dir).peakMB('.')).toBe(480);
      // The next run measures again: its own largest is what the run after it uses.
      const next = new EvalCache(dir);
      await next.recordPeak('.', 150);
      expect(await new EvalCache(dir).peakMB('.')).toBe(150);
    } finally {
      await fs.rm(dir, { recursive: true, force: true });
    }
  });
});
