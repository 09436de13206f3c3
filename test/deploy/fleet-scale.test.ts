import { execa } from 'execa';
import { randomUUID } from 'node:crypto';
import { promises as fs } from 'node:fs';
import http from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { checkMultiSite } from '../../src/checks/deploy-multi-site.js';
import { evaluateDeploy, type DeployEvaluation, type DeployOptions } from '../../src/deploy/evaluate.js';
import type { DeployPolicy } from '../../src/deploy/policy.js';
import { GuardError } from '../../src/errors.js';
import { CommitSnapshot } from '../../src/git/repo.js';
import { TestRepo } from '../support/git-repo.js';
import { FLEET_HOSTS, fleetFiles, fleetFlakeWithInput, tarballLock } from '../support/fleet.js';

const policy: DeployPolicy = { tool: 'deploy-rs', maxSitesPerChange: 1, sites: { hostPattern: '^cc-[a-z]{2}-(?<site>[a-z]{3})-' } };
let repo: TestRepo | undefined;
const cleanups: Array<() => Promise<void>> = [];

afterEach(async () => {
  await repo?.remove();
  repo = undefined;
  for (const cleanup of cleanups.splice(0)) await cleanup();
});

async function tempDir(prefix: string): Promise<string> {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), prefix));
  cleanups.push(() => fs.rm(dir, { recursive: true, force: true }));
  return dir;
}

/** A tarball of `common.nix` with a motd unique to this run (so it is never in the store already), and its NAR hash. */
async function tarball(motd: string): Promise<{ data: Buffer; narHash: string }> {
  const dir = await tempDir('guard-tarball-');
  const top = path.join(dir, 'shared-1.0');
  await fs.mkdir(top);
  await fs.writeFile(path.join(top, 'common.nix'), `{ motd = "${motd}"; }\n`);
  await execa('tar', ['czf', path.join(dir, 'out.tar.gz'), '-C', dir, 'shared-1.0']);
  const narHash = (await execa('nix', ['--extra-experimental-features', 'nix-command', 'hash', 'path', top])).stdout.trim();
  return { data: await fs.readFile(path.join(dir, 'out.tar.gz')), narHash };
}

