import { execa } from 'execa';
import { promises as fs } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { stringify } from 'yaml';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { runCheck, type Report } from '../../src/engine.js';
import { extractBundledBinary } from '../../src/tools/bundled-layer.js';
import { networkFence, runTool, toolEnvironment } from '../../src/tools/sandbox.js';
import { TestRepo } from '../support/git-repo.js';
import { BASE_VALUES, exampleRepo, externalDnsRelease } from '../support/scenario.js';

/**
 * Class 1 (environment) and the tool side of class 3 of issue 12: helm and kustomize start with
 * an environment built from nothing and inside an empty network namespace, and kustomize is
 * given nothing remote to fetch. Real helm and kubectl run behind wrappers (HELM_BIN,
 * KUBECTL_BIN) that record the environment they were given and try to reach a loopback
 * listener this test starts; the listener must see no connection at all.
 */

const FAKE_TOKEN = 'ghs_H1toolNetworkFakeJobToken0123456789';
const FAKE_AGE_KEY = 'AGE-SECRET-KEY-1H1TOOLNETWORKFAKEKEY0123456789';
const FAKE_RUNTIME = 'H1-actions-runtime-token-0123456789';
const HR = 'infrastructure/external-dns/helmrelease.yaml';
const incident = externalDnsRelease({ ...BASE_VALUES, extraArgs: ['--traefik-disable-legacy'] });

let work: string;
let listener: net.Server;
let port: number;
let connections = 0;
let repo: TestRepo | undefined;
let other: TestRepo | undefined;
const saved: Record<string, string | undefined> = {};

/** A wrapper that appends the environment it got and the result of a loopback connection attempt, then runs the real tool. */
function wrapper(tool: string, real: string): string {
  return [
    '#!/bin/bash',
    // One file per call: base and head builds run at the same time.
    `log='${path.join(work, `${tool}-calls`)}'/$$.log`,
    'printf "CALL %s\\n" "$*" >> "$log"',
    // Absolute: kustomize runs with an empty PATH.
    '/usr/bin/env | /bin/sed "s/^/ENV /" >> "$log"',
    `if (exec 3<>/dev/tcp/127.0.0.1/${port}) 2>/dev/null; then echo "NET connected" >> "$log"; else echo "NET refused" >> "$log"; fi`,
    `exec '${real}' "$@"`,
    '',
  ].join('\n');
}

/** The real tool, from the bundled layer (resolveHelm would cache it before HELM_BIN points at the wrapper). */
async function bundled(entry: string): Promise<string> {
  const file = await extractBundledBinary(entry);
  if (!file) throw new Error(`${entry} is not in the bundled layer: run npm ci`);
  return file;
}

beforeAll(async () => {
  work = await fs.mkdtemp(path.join(os.tmpdir(), 'guard-toolnet-'));
  listener = net.createServer((socket) => {
    connections++;
    socket.destroy();
  });
  await new Promise<void>((resolve) => listener.listen(0, '127.0.0.1', resolve));
  port = (listener.address() as net.AddressInfo).port;
  await fs.mkdir(path.join(work, 'helm-calls'));
  await fs.mkdir(path.join(work, 'kubectl-calls'));
  const helm = path.join(work, 'helm');
  const kubectl = path.join(work, 'kubectl');
  await fs.writeFile(helm, wrapper('helm', await bundled('helm/helm')), { mode: 0o755 });
  await fs.writeFile(kubectl, wrapper('kubectl', await bundled('kubectl/kubectl')), { mode: 0o755 });
  for (const name of ['HELM_BIN', 'KUBECTL_BIN', 'GITHUB_TOKEN', 'SOPS_AGE_KEY', 'ACTIONS_RUNTIME_TOKEN']) saved[name] = process.env[name];
  Object.assign(process.env, { HELM_BIN: helm, KUBECTL_BIN: kubectl, GITHUB_TOKEN: FAKE_TOKEN, SOPS_AGE_KEY: FAKE_AGE_KEY, ACTIONS_RUNTIME_TOKEN: FAKE_RUNTIME });
});

afterAll(async () => {
  for (const [name, value] of Object.entries(saved)) {
    if (value === undefined) delete process.env[name];
    else process.env[name] = value;
  }
  await new Promise((resolve) => listener.close(resolve));
  await fs.rm(work, { recursive: true, force: true });
});

