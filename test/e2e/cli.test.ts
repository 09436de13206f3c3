import { execa } from 'execa';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TestRepo } from '../support/git-repo.js';
import { externalDnsData, incidentFixture, repoRoot } from '../support/paths.js';
import { assertValidReport } from '../support/report-schema.js';
import { exampleRepo } from '../support/scenario.js';

const cli = path.join(repoRoot, 'build', 'cli.js');
let work: string;
let incident: string;

function guard(args: string[], options: { cwd: string; env?: Record<string, string> }) {
  return execa('node', [cli, ...args], { cwd: options.cwd, reject: false, env: { GUARD_CACHE_DIR: path.join(work, 'cache'), NO_COLOR: '1', ...options.env } });
}

beforeAll(async () => {
  work = await fs.mkdtemp(path.join(os.tmpdir(), 'guard-cli-'));
  incident = path.join(work, 'gitops');
  await execa('bash', [path.join(incidentFixture, 'build-repo.sh'), incident]);
});
afterAll(async () => {
  await fs.rm(work, { recursive: true, force: true });
});

describe('guard check (the CLI)', () => {
  it('blocks the incident with exit 1 and names the file, line, evidence and fix', async () => {
    const result = await guard(['check', '--base', 'main', '--head', 'fix-traefik-flags'], { cwd: incident });
    expect(result.exitCode).toBe(1);
    expect(result.stdout).toContain('infrastructure/external-dns/helmrelease.yaml:35');
    expect(result.stdout).toMatch(/>\s*35 \|\s+- --traefik-disable-legacy/);
    expect(result.stdout).toContain('--traefik-enable-legacy');
    expect(result.stdout).toContain('merge blocked');
    expect(result.stderr).toBe('');
  });

  it('passes the benign change with exit 0', async () => {
    const result = await guard(['check', '--base', 'main', '--head', 'tune-external-dns'], { cwd: incident });
    expect(result.stdout).toContain('✔');
    expect(result.exitCode).toBe(0);
  });

  it('checks the working tree by default against the merge-base with main', async () => {
    const repo = await TestRepo.create();
    await execa('bash', [path.join(incidentFixture, 'build-repo.sh'), repo.dir]);
    await repo.git('checkout', '--quiet', 'tune-external-dns');
    const file = path.join(repo.dir, 'infrastructure/external-dns/helmrelease.yaml');
    await fs.writeFile(file, (await fs.readFile(file, 'utf8')).replace('- --cloudflare-proxied', '- --cloudflare-proxied=true'));
    const result = await guard(['check'], { cwd: repo.dir });
    expect(result.exitCode).toBe(1);
    expect(result.stdout).toContain('container-flags/bool-with-value');
    expect(result.stdout).toContain('working tree');
    await repo.remove();
  });

  it('prints a JSON report that matches schemas/report.schema.json', async () => {
    const result = await guard(['check', '--base', 'main', '--head', 'fix-traefik-flags', '--format', 'json'], { cwd: incident });
    expect(result.exitCode).toBe(1);
    const report = JSON.parse(result.stdout);
    assertValidReport(report);
    expect(report.findings[0].rule).toBe('container-flags/unknown-flag');
  });

  it('exits 2 with the file and line of an invalid policy, without a stack trace', async () => {
    const repo = await exampleRepo({ '.guard.yaml': 'version: 1\nhelm:\n  kubeVersoin: "1.31"\n' });
    const result = await guard(['check', '--base', 'main', '--head', 'change'], { cwd: repo.dir });
    expect(result.exitCode).toBe(2);
    expect(result.stderr).toContain('.guard.yaml:3');
    expect(result.stderr).toContain('kubeVersoin');
    expect(result.stderr).not.toMatch(/\n\s+at /);
    await repo.remove();
  });

  it('exits 2 naming the three ways to provide helm when helm is missing', async () => {
    const result = await guard(['check', '--base', 'main', '--head', 'main'], { cwd: incident, env: { HELM_BIN: '/nonexistent/helm' } });
    expect(result.exitCode).toBe(2);
    expect(result.stderr).toContain('HELM_BIN');
  });

  it('exits 2 outside a git repository and for an unknown base ref', async () => {
    expect((await guard(['check'], { cwd: work })).exitCode).toBe(2);
    const unknown = await guard(['check', '--base', 'no-such-branch'], { cwd: incident });
    expect(unknown.exitCode).toBe(2);
    expect(unknown.stderr).toContain('no-such-branch');
  });
});

