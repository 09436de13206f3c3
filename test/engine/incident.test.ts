import { execa } from 'execa';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCheck } from '../../src/engine.js';
import { incidentFixture } from '../support/paths.js';
import { assertValidReport } from '../support/report-schema.js';

let repo: string;
let cacheDir: string;

beforeAll(async () => {
  const work = await fs.mkdtemp(path.join(os.tmpdir(), 'guard-incident-'));
  repo = path.join(work, 'gitops');
  cacheDir = path.join(work, 'cache');
  await execa('bash', [path.join(incidentFixture, 'build-repo.sh'), repo]);
});

afterAll(async () => {
  await fs.rm(path.dirname(repo), { recursive: true, force: true });
});

describe('the external-dns incident, reproduced', () => {
  it('blocks the commit that gives external-dns v0.19.0 the removed --traefik-disable-legacy flag', async () => {
    const report = await runCheck({ cwd: repo, base: 'main', head: 'fix-traefik-flags', cacheDir });
    assertValidReport(report);
    expect(report.summary.verdict).toBe('fail');
    const errors = report.findings.filter((f) => f.severity === 'error');
    expect(errors.map((f) => f.rule).sort()).toEqual(['container-flags/unknown-flag', 'deploy/multi-site']);
    const finding = errors.find((f) => f.rule === 'container-flags/unknown-flag');
    expect(finding).toMatchObject({
      rule: 'container-flags/unknown-flag',
      introduced: true,
      location: { path: 'infrastructure/external-dns/helmrelease.yaml', line: 35 },
      subject: { kind: 'HelmRelease', namespace: 'networking', name: 'external-dns', container: 'external-dns', workload: 'Deployment/external-dns' },
      suggestion: '--traefik-enable-legacy',
    });
    expect(finding!.evidence?.join('\n')).toContain("unknown long flag '--traefik-disable-legacy'");
    expect(finding!.evidence?.join('\n')).toContain('external-dns v0.19.0');
    // The other release shares the chart but is untouched by the change: not rendered.
    expect(report.releases.find((r) => r.name === 'podinfo-dns')?.status).toBe('unchanged');
    expect(report.releases.find((r) => r.name === 'external-dns')?.status).toBe('rendered');
  });

  it('blocks the same change\'s NixOS half: one module change redeploys hosts in lau, hel and sto at once', async () => {
    const report = await runCheck({ cwd: repo, base: 'main', head: 'fix-traefik-flags', cacheDir });
    const multiSite = report.findings.find((f) => f.rule === 'deploy/multi-site');
    expect(multiSite).toMatchObject({ severity: 'error', introduced: true, location: { path: 'nixos/modules/common.nix', line: 3 } });
    expect(multiSite!.message).toContain('4 hosts in 3 sites');
    expect(report.deploy?.targets.filter((t) => t.change === 'changed').map((t) => t.site).sort()).toEqual(['hel', 'hel', 'lau', 'sto']);
  });

  it('lets a benign change to the same release through', async () => {
    const report = await runCheck({ cwd: repo, base: 'main', head: 'tune-external-dns', cacheDir });
    assertValidReport(report);
    // The incident's HelmRelease has no upgrade remediation, which is why Flux could not remediate:
    // a warning that the change did not introduce, and that does not block it.
    expect(report.findings.map((f) => [f.rule, f.severity, f.introduced])).toEqual([['helmrelease/remediation', 'warning', false]]);
    expect(report.summary.verdict).toBe('pass');
    expect(report.summary.releasesChecked).toBe(1);
    expect(report.deploy?.targets.every((t) => t.change === 'unchanged')).toBe(true);
  });

  it('checks every release with --all, and finds nothing wrong on main', async () => {
    const report = await runCheck({ cwd: repo, base: 'main', head: 'main', all: true, cacheDir });
    expect(report.summary.releasesChecked).toBe(2);
    expect(report.findings.map((f) => f.rule)).toEqual(['helmrelease/remediation', 'helmrelease/remediation']);
    expect(report.summary.verdict).toBe('pass');
  });
});