afterEach(async () => {
  await repo?.remove();
  await other?.remove();
  repo = undefined;
  other = undefined;
  // Every test: the runner's loopback stayed silent.
  expect(connections).toBe(0);
});

interface ToolCall {
  args: string;
  env: string[];
  net?: string;
}

/** What each call of a wrapped tool recorded. */
async function toolLog(tool: string): Promise<ToolCall[]> {
  const calls: ToolCall[] = [];
  const dir = path.join(work, `${tool}-calls`);
  for (const file of await fs.readdir(dir)) {
    const call: ToolCall = { args: '', env: [] };
    for (const line of (await fs.readFile(path.join(dir, file), 'utf8')).split('\n')) {
      if (line.startsWith('CALL ')) call.args = line.slice(5);
      else if (line.startsWith('ENV ')) call.env.push(line.slice(4));
      else if (line.startsWith('NET ')) call.net = line.slice(4);
    }
    calls.push(call);
  }
  return calls;
}

function expectNoSecrets(text: string): void {
  for (const secret of [FAKE_TOKEN, FAKE_AGE_KEY, FAKE_RUNTIME]) expect(text).not.toContain(secret);
}

const fluxKustomization = (name: string, spec: Record<string, unknown>) =>
  stringify({
    apiVersion: 'kustomize.toolkit.fluxcd.io/v1',
    kind: 'Kustomization',
    metadata: { name, namespace: 'flux-system' },
    spec: { interval: '10m', prune: true, sourceRef: { kind: 'GitRepository', name: 'flux-system' }, ...spec },
  });

/** The release applied by a Flux Kustomization whose kustomization.yaml the test writes. */
async function kustomized(kustomization: string, extra: Record<string, string> = {}): Promise<Report> {
  repo = await exampleRepo({
    'clusters/prod/infra.yaml': fluxKustomization('infra', { path: './infrastructure' }),
    'infrastructure/kustomization.yaml': 'resources:\n  - external-dns/helmrelease.yaml\n',
  });
  await repo.commit('hostile kustomization', { [HR]: incident, 'infrastructure/kustomization.yaml': kustomization, ...extra });
  return runCheck({ cwd: repo.dir, base: 'main', head: 'change', cacheDir: await fs.mkdtemp(path.join(work, 'cache-')) });
}

function expectBuildRefused(report: Report, words: RegExp): void {
  expect(report.summary.verdict).toBe('fail');
  const failed = report.findings.find((f) => f.rule === 'kustomize/build-failed');
  expect(failed, JSON.stringify(report.findings.map((f) => [f.rule, f.message]))).toBeDefined();
  expect(failed!.message).toMatch(words);
  expectNoSecrets(JSON.stringify(report));
}

