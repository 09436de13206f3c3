import { promises as fs, constants, openSync, readSync, closeSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { evaluateDeploy, type DeployEvaluation } from '../../src/deploy/evaluate.js';
import type { DeployPolicy } from '../../src/deploy/policy.js';
import { CommitSnapshot } from '../../src/git/repo.js';
import { TestRepo } from '../support/git-repo.js';

/**
 * A pull request that touches no file the flake reads is not evaluated at all: the base evaluation's
 * reads are recorded (strace) with its cached result. Every nix process is counted through a NIX_BIN
 * wrapper that reports its arguments on a FIFO (writable even where the sandbox shows its folder read-only).
 */
const HOSTS = ['cc-fi-hel-core-01', 'cc-se-sto-core-01'] as const;
const policy: DeployPolicy = { tool: 'deploy-rs', maxSitesPerChange: 1, sites: { hostPattern: '^cc-[a-z]{2}-(?<site>[a-z]{3})-' } };

function flake(extra = ''): string {
  return `{
  outputs = { self }: let
    system = "x86_64-linux";
    site = builtins.fromJSON (builtins.readFile ./hosts/site.json);
    keys = builtins.attrNames (builtins.readDir ./keys);
    profile = name: host: builtins.derivation {
      inherit name system;
      builder = "/bin/sh";
      args = [ "-c" "echo '\${site.motd} \${host.role} \${toString keys} ${extra}' > $out" ];
    };
    node = name: { hostname = "\${name}.example.net"; profiles.system.path = profile name (import (./hosts + "/\${name}.nix")); };
  in { deploy.nodes = { ${HOSTS.map((h) => `${h} = node "${h}";`).join(' ')} }; };
}
`;
}

function files(flakeText = flake()): Record<string, string> {
  return {
    'flake.nix': flakeText,
    'hosts/site.json': '{ "motd": "welcome" }\n',
    'keys/alice.pub': 'ssh-ed25519 AAAA alice\n',
    'clusters/apps/release.yaml': 'replicas: 1\n',
    'docs/notes.md': 'notes\n',
    ...Object.fromEntries(HOSTS.map((h) => [`hosts/${h}.nix`, '{ role = "default"; }\n'])),
  };
}

let repo: TestRepo;
let scratch: string;
let fifo: number;
let nixArgs: string[] = [];

beforeAll(async () => {
  scratch = await fs.mkdtemp(path.join(os.tmpdir(), 'guard-unread-'));
  await fs.mkdir(path.join(scratch, 'bin'));
  const pipe = path.join(scratch, 'bin', 'calls');
  execFileSync('mkfifo', [pipe]);
  // Read and write ends held here: a wrapper never blocks, and nothing is lost between runs.
  fifo = openSync(pipe, constants.O_RDWR | constants.O_NONBLOCK);
  await fs.writeFile(path.join(scratch, 'bin', 'nix'), `#!/bin/sh\necho "$*" > ${pipe}\nexec /usr/bin/nix "$@"\n`, { mode: 0o755 });
  process.env.NIX_BIN = path.join(scratch, 'bin', 'nix');
  repo = await TestRepo.create();
});

afterAll(async () => {
  closeSync(fifo);
  delete process.env.NIX_BIN;
  await repo?.remove();
  await fs.rm(scratch, { recursive: true, force: true });
});

/** nix processes started since the last call that evaluate (flake metadata, eval), not version probes. */
function nixEvaluations(): string[] {
  const buffer = Buffer.alloc(1 << 16);
  let text = '';
  for (;;) {
    try {
      const read = readSync(fifo, buffer, 0, buffer.length, null);
      if (read <= 0) break;
      text += buffer.subarray(0, read).toString('utf8');
    } catch {
      break;
    }
  }
  nixArgs = text.split('\n').filter(Boolean);
  return nixArgs.filter((line) => / (eval|flake) /.test(` ${line} `));
}

interface Run {
  evaluation: DeployEvaluation;
  evaluations: string[];
  nix: string[];
}

async function evaluate(base: string, head: string, cacheDir: string): Promise<Run> {
  nixEvaluations();
  const evaluations: string[] = [];
  const evaluation = await evaluateDeploy(
    { root: repo.dir, baseSha: base, headRev: head, base: new CommitSnapshot(repo.dir, base, 'base'), head: new CommitSnapshot(repo.dir, head, 'head') },
    policy,
    { cacheDir, onEvaluate: (label, node) => evaluations.push(`${label}:${node ?? '(names)'}`) },
  );
  return { evaluation, evaluations, nix: nixEvaluations() };
}

function changed(run: Run): string[] {
  if (run.evaluation.kind !== 'planned') throw new Error(`expected a plan, got ${JSON.stringify(run.evaluation).slice(0, 400)}`);
  return run.evaluation.input.plan.targets.filter((t) => t.change !== 'unchanged').map((t) => t.node.name).sort();
}

describe('a change that touches no file the flake reads', () => {
  let base: string;
  let cacheDir: string;

  beforeAll(async () => {
    cacheDir = path.join(scratch, 'cache');
    base = await repo.commit('fleet', files());
  });

  it('YAML only under clusters/: the base is evaluated once (traced), the head never; a second PR on that base starts no nix evaluation', async () => {
    await repo.branch('yaml', 'main');
    const yaml = await repo.commit('scale up', { 'clusters/apps/release.yaml': 'replicas: 3\n', 'docs/notes.md': null });
    const first = await evaluate(base, yaml, cacheDir);
    expect(first.evaluations.filter((e) => e.startsWith('head:'))).toEqual([]);
    expect(first.evaluations.filter((e) => e.startsWith('base:'))).toHaveLength(1 + HOSTS.length);
    // The counter sees nix: the base's processes (flake metadata, the node list, one per node) went through it.
    expect(first.nix.length).toBeGreaterThanOrEqual(2 + HOSTS.length);
    expect(changed(first)).toEqual([]);
    expect(first.evaluation.log?.join('\n')).toContain("head not evaluated, the base's result holds");

    await repo.branch('yaml2', 'main');
    const again = await repo.commit('add an app', { 'clusters/apps/other.yaml': 'replicas: 1\n' });
    const second = await evaluate(base, again, cacheDir);
    expect(second.nix).toEqual([]);
    expect(second.evaluations).toEqual([]);
    expect(changed(second)).toEqual([]);
  });

  it('a file the flake reads with builtins.readFile is evaluated, and every host it feeds is redeployed', async () => {
    await repo.branch('json', 'main');
    const json = await repo.commit('new motd', { 'hosts/site.json': '{ "motd": "hello" }\n' });
    const run = await evaluate(base, json, cacheDir);
    expect(run.evaluations.filter((e) => e.startsWith('head:'))).toHaveLength(1 + HOSTS.length);
    expect(run.nix.length).toBeGreaterThanOrEqual(1 + HOSTS.length);
    expect(changed(run)).toEqual([...HOSTS].sort());
    expect(run.evaluation.log?.join('\n')).toContain('hosts/site.json changed, which the base evaluation read');
  });

  it('a new file in a folder the flake lists (builtins.readDir) is evaluated', async () => {
    await repo.branch('key', 'main');
    const key = await repo.commit('add a key', { 'keys/bob.pub': 'ssh-ed25519 BBBB bob\n' });
    const run = await evaluate(base, key, cacheDir);
    expect(run.evaluations.filter((e) => e.startsWith('head:'))).toHaveLength(1 + HOSTS.length);
    expect(changed(run)).toEqual([...HOSTS].sort());
  });

  it('any .nix change is evaluated, even one the flake does not read', async () => {
    await repo.branch('nix', 'main');
    const unread = await repo.commit('a module nobody imports', { 'modules/unused.nix': '{ }\n' });
    const run = await evaluate(base, unread, cacheDir);
    expect(run.evaluations.filter((e) => e.startsWith('head:'))).toHaveLength(1 + HOSTS.length);
    expect(changed(run)).toEqual([]);
    expect(run.evaluation.log?.join('\n')).toContain('modules/unused.nix changed');
  });
});

describe('when the reads cannot be relied on, the head is evaluated (never a silent pass)', () => {
  it('a flake that uses self.rev: a YAML change still evaluates, and the log says why', async () => {
    const cacheDir = path.join(scratch, 'cache-rev');
    await repo.branch('rev-base', 'main');
    const base = await repo.commit('stamp the revision', { 'flake.nix': flake('${self.rev or "dirty"}') });
    const head = await repo.commit('yaml', { 'clusters/apps/release.yaml': 'replicas: 5\n' });
    const run = await evaluate(base, head, cacheDir);
    expect(run.evaluations.filter((e) => e.startsWith('head:'))).toHaveLength(1 + HOSTS.length);
    expect(changed(run)).toEqual([...HOSTS].sort());
    expect(run.evaluation.log?.join('\n')).toMatch(/head evaluated: .*flake\.nix:\d+ \(rev\) may use the revision's own identity/);
  });

  it('a flake that puts its whole source in a derivation (src = self): a YAML change still evaluates', async () => {
    const cacheDir = path.join(scratch, 'cache-self');
    await repo.branch('self-base', 'main');
    const base = await repo.commit('ship the source', { 'flake.nix': flake('${self}') });
    const head = await repo.commit('yaml', { 'clusters/apps/release.yaml': 'replicas: 6\n' });
    const run = await evaluate(base, head, cacheDir);
    expect(run.evaluations.filter((e) => e.startsWith('head:'))).toHaveLength(1 + HOSTS.length);
    expect(changed(run)).toEqual([...HOSTS].sort());
    expect(run.evaluation.log?.join('\n')).toContain("derivation uses the store path of the revision's whole source");
  });

  it('without strace (GUARD_TRACE_READS=off) the head is evaluated and the log says so', async () => {
    const cacheDir = path.join(scratch, 'cache-off');
    await repo.branch('off', 'main');
    const base = await repo.git('rev-parse', 'main');
    const head = await repo.commit('yaml', { 'clusters/apps/release.yaml': 'replicas: 7\n' });
    process.env.GUARD_TRACE_READS = 'off';
    try {
      const run = await evaluate(base, head, cacheDir);
      expect(run.evaluations.filter((e) => e.startsWith('head:'))).toHaveLength(1 + HOSTS.length);
      expect(changed(run)).toEqual([]);
      expect(run.evaluation.log?.join('\n')).toContain('what the flake reads is not recorded (GUARD_TRACE_READS=off)');
    } finally {
      delete process.env.GUARD_TRACE_READS;
    }
  });
});