/** A loopback stand-in for a code host: serves the given tarballs by path, counts every connection and request. */
async function inputServer(files: Record<string, Buffer>): Promise<{ url: string; host: string; connections: () => number; requests: string[]; close: () => Promise<void> }> {
  let connections = 0;
  const requests: string[] = [];
  const sockets = new Set<Socket>();
  const server = http.createServer((request, response) => {
    requests.push(request.url ?? '');
    const body = files[request.url ?? ''];
    if (!body) return void response.writeHead(404).end('REPLY-BODY-MARKER');
    response.writeHead(200, { 'content-type': 'application/gzip' }).end(body);
  });
  server.on('connection', (socket) => {
    connections++;
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  let closed = false;
  const close = async () => {
    if (closed) return;
    closed = true;
    for (const socket of sockets) socket.destroy();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  };
  cleanups.push(close);
  const port = (server.address() as AddressInfo).port;
  return { url: `http://127.0.0.1:${port}`, host: `127.0.0.1:${port}`, connections: () => connections, requests, close };
}

interface Run {
  evaluation: DeployEvaluation;
  /** nix evaluations started, as "label:node". */
  evaluations: string[];
}

async function evaluate(base: string, head: string, deployPolicy: DeployPolicy, options: DeployOptions = {}): Promise<Run> {
  const evaluations: string[] = [];
  const evaluation = await evaluateDeploy(
    { root: repo!.dir, baseSha: base, headRev: head, base: new CommitSnapshot(repo!.dir, base, 'base'), head: new CommitSnapshot(repo!.dir, head, 'head') },
    deployPolicy,
    { ...options, onEvaluate: (label, node) => evaluations.push(`${label}:${node ?? '(names)'}`) },
  );
  return { evaluation, evaluations };
}

async function refusal(promise: Promise<unknown>): Promise<GuardError> {
  try {
    await promise;
  } catch (error) {
    if (error instanceof GuardError) return error;
    throw error;
  }
  throw new Error('expected exit 2 (could not check), but the evaluation completed');
}

function changedNodes(run: Run): string[] {
  if (run.evaluation.kind !== 'planned') throw new Error(`expected a plan, got ${JSON.stringify(run.evaluation)}`);
  return run.evaluation.input.plan.targets.filter((t) => t.change === 'changed' || t.change === 'added').map((t) => t.node.name).sort();
}

describe('flake inputs fetched once, only from hosts the base allows', () => {
  it('fetches the base and head inputs from an allowed loopback host once, then reuses the store and the evaluation cache', async () => {
    const run = randomUUID();
    const [one, two] = await Promise.all([tarball(`one ${run}`), tarball(`two ${run}`)]);
    const server = await inputServer({ '/one.tar.gz': one.data, '/two.tar.gz': two.data });
    const cacheDir = await tempDir('guard-eval-cache-');
    repo = await TestRepo.create();
    const base = await repo.commit('fleet with a pinned input', {
      ...fleetFiles(),
      'flake.nix': fleetFlakeWithInput(`${server.url}/one.tar.gz`),
      'flake.lock': tarballLock({ shared: { url: `${server.url}/one.tar.gz`, narHash: one.narHash } }),
    });
    const head = await repo.commit('bump shared', {
      'flake.nix': fleetFlakeWithInput(`${server.url}/two.tar.gz`),
      'flake.lock': tarballLock({ shared: { url: `${server.url}/two.tar.gz`, narHash: two.narHash } }),
    });

    const first = await evaluate(base, head, policy, { cacheDir });
    expect(server.requests.sort()).toEqual(['/one.tar.gz', '/two.tar.gz']);
    expect(changedNodes(first)).toEqual([...FLEET_HOSTS].sort());
    expect(first.evaluations).toHaveLength(2 * (1 + FLEET_HOSTS.length));

    const again = await evaluate(base, head, policy, { cacheDir });
    expect(server.requests).toHaveLength(2);
    expect(again.evaluations).toEqual([]);
    expect(changedNodes(again)).toEqual(changedNodes(first));

    // Without the evaluation cache the inputs come from the store: evaluated again, nothing fetched.
    const uncached = await evaluate(base, head, policy);
    expect(uncached.evaluations.length).toBeGreaterThan(0);
    expect(server.requests).toHaveLength(2);
  });

  it('an allowed host that does not answer is exit 2 naming the input and the host, never a finding about the change', async () => {
    const { narHash, data } = await tarball(`down ${randomUUID()}`);
    const server = await inputServer({ '/shared.tar.gz': data });
    await server.close();
    repo = await TestRepo.create();
    const base = await repo.commit('fleet with a pinned input', {
      ...fleetFiles(),
      'flake.nix': fleetFlakeWithInput(`${server.url}/shared.tar.gz`),
      'flake.lock': tarballLock({ shared: { url: `${server.url}/shared.tar.gz`, narHash } }),
    });
    const head = await repo.commit('one host', { 'hosts/cc-se-sto-core-01.nix': '{\n  role = "x";\n}\n' });
    const error = await refusal(evaluate(base, head, policy, { cacheDir: await tempDir('guard-eval-cache-') }));
    expect(error.message).toContain('flake input "shared"');
    expect(error.message).toContain(server.host);
    expect(error.message).toContain('could not check the deploy targets');
  });

  it('a download that does not match the lock\'s narHash is exit 2 naming input and host; a redirect to another host is not followed', async () => {
    const run = randomUUID();
    const [locked, served] = await Promise.all([tarball(`locked ${run}`), tarball(`served ${run}`)]);
    const elsewhere = await inputServer({ '/x.tar.gz': locked.data });
    const server = await inputServer({ '/shared.tar.gz': served.data });
    repo = await TestRepo.create();
    const base = await repo.commit('fleet with a pinned input', {
      ...fleetFiles(),
      'flake.nix': fleetFlakeWithInput(`${server.url}/shared.tar.gz`),
      'flake.lock': tarballLock({ shared: { url: `${server.url}/shared.tar.gz`, narHash: locked.narHash } }),
    });
    const head = await repo.commit('one host', { 'hosts/cc-se-sto-core-01.nix': '{\n  role = "x";\n}\n' });
    const mismatch = await refusal(evaluate(base, head, policy));
    expect(mismatch.message).toContain('flake input "shared"');
    expect(mismatch.message).toContain(server.host);
    expect(mismatch.hint ?? '').toContain('does not match the narHash');

    const redirecting = http.createServer((_request, response) => response.writeHead(302, { location: `${elsewhere.url}/x.tar.gz` }).end());
    await new Promise<void>((resolve) => redirecting.listen(0, '127.0.0.1', resolve));
    cleanups.push(() => new Promise<void>((resolve) => redirecting.close(() => resolve())));
    const redirectUrl = `http://127.0.0.1:${(redirecting.address() as AddressInfo).port}/shared.tar.gz`;
    const base2 = await repo.commit('input behind a redirect', {
      'flake.nix': fleetFlakeWithInput(redirectUrl),
      'flake.lock': tarballLock({ shared: { url: redirectUrl, narHash: locked.narHash } }),
    });
    const head2 = await repo.commit('another host', { 'hosts/cc-fr-lau-store-01.nix': '{\n  role = "y";\n}\n' });
    const refused = await refusal(evaluate(base2, head2, policy));
    expect(refused.message).toContain('flake input "shared"');
    expect(elsewhere.connections()).toBe(0);
  });

  it('a head lock that moves an input to another host is refused as a finding naming input and host; that host sees no connection', async () => {
    const run = randomUUID();
    const [one, two] = await Promise.all([tarball(`one ${run}`), tarball(`two ${run}`)]);
    const allowed = await inputServer({ '/one.tar.gz': one.data });
    const other = await inputServer({ '/two.tar.gz': two.data });
    repo = await TestRepo.create();
    const base = await repo.commit('fleet with a pinned input', {
      ...fleetFiles(),
      'flake.nix': fleetFlakeWithInput(`${allowed.url}/one.tar.gz`),
      'flake.lock': tarballLock({ shared: { url: `${allowed.url}/one.tar.gz`, narHash: one.narHash } }),
    });
    const head = await repo.commit('move the input', {
      'flake.nix': fleetFlakeWithInput(`${other.url}/two.tar.gz`),
      'flake.lock': tarballLock({ shared: { url: `${other.url}/two.tar.gz`, narHash: two.narHash } }),
    });
    const { evaluation, evaluations } = await evaluate(base, head, policy);
    expect(other.connections()).toBe(0);
    expect(evaluations).toEqual([]);
    if (evaluation.kind !== 'failed') throw new Error(evaluation.kind);
    expect(evaluation.findings).toHaveLength(1);
    expect(evaluation.findings[0]).toMatchObject({ rule: 'nix/input-host-not-allowed', severity: 'error', location: { path: 'flake.lock' } });
    expect(evaluation.findings[0]!.message).toContain('"shared"');
    expect(evaluation.findings[0]!.message).toContain(other.host);

    // Allowed by the base policy explicitly: fetched and compared.
    const permitted = await evaluate(base, head, { ...policy, allowedInputHosts: ['127.0.0.1:*'] });
    expect(other.requests).toEqual(['/two.tar.gz']);
    expect(changedNodes(permitted)).toEqual([...FLEET_HOSTS].sort());
  });
});

describe('one nix process per node, in a bounded pool', () => {
  it('a node that fails is named with its file and line; the other nodes are still compared', async () => {
    repo = await TestRepo.create();
    const base = await repo.commit('fleet', fleetFiles());
    const head = await repo.commit('break one host, change another', {
      'hosts/cc-se-sto-core-01.nix': '{\n  role = undefinedThing;\n}\n',
      'hosts/cc-fi-hel-k3s-02.nix': '{\n  role = "k3s";\n}\n',
    });
    const run = await evaluate(base, head, { ...policy, evalConcurrency: 3 });
    expect(run.evaluations.filter((e) => e.startsWith('head:')).sort()).toEqual(['head:(names)', ...FLEET_HOSTS.map((h) => `head:${h}`)].sort());
    expect(changedNodes(run)).toEqual(['cc-fi-hel-k3s-02']);
    if (run.evaluation.kind !== 'planned') return;
    const failed = run.evaluation.findings.filter((f) => f.rule === 'nix/eval-failed');
    expect(failed).toHaveLength(1);
    expect(failed[0]).toMatchObject({ subject: { name: 'cc-se-sto-core-01' }, location: { path: 'hosts/cc-se-sto-core-01.nix', line: 2 } });
    expect(failed[0]!.message).toContain("undefined variable 'undefinedThing'");
    // The failing node is neither "removed" nor counted as a redeploy.
    expect(run.evaluation.input.plan.targets.map((t) => t.node.name)).not.toContain('cc-se-sto-core-01');
    expect(checkMultiSite(run.evaluation.input)).toEqual([]);
  });

  it('deploy.evalTimeoutSeconds bounds each node: a node that never finishes is named as timed out, the others compared', async () => {
    repo = await TestRepo.create();
    const base = await repo.commit('fleet', fleetFiles());
    const spin = 'builtins.foldl\' (a: i: a + builtins.foldl\' (b: j: b + j) 0 (builtins.genList (x: x) 20000)) 0 (builtins.genList (x: x) 1000000)';
    const head = await repo.commit('slow host, change another', {
      'hosts/cc-se-sto-core-01.nix': `{\n  role = toString (${spin});\n}\n`,
      'hosts/cc-fi-hel-k3s-02.nix': '{\n  role = "k3s";\n}\n',
    });
    const started = Date.now();
    const run = await evaluate(base, head, { ...policy, evalTimeoutSeconds: 8 });
    expect(Date.now() - started).toBeLessThan(60_000);
    expect(changedNodes(run)).toEqual(['cc-fi-hel-k3s-02']);
    if (run.evaluation.kind !== 'planned') return;
    const failed = run.evaluation.findings.filter((f) => f.rule === 'nix/eval-failed');
    expect(failed).toHaveLength(1);
    expect(failed[0]!.subject.name).toBe('cc-se-sto-core-01');
    expect(failed[0]!.message).toContain('timeout');
    expect(failed[0]!.evidence?.[0]).toContain('8 s (deploy.evalTimeoutSeconds)');
  });

  it('a change only under deploy.ignorePaths starts no nix process at all', async () => {
    repo = await TestRepo.create();
    const base = await repo.commit('fleet', { ...fleetFiles(), 'clusters/app.yaml': 'a: 1\n' });
    const head = await repo.commit('yaml only', { 'clusters/app.yaml': 'a: 2\n' });
    const run = await evaluate(base, head, { ...policy, ignorePaths: ['clusters/**', '**/*.md'] });
    expect(run.evaluation.kind).toBe('none');
    expect(run.evaluations).toEqual([]);
  });

  it('the base result is reused by another pull request on the same base (and by guard targets)', async () => {
    const cacheDir = await tempDir('guard-eval-cache-');
    repo = await TestRepo.create();
    const base = await repo.commit('fleet', fleetFiles());
    await repo.branch('one');
    const first = await repo.commit('one host', { 'hosts/cc-se-sto-core-01.nix': '{\n  role = "x";\n}\n' });
    await repo.branch('two', 'main');
    const second = await repo.commit('another host', { 'hosts/cc-fr-lau-store-01.nix': '{\n  role = "y";\n}\n' });
    const a = await evaluate(base, first, policy, { cacheDir });
    expect(a.evaluations.filter((e) => e.startsWith('base:'))).toHaveLength(1 + FLEET_HOSTS.length);
    const b = await evaluate(base, second, policy, { cacheDir });
    expect(b.evaluations.filter((e) => e.startsWith('base:'))).toEqual([]);
    expect(b.evaluations.filter((e) => e.startsWith('head:'))).toHaveLength(1 + FLEET_HOSTS.length);
    expect(changedNodes(b)).toEqual(['cc-fr-lau-store-01']);
  });
});

describe('a base that does not evaluate', () => {
  const broken = { 'modules/common.nix': '{\n  motd = ;\n}\n' };
  const fixed = { 'modules/common.nix': '{\n  motd = "welcome";\n}\n' };

  it('a fix-forward is compared with the last good commit before base: only the host it really changes counts', async () => {
    repo = await TestRepo.create();
    await repo.commit('fleet', fleetFiles());
    const base = await repo.commit('break the shared module', broken);
    await repo.branch('fix');
    const head = await repo.commit('fix it and tune one host', { ...fixed, 'hosts/cc-se-sto-core-01.nix': '{\n  role = "x";\n}\n' });
    const run = await evaluate(base, head, policy);
    expect(changedNodes(run)).toEqual(['cc-se-sto-core-01']);
    if (run.evaluation.kind !== 'planned') return;
    expect(checkMultiSite(run.evaluation.input)).toEqual([]);
    // Base's failures are base findings (so a head failure they share is not "introduced"), and the comparison is said.
    expect(run.evaluation.baseFindings.filter((f) => f.rule === 'nix/eval-failed')).toHaveLength(FLEET_HOSTS.length);
    const notes = run.evaluation.findings.filter((f) => f.rule === 'nix/base-eval-failed');
    expect(notes).toHaveLength(FLEET_HOSTS.length);
    expect(notes[0]!.message).toContain('last good evaluation');
  });

  it('with no good commit within reach, the nodes are counted as not redeployed with a warning, never blocked as all new', async () => {
    repo = await TestRepo.create();
    const base = await repo.commit('fleet, broken from the start', { ...fleetFiles(), ...broken });
    await repo.branch('fix');
    const head = await repo.commit('fix it', fixed);
    const run = await evaluate(base, head, policy);
    expect(changedNodes(run)).toEqual([]);
    if (run.evaluation.kind !== 'planned') return;
    expect(checkMultiSite(run.evaluation.input)).toEqual([]);
    const warning = run.evaluation.findings.find((f) => f.rule === 'nix/base-eval-failed');
    expect(warning).toMatchObject({ severity: 'warning' });
    expect(warning!.message).toContain('counted as not redeployed');
    for (const host of FLEET_HOSTS) expect(warning!.message).toContain(host);
  });
});
