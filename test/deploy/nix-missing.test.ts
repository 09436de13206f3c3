import { execa } from 'execa';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Report } from '../../src/engine.js';
import { TestRepo } from '../support/git-repo.js';
import { fleetFiles } from '../support/fleet.js';
import { incidentFixture, repoRoot } from '../support/paths.js';

/** A runner without nix: the HelmReleases are still checked, the deploy targets are not, and the run says what to install. */
const cli = path.join(repoRoot, 'build', 'cli.js');
let work: string;
let repo: TestRepo;

function guardWithoutNix(args: string[]) {
  return execa('node', [cli, ...args], {
    cwd: repo.dir,
    reject: false,
    env: { GUARD_CACHE_DIR: path.join(work, 'cache'), NO_COLOR: '1', NIX_BIN: path.join(work, 'no-such-dir', 'nix') },
  });
}

beforeAll(async () => {
  work = await fs.mkdtemp(path.join(os.tmpdir(), 'guard-no-nix-'));
  repo = await TestRepo.create();
  await execa('bash', [path.join(incidentFixture, 'build-repo.sh'), repo.dir]);
  // Each change also touches a host of a deploy-rs fleet, so the deploy targets need evaluating.
  for (const [branch, from] of [['benign-and-fleet', 'tune-external-dns'], ['incident-and-fleet', 'fix-traefik-flags']] as const) {
    await repo.branch(branch, from);
    await repo.commit('add the fleet', fleetFiles({ roles: { 'cc-fi-hel-core-01': 'edge' } }));
  }
});
afterAll(async () => {
  await repo.remove();
  await fs.rm(work, { recursive: true, force: true });
});

describe('a repository with deploy targets on a runner without nix', () => {
  it('reports every HelmRelease, marks the deploy targets not checked, names what to install and exits 2', async () => {
    const result = await guardWithoutNix(['check', '--base', 'main', '--head', 'benign-and-fleet', '--format', 'json']);
    expect(result.exitCode, result.stderr).toBe(2);
    expect(result.stderr).not.toMatch(/\n\s+at /);
    const report = JSON.parse(result.stdout) as Report;
    expect(report.summary.verdict).toBe('incomplete');
    expect(report.summary.blocking).toBe(0);
    expect(report.summary.releasesChecked).toBeGreaterThan(0);
    const missing = report.findings.filter((f) => f.rule === 'nix/not-available');
    expect(missing).toHaveLength(1);
    expect(missing[0]!.location.path).toBe('flake.nix');
    expect(missing[0]!.message).toContain('apt-get install nix-bin');
    expect(missing[0]!.message).toContain('not checked');
  });

  it('says so in one line of the text report', async () => {
    const result = await guardWithoutNix(['check', '--base', 'main', '--head', 'benign-and-fleet']);
    expect(result.exitCode).toBe(2);
    expect(result.stdout).toMatch(/^\? .*could not check everything \(nix\/not-available above\): no verdict$/m);
  });

  it('still blocks on a HelmRelease finding (exit 1), with the deploy targets marked not checked', async () => {
    const result = await guardWithoutNix(['check', '--base', 'main', '--head', 'incident-and-fleet', '--format', 'json']);
    expect(result.exitCode, result.stderr).toBe(1);
    const report = JSON.parse(result.stdout) as Report;
    expect(report.summary.verdict).toBe('fail');
    expect(report.findings.map((f) => `${f.location.path}:${f.location.line}`)).toContain('infrastructure/external-dns/helmrelease.yaml:35');
    expect(report.findings.some((f) => f.rule === 'nix/not-available')).toBe(true);
  });
});