describe('the environment tools get', () => {
  it('helm sees no job token, no SOPS key, no runner variables; its own homes only; and no network', async () => {
    repo = await exampleRepo();
    await repo.commit('incident', { [HR]: incident });
    const report = await runCheck({ cwd: repo.dir, base: 'main', head: 'change', cacheDir: await fs.mkdtemp(path.join(work, 'cache-')) });
    expect(report.summary.verdict).toBe('fail');
    const calls = await toolLog('helm');
    const template = calls.find((c) => c.args.startsWith('template '));
    expect(template).toBeDefined();
    for (const call of calls) {
      const env = call.env.join('\n');
      expectNoSecrets(env);
      expect(env).not.toMatch(/^(GITHUB|ACTIONS|RUNNER|SOPS|FORGEJO|GITEA)_/m);
      expect(call.net).toBe('refused');
    }
    expect(template!.env).toContain('HELM_NO_PLUGINS=1');
    expect(template!.env.some((line) => line.startsWith('HELM_CONFIG_HOME='))).toBe(true);
    expectNoSecrets(JSON.stringify(report));
  });

  it('kustomize sees no secrets, no PATH (no git to clone with), no git protocol, the strict load restrictor, and no network', async () => {
    const report = await kustomized('resources:\n  - external-dns/helmrelease.yaml\n');
    expect(report.findings.map((f) => f.rule)).toContain('container-flags/unknown-flag');
    const calls = await toolLog('kubectl');
    const build = calls.find((c) => c.args.startsWith('kustomize '));
    expect(build?.args).toContain('--load-restrictor=LoadRestrictionsRootOnly');
    expect(build?.args).not.toMatch(/LoadRestrictionsNone/);
    expect(build!.env).toContain('PATH=');
    for (const call of calls) {
      const env = call.env.join('\n');
      expectNoSecrets(env);
      expect(env).not.toMatch(/^GIT_ALLOW_PROTOCOL=.*file/m);
      expect(env).not.toMatch(/^(GITHUB|ACTIONS|RUNNER|SOPS)_/m);
      expect(call.net).toBe('refused');
    }
  });

  it('git sees no job token or key either: a program git starts (here its fsmonitor hook) records what it got', async () => {
    repo = await exampleRepo();
    await repo.commit('incident', { [HR]: incident });
    const dump = path.join(work, 'git-hook-env.txt');
    const hook = path.join(work, 'fsmonitor.sh');
    await fs.writeFile(hook, `#!/bin/sh\n/usr/bin/env >> '${dump}'\nexit 1\n`, { mode: 0o755 });
    await repo.git('config', 'core.fsmonitor', hook);
    // No head: the working tree, which git lists through the hook.
    const report = await runCheck({ cwd: repo.dir, base: 'main', cacheDir: await fs.mkdtemp(path.join(work, 'cache-')) });
    expect(report.summary.verdict).toBe('fail');
    const env = await fs.readFile(dump, 'utf8');
    expect(env).toMatch(/^PATH=/m);
    expectNoSecrets(env);
    expect(env).not.toMatch(/^(GITHUB|ACTIONS|RUNNER|SOPS)_/m);
  });

  it('toolEnvironment is built from nothing: the guard environment does not leak into it', () => {
    const env = toolEnvironment('/nonexistent-home', { EXTRA: '1' });
    expect(Object.keys(env).sort()).toEqual(['EXTRA', 'HOME', 'LANG', 'LC_ALL', 'PATH', 'TMPDIR']);
    expectNoSecrets(JSON.stringify(env));
  });

  it('a tool started through runTool cannot reach a service on the runner loopback', async () => {
    expect(networkFence().kind).toBe('namespace');
    const result = await runTool('/bin/bash', ['-c', `exec 3<>/dev/tcp/127.0.0.1/${port}`], { env: toolEnvironment(work), timeoutMs: 10_000, maxBuffer: 65536 });
    expect(result.exitCode).not.toBe(0);
    // The same attempt outside the fence does connect: the listener works, the fence is what stops it.
    const open = await execa('/bin/bash', ['-c', `exec 3<>/dev/tcp/127.0.0.1/${port}`], { reject: false });
    expect(open.exitCode).toBe(0);
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(connections).toBe(1);
    connections = 0;
  });
});

describe('kustomize fetches nothing remote and reads nothing outside the revision', () => {
  it('a resource http://127.0.0.1:PORT/x.yaml is refused and never fetched', async () => {
    const report = await kustomized(`resources:\n  - external-dns/helmrelease.yaml\n  - http://127.0.0.1:${port}/x.yaml\n`);
    expectBuildRefused(report, /remote source/);
  });

  it('a git::file:// remote base of another local repository is refused; nothing of it is read', async () => {
    other = await TestRepo.create();
    await other.commit('other', { 'kustomization.yaml': 'resources:\n  - cm.yaml\n', 'cm.yaml': 'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: h1-other-repo-marker\ndata:\n  k: H1-OTHER-REPO-CONTENT\n' });
    const report = await kustomized(`resources:\n  - external-dns/helmrelease.yaml\n  - git::file://${other.dir}\n`);
    expectBuildRefused(report, /remote source/);
    expect(JSON.stringify(report)).not.toContain('H1-OTHER-REPO-CONTENT');
  });

  it('a file:// base and an ssh-style git@ base are refused', async () => {
    const report = await kustomized(`resources:\n  - external-dns/helmrelease.yaml\n  - file:///etc/\n`);
    expectBuildRefused(report, /remote source/);
    await repo?.remove();
    const ssh = await kustomized(`resources:\n  - external-dns/helmrelease.yaml\n  - git@127.0.0.1:org/repo.git\n`);
    expectBuildRefused(ssh, /remote source/);
  });

  it('a host:port/org/repo base that slips past the check still reaches nothing: no git, no network', async () => {
    const report = await kustomized(`resources:\n  - external-dns/helmrelease.yaml\n  - 127.0.0.1:${port}/org/repo\n`);
    expect(report.summary.verdict).toBe('fail');
    expect(report.findings.some((f) => f.rule === 'kustomize/build-failed')).toBe(true);
    expectNoSecrets(JSON.stringify(report));
  });
});
