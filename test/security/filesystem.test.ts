import { execa } from 'execa';
import { existsSync, promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { stringify } from 'yaml';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { runCheck, type Report } from '../../src/engine.js';
import { runContext } from '../../src/forge/context.js';
import { CommitSnapshot, WorktreeSnapshot } from '../../src/git/repo.js';
import { FakeForge } from '../support/fake-forge.js';
import type { TestRepo } from '../support/git-repo.js';
import { BASE_VALUES, exampleRepo, externalDnsRelease } from '../support/scenario.js';

/**
 * Class 2 of issue 12: nothing outside the checked revision is read. Symbolic links in the
 * working tree and in commits are never followed (nor written as links), kustomize reads no
 * absolute or escaping path, and the action checks the pull request's commit, not whatever the
 * checkout left in the working tree.
 */

const HR = 'infrastructure/external-dns/helmrelease.yaml';
/** What actions/checkout leaves in .git/config: the job token, base64 in an http header. */
const GITCONFIG_MARKER = 'H1GITCONFIGMARKERx-access-token';
const HOST_MARKER = 'H1-HOST-FILE-OUTSIDE-THE-REVISION';
const incident = externalDnsRelease({ ...BASE_VALUES, extraArgs: ['--traefik-disable-legacy'] });

let work: string;
let outsideFile: string;
let outsideComponent: string;
let repo: TestRepo | undefined;

beforeAll(async () => {
  work = await fs.mkdtemp(path.join(os.tmpdir(), 'guard-fs-'));
  outsideFile = path.join(work, 'outside.yaml');
  await fs.writeFile(outsideFile, `apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: outside\ndata:\n  secret: ${HOST_MARKER}\n  broken: [\n`);
  outsideComponent = path.join(work, 'component');
  await fs.mkdir(outsideComponent);
  await fs.writeFile(path.join(outsideComponent, 'kustomization.yaml'), 'apiVersion: kustomize.config.k8s.io/v1alpha1\nkind: Component\nresources:\n  - cm.yaml\n');
  await fs.writeFile(path.join(outsideComponent, 'cm.yaml'), `apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: from-outside\ndata:\n  k: ${HOST_MARKER}\n`);
});

afterAll(async () => fs.rm(work, { recursive: true, force: true }));

afterEach(async () => {
  await repo?.remove();
  repo = undefined;
});

/** The example repository with the checkout's token in .git/config, as actions/checkout leaves it. */
async function checkedOut(files: Record<string, string | null> = {}): Promise<TestRepo> {
  repo = await exampleRepo(files);
  await repo.git('config', 'http.https://github.com/.extraheader', `AUTHORIZATION: basic ${GITCONFIG_MARKER}`);
  return repo;
}

async function link(target: string, at: string): Promise<void> {
  const full = path.join(repo!.dir, at);
  await fs.mkdir(path.dirname(full), { recursive: true });
  await fs.symlink(target, full);
}

function expectNothingOutside(report: Report): void {
  const json = JSON.stringify(report);
  expect(json).not.toContain(GITCONFIG_MARKER);
  expect(json).not.toContain('extraheader');
  expect(json).not.toContain(HOST_MARKER);
  expect(json).not.toContain(`PATH=${process.env.PATH}`);
  expect(json).not.toContain('root:x:0:0');
}

/**
 * Blocked, and not by accident: the incident flag is found, or (a link inside a chart) the chart
 * is refused with an error that names the link.
 */
function expectBlocked(report: Report, linkPath: string): void {
  expect(report.summary.verdict).toBe('fail');
  const evidence = JSON.stringify(report.findings.map((f) => [f.rule, f.message]));
  const flagged = report.findings.some((f) => f.rule === 'container-flags/unknown-flag');
  const linkRefused = report.findings.some((f) => f.severity === 'error' && f.message.includes(linkPath) && /symbolic link/.test(f.message));
  expect(flagged || (linkPath.startsWith('charts/') && linkRefused), evidence).toBe(true);
}

const cacheDir = () => fs.mkdtemp(path.join(work, 'cache-'));

describe('symbolic links in the working tree are never followed', () => {
  const links: Array<[string, string]> = [
    ['infrastructure/leak.yaml', '../.git/config'],
    ['infrastructure/environ.yaml', '/proc/self/environ'],
    ['infrastructure/host.yaml', 'OUTSIDE'],
    ['charts/external-dns/templates/leak.yaml', '../../../.git/config'],
    ['charts/external-dns/values.yaml.link', '/etc/passwd'],
  ];
  it.each(links)('%s -> %s: not read, the incident flag still blocks', async (at, target) => {
    await checkedOut();
    await link(target === 'OUTSIDE' ? outsideFile : target, at);
    await repo!.commit('incident with a link', { [HR]: incident });
    // No head: the working tree, with the link checked out as a link.
    const report = await runCheck({ cwd: repo!.dir, base: 'main', cacheDir: await cacheDir() });
    expectBlocked(report, at);
    expectNothingOutside(report);
  });

  it('the working-tree view lists a link as a link and never reads through it, nor through a linked folder', async () => {
    await checkedOut();
    await link('../.git/config', 'infrastructure/leak.yaml');
    await link(work, 'infrastructure/linked-folder');
    await repo!.git('add', '--all');
    const snapshot = new WorktreeSnapshot(repo!.dir);
    expect(await snapshot.listFiles()).not.toContain('infrastructure/leak.yaml');
    expect(await snapshot.symlinks()).toEqual(['infrastructure/leak.yaml', 'infrastructure/linked-folder']);
    expect(await snapshot.readFile('infrastructure/leak.yaml')).toBeUndefined();
    expect(await snapshot.readFile('infrastructure/linked-folder/outside.yaml')).toBeUndefined();
    expect(await snapshot.readFile('../' + path.basename(repo!.dir) + '/.git/config')).toBeUndefined();
    expect(await snapshot.readFile('.git/config')).toBeUndefined();
    expect((await snapshot.readFile(HR))?.toString()).toContain('HelmRelease');
  });

  it('a chart folder with links is materialized as a copy of its regular files, no link in it', async () => {
    await checkedOut();
    await link('/etc/passwd', 'charts/external-dns/files/passwd');
    await link('../../../.git/config', 'charts/external-dns/templates/config.yaml');
    const snapshot = new WorktreeSnapshot(repo!.dir);
    const into = path.join(work, 'materialized');
    const dir = await snapshot.materialize('charts/external-dns', into);
    expect(dir.startsWith(into)).toBe(true);
    expect(existsSync(path.join(dir, 'Chart.yaml'))).toBe(true);
    expect(existsSync(path.join(dir, 'files', 'passwd'))).toBe(false);
    expect(existsSync(path.join(dir, 'templates', 'config.yaml'))).toBe(false);
    const { stdout } = await execa('find', [into, '-type', 'l']);
    expect(stdout).toBe('');
  });
});

describe('symbolic links in a commit are never followed', () => {
  it('a committed link to ../.git/config and one to /proc/self/environ: not files of the revision; the incident flag still blocks', async () => {
    await checkedOut();
    await link('../.git/config', 'infrastructure/leak.yaml');
    await link('/proc/self/environ', 'charts/external-dns/templates/environ.yaml');
    await repo!.commit('incident with links', { [HR]: incident });
    const report = await runCheck({ cwd: repo!.dir, base: 'main', head: 'change', cacheDir: await cacheDir() });
    expectBlocked(report, 'charts/external-dns/templates/environ.yaml');
    expectNothingOutside(report);
  });

  it('the commit view names links apart and never writes them, as links or as files of their target text', async () => {
    await checkedOut();
    await link('../../../.git/config', 'charts/external-dns/templates/leak.yaml');
    const sha = await repo!.commit('link in a chart');
    const snapshot = new CommitSnapshot(repo!.dir, sha, 'change');
    expect(await snapshot.symlinks()).toEqual(['charts/external-dns/templates/leak.yaml']);
    expect(await snapshot.listFiles()).not.toContain('charts/external-dns/templates/leak.yaml');
    expect(await snapshot.readFile('charts/external-dns/templates/leak.yaml')).toBeUndefined();
    const into = path.join(work, 'from-commit');
    const dir = await snapshot.materialize('charts/external-dns', into);
    expect(existsSync(path.join(dir, 'templates', 'deployment.yaml'))).toBe(true);
    expect(existsSync(path.join(dir, 'templates', 'leak.yaml'))).toBe(false);
  });
});

const fluxKustomization = (spec: Record<string, unknown>) =>
  stringify({
    apiVersion: 'kustomize.toolkit.fluxcd.io/v1',
    kind: 'Kustomization',
    metadata: { name: 'infra', namespace: 'flux-system' },
    spec: { interval: '10m', prune: true, sourceRef: { kind: 'GitRepository', name: 'flux-system' }, path: './infrastructure', ...spec },
  });

async function kustomized(change: Record<string, string>): Promise<Report> {
  await checkedOut({ 'clusters/prod/infra.yaml': fluxKustomization({}), 'infrastructure/kustomization.yaml': 'resources:\n  - external-dns/helmrelease.yaml\n' });
  await repo!.commit('hostile kustomization', { [HR]: incident, ...change });
  return runCheck({ cwd: repo!.dir, base: 'main', head: 'change', cacheDir: await cacheDir() });
}

function expectRefused(report: Report, words: RegExp): void {
  expect(report.summary.verdict).toBe('fail');
  const failed = report.findings.find((f) => f.rule === 'kustomize/build-failed');
  expect(failed, JSON.stringify(report.findings.map((f) => [f.rule, f.message]))).toBeDefined();
  expect(failed!.message).toMatch(words);
  expectNothingOutside(report);
}

describe('kustomize reads nothing outside the revision', () => {
  it('a component at an absolute path is refused', async () => {
    const report = await kustomized({ 'infrastructure/kustomization.yaml': `resources:\n  - external-dns/helmrelease.yaml\ncomponents:\n  - ${outsideComponent}\n` });
    expectRefused(report, /components ".*" is an absolute path/);
  });

  it('a resource that climbs out of the revision is refused', async () => {
    const report = await kustomized({ 'infrastructure/kustomization.yaml': `resources:\n  - external-dns/helmrelease.yaml\n  - ${path.relative('/', outsideFile).replace(/^/, '../'.repeat(12))}\n` });
    expectRefused(report, /points outside the checked revision/);
  });

  it('patch, generator and configuration files at absolute paths are refused', async () => {
    const cases = [
      'patches:\n  - path: /etc/passwd\n',
      `configMapGenerator:\n  - name: leak\n    files:\n      - key=${outsideFile}\n`,
      'secretGenerator:\n  - name: leak\n    envs:\n      - /proc/self/environ\n',
      `configurations:\n  - ${outsideFile}\n`,
    ];
    for (const extra of cases) {
      const report = await kustomized({ 'infrastructure/kustomization.yaml': `resources:\n  - external-dns/helmrelease.yaml\n${extra}` });
      expectRefused(report, /absolute path/);
      await repo?.remove();
      repo = undefined;
    }
  });

  it('spec.components of the Flux Kustomization at an absolute path is refused', async () => {
    const report = await kustomized({ 'clusters/prod/infra.yaml': fluxKustomization({ components: [outsideComponent] }) });
    expectRefused(report, /outside the checked revision/);
  });

  it('a post-renderer patch naming a host file is not read (Flux keeps only patch and target)', async () => {
    await checkedOut();
    await repo!.commit('post-render a host file', {
      [HR]: externalDnsRelease({ ...BASE_VALUES, extraArgs: ['--traefik-disable-legacy'] }, { postRenderers: [{ kustomize: { patches: [{ path: '/etc/passwd' }, { path: outsideFile, target: { kind: 'Deployment' } }] } }] }),
    });
    const report = await runCheck({ cwd: repo!.dir, base: 'main', head: 'change', cacheDir: await cacheDir() });
    expect(report.summary.verdict).toBe('fail');
    expectNothingOutside(report);
  });
});

describe('the action checks the pull request commit, never the working tree', () => {
  it('runContext takes pull_request.head.sha as the head, not GITHUB_SHA (the merge commit)', async () => {
    const event = path.join(work, 'event.json');
    await fs.writeFile(event, JSON.stringify({ pull_request: { number: 3, head: { sha: 'a'.repeat(40) }, base: { sha: 'b'.repeat(40) } } }));
    const context = runContext({ GITHUB_ACTIONS: 'true', GITHUB_EVENT_PATH: event, GITHUB_REPOSITORY: 'o/r', GITHUB_TOKEN: 't', GITHUB_SHA: 'c'.repeat(40) });
    expect(context.headSha).toBe('a'.repeat(40));
    expect(context.baseSha).toBe('b'.repeat(40));
  });

  it('a working tree that differs from the head commit (what checkout wrote) does not decide the verdict', async () => {
    await checkedOut();
    const baseSha = await repo!.git('rev-parse', 'main');
    const headSha = await repo!.commit('incident', { [HR]: incident });
    // The working tree after checkout: a benign release and a link into .git.
    await repo!.write({ [HR]: externalDnsRelease(BASE_VALUES) });
    await link('../.git/config', 'infrastructure/leak.yaml');
    const forge = await FakeForge.start('github');
    const dir = await fs.mkdtemp(path.join(work, 'runner-'));
    const eventPath = path.join(dir, 'event.json');
    await fs.writeFile(eventPath, JSON.stringify({ pull_request: { number: 7, head: { sha: headSha }, base: { sha: baseSha } } }));
    const env: Record<string, string> = {
      GITHUB_ACTIONS: 'true', GITHUB_EVENT_PATH: eventPath, GITHUB_REPOSITORY: 'platform/gitops', GITHUB_SHA: baseSha,
      GITHUB_WORKSPACE: repo!.dir, GITHUB_API_URL: forge.apiUrl, GITHUB_SERVER_URL: forge.apiUrl, RUNNER_TEMP: dir,
      GUARD_CACHE_DIR: await cacheDir(), GUARD_RETRY_BASE_MS: '5', GUARD_THROTTLE: 'off',
    };
    const saved = { ...process.env };
    Object.assign(process.env, { GUARD_ACTION_NO_AUTORUN: '1', INPUT_TOKEN: 'runner-token', 'INPUT_COMMENT-MODE': 'status', INPUT_FORGE: 'github' });
    try {
      const { runAction } = await import('../../src/action.js');
      const exitCode = await runAction(env);
      expect(exitCode).toBe(1);
      expect(forge.statuses.at(-1)).toMatchObject({ sha: headSha, state: 'failure' });
      const report = await fs.readFile(path.join(dir, 'gitops-guard-report.json'), 'utf8');
      expect(report).toContain('--traefik-disable-legacy');
      expect(report).not.toContain(GITCONFIG_MARKER);
    } finally {
      for (const key of Object.keys(process.env)) if (!(key in saved)) delete process.env[key];
      Object.assign(process.env, saved);
      process.exitCode = undefined;
      await forge.stop();
    }
  });
});