describe('guard flags capture', () => {
  it('shows the catalog of a help file of each framework, and reads one as another when told to', async () => {
    const help = (file: string) => path.join(repoRoot, 'fixtures', 'help', file);
    const rg = await guard(['flags', 'show', help('ripgrep/13.0.0.txt')], { cwd: work });
    expect(rg.exitCode).toBe(0);
    expect(rg.stdout.split('\n')[0]).toBe('rg: clap (clap2), 138 flags, takes arguments');
    expect(rg.stdout).toMatch(/^ {2}-A, --after-context <NUM> +value \(usize\), overrides --context --passthru$/m);
    const jsonTool = await guard(['flags', 'show', help('python3-json-tool/3.11.2.txt')], { cwd: work });
    expect(jsonTool.stdout).toContain('at most one of: --indent | --tab | --no-indent | --compact');
    expect(jsonTool.stdout).toContain('arguments: infile (optional) outfile (optional)');
    const etcd = await guard(['flags', 'show', help('etcd/3.4.23.txt'), '--format', 'json'], { cwd: work });
    expect(JSON.parse(etcd.stdout)).toMatchObject({ framework: 'goflag', program: 'etcd' });
    const forced = await guard(['flags', 'show', help('runc/1.1.5.txt'), '--framework', 'argparse'], { cwd: work });
    expect(forced.exitCode).toBe(2);
    expect(forced.stderr).toContain('read as argparse help but no flags could be found in it');
  });

  it('stores help read from a file, or printed (on stderr) by a command, where check looks for it', async () => {
    const repo = await TestRepo.create();
    const fromFile = await guard(['flags', 'capture', 'registry.k8s.io/external-dns/external-dns:v0.18.0', '--from', path.join(externalDnsData, 'help-v0.18.0.txt')], { cwd: repo.dir });
    expect(fromFile.exitCode).toBe(0);
    expect(fromFile.stdout).toContain('.guard/help/registry.k8s.io/external-dns/external-dns/v0.18.0.txt');
    expect(fromFile.stdout).toMatch(/kingpin, \d+ flags/);
    const stored = await fs.readFile(path.join(repo.dir, '.guard/help/registry.k8s.io/external-dns/external-dns/v0.18.0.txt'), 'utf8');
    expect(stored).toBe(await fs.readFile(path.join(externalDnsData, 'help-v0.18.0.txt'), 'utf8'));

    const run = await guard(['flags', 'capture', 'example.net/tool:1.0', '--run', `cat ${path.join(externalDnsData, 'help-v0.22.0.txt')} >&2; exit 0`], { cwd: repo.dir });
    expect(run.exitCode).toBe(0);
    const captured = await fs.readFile(path.join(repo.dir, '.guard/help/example.net/tool/1.0.txt'), 'utf8');
    expect(captured).toContain('--[no-]traefik-enable-legacy');
    await repo.remove();
  });

  it('captures many images from a list, by digest when pinned, and keeps what is already captured', async () => {
    const repo = await TestRepo.create();
    const digest = `sha256:${'a'.repeat(64)}`;
    await fs.writeFile(path.join(repo.dir, 'images.txt'), [
      '# images the clusters run',
      'registry.k8s.io/external-dns/external-dns:v0.18.0',
      `registry.k8s.io/external-dns/external-dns:v0.19.0@${digest}`,
      'example.net/broken:1.0   # its capture command fails',
      '',
    ].join('\n'));
    const run = `case {image} in *v0.18.0) cat ${path.join(externalDnsData, 'help-v0.18.0.txt')} ;; *v0.19.0*) cat ${path.join(externalDnsData, 'help-v0.19.0.txt')} >&2 ;; *) exit 3 ;; esac`;
    const first = await guard(['flags', 'capture', '--list', 'images.txt', '--run', run], { cwd: repo.dir });
    expect(first.exitCode).toBe(1);
    expect(first.stdout).toContain('wrote .guard/help/registry.k8s.io/external-dns/external-dns/v0.18.0.txt (kingpin');
    expect(first.stdout).toContain(`wrote .guard/help/registry.k8s.io/external-dns/external-dns/sha256-${'a'.repeat(64)}.txt (kingpin`);
    expect(first.stderr).toContain('example.net/broken:1.0');
    expect(first.stderr).toContain('printed nothing (exit code 3)');
    const again = await guard(['flags', 'capture', '--list', 'images.txt', '--run', 'exit 9'], { cwd: repo.dir });
    expect(again.stdout).toContain('kept .guard/help/registry.k8s.io/external-dns/external-dns/v0.18.0.txt');
    expect(again.stdout).toContain(`kept .guard/help/registry.k8s.io/external-dns/external-dns/sha256-${'a'.repeat(64)}.txt`);
    const shown = await guard(['flags', 'show', `registry.k8s.io/external-dns/external-dns:v0.19.0@${digest}`], { cwd: repo.dir });
    expect(shown.exitCode).toBe(0);
    expect(shown.stdout).toMatch(/^external-dns: kingpin, \d+ flags/);
    await repo.remove();
  });
});
