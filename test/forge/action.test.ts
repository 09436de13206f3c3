import { execa } from 'execa';
import { promises as fs, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parse } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FakeForge, type ForgeKind } from '../support/fake-forge.js';
import { incidentFixture, repoRoot } from '../support/paths.js';

let work: string;
let repo: string;
let baseSha: string;
let headSha: string;

beforeAll(async () => {
  work = await fs.mkdtemp(path.join(os.tmpdir(), 'guard-action-'));
  repo = path.join(work, 'gitops');
  await execa('bash', [path.join(incidentFixture, 'build-repo.sh'), repo]);
  await execa('git', ['checkout', '--quiet', 'fix-traefik-flags'], { cwd: repo });
  baseSha = (await execa('git', ['rev-parse', 'main'], { cwd: repo })).stdout;
  headSha = (await execa('git', ['rev-parse', 'HEAD'], { cwd: repo })).stdout;
});
afterAll(async () => fs.rm(work, { recursive: true, force: true }));

/** The variables a GitHub runner, or a Forgejo runner (which sets GITHUB_ACTIONS too), gives a JavaScript action. */
async function runnerEnv(kind: ForgeKind, forge: FakeForge): Promise<Record<string, string>> {
  const dir = await fs.mkdtemp(path.join(work, `${kind}-`));
  const eventPath = path.join(dir, 'event.json');
  await fs.writeFile(eventPath, JSON.stringify({ action: 'synchronize', number: 12, pull_request: { number: 12, head: { sha: headSha }, base: { sha: baseSha } } }));
  for (const file of ['output', 'summary']) await fs.writeFile(path.join(dir, file), '');
  const env: Record<string, string> = {
    PATH: process.env.PATH ?? '/usr/bin:/bin',
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
    GUARD_CACHE_DIR: path.join(work, 'cache'),
    GUARD_RETRY_BASE_MS: '5',
    GUARD_THROTTLE: 'off',
    'INPUT_TOKEN': 'runner-token',
    'INPUT_COMMENT-MODE': 'review',
    'INPUT_FORGE': 'auto',
  };
  if (kind === 'forgejo') env.FORGEJO_ACTIONS = 'true';
  return env;
}

describe.each<ForgeKind>(['github', 'forgejo'])('the action on a %s runner, end to end on the incident', (kind) => {
  it('blocks the pull request: exit 1, failing status, line comments, summary, outputs and reports', async () => {
    const forge = await FakeForge.start(kind);
    forge.diff = (await execa('git', ['diff', baseSha, headSha], { cwd: repo })).stdout;
    const env = await runnerEnv(kind, forge);
    const action = parse(readFileSync(path.join(repoRoot, 'action.yml'), 'utf8')) as { runs: { using: string; main: string } };
    expect(action.runs.using).toBe('node24');
    const result = await execa('node', [path.join(repoRoot, action.runs.main)], { cwd: repo, env, reject: false, extendEnv: false });
    expect(result.exitCode, result.stdout + result.stderr).toBe(1);
    expect(forge.violations()).toEqual([]);
    expect(forge.statuses).toEqual([expect.objectContaining({ sha: headSha, state: 'failure', context: 'gitops-guard' })]);
    expect(forge.reviewComments.map((c) => `${c.path}:${c.line}`).sort()).toEqual(['infrastructure/external-dns/helmrelease.yaml:35', 'nixos/modules/common.nix:3']);
    expect(forge.issueComments).toHaveLength(1);
    const outputs = readFileSync(env.GITHUB_OUTPUT!, 'utf8');
    expect(outputs).toContain('verdict');
    expect(outputs).toContain('fail');
    const report = JSON.parse(readFileSync(path.join(env.RUNNER_TEMP!, "gitops-guard-report.json"), "utf8")) as { findings: Array<{ rule: string }> };
    expect(report.findings.map((f) => f.rule).sort()).toEqual(["container-flags/unknown-flag", "deploy/multi-site", "helmrelease/remediation"]);
    expect(JSON.parse(readFileSync(path.join(env.RUNNER_TEMP!, 'gitops-guard.sarif'), 'utf8')).version).toBe('2.1.0');
    expect(readFileSync(env.GITHUB_STEP_SUMMARY!, 'utf8')).toContain('merge blocked');
    if (kind === 'github') expect(forge.checkRuns).toHaveLength(1);
    else expect(forge.checkRuns).toHaveLength(0);
    await forge.stop();
  });

  it('posts an error status and exits 2 when the guard cannot run', async () => {
    const forge = await FakeForge.start(kind);
    const env = { ...(await runnerEnv(kind, forge)), HELM_BIN: '/nonexistent/helm' };
    const result = await execa('node', [path.join(repoRoot, 'dist', 'index.js')], { cwd: repo, env, reject: false, extendEnv: false });
    expect(result.exitCode).toBe(2);
    expect(forge.statuses.at(-1)).toMatchObject({ state: 'error' });
    expect(forge.violations()).toEqual([]);
    await forge.stop();
  });
});

