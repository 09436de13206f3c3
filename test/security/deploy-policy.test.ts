import { promises as fs } from 'node:fs';
import http from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { approving, forgeApprovals } from '../../src/deploy/approvals.js';
import { runCheck } from '../../src/engine.js';
import { GuardError } from '../../src/errors.js';
import { TestRepo } from '../support/git-repo.js';
import { FLEET_HOSTS, fleetFiles, fleetFlake, fleetFlakeWithInput, SITE_POLICY } from '../support/fleet.js';

const cacheDir = path.join(os.tmpdir(), 'guard-test-cache');
const SHARED_CHANGE = { 'modules/common.nix': '{\n  motd = "new kernel";\n}\n' };
let repo: TestRepo | undefined;
const cleanups: Array<() => Promise<void>> = [];

afterEach(async () => {
  await repo?.remove();
  repo = undefined;
  for (const cleanup of cleanups.splice(0)) await cleanup();
});

async function fleetRepo(policy = SITE_POLICY, files: Record<string, string> = {}): Promise<TestRepo> {
  repo = await TestRepo.create();
  await repo.commit('fleet', { ...fleetFiles(), '.guard.yaml': policy, ...files });
  await repo.branch('change');
  return repo;
}

/** A loopback HTTP listener that counts every connection and would answer with a marker body. */
async function listener(): Promise<{ url: string; connections: () => number }> {
  let count = 0;
  const sockets = new Set<Socket>();
  const server = http.createServer((_request, response) => response.end('REPLY-BODY-MARKER'));
  server.on('connection', (socket) => {
    count++;
    sockets.add(socket);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  cleanups.push(async () => {
    for (const socket of sockets) socket.destroy();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, connections: () => count };
}

async function guardError(promise: Promise<unknown>): Promise<GuardError> {
  try {
    await promise;
  } catch (error) {
    if (error instanceof GuardError) return error;
    throw error;
  }
  throw new Error('expected the guard to refuse (exit 2), but the check completed');
}

const check = () => runCheck({ cwd: repo!.dir, base: 'main', head: 'change', cacheDir });

describe('sites come from the base policy, not from the change', () => {
  it('site = "hel" on every node does not let a three-site change through; the disagreement is reported', async () => {
    await fleetRepo();
    const everyNodeInHel = Object.fromEntries(FLEET_HOSTS.map((host) => [host, 'site = "hel";']));
    await repo!.commit('all hel now', { 'flake.nix': fleetFlake({ extraNodeAttributes: everyNodeInHel }), ...SHARED_CHANGE });
    const report = await check();
    expect(report.summary.verdict).toBe('fail');
    const multi = report.findings.find((f) => f.rule === 'deploy/multi-site');
    expect(multi).toMatchObject({ severity: 'error' });
    expect(multi!.message).toContain('in 3 sites');
    const mismatches = report.findings.filter((f) => f.rule === 'deploy/site-mismatch').map((f) => f.subject.name).sort();
    expect(mismatches).toEqual(['cc-fr-lau-store-01', 'cc-se-sto-core-01']);
    expect(report.deploy?.targets.find((t) => t.node === 'cc-se-sto-core-01')).toMatchObject({ site: 'sto', siteSource: 'hostPattern' });
  });

  it('an explicit hostname map in the base policy wins over the site every node claims', async () => {
    await fleetRepo('version: 1\ndeploy:\n  maxSitesPerChange: 1\n  sites:\n    hosts:\n      cc-fr-lau-store-01.example.net: lau\n      cc-fi-hel-k3s-02.example.net: hel\n      cc-fi-hel-core-01.example.net: hel\n      cc-se-sto-core-01.example.net: sto\n');
    const flake = fleetFlake({ extraNodeAttributes: Object.fromEntries(FLEET_HOSTS.map((host) => [host, 'site = "hel";'])) });
    await repo!.commit('claim hel', { 'flake.nix': flake, ...SHARED_CHANGE });
    const report = await check();
    expect(report.summary.verdict).toBe('fail');
    expect(report.findings.find((f) => f.rule === 'deploy/multi-site')?.message).toMatch(/lau: .*sto: /);
    expect(report.deploy?.targets.find((t) => t.node === 'cc-fr-lau-store-01')).toMatchObject({ site: 'lau', siteSource: 'hosts map' });
  });
  it('pointing a node at a host in another site is a redeploy there, judged by the hostname, not the node name', async () => {
    await fleetRepo();
    const flake = fleetFlake({ extraNodeAttributes: { 'cc-fi-hel-k3s-02': 'hostname = "cc-se-sto-k3s-09.example.net";' } });
    await repo!.commit('move a node, touch another', { 'flake.nix': flake, 'hosts/cc-fi-hel-core-01.nix': '{\n  role = "x";\n}\n' });
    const report = await check();
    const moved = report.deploy?.targets.find((t) => t.node === 'cc-fi-hel-k3s-02');
    expect(moved).toMatchObject({ change: 'changed', site: 'sto', hostname: 'cc-se-sto-k3s-09.example.net' });
    const multi = report.findings.find((f) => f.rule === 'deploy/multi-site');
    expect(multi?.severity).toBe('error');
    expect(multi?.evidence?.join('\n')).toContain('hostname cc-fi-hel-k3s-02.example.net -> cc-se-sto-k3s-09.example.net');
  });
});

describe('the fleet is evaluated whenever the change could alter it', () => {
  it('a deploy output built through listToAttrs, never spelled out, is still evaluated and the three-site change blocked', async () => {
    const hidden = `{
  description = "Fleet";
  outputs = { self }: let
    system = "x86_64-linux";
    common = import ./modules/common.nix;
    profile = name: host: builtins.derivation {
      inherit name system;
      builder = "/bin/sh";
      args = [ "-c" "echo '\${common.motd} \${host.role}' > $out" ];
    };
    machine = name: {
      hostname = "\${name}.example.net";
      profiles.system = { user = "root"; path = profile name (import (./hosts + "/\${name}.nix")); };
    };
    names = [ ${FLEET_HOSTS.map((h) => `"${h}"`).join(' ')} ];
  in builtins.listToAttrs [ {
    name = builtins.concatStringsSep "" [ "dep" "loy" ];
    value = { \${"no" + "des"} = builtins.listToAttrs (map (n: { name = n; value = machine n; }) names); };
  } ];
}
`;
    expect(hidden).not.toMatch(/\bdeploy\b|\bnodes\s*=/);
    await fleetRepo(SITE_POLICY, { 'flake.nix': hidden });
    await repo!.commit('shared change', SHARED_CHANGE);
    const report = await check();
    expect(report.deploy?.targets.filter((t) => t.change === 'changed')).toHaveLength(4);
    expect(report.findings.find((f) => f.rule === 'deploy/multi-site')).toMatchObject({ severity: 'error' });
    expect(report.summary.verdict).toBe('fail');
  });

  it('a change to a plain file the flake reads is evaluated; a change only under deploy.ignorePaths is not', async () => {
    const flake = fleetFlake().replace('common = import ./modules/common.nix;', 'common = { motd = builtins.readFile ./motd.txt; };');
    await fleetRepo(`${SITE_POLICY}  ignorePaths: ["docs/**"]\n`, { 'flake.nix': flake, 'motd.txt': 'hello\n', 'docs/README.md': 'fleet\n' });
    await repo!.commit('new motd', { 'motd.txt': 'patched\n' });
    const report = await check();
    expect(report.findings.find((f) => f.rule === 'deploy/multi-site')?.location.path).toBe('motd.txt');
    await repo!.branch('docs');
    await repo!.commit('docs only', { 'docs/README.md': 'more fleet docs\n' });
    const docs = await runCheck({ cwd: repo!.dir, base: 'main', head: 'docs', cacheDir });
    expect(docs.deploy).toBeUndefined();
    expect(docs.summary.verdict).toBe('pass');
  });
});

describe('the override trailer counts only with an approval by someone the base policy names', () => {
  const policy = `${SITE_POLICY}  overrideTrailer: Guard-Allow-Multi-Site\n  override:\n    approvers: [oncall-lead]\n`;
  const trailer = 'Roll out everywhere\n\nGuard-Allow-Multi-Site: trust me';

  it('a trailer without any approval is refused with a notice, and the change stays blocked', async () => {
    await fleetRepo(policy);
    await repo!.commit(trailer, SHARED_CHANGE);
    const report = await check();
    expect(report.summary.verdict).toBe('fail');
    expect(report.findings.some((f) => f.rule === 'deploy/multi-site' && f.severity === 'error')).toBe(true);
    expect(report.findings.some((f) => f.rule === 'deploy/override-used')).toBe(false);
    const refused = report.findings.find((f) => f.rule === 'deploy/override-refused');
    expect(refused).toMatchObject({ severity: 'notice' });
    expect(refused!.message).toContain('no forge access');
  });

  it('an approval by someone else, or by the approver on an older commit, does not count', async () => {
    await fleetRepo(policy);
    const head = await repo!.commit(trailer, SHARED_CHANGE);
    const forge = await reviewsServer([
      { user: { login: 'oncall-lead' }, state: 'APPROVED', commit_id: 'f'.repeat(40) },
      { user: { login: 'pr-author-friend' }, state: 'APPROVED', commit_id: head },
    ]);
    const report = await runCheck({
      cwd: repo!.dir, base: 'main', head: 'change', cacheDir,
      approvals: forgeApprovals({ forge: 'github', apiUrl: forge.url, token: 'test-token', owner: 'acme', repo: 'fleet', pullNumber: 7, sha: head }),
    });
    expect(forge.paths()).toEqual(['/repos/acme/fleet/pulls/7/reviews?per_page=50&page=1']);
    expect(report.summary.verdict).toBe('fail');
    expect(report.findings.find((f) => f.rule === 'deploy/override-refused')?.message).toContain('none of oncall-lead approved the head commit');
  });

  it('the named approver\'s approval of the head commit makes it a loud warning instead of a block', async () => {
    await fleetRepo(policy);
    const head = await repo!.commit(trailer, SHARED_CHANGE);
    const forge = await reviewsServer([{ user: { login: 'OnCall-Lead' }, state: 'APPROVED', commit_id: head }]);
    const report = await runCheck({
      cwd: repo!.dir, base: 'main', head: 'change', cacheDir,
      approvals: forgeApprovals({ forge: 'forgejo', apiUrl: `${forge.url}/api/v1`, token: 'test-token', owner: 'acme', repo: 'fleet', pullNumber: 7, sha: head }),
    });
    expect(report.findings.find((f) => f.rule === 'deploy/override-used')).toMatchObject({ severity: 'warning' });
    expect(report.summary.verdict).toBe('pass');
  });

  it('a later "changes requested" or a dismissed approval withdraws it', () => {
    const sha = 'a'.repeat(40);
    expect(approving([{ user: { login: 'lead' }, state: 'APPROVED', commit_id: sha }, { user: { login: 'lead' }, state: 'CHANGES_REQUESTED', commit_id: sha }], ['lead'], sha)).toEqual([]);
    expect(approving([{ user: { login: 'lead' }, state: 'APPROVED', commit_id: sha, dismissed: true }], ['lead'], sha)).toEqual([]);
    expect(approving([{ user: { login: 'lead' }, state: 'APPROVED', commit_id: sha }, { user: { login: 'lead' }, state: 'COMMENTED', commit_id: sha }], ['lead'], sha)).toEqual(['lead']);
  });

  it('a trailer in a repository whose base policy names no approvers is refused', async () => {
    await fleetRepo(`${SITE_POLICY}  overrideTrailer: Guard-Allow-Multi-Site\n`);
    await repo!.commit(trailer, SHARED_CHANGE);
    const report = await runCheck({ cwd: repo!.dir, base: 'main', head: 'change', cacheDir, approvals: async () => ({ ok: true, approvedBy: ['anyone'] }) });
    expect(report.summary.verdict).toBe('fail');
    expect(report.findings.find((f) => f.rule === 'deploy/override-refused')?.message).toContain('names no approvers');
  });
});

describe('nix evaluates behind the fence', () => {
  it('builtins.fetchurl of a loopback listener: no connection, exit 2 (could not check), no reply quoted', async () => {
    const server = await listener();
    await fleetRepo();
    const flake = fleetFlake().replace('common = import ./modules/common.nix;', `common = { motd = builtins.readFile (builtins.fetchurl "${server.url}/"); };`);
    await repo!.commit('fetch at eval time', { 'flake.nix': flake });
    const error = await guardError(check());
    expect(server.connections()).toBe(0);
    expect(error.message).toContain('could not check the deploy targets');
    expect(error.message).toContain(`${server.url}/`);
    expect(error.message).not.toContain('REPLY-BODY-MARKER');
  });

  it('a flake input on a loopback listener: unlocked is exit 2 naming it, locked on a new host is refused as a finding; no connection either way', async () => {
    const server = await listener();
    await fleetRepo();
    await repo!.commit('input from loopback', { 'flake.nix': fleetFlakeWithInput(`${server.url}/shared.tar.gz`) });
    const unlocked = await guardError(check());
    expect(unlocked.message).toMatch(/could not check the deploy targets at .*shared\.tar\.gz/);
    expect(unlocked.message).not.toContain('REPLY-BODY-MARKER');
    const lock = JSON.stringify({
      nodes: {
        root: { inputs: { shared: 'shared' } },
        shared: { flake: false, locked: { type: 'tarball', url: `${server.url}/shared.tar.gz`, narHash: `sha256-${'A'.repeat(43)}=` }, original: { type: 'tarball', url: `${server.url}/shared.tar.gz` } },
      },
      root: 'root',
      version: 7,
    });
    await repo!.commit('lock it', { 'flake.lock': lock });
    // Locked on a host the base lock does not use: refused before anything is fetched, as a finding of the change.
    const locked = await check();
    const refused = locked.findings.find((f) => f.rule === 'nix/input-host-not-allowed');
    expect(refused).toMatchObject({ severity: 'error', introduced: true, location: { path: 'flake.lock' } });
    expect(refused!.message).toContain('flake input "shared"');
    expect(refused!.message).toContain(new URL(server.url).host);
    expect(locked.summary.verdict).toBe('fail');
    expect(JSON.stringify(locked)).not.toContain('REPLY-BODY-MARKER');
    expect(server.connections()).toBe(0);
  });

  it('a flake input on a path of the machine is refused, and nothing of it is read into the report', async () => {
    const secretDir = await fs.mkdtemp(path.join(os.tmpdir(), 'guard-host-secret-'));
    cleanups.push(() => fs.rm(secretDir, { recursive: true, force: true }));
    await fs.writeFile(path.join(secretDir, 'token'), 'HOST-SECRET-CONTENT');
    await fleetRepo();
    const flake = fleetFlake()
      .replace('outputs = { self }: let', `inputs.sec = { url = "path:${secretDir}"; flake = false; };\n  outputs = { self, sec }: let`)
      .replace('hostname = "${name}.example.net";', 'hostname = "${name}.example.net" + builtins.readFile "${sec}/token";');
    await repo!.commit('read the host', { 'flake.nix': flake });
    const error = await guardError(check());
    expect(error.message).toContain('flake input "sec"');
    expect(error.message).toContain('outside the checked revision');
    expect(error.message).not.toContain('HOST-SECRET-CONTENT');
  });

  it('builtins.getEnv sees no token of the guard\'s environment', async () => {
    const saved = process.env.GITHUB_TOKEN;
    process.env.GITHUB_TOKEN = 'ghp_guardjobtoken0123456789abcdef';
    cleanups.push(async () => {
      if (saved === undefined) delete process.env.GITHUB_TOKEN;
      else process.env.GITHUB_TOKEN = saved;
    });
    await fleetRepo();
    const flake = fleetFlake({ extraNodeAttributes: { 'cc-se-sto-core-01': 'hostname = "cc-se-sto-core-01.example.net" + builtins.getEnv "GITHUB_TOKEN" + builtins.getEnv "HOME";' } });
    await repo!.commit('leak the token', { 'flake.nix': flake, 'hosts/cc-se-sto-core-01.nix': '{\n  role = "x";\n}\n' });
    const report = await check();
    expect(report.deploy?.targets.find((t) => t.node === 'cc-se-sto-core-01')?.hostname).toBe('cc-se-sto-core-01.example.net');
    expect(JSON.stringify(report)).not.toContain('ghp_guardjobtoken');
  });

  it('an evaluation error the base has too is not "introduced", whatever store paths it names; a new one is', async () => {
    await fleetRepo(SITE_POLICY, { 'modules/common.nix': '{\n  motd = ;\n}\n' });
    await repo!.commit('unrelated host change', { 'hosts/cc-se-sto-core-01.nix': '{\n  role = "x";\n}\n' });
    const same = await check();
    const existing = same.findings.find((f) => f.rule === 'nix/eval-failed');
    expect(existing).toMatchObject({ severity: 'error', introduced: false });
    expect(existing!.message).not.toMatch(/\/nix\/store\/[a-z0-9]{32}/);
    await repo!.branch('broken', 'main');
    await repo!.commit('fix common, break a host', { 'modules/common.nix': '{\n  motd = "ok";\n}\n', 'hosts/cc-se-sto-core-01.nix': '{\n  role = undefinedThing;\n}\n' });
    const fresh = await runCheck({ cwd: repo!.dir, base: 'main', head: 'broken', cacheDir });
    expect(fresh.findings.find((f) => f.rule === 'nix/eval-failed')).toMatchObject({ introduced: true });
  });
});

/** A forge that answers the pull request reviews endpoint, recording what was asked. */
async function reviewsServer(reviews: object[]): Promise<{ url: string; paths: () => string[] }> {
  const asked: string[] = [];
  const server = http.createServer((request, response) => {
    asked.push((request.url ?? '').replace(/^\/api\/v1/, '').replace('limit=', 'per_page='));
    if (!/\/repos\/acme\/fleet\/pulls\/7\/reviews/.test(request.url ?? '') || !/^(Bearer|token) test-token$/.test(request.headers.authorization ?? '')) {
      response.writeHead(404).end('{}');
      return;
    }
    response.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(reviews));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  cleanups.push(() => new Promise<void>((resolve) => server.close(() => resolve())));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, paths: () => asked };
}

