import { execa } from 'execa';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { incidentFixture, repoRoot } from '../support/paths.js';

/** Conventions people bring from flux, helm, conftest and git. */
const cli = path.join(repoRoot, 'build', 'cli.js');
let work: string;
let repo: string;

beforeAll(async () => {
  work = await fs.mkdtemp(path.join(os.tmpdir(), 'guard-cli-habits-'));
  repo = path.join(work, 'gitops');
  await execa('bash', [path.join(incidentFixture, 'build-repo.sh'), repo]);
  await execa('git', ['checkout', '--quiet', 'fix-traefik-flags'], { cwd: repo });
}, 120_000);
afterAll(async () => fs.rm(work, { recursive: true, force: true }));

/** No forge variables at all: what a developer's shell or another CI has. */
function guard(args: string[]) {
  const env = Object.fromEntries(Object.entries(process.env).filter(([key]) => !/^(GITHUB_|GUARD_TOKEN|GITEA_|FORGEJO_)/.test(key))) as Record<string, string>;
  return execa('node', [cli, ...args], { cwd: repo, reject: false, extendEnv: false, env: { ...env, NO_COLOR: '1', GUARD_CACHE_DIR: path.join(work, 'cache') } });
}

describe('output format flags', () => {
  it('-o json and --output json are --format json', async () => {
    for (const flag of [['-o', 'json'], ['--output', 'json'], ['--output=json']]) {
      const result = await guard(['check', '--base', 'main', ...flag]);
      expect(result.exitCode, result.stderr).toBe(1);
      expect((JSON.parse(result.stdout) as { summary: { verdict: string } }).summary.verdict).toBe('fail');
    }
  });

  it('--format github prints annotations and the text report without forge variables, and posts nothing', async () => {
    const result = await guard(['check', '--base', 'main', '--format', 'github']);
    expect(result.exitCode, result.stderr).toBe(1);
    expect(result.stdout).toMatch(/^::error file=infrastructure\/external-dns\/helmrelease.yaml,line=35,title=container-flags\/unknown-flag::/m);
    expect(result.stdout).toContain('merge blocked');
    expect(result.stdout).not.toContain('posted to');
  });

  it('--post without forge variables says what is missing: exit 2', async () => {
    const result = await guard(['check', '--base', 'main', '--format', 'github', '--post']);
    expect(result.exitCode).toBe(2);
    expect(result.stderr).toMatch(/^guard: error: GITHUB_REPOSITORY \(owner\/name\) is not set/m);
  });
});

describe('guard diff --exit-code', () => {
  it('exits 1 when a HelmRelease differs and 0 when none does', async () => {
    const differs = await guard(['diff', '--base', 'main', '--exit-code']);
    expect(differs.exitCode, differs.stderr).toBe(1);
    expect(differs.stdout).toContain('--traefik-disable-legacy');
    const same = await guard(['diff', '--base', 'main', '--head', 'main', '--exit-code']);
    expect(same.exitCode, same.stderr).toBe(0);
    const plain = await guard(['diff', '--base', 'main']);
    expect(plain.exitCode).toBe(0);
  });
});

describe('guard tools', () => {
  it('names the helm and kubectl the checks use, where from and which version', async () => {
    const result = await guard(['tools']);
    expect(result.exitCode, result.stderr).toBe(0);
    expect(result.stdout).toMatch(/^helm: \/\S+ \((env|bundled|path); v[34]\./m);
    expect(result.stdout).toMatch(/^kubectl: \/\S+ \((env|bundled|path); Client Version: v1\./m);
  });
});
