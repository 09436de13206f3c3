import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { runCheck } from '../../src/engine.js';
import type { TestRepo } from '../support/git-repo.js';
import { assertValidReport } from '../support/report-schema.js';
import { BASE_VALUES, exampleRepo, externalDnsRelease } from '../support/scenario.js';
import { incidentFixture } from '../support/paths.js';

const cacheDir = path.join(os.tmpdir(), 'guard-test-cache');
const HR = 'infrastructure/external-dns/helmrelease.yaml';
let repo: TestRepo | undefined;

afterEach(async () => {
  await repo?.remove();
  repo = undefined;
});

async function checkChange(files: Record<string, string | null>, options: { failOn?: 'error' | 'warning'; offline?: boolean } = {}) {
  repo = await exampleRepo();
  await repo.commit('change', files);
  const report = await runCheck({ cwd: repo.dir, base: 'main', head: 'change', cacheDir, failOn: options.failOn, offline: options.offline });
  assertValidReport(report);
  return report;
}

function lineOf(text: string, needle: string): number {
  const index = text.split('\n').findIndex((line) => line.includes(needle));
  if (index < 0) throw new Error(`${needle} not in text`);
  return index + 1;
}

describe('container-flags on rendered HelmReleases', () => {
  it('warns about an env var with the kingpin prefix that names no flag, with the one it meant', async () => {
    const text = externalDnsRelease({
      ...BASE_VALUES,
      env: [
        { name: 'EXTERNAL_DNS_DOMAN_FILTER', value: 'example.net' },
        { name: 'EXTERNAL_DNS_TXT_OWNER_ID', value: 'prod' },
        { name: 'CF_API_TOKEN', valueFrom: { secretKeyRef: { name: 'cf', key: 'token' } } },
      ],
    });
    const report = await checkChange({ [HR]: text });
    const findings = report.findings.filter((f) => f.rule === 'container-flags/unknown-env');
    expect(findings).toHaveLength(1);
    expect(findings[0]).toMatchObject({ severity: 'warning', suggestion: 'EXTERNAL_DNS_DOMAIN_FILTER', location: { path: HR, line: lineOf(text, 'EXTERNAL_DNS_DOMAN_FILTER') } });
    expect(findings[0]!.related?.[0]?.message).toContain('--domain-filter');
    expect(report.summary.verdict).toBe('pass');
  });

  it('rejects =true on a kingpin boolean given through a map-form extraArgs, at the map key', async () => {
    const text = externalDnsRelease({ ...BASE_VALUES, extraArgs: { 'cloudflare-proxied': true } });
    const report = await checkChange({ [HR]: text });
    const finding = report.findings.find((f) => f.rule === 'container-flags/bool-with-value');
    expect(finding).toBeDefined();
    expect(finding!.location).toMatchObject({ path: HR, line: lineOf(text, 'cloudflare-proxied:') });
    expect(finding!.evidence?.join('\n')).toContain('unexpected true');
    expect(report.summary.verdict).toBe('fail');
  });

  it('rejects a single-value flag given twice (chart default plus extraArgs)', async () => {
    const text = externalDnsRelease({ ...BASE_VALUES, extraArgs: ['--policy=create-only'] });
    const report = await checkChange({ [HR]: text });
    const finding = report.findings.find((f) => f.rule === 'container-flags/repeated');
    expect(finding?.location).toMatchObject({ path: HR, line: lineOf(text, '--policy=create-only') });
    expect(finding?.evidence?.join('\n')).toContain("cannot be repeated");
  });

  it('accepts a repeatable flag given many times', async () => {
    const text = externalDnsRelease({ ...BASE_VALUES, sources: ['service', 'ingress', 'traefik-proxy', 'crd'] });
    const report = await checkChange({ [HR]: text });
    expect(report.findings).toEqual([]);
  });

  it('rejects an enum value outside the options the help lists, at the values line', async () => {
    const text = externalDnsRelease({ ...BASE_VALUES, extraArgs: ['--aws-zone-type=publik'] });
    const report = await checkChange({ [HR]: text });
    const finding = report.findings.find((f) => f.rule === 'container-flags/bad-enum');
    expect(finding?.location).toMatchObject({ path: HR, line: lineOf(text, '--aws-zone-type=publik') });
    expect(finding?.message).toContain('publik');
    expect(finding?.suggestion).toBe('--aws-zone-type=public');
  });

  it('reports a value the chart schema forbids at the line that set it, before helm refuses it', async () => {
    const text = externalDnsRelease({ ...BASE_VALUES, policy: 'upsert-onyl' });
    const report = await checkChange({ [HR]: text });
    const finding = report.findings.find((f) => f.rule === 'values-schema/violation');
    expect(finding?.location).toMatchObject({ path: HR, line: lineOf(text, 'policy: upsert-onyl') });
    expect(finding?.message).toContain('policy must be one of "create-only", "sync", "upsert-only"');
    expect(report.summary.verdict).toBe('fail');
  });

  it('warns about a value key the chart does not know, with did-you-mean', async () => {
    const text = externalDnsRelease({ ...BASE_VALUES, extraArg: ['--traefik-enable-legacy'] });
    const report = await checkChange({ [HR]: text });
    const finding = report.findings.find((f) => f.rule === 'values-schema/unknown-key');
    expect(finding).toMatchObject({ severity: 'warning', suggestion: 'extraArgs', location: { path: HR, line: lineOf(text, 'extraArg:') } });
  });

  it('warns when a failed upgrade could not be remediated (the incident\'s "cannot remediate failed release")', async () => {
    const text = externalDnsRelease({ ...BASE_VALUES, interval: '2m' }, { upgrade: { remediation: { retries: 0 } } });
    const report = await checkChange({ [HR]: text });
    const finding = report.findings.find((f) => f.rule === 'helmrelease/remediation');
    expect(finding).toMatchObject({ severity: 'warning', introduced: true });
    expect(finding!.location.line).toBe(lineOf(text, 'remediation:'));
  });

  it('reports a required flag that the rendered args lack', async () => {
    const text = externalDnsRelease({ ...BASE_VALUES, sources: [] });
    const report = await checkChange({ [HR]: text });
    const finding = report.findings.find((f) => f.rule === 'container-flags/missing-required');
    expect(finding?.message).toContain('--source');
    expect(finding?.location.path).toBe(HR);
  });

  it('points at the ConfigMap line when the bad flag comes from valuesFrom', async () => {
    const configMap = [
      'apiVersion: v1',
      'kind: ConfigMap',
      'metadata:',
      '  name: dns-values',
      '  namespace: networking',
      'data:',
      '  values.yaml: |',
      '    txtOwnerId: hel',
      '    extraArgs:',
      '      - --cloudflare-proxied',
      '      - --traefik-disable-legacy',
      '',
    ].join('\n');
    const release = externalDnsRelease(BASE_VALUES, { valuesFrom: [{ kind: 'ConfigMap', name: 'dns-values' }] });
    const report = await checkChange({ [HR]: release, 'infrastructure/external-dns/values.yaml': configMap });
    const finding = report.findings.find((f) => f.rule === 'container-flags/unknown-flag');
    expect(finding?.location).toMatchObject({ path: 'infrastructure/external-dns/values.yaml', line: 11 });
    expect(finding?.introduced).toBe(true);
  });

  it('blocks an upgrade to an image whose flags cannot be verified, and says "could not check" when its registry cannot be asked', async () => {
    const text = externalDnsRelease({ ...BASE_VALUES, image: { tag: 'v0.18.0' } });
    // Offline, the help cannot be taken from the image's registry.
    const report = await checkChange({ [HR]: text }, { offline: true });
    const unreachable = report.findings.find((f) => f.rule === 'container-flags/capture-unreachable');
    expect(unreachable?.severity).toBe('error');
    expect(unreachable?.location).toMatchObject({ path: HR, line: lineOf(text, 'tag: v0.18.0') });
    expect(unreachable?.message).toContain('replaces external-dns v0.19.0, whose flags were verified');
    expect(unreachable?.message).toContain('.guard/help/registry.k8s.io/external-dns/external-dns/v0.18.0.txt');
    expect(report.summary.verdict).toBe('incomplete');
    // Without capture, nothing can verify the new tag: the upgrade is blocked with the command to run.
    await repo!.remove();
    const policy = await fs.readFile(path.join(incidentFixture, 'base', '.guard.yaml'), 'utf8');
    repo = await exampleRepo({ '.guard.yaml': `${policy}\nflags:\n  capture: off\n` });
    await repo.commit('change', { [HR]: text });
    const off = await runCheck({ cwd: repo.dir, base: 'main', head: 'change', cacheDir });
    const blocked = off.findings.find((f) => f.rule === 'container-flags/unverified-upgrade');
    expect(blocked?.severity).toBe('error');
    expect(blocked?.suggestion).toBe('capture it from the image: npx guard flags capture registry.k8s.io/external-dns/external-dns:v0.18.0');
    expect(off.summary.verdict).toBe('fail');
  });

  it('never pulls from a registry the base revision does not use: moving a verified container there is blocked', async () => {
    const text = externalDnsRelease({ ...BASE_VALUES, image: { repository: 'example.invalid/dns/external-dns', tag: 'v0.18.0' } });
    const report = await checkChange({ [HR]: text });
    const finding = report.findings.find((f) => f.rule === 'container-flags/unverified-upgrade');
    expect(finding?.severity).toBe('error');
    expect(finding?.message).toContain('.guard/help/example.invalid/dns/external-dns/v0.18.0.txt');
    expect(finding?.message).toContain('example.invalid/dns/external-dns is not an image repository the base revision runs');
    expect(report.summary.verdict).toBe('fail');
  });

  it('does not report a finding the base revision already had as introduced', async () => {
    repo = await exampleRepo({ [HR]: externalDnsRelease({ ...BASE_VALUES, extraArgs: ['--traefik-disable-legacy'] }) });
    await repo.commit('change', { [HR]: externalDnsRelease({ ...BASE_VALUES, interval: '2m', extraArgs: ['--traefik-disable-legacy'] }) });
    const report = await runCheck({ cwd: repo.dir, base: 'main', head: 'change', cacheDir });
    const finding = report.findings.find((f) => f.rule === 'container-flags/unknown-flag');
    expect(finding?.introduced).toBe(false);
    expect(report.summary.verdict).toBe('fail');
  });
});

