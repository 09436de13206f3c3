import { execa } from 'execa';
import { existsSync, promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { runCheck } from '../../src/engine.js';
import { resolveHelm } from '../../src/helm/binary.js';
import type { TestRepo } from '../support/git-repo.js';
import { externalDnsData, repoRoot } from '../support/paths.js';
import { BASE_VALUES, exampleRepo, externalDnsRelease } from '../support/scenario.js';

const cacheDir = path.join(os.tmpdir(), 'guard-test-cache');
const HR = 'infrastructure/external-dns/helmrelease.yaml';
const HELP = '.guard/help/registry.k8s.io/external-dns/external-dns/v0.19.0.txt';
const incidentRelease = externalDnsRelease({ ...BASE_VALUES, extraArgs: ['--traefik-disable-legacy'] });
let repo: TestRepo | undefined;

afterEach(async () => {
  await repo?.remove();
  repo = undefined;
});

describe('a pull request cannot weaken the guard that judges it', () => {
  it('switching the rule off in .guard.yaml does not unblock the change; the report says the policy applies after merge', async () => {
    repo = await exampleRepo();
    await repo.commit('disable the check', {
      '.guard.yaml': 'version: 1\nfailOn: error\nrules:\n  container-flags/unknown-flag: "off"\n',
      [HR]: incidentRelease,
    });
    const report = await runCheck({ cwd: repo.dir, base: 'main', head: 'change', cacheDir });
    expect(report.policy).toContain('at base');
    expect(report.summary.verdict).toBe('fail');
    expect(report.findings.some((f) => f.rule === 'container-flags/unknown-flag')).toBe(true);
    expect(report.findings.find((f) => f.rule === 'config/changed')?.message).toContain('applies after merge');
  });

  it('editing the help output to list the flag does not unblock the change', async () => {
    repo = await exampleRepo();
    const help = await fs.readFile(path.join(externalDnsData, 'help-v0.19.0.txt'), 'utf8');
    const forged = help.replace('Flags:\n', 'Flags:\n  --[no-]traefik-disable-legacy  Forged entry.\n');
    await repo.commit('teach the catalog a flag', { [HELP]: forged, [HR]: incidentRelease });
    const report = await runCheck({ cwd: repo.dir, base: 'main', head: 'change', cacheDir });
    expect(report.summary.verdict).toBe('fail');
    expect(report.findings.some((f) => f.rule === 'container-flags/unknown-flag')).toBe(true);
    expect(report.findings.some((f) => f.rule === 'config/help-changed' && f.location.path === HELP)).toBe(true);
  });

  it('a capture command added by the change is never executed by guard check', async () => {
    const marker = path.join(os.tmpdir(), `guard-pwned-${process.pid}-${Date.now()}`);
    repo = await exampleRepo();
    await repo.commit('add a capture command', {
      '.guard.yaml': `version: 1\nflags:\n  images:\n    - image: "ghcr.io/evil/*"\n      capture: "touch ${marker}"\n`,
      'apps/evil.yaml': externalDnsRelease({ ...BASE_VALUES, image: { repository: 'ghcr.io/evil/tool', tag: '1.0' } }).replace('name: external-dns', 'name: evil'),
    });
    const report = await runCheck({ cwd: repo.dir, base: 'main', head: 'change', cacheDir });
    expect(existsSync(marker)).toBe(false);
    expect(report.findings.some((f) => f.rule === 'container-flags/unverified' && f.subject.name === 'evil')).toBe(true);
  });

  it('helm plugins and user helm config of the machine are not used', async () => {
    repo = await exampleRepo();
    await repo.commit('change', { [HR]: incidentRelease });
    const report = await runCheck({ cwd: repo.dir, base: 'main', head: 'change', cacheDir: path.join(cacheDir, 'isolated') });
    expect(report.summary.verdict).toBe('fail');
    expect(existsSync(path.join(cacheDir, 'isolated', 'helm-home', 'plugins'))).toBe(true);
    expect((await fs.readdir(path.join(cacheDir, 'isolated', 'helm-home', 'plugins'))).length).toBe(0);
  });
});

describe('policy and ground truth come from the base revision only', () => {
  const HELP_DIR = '.guard/help/registry.k8s.io/external-dns/external-dns';
  const forgedHelp = async () => {
    const help = await fs.readFile(path.join(externalDnsData, 'help-v0.19.0.txt'), 'utf8');
    return help.replace('Flags:\n', 'Flags:\n  --[no-]traefik-disable-legacy  Forged entry.\n');
  };

  it('with no .guard.yaml at base, the policy file the change adds does not judge it: defaults do, and it applies after merge', async () => {
    repo = await exampleRepo({ '.guard.yaml': null });
    await repo.commit('bring my own policy', {
      '.guard.yaml': 'version: 1\nfailOn: notice\nrules:\n  container-flags/unknown-flag: off\nflags:\n  images:\n    - image: "**/external-dns"\n      skip: true\n',
      [HR]: incidentRelease,
    });
    const report = await runCheck({ cwd: repo.dir, base: 'main', head: 'change', cacheDir });
    expect(report.policy).toMatch(/^defaults \(no \.guard\.yaml at base/);
    expect(report.summary.verdict).toBe('fail');
    expect(report.findings.find((f) => f.rule === 'container-flags/unknown-flag')).toMatchObject({ severity: 'error', introduced: true });
    expect(report.findings.some((f) => f.rule === 'container-flags/skipped')).toBe(false);
    expect(report.findings.find((f) => f.rule === 'config/changed')?.message).toContain('is new in this revision; it applies after merge');
  });

  it('a policy file the change adds pointing helpDir at its own forged help is not used', async () => {
    repo = await exampleRepo({ '.guard.yaml': null });
    await repo.commit('move the help dir', {
      '.guard.yaml': 'version: 1\nflags:\n  helpDir: forged\n',
      'forged/registry.k8s.io/external-dns/external-dns/v0.19.0.txt': await forgedHelp(),
      [HR]: incidentRelease,
    });
    const report = await runCheck({ cwd: repo.dir, base: 'main', head: 'change', cacheDir });
    expect(report.summary.verdict).toBe('fail');
    expect(report.findings.find((f) => f.rule === 'container-flags/unknown-flag')?.evidence?.join('\n') ?? '').not.toContain('Forged entry');
  });

  it('a help file the change adds for a new tag is not truth: without the image to compare, the upgrade is not verified and the file takes effect after merge', async () => {
    repo = await exampleRepo();
    const added = `${HELP_DIR}/v0.99.0.txt`;
    await repo.commit('bump and bring my own truth', {
      [added]: await forgedHelp(),
      [HR]: externalDnsRelease({ ...BASE_VALUES, image: { tag: 'v0.99.0' }, extraArgs: ['--traefik-disable-legacy'] }),
    });
    // Offline, the image's own help cannot be taken: the forged file is still not believed.
    const report = await runCheck({ cwd: repo.dir, base: 'main', head: 'change', cacheDir, offline: true });
    const unverified = report.findings.find((f) => f.rule === 'container-flags/capture-unreachable');
    expect(unverified?.message).toContain('no help output is known for registry.k8s.io/external-dns/external-dns:v0.99.0');
    expect(unverified?.message).toContain(`${added} comes with this change`);
    expect(report.summary.verdict).toBe('incomplete');
    expect(report.findings.some((f) => f.rule.startsWith('container-flags/') && f.rule !== 'container-flags/capture-unreachable')).toBe(false);
    const notice = report.findings.find((f) => f.rule === 'config/help-changed' && f.location.path === added);
    expect(notice).toMatchObject({ severity: 'notice' });
    expect(notice!.message).toContain('takes effect after merge');
  });

  it('a sha256- help file the change adds for the digest it pins does not override the base truth for the tag', async () => {
    repo = await exampleRepo();
    const digest = 'a'.repeat(64);
    const added = `${HELP_DIR}/sha256-${digest}.txt`;
    await repo.commit('pin a digest and bring its truth', {
      [added]: await forgedHelp(),
      [HR]: externalDnsRelease({ ...BASE_VALUES, image: { tag: `v0.19.0@sha256:${digest}` }, extraArgs: ['--traefik-disable-legacy'] }),
    });
    const report = await runCheck({ cwd: repo.dir, base: 'main', head: 'change', cacheDir });
    expect(report.summary.verdict).toBe('fail');
    expect(report.findings.some((f) => f.rule === 'container-flags/unknown-flag')).toBe(true);
    expect(report.findings.find((f) => f.rule === 'config/help-changed' && f.location.path === added)?.message).toContain('takes effect after merge');
  });

  it('a sha256- help file the change adds for a new tag pinned by digest leaves the image unverified', async () => {
    repo = await exampleRepo();
    const digest = 'b'.repeat(64);
    await repo.commit('new tag pinned by digest', {
      [`${HELP_DIR}/sha256-${digest}.txt`]: await forgedHelp(),
      [HR]: externalDnsRelease({ ...BASE_VALUES, image: { tag: `v0.98.0@sha256:${digest}` }, extraArgs: ['--traefik-disable-legacy'] }),
    });
    const report = await runCheck({ cwd: repo.dir, base: 'main', head: 'change', cacheDir, offline: true });
    expect(report.findings.find((f) => f.rule === 'container-flags/capture-unreachable')?.message).toContain('no help output is known');
  });
});

describe('faults in the tools', () => {
  it('a helm that hangs hits the timeout and is reported as render/failed, exit 1, not a pass', async () => {
    repo = await exampleRepo({ '.guard.yaml': 'version: 1\nhelm:\n  timeoutSeconds: 1\n' });
    await repo.commit('change', { [HR]: externalDnsRelease({ ...BASE_VALUES, interval: '5m' }) });
    const helm = (await resolveHelm()).path;
    const hanging = path.join(repo.dir, '..', `${path.basename(repo.dir)}-helm.sh`);
    await fs.writeFile(hanging, `#!/bin/sh\nif [ "$1" = template ]; then exec sleep 30; fi\nexec ${helm} "$@"\n`, { mode: 0o755 });
    const started = Date.now();
    const result = await execa('node', [path.join(repoRoot, 'build', 'cli.js'), 'check', '--base', 'main', '--head', 'change', '--format', 'json'], {
      cwd: repo.dir,
      reject: false,
      env: { HELM_BIN: hanging, GUARD_CACHE_DIR: path.join(cacheDir, 'hang') },
    });
    expect(Date.now() - started).toBeLessThan(20_000);
    expect(result.exitCode).toBe(1);
    const report = JSON.parse(result.stdout) as { findings: Array<{ rule: string; message: string }> };
    expect(report.findings.find((f) => f.rule === 'render/failed')?.message).toContain('did not finish within 1 s');
    await fs.rm(hanging, { force: true });
  });

  it('rejects an alias bomb quickly with bounded memory', async () => {
    const { parseYamlFile } = await import('../../src/yaml/source.js');
    const lines = ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol","lol"]'];
    for (let i = 1; i < 12; i++) lines.push(`l${i}: &l${i} [${Array(10).fill(i === 1 ? '*a' : `*l${i - 1}`).join(',')}]`);
    global.gc?.();
    const heapBefore = process.memoryUsage().heapUsed;
    const started = Date.now();
    const result = parseYamlFile(lines.join('\n') + '\n', 'bomb.yaml');
    expect(Date.now() - started).toBeLessThan(2000);
    expect(process.memoryUsage().heapUsed - heapBefore).toBeLessThan(64 * 1024 * 1024);
    expect(result.documents).toEqual([]);
    expect(result.problems[0]?.message).toMatch(/alias/i);
  });
});
