import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCheck } from '../../src/engine.js';
import { GuardError } from '../../src/errors.js';
import { parseDeclaredInputs, refusedDeclaredInputs } from '../../src/nix/declared-inputs.js';
import { filesystemFence, runTool, toolEnvironment } from '../../src/tools/sandbox.js';
import { TestRepo } from '../support/git-repo.js';
import { fleetFiles, fleetFlake, SITE_POLICY } from '../support/fleet.js';

/** nix sees nothing of the machine: no folder of it can be locked, fetched or read into the world-readable store. */

let workDir: string;
const repos: TestRepo[] = [];
beforeAll(async () => {
  workDir = await fs.mkdtemp(path.join(os.tmpdir(), 'guard-nix-fence-'));
});
afterAll(async () => {
  await Promise.all(repos.map((r) => r.remove()));
  await fs.rm(workDir, { recursive: true, force: true });
});

async function fleetRepo(): Promise<TestRepo> {
  const repo = await TestRepo.create();
  repos.push(repo);
  await repo.commit('fleet', { ...fleetFiles(), '.guard.yaml': SITE_POLICY });
  await repo.branch('change');
  return repo;
}

/** A folder of the machine with a marker file, as a runner's ~/.ssh would be. */
async function hostFolder(): Promise<{ dir: string; marker: string }> {
  const dir = await fs.mkdtemp(path.join(workDir, 'host-'));
  const marker = `fence-marker-${process.pid}-${Math.random().toString(36).slice(2)}`;
  await fs.writeFile(path.join(dir, marker), `HOST-SECRET-${marker}\n`);
  return { dir, marker };
}

async function storeCopiesOf(fileName: string): Promise<string[]> {
  const entries = await fs.readdir('/nix/store').catch(() => [] as string[]);
  const found: string[] = [];
  for (const entry of entries) {
    if (await fs.stat(path.join('/nix/store', entry, fileName)).then(() => true, () => false)) found.push(entry);
  }
  return found;
}

const check = (repo: TestRepo) => runCheck({ cwd: repo.dir, base: 'main', head: 'change', cacheDir: path.join(workDir, 'cache') });
const fenced = filesystemFence().kind === 'namespace';

describe('the file-system fence of tools', () => {
  it.runIf(fenced)('shows the tool the system programs, /nix and the folders asked for: no /etc/passwd, no home, a hidden file empty', async () => {
    const host = await hostFolder();
    const shown = await fs.mkdtemp(path.join(workDir, 'shown-'));
    await fs.writeFile(path.join(shown, 'config'), 'token=SECRET\n');
    await fs.writeFile(path.join(shown, 'visible'), 'ok\n');
    const script = `test -d /nix/store && echo nix; test -e /etc/passwd || echo no-passwd; test -e "$1" || echo no-host; cat "$2/visible"; wc -c < "$2/config"; echo x > "$2/w" 2>/dev/null || echo read-only; ls /proc | grep -c '^[0-9]'`;
    const result = await runTool('/bin/sh', ['-c', script, 'sh', host.dir, shown], {
      env: toolEnvironment('/tmp'),
      timeoutMs: 20_000,
      maxBuffer: 1024 * 1024,
      filesystem: { readOnly: [shown], hidden: [path.join(shown, 'config')] },
    });
    expect(result.exitCode).toBe(0);
    const lines = result.stdout.trim().split('\n');
    expect(lines.slice(0, 6)).toEqual(['nix', 'no-passwd', 'no-host', 'ok', '0', 'read-only']);
    // A fresh pid namespace: only the tool's own processes.
    expect(Number(lines[6])).toBeLessThan(5);
    expect(await fs.readFile(path.join(shown, 'config'), 'utf8')).toBe('token=SECRET\n');
  });

  it('without the option, a tool sees the machine as before (other callers unchanged)', async () => {
    const host = await hostFolder();
    const result = await runTool('/bin/sh', ['-c', 'cat "$1"/*', 'sh', host.dir], { env: toolEnvironment('/tmp'), timeoutMs: 20_000, maxBuffer: 1024 * 1024 });
    expect(result.stdout).toContain(`HOST-SECRET-${host.marker}`);
  });
});