describe('values written with YAML merge keys (issue 13 item 8)', () => {
  it('points at the anchor line that sets the flag, not at the values map that merges it', async () => {
    // The anchor sits outside spec.values (a top-level x- field of the same document), so only the
    // anchor's own line shows where the flag is written.
    const text = `x-common-args: &args\n  extraArgs:\n    - --traefik-disable-legacy\n${externalDnsRelease({ ...BASE_VALUES }).replace('  values:\n', '  values:\n    <<: *args\n')}`;
    const report = await checkChange({ [HR]: text });
    const finding = report.findings.find((f) => f.rule === 'container-flags/unknown-flag');
    expect(finding).toMatchObject({ severity: 'error', location: { path: HR, line: 3 } });
    expect(report.summary.verdict).toBe('fail');
  });
});

describe('version drift', () => {
  it('an upgrade that drops a flag still set in values is blocked, naming the version that dropped it', async () => {
    const { promises: fsp } = await import('node:fs');
    const { externalDnsData } = await import('../support/paths.js');
    const help18 = await fsp.readFile(path.join(externalDnsData, 'help-v0.18.0.txt'), 'utf8');
    const values = { ...BASE_VALUES, extraArgs: ['--traefik-disable-legacy'] };
    repo = await exampleRepo({
      '.guard/help/registry.k8s.io/external-dns/external-dns/v0.18.0.txt': help18,
      [HR]: externalDnsRelease({ ...values, image: { tag: 'v0.18.0' } }),
    });
    const upgraded = externalDnsRelease(values);
    await repo.commit('upgrade external-dns to the chart default v0.19.0', { [HR]: upgraded });
    const report = await runCheck({ cwd: repo.dir, base: 'main', head: 'change', cacheDir });
    assertValidReport(report);
    const finding = report.findings.find((f) => f.rule === 'container-flags/removed-in-upgrade');
    expect(finding).toBeDefined();
    expect(finding!.message).toContain('removed in external-dns v0.19.0');
    expect(finding!.message).toContain('external-dns v0.18.0');
    expect(finding!.suggestion).toBe('--traefik-enable-legacy');
    expect(finding!.location).toMatchObject({ path: HR, line: lineOf(upgraded, '--traefik-disable-legacy') });
    expect(finding!.introduced).toBe(true);
    expect(report.summary.verdict).toBe('fail');
  });
});