describe('a forge outage', () => {
  it('exits 2 saying the merge gate could not be set, with the verdict still in the log and the job summary', async () => {
    const forge = await FakeForge.start('github');
    forge.fail('POST', /.*/, 500, 1000);
    forge.fail('GET', /.*/, 500, 1000);
    forge.fail('PATCH', /.*/, 500, 1000);
    const env = await runnerEnv('github', forge);
    const result = await execa('node', [path.join(repoRoot, 'dist', 'index.js')], { cwd: repo, env, reject: false, extendEnv: false });
    expect(result.exitCode).toBe(2);
    expect(forge.statuses).toEqual([]);
    const summary = readFileSync(env.GITHUB_STEP_SUMMARY!, 'utf8');
    expect(summary).toContain('merge blocked');
    expect(summary).toContain('posting the commit status failed');
    expect(result.stdout).toContain('file=infrastructure/external-dns/helmrelease.yaml,line=35::');
    const failure = result.stdout.split('\n').filter((line) => line.startsWith('::error::'));
    expect(failure).toHaveLength(1);
    expect(failure[0]).toMatch(/^::error::gitops-guard could not set the merge gate \(commit status\): .*500.*; verdict fail/);
    expect(result.stdout + result.stderr).not.toMatch(/\n\s+at /);
    expect(forge.violations()).toEqual([]);
    await forge.stop();
  });
});

describe('guard check --format github, from any CI', () => {
  it('posts the same verdict with the token and pull request from the environment', async () => {
    const forge = await FakeForge.start('github');
    forge.diff = (await execa('git', ['diff', baseSha, headSha], { cwd: repo })).stdout;
    const result = await execa('node', [path.join(repoRoot, 'build', 'cli.js'), 'check', '--base', baseSha, '--format', 'github'], {
      cwd: repo,
      reject: false,
      env: { GITHUB_ACTIONS: '', GUARD_TOKEN: 'ci-token', GITHUB_REPOSITORY: 'platform/gitops', GUARD_PR: '12', GUARD_SHA: headSha, GITHUB_API_URL: forge.apiUrl, GUARD_CACHE_DIR: path.join(work, 'cache'), NO_COLOR: '1' },
    });
    expect(result.exitCode, result.stderr).toBe(1);
    expect(result.stdout).toContain('posted to github');
    expect(forge.statuses.at(-1)).toMatchObject({ sha: headSha, state: 'failure' });
    expect(forge.reviewComments).toHaveLength(2);
    expect(forge.violations()).toEqual([]);
    await forge.stop();
  });

  it('exits 2 with one line when the forge fails to take the commit status', async () => {
    const forge = await FakeForge.start('github');
    forge.diff = (await execa('git', ['diff', baseSha, headSha], { cwd: repo })).stdout;
    forge.fail('POST', /\/statuses\//, 502, 1000);
    const result = await execa('node', [path.join(repoRoot, 'build', 'cli.js'), 'check', '--base', baseSha, '--format', 'github'], {
      cwd: repo,
      reject: false,
      env: { GITHUB_ACTIONS: '', GUARD_TOKEN: 'ci-token', GITHUB_REPOSITORY: 'platform/gitops', GUARD_PR: '12', GUARD_SHA: headSha, GITHUB_API_URL: forge.apiUrl, GUARD_RETRY_BASE_MS: '5', GUARD_CACHE_DIR: path.join(work, 'cache'), NO_COLOR: '1' },
    });
    expect(result.exitCode, result.stderr).toBe(2);
    expect(result.stdout).toContain('merge blocked');
    expect(result.stderr.split('\n').filter((line) => line.includes('could not set the merge gate'))).toEqual([expect.stringMatching(/^guard: could not set the merge gate \(commit status\): HTTP 502.*; verdict fail/)]);
    expect(forge.statuses).toEqual([]);
    expect(forge.violations()).toEqual([]);
    await forge.stop();
  });
});

describe('dist/index.js', () => {
  it('is the bundle of the current sources (run `npm run bundle` after changing src/)', async () => {
    const fresh = path.join(work, 'bundle.js');
    await execa('node', [path.join(repoRoot, 'scripts', 'bundle-action.mjs'), fresh], { cwd: repoRoot });
    expect(readFileSync(fresh, 'utf8') === readFileSync(path.join(repoRoot, 'dist', 'index.js'), 'utf8'), 'dist/index.js is stale: run npm run bundle').toBe(true);
  });
});
