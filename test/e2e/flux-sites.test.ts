import { execa } from 'execa';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Report } from '../../src/engine.js';
import { fluxSitesFixture, repoRoot } from '../support/paths.js';
import { assertValidReport } from '../support/report-schema.js';

/**
 * The two-site example: HelmReleases applied by two Flux Kustomizations with different site
 * variables; external-dns (kingpin) from a chart path, etcd (Go flag) through chartRef -> HelmChart
 * whose valuesFiles live outside the chart.
 */
const cli = path.join(repoRoot, 'build', 'cli.js');
let work: string;
let gitops: string;

const guard = (...args: string[]) => execa('node', [cli, ...args], { cwd: gitops, reject: false, env: { GUARD_CACHE_DIR: path.join(work, 'cache'), NO_COLOR: '1' } });

beforeAll(async () => {
  work = await fs.mkdtemp(path.join(os.tmpdir(), 'guard-flux-sites-'));
  gitops = path.join(work, 'gitops');
  await execa('bash', [path.join(fluxSitesFixture, 'build-repo.sh'), gitops]);
});
afterAll(async () => fs.rm(work, { recursive: true, force: true }));

describe('the two-site Flux example', () => {
  it('blocks a site-variable change that gives only that site\'s external-dns a bad flag value', async () => {
    const result = await guard('check', '--base', 'main', '--head', 'sto-zone-visibility', '--format', 'json');
    expect(result.exitCode).toBe(1);
    const report = JSON.parse(result.stdout) as Report;
    assertValidReport(report);
    expect(report.findings.map((f) => [f.rule, f.subject.namespace])).toEqual([['container-flags/bad-enum', 'dns-sto']]);
    const [finding] = report.findings;
    expect(finding!.location).toMatchObject({ path: 'apps/external-dns/helmrelease.yaml', line: 27 });
    expect(finding!.related).toContainEqual(expect.objectContaining({ path: 'clusters/sto/site-vars.yaml', line: 8 }));
    expect(finding!.evidence?.join('\n')).toContain('${ZONE_VISIBILITY} is "internal", substituted by Flux from ConfigMap flux-system/site-vars-sto');
    // Only the affected site's release was rendered.
    expect(report.releases.filter((r) => r.status === 'rendered').map((r) => r.namespace)).toEqual(['dns-sto']);
  });

  it('passes a benign site-variable change', async () => {
    const result = await guard('check', '--base', 'main', '--head', 'hel-owner');
    expect(result.exitCode).toBe(0);
    expect(result.stdout).toContain('1 rendered and checked');
  });

  it('blocks a change to a HelmChart values file outside the chart that gives etcd a bad Go flag value, at that file\'s line', async () => {
    const result = await guard('check', '--base', 'main', '--head', 'etcd-snapshot-count', '--format', 'json');
    expect(result.exitCode).toBe(1);
    const report = JSON.parse(result.stdout) as Report;
    assertValidReport(report);
    expect(report.findings.map((f) => [f.rule, f.subject.namespace, f.subject.name])).toEqual([
      ['container-flags/bad-value', 'dns-hel', 'etcd'],
      ['container-flags/bad-value', 'dns-sto', 'etcd'],
    ]);
    expect(report.findings[0]!.location).toMatchObject({ path: 'apps/etcd/values-common.yaml', line: 5 });
    expect(report.findings[0]!.evidence?.join('\n')).toContain('invalid value "50k" for flag -snapshot-count');
  });

  it('renders each site\'s release with its own variables', async () => {
    const result = await guard('render', '--rev', 'main');
    expect(result.exitCode).toBe(0);
    expect(result.stdout).toContain('# HelmRelease dns-hel/external-dns');
    expect(result.stdout).toContain('# HelmRelease dns-sto/external-dns');
    expect(result.stdout).toContain('--txt-owner-id=cc-se-sto');
    expect(result.stdout).toContain('--domain-filter=hel.example.net');
    expect(result.stdout).toContain('# HelmRelease dns-sto/etcd');
    expect(result.stdout).toContain('-snapshot-count=50000');
    expect(result.stdout).not.toContain('${');
  });
});
