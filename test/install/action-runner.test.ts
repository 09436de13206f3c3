import { execa } from 'execa';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FakeForge, type ForgeKind } from '../support/fake-forge.js';
import { incidentFixture, repoRoot } from '../support/paths.js';

/**
 * The action as a runner runs it: from its own folder (the action repository checked out at a
 * ref: action.yml, dist/index.js, schemas; no node_modules), on a machine without helm or kubectl
 * on PATH and an empty tool cache, in the checked repository's workspace.
 */
let work: string;
let actionDir: string;
let bin: string;
let repo: string;
let baseSha: string;
let headSha: string;

beforeAll(async () => {
  work = await fs.mkdtemp(path.join(os.tmpdir(), 'guard-action-runner-'));
  actionDir = path.join(work, 'action');
  await fs.mkdir(path.join(actionDir, 'dist'), { recursive: true });
  for (const file of ['action.yml', 'package.json', 'dist/index.js']) await fs.copyFile(path.join(repoRoot, file), path.join(actionDir, file));
  await fs.cp(path.join(repoRoot, 'schemas'), path.join(actionDir, 'schemas'), { recursive: true });
  // A runner's PATH without helm and kubectl: node and npm (every runner that runs node24 actions has them), git, nix.
  bin = path.join(work, 'bin');
  await fs.mkdir(bin);
  for (const tool of ['node', 'npm', 'git', 'nix', 'unshare', 'bash', 'sh', 'true', 'env']) {
    const found = (await execa('bash', ['-c', `type -P ${tool}`], { reject: false })).stdout.trim();
    if (found) await fs.symlink(found, path.join(bin, tool));
  }
  repo = path.join(work, 'gitops');
  await execa('bash', [path.join(incidentFixture, 'build-repo.sh'), repo]);
  await execa('git', ['checkout', '--quiet', 'fix-traefik-flags'], { cwd: repo });
  baseSha = (await execa('git', ['rev-parse', 'main'], { cwd: repo })).stdout;
  headSha = (await execa('git', ['rev-parse', 'HEAD'], { cwd: repo })).stdout;
}, 300_000);
afterAll(async () => fs.rm(work, { recursive: true, force: true }));

async function runnerEnv(kind: ForgeKind, forge: FakeForge, name: string): Promise<Record<string, string>> {
  const dir = await fs.mkdtemp(path.join(work, `${kind}-${name}-`));
  const eventPath = path.join(dir, 'event.json');
  await fs.writeFile(eventPath, JSON.stringify({ action: 'synchronize', number: 12, pull_request: { number: 12, head: { sha: headSha }, base: { sha: baseSha } } }));
  for (const file of ['output', 'summary']) await fs.writeFile(path.join(dir, file), '');
  const env: Record<string, string> = {
    PATH: bin,
    HOME: process.env.HOME ?? '/root',
    GITHUB_ACTIONS: 'true',
    GITHUB_EVENT_NAME: 'pull_request',
    GITHUB_EVENT_PATH: eventPath,
    GITHUB_REPOSITORY: 'platform/gitops',
    GITHUB_SHA: headSha,
    GITHUB_RUN_ID: '42',
    GITHUB_WORKSPACE: repo,
    GITHUB_API_URL: forge.apiUrl,
    GITHUB_SERVER_URL: forge.apiUrl.replace(/\/api\/v1$/, ''),
    GITHUB_OUTPUT: path.join(dir, 'output'),
    GITHUB_STEP_SUMMARY: path.join(dir, 'summary'),
    RUNNER_TEMP: dir,
    // Nothing fetched or unpacked before: the user cache is empty.
    XDG_CACHE_HOME: path.join(dir, 'cache'),
    GUARD_CACHE_DIR: path.join(dir, 'guard-cache'),
    GUARD_RETRY_BASE_MS: '5',
    GUARD_THROTTLE: 'off',
    INPUT_TOKEN: 'runner-token',
    'INPUT_COMMENT-MODE': 'summary',
    INPUT_FORGE: 'auto',
  };
  if (kind === 'forgejo') env.FORGEJO_ACTIONS = 'true';
  return env;
}

const runAction = (env: Record<string, string>) => execa('node', [path.join(actionDir, 'dist', 'index.js')], { cwd: repo, env, reject: false, extendEnv: false, all: true });

describe.each<ForgeKind>(['github', 'forgejo'])('the action from its own folder on a %s runner without helm', (kind) => {
  it('fetches its pinned helm, blocks the incident and prints the findings in the job log', async () => {
    const forge = await FakeForge.start(kind);
    forge.diff = (await execa('git', ['diff', baseSha, headSha], { cwd: repo })).stdout;
    const env = { ...(await runnerEnv(kind, forge, 'block')), GUARD_TOOLS_DIR: path.join(work, `${kind}-tools`) };
    const result = await runAction(env);
    expect(result.exitCode, result.all).toBe(1);
    expect(forge.statuses.at(-1), result.all).toMatchObject({ sha: headSha, state: 'failure', context: 'gitops-guard' });
    // The same text report as the CLI, not only a count.
    expect(result.stdout).toContain('container-flags/unknown-flag (introduced)');
    expect(result.stdout).toContain('infrastructure/external-dns/helmrelease.yaml:35');
    expect(result.stdout).toContain('merge blocked');
    expect(result.all).not.toMatch(/^\s+at .*\.js:\d+/m);
    await forge.stop();
  }, 600_000);

  it('without a token: exit 2, one clear line, no stack trace', async () => {
    const forge = await FakeForge.start(kind);
    const env = await runnerEnv(kind, forge, 'no-token');
    delete env.INPUT_TOKEN;
    const result = await runAction(env);
    expect(result.exitCode).toBe(2);
    expect(result.stdout).toMatch(/^::error::gitops-guard could not run: no token to talk to the forge.*GUARD_TOKEN/m);
    expect(result.all).not.toMatch(/^\s+at /m);
    expect(forge.statuses).toEqual([]);
    await forge.stop();
  });

  it('without GITHUB_REPOSITORY: exit 2, one clear line', async () => {
    const forge = await FakeForge.start(kind);
    const env = await runnerEnv(kind, forge, 'no-repo');
    delete env.GITHUB_REPOSITORY;
    const result = await runAction(env);
    expect(result.exitCode).toBe(2);
    expect(result.stdout).toMatch(/^::error::gitops-guard could not run: GITHUB_REPOSITORY \(owner\/name\) is not set/m);
    expect(result.all).not.toMatch(/^\s+at /m);
    await forge.stop();
  });

  it('when helm can be neither found nor fetched: an error status and a hint in workflow terms', async () => {
    const forge = await FakeForge.start(kind);
    const env = { ...(await runnerEnv(kind, forge, 'no-helm')), GUARD_SKIP_TOOLS: '1', GUARD_TOOLS_DIR: path.join(work, `${kind}-empty-tools`) };
    const result = await runAction(env);
    expect(result.exitCode).toBe(2);
    expect(forge.statuses.at(-1)).toMatchObject({ state: 'error', context: 'gitops-guard' });
    expect(result.stdout).toMatch(/(helm|kubectl) not found/);
    expect(result.stdout).toContain('in an earlier step of the job');
    expect(result.stdout).not.toContain('npm ci');
    await forge.stop();
  });
});