describe('flake inputs declared in flake.nix are judged before nix locks anything', () => {
  const lock = { nodes: { root: { inputs: { nixpkgs: 'nixpkgs' } }, nixpkgs: { locked: { type: 'github', owner: 'NixOS', repo: 'nixpkgs' } } }, root: 'root' };

  it('refuses machine paths in every spelling, and inputs the lock does not lock; accepts locked network and relative inputs', () => {
    const declared = parseDeclaredInputs(JSON.stringify([
      { input: 'nixpkgs', url: 'github:NixOS/nixpkgs/nixos-24.05' },
      { input: 'local', url: 'path:./sub' },
      { input: 'utils', follows: 'nixpkgs' },
      { input: 'a', url: 'path:/home/runner/.ssh' },
      { input: 'b', url: 'git+file:///home/runner/work/repo' },
      { input: 'c', url: 'file:///etc/shadow' },
      { input: 'd', url: '/root' },
      { input: 'e', type: 'path', path: '/var/lib' },
      { input: 'nixpkgs/sub', url: 'path:/srv' },
      { input: 'f', url: 'github:evil/unlocked' },
    ]))!;
    const refused = refusedDeclaredInputs(declared, { ...lock, nodes: { ...lock.nodes, root: { inputs: { nixpkgs: 'nixpkgs', local: 'local' } } } });
    expect(refused.map((r) => r.input)).toEqual(['a', 'b', 'c', 'd', 'e', 'nixpkgs/sub', 'f']);
    expect(refused.find((r) => r.input === 'b')!.why).toContain('/home/runner/work/repo');
    expect(refused.find((r) => r.input === 'f')!.why).toContain('not locked');
  });

  it('nix output that is not a list of inputs is no list (the flake is then left to nix behind the fence)', () => {
    expect(parseDeclaredInputs('not json')).toBeUndefined();
    expect(parseDeclaredInputs('{"a":1}')).toBeUndefined();
  });

  it.runIf(fenced)('an unlocked path: input naming a folder of the machine is exit 2 naming the input, and nothing of it reaches /nix/store', async () => {
    const host = await hostFolder();
    const repo = await fleetRepo();
    const flake = fleetFlake().replace('outputs = { self }: let', `inputs.sec = { url = "path:${host.dir}"; flake = false; };\n  outputs = { self, sec }: let`);
    await repo.commit('read the host', { 'flake.nix': flake });
    const error = await check(repo).then(() => undefined, (e: unknown) => e);
    expect(error).toBeInstanceOf(GuardError);
    expect((error as GuardError).message).toContain('flake input "sec" names');
    expect((error as GuardError).message).toContain(host.dir);
    expect(await storeCopiesOf(host.marker)).toEqual([]);
  });

  it.runIf(fenced)('a git+file: input of the checkout\'s own repository is refused too', async () => {
    const repo = await fleetRepo();
    const flake = fleetFlake().replace('outputs = { self }: let', `inputs.me.url = "git+file://${repo.dir}";\n  outputs = { self, me }: let`);
    await repo.commit('read the checkout', { 'flake.nix': flake });
    await expect(check(repo)).rejects.toThrow(/flake input "me" names/);
  });
});

describe('evaluation sees only the revision', () => {
  it.runIf(fenced)('builtins.fetchTree of a machine folder (type path, any narHash) copies nothing, reads nothing and quotes no hash', async () => {
    const host = await hostFolder();
    const repo = await fleetRepo();
    const fetch = `builtins.fetchTree { type = "path"; path = "${host.dir}"; narHash = "sha256-${'A'.repeat(43)}="; }`;
    const flake = fleetFlake().replace('common = import ./modules/common.nix;', `common = { motd = builtins.readFile "\${${fetch}}/${host.marker}"; };`);
    await repo.commit('read the host at eval time', { 'flake.nix': flake });
    const report = await check(repo);
    const text = JSON.stringify(report);
    expect(text).not.toMatch(/got 'sha256-/);
    expect(text).not.toContain(`HOST-SECRET-${host.marker}`);
    // Still not a pass: the flake does not evaluate.
    expect(report.findings.some((f) => f.rule === 'nix/eval-failed' && f.severity === 'error')).toBe(true);
    expect(await storeCopiesOf(host.marker)).toEqual([]);
  });

  it.runIf(fenced)('builtins.readFile of the checkout\'s .git/config (where a job token sits) finds nothing', async () => {
    const repo = await fleetRepo();
    await fs.appendFile(path.join(repo.dir, '.git', 'config'), '[http]\n\textraheader = AUTHORIZATION: basic FENCE-TOKEN\n');
    const flake = fleetFlake().replace('common = import ./modules/common.nix;', `common = { motd = builtins.readFile "${repo.dir}/.git/config"; };`);
    await repo.commit('read the token', { 'flake.nix': flake });
    const report = await check(repo);
    expect(JSON.stringify(report)).not.toContain('FENCE-TOKEN');
    expect(report.findings.some((f) => f.rule === 'nix/eval-failed')).toBe(true);
  });

  it.runIf(fenced)('a normal change still evaluates behind the fence, and self.rev is the commit (every host that uses it changes)', async () => {
    const repo = await TestRepo.create();
    repos.push(repo);
    const flake = fleetFlake().replace('common = import ./modules/common.nix;', 'common = { motd = "rev-${self.rev or "dirty"}"; };');
    await repo.commit('fleet', { ...fleetFiles({ flake }), '.guard.yaml': SITE_POLICY });
    await repo.branch('change');
    await repo.commit('one host', { 'hosts/cc-se-sto-core-01.nix': '{\n  role = "x";\n}\n' });
    const report = await check(repo);
    expect(report.deploy?.targets.filter((t) => t.change === 'changed')).toHaveLength(4);
  });
});
