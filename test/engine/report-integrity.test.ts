import { execa } from 'execa';
import { readFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { stringify } from 'yaml';
import { afterEach, describe, expect, it } from 'vitest';
import { runCheck, type Report } from '../../src/engine.js';
import { checkRemediation } from '../../src/checks/helmrelease-remediation.js';
import { findingKey, SUBJECT_KINDS, type Finding } from '../../src/findings.js';
import { readHelmRelease } from '../../src/flux/helmrelease.js';
import { mergeReports } from '../../src/report/merge.js';
import { parseYamlFile } from '../../src/yaml/source.js';
import type { TestRepo } from '../support/git-repo.js';
import { repoRoot } from '../support/paths.js';
import { assertValidReport } from '../support/report-schema.js';
import { BASE_VALUES, exampleRepo, externalDnsRelease } from '../support/scenario.js';

const cacheDir = path.join(os.tmpdir(), 'guard-test-cache');
const HR = 'infrastructure/external-dns/helmrelease.yaml';
const gitSource = { kind: 'GitRepository', name: 'flux-system', namespace: 'flux-system' };
let repo: TestRepo | undefined;

afterEach(async () => {
  await repo?.remove();
  repo = undefined;
});

function release(name: string, chart: Record<string, unknown>, values: Record<string, unknown> = {}, extra: Record<string, unknown> = {}) {
  return stringify({
    apiVersion: 'helm.toolkit.fluxcd.io/v2',
    kind: 'HelmRelease',
    metadata: { name, namespace: 'apps' },
    spec: { interval: '30m', chart: { spec: chart }, upgrade: { remediation: { retries: 3 } }, ...extra, values },
  });
}

const policy = (rules: Record<string, string>) =>
  `version: 1\nfailOn: error\nhelm:\n  kubeVersion: "1.31.0"\nrules:\n${Object.entries(rules).map(([rule, setting]) => `  ${rule}: ${setting}\n`).join('')}`;

function countsAddUp(report: Report) {
  const s = report.summary;
  expect(s.releasesChecked + s.releasesFailed + s.releasesNotChecked + s.releasesUnchanged).toBe(s.releasesTotal);
  expect(s.releasesTotal).toBe(report.releases.length);
}

describe('nothing passes unchecked, whatever the policy says', () => {
  it('keeps a release whose chart is missing visible, with a warning that "off" cannot remove, and the counts add up', async () => {
    repo = await exampleRepo({ '.guard.yaml': policy({ 'render/chart-missing': 'off', 'values-schema/invalid-schema': 'off', 'render/not-checked': 'off' }) });
    await repo.commit('change', { 'apps/ghost.yaml': release('ghost', { chart: './charts/nope', sourceRef: gitSource }) });
    const report = await runCheck({ cwd: repo.dir, base: 'main', head: 'change', cacheDir, all: true });
    expect(report.releases.find((r) => r.name === 'ghost')?.status).toBe('failed');
    expect(report.findings.some((f) => f.rule === 'render/chart-missing')).toBe(false);
    const floor = report.findings.find((f) => f.rule === 'render/not-checked' && f.subject.name === 'ghost');
    expect(floor?.severity).toBe('warning');
    expect(floor?.message).toContain('apps/ghost was not rendered, so nothing in it was checked');
    expect(floor?.message).toContain('render/chart-missing: set to off');
    expect(floor?.location.path).toBe('apps/ghost.yaml');
    expect(report.summary).toMatchObject({ releasesTotal: 2, releasesChecked: 1, releasesFailed: 1, releasesNotChecked: 0, releasesUnchanged: 0 });
    countsAddUp(report);
  });

  it('adds nothing when the failure is still reported at warning or above', async () => {
    repo = await exampleRepo();
    await repo.commit('change', { 'apps/ghost.yaml': release('ghost', { chart: './charts/nope', sourceRef: gitSource }) });
    const report = await runCheck({ cwd: repo.dir, base: 'main', head: 'change', cacheDir });
    expect(report.findings.filter((f) => f.subject.name === 'ghost').map((f) => f.rule)).toEqual(['render/chart-missing']);
    expect(report.summary.verdict).toBe('fail');
    countsAddUp(report);
  });

  it('lists a HelmRelease of an API version it cannot render as not checked, and names it even with its rule off', async () => {
    repo = await exampleRepo({ '.guard.yaml': policy({ 'helmrelease/unsupported-api-version': 'off' }) });
    await repo.commit('change', { 'apps/future.yaml': release('future', { chart: './charts/nope', sourceRef: gitSource }).replace('helm.toolkit.fluxcd.io/v2', 'helm.toolkit.fluxcd.io/v3') });
    const report = await runCheck({ cwd: repo.dir, base: 'main', head: 'change', cacheDir });
    expect(report.releases.find((r) => r.name === 'future')).toMatchObject({ status: 'not-checked', file: 'apps/future.yaml' });
    expect(report.findings.find((f) => f.subject.name === 'future')?.rule).toBe('render/not-checked');
    expect(report.summary.releasesNotChecked).toBe(1);
    countsAddUp(report);
  });

  it('says loudly when the base had HelmReleases and the change leaves none to check', async () => {
    repo = await exampleRepo();
    await repo.commit('change', { [HR]: null });
    const report = await runCheck({ cwd: repo.dir, base: 'main', head: 'change', cacheDir });
    const loud = report.findings.find((f) => f.rule === 'render/no-releases');
    expect(loud?.severity).toBe('warning');
    expect(loud?.message).toContain('has 1 HelmRelease(s)');
    countsAddUp(report);
  });
});

describe('an allowed chart host that does not answer', () => {
  it('is "could not check" (verdict incomplete, exit 2, the host named), not a block; the rest of the run still checks and blocks', async () => {
    const closed = http.createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const host = `127.0.0.1:${(closed.address() as AddressInfo).port}`;
    await new Promise((resolve) => closed.close(resolve));
    const source = stringify({ apiVersion: 'source.toolkit.fluxcd.io/v1', kind: 'HelmRepository', metadata: { name: 'charts', namespace: 'flux-system' }, spec: { interval: '1h', url: `http://${host}` } });
    const chart = { chart: 'podinfo', version: '6.5.0', sourceRef: { kind: 'HelmRepository', name: 'charts', namespace: 'flux-system' } };
    repo = await exampleRepo({ 'infrastructure/sources.yaml': source, 'apps/podinfo.yaml': release('podinfo', chart, { replicas: 1 }) });
    await repo.commit('change', { 'apps/podinfo.yaml': release('podinfo', chart, { replicas: 2 }) });
    const report = await runCheck({ cwd: repo.dir, base: 'main', head: 'change', cacheDir: path.join(cacheDir, 'unreachable') });
    const unreachable = report.findings.filter((f) => f.rule === 'render/source-unreachable');
    expect(unreachable.map((f) => [f.subject.name, f.severity])).toEqual([['podinfo', 'warning']]);
    expect(unreachable[0]!.message).toContain(host);
    expect(report.releases.find((r) => r.name === 'podinfo')?.status).not.toBe('rendered');
    expect(report.summary.blocking).toBe(0);
    expect(report.summary.verdict).toBe('incomplete');

    // Another release carrying the incident's flag in the same change still blocks: the run went on.
    await repo.commit('and the incident', { 'infrastructure/external-dns/helmrelease.yaml': externalDnsRelease({ ...BASE_VALUES, extraArgs: ['--traefik-disable-legacy'] }) });
    const blocked = await runCheck({ cwd: repo.dir, base: 'main', head: 'change', cacheDir: path.join(cacheDir, 'unreachable') });
    expect(blocked.findings.some((f) => f.rule === 'container-flags/unknown-flag')).toBe(true);
    expect(blocked.summary.verdict).toBe('fail');
  });
});

describe('"introduced" by stable identity', () => {
  const broken = (version: string) => ({
    'charts/broken/Chart.yaml': `apiVersion: v2\nname: broken\nversion: ${version}\n`,
    'charts/broken/templates/cm.yaml': 'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\ndata:\n  a: {{ required "brokenValue is required" .Values.brokenValue }}\n',
    'apps/broken.yaml': release('broken', { chart: './charts/broken', version, sourceRef: gitSource }),
  });

  it('keeps a finding the base already had "existing" across a chart bump that changes its message', async () => {
    repo = await exampleRepo(broken('0.1.0'));
    await repo.commit('change', broken('0.2.0'));
    const report = await runCheck({ cwd: repo.dir, base: 'main', head: 'change', cacheDir });
    const failed = report.findings.find((f) => f.rule === 'render/failed' && f.subject.name === 'broken');
    expect(failed?.message).toContain('brokenValue is required');
    expect(failed?.introduced).toBe(false);
  });

  it('still marks a different failure of the same release as introduced', async () => {
    repo = await exampleRepo(broken('0.1.0'));
    await repo.commit('change', { ...broken('0.2.0'), 'charts/broken/templates/cm.yaml': 'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\ndata:\n  a: {{ required "otherValue is required" .Values.otherValue }}\n' });
    const report = await runCheck({ cwd: repo.dir, base: 'main', head: 'change', cacheDir });
    expect(report.findings.find((f) => f.rule === 'render/failed' && f.subject.name === 'broken')?.introduced).toBe(true);
  });

  it('ignores versions, URLs and digests in messages when no identity is set', () => {
    const finding = (message: string): Finding => ({ rule: 'container-flags/unverified', severity: 'warning', message, location: { path: 'a.yaml', line: 3 }, subject: { kind: 'HelmRelease', namespace: 'n', name: 'x', container: 'c' }, introduced: false });
    expect(findingKey(finding('flags of registry.k8s.io/external-dns/external-dns:v0.19.0 not verified (chart 1.19.0, https://example.com/a-1.19.0.json)')))
      .toBe(findingKey(finding('flags of registry.k8s.io/external-dns/external-dns:v0.20.1 not verified (chart 1.20.1, https://example.com/a-1.20.1.json)')));
    expect(findingKey(finding('packaged chart charts/common-3.7.3.tgz has no schema'))).toBe(findingKey(finding('packaged chart charts/common-3.8.0.tgz has no schema')));
    expect(findingKey(finding('unknown flag --traefik-disable-legacy'))).not.toBe(findingKey(finding('unknown flag --traefik-enable-legacy')));
    expect(findingKey({ ...finding('same'), identity: 'a' })).not.toBe(findingKey({ ...finding('same'), identity: 'b' }));
  });
});

describe('remediation', () => {
  const object = (spec: Record<string, unknown>) => {
    const body = { apiVersion: 'helm.toolkit.fluxcd.io/v2', kind: 'HelmRelease', metadata: { name: 'r', namespace: 'n' }, spec: { chart: { spec: { chart: './c', sourceRef: gitSource } }, ...spec } };
    const document = parseYamlFile(stringify(body), 'r.yaml').documents[0]!;
    return readHelmRelease({ apiVersion: body.apiVersion, kind: body.kind, name: 'r', namespace: 'n', file: 'r.yaml', document, body });
  };

  it('does not warn when upgrades retry on failure (RetryOnFailure), and still warns without any remediation', () => {
    expect(checkRemediation(object({ upgrade: { strategy: { name: 'RetryOnFailure', retryInterval: '5m' } } }))).toEqual([]);
    expect(checkRemediation(object({ upgrade: { strategy: { name: 'RemediateOnFailure' } } })).map((f) => f.rule)).toEqual(['helmrelease/remediation']);
    expect(checkRemediation(object({ install: { strategy: { name: 'RetryOnFailure' } } })).map((f) => f.rule)).toEqual(['helmrelease/remediation']);
  });

  it('does not warn through the whole check either', async () => {
    repo = await exampleRepo();
    await repo.commit('change', { [HR]: externalDnsRelease(BASE_VALUES, { upgrade: { strategy: { name: 'RetryOnFailure' } } }) });
    const report = await runCheck({ cwd: repo.dir, base: 'main', head: 'change', cacheDir });
    expect(report.releases.find((r) => r.name === 'external-dns')?.status).toBe('rendered');
    expect(report.findings.some((f) => f.rule === 'helmrelease/remediation')).toBe(false);
  });
});

describe('the JSON report matches its schema', () => {
  it('validates a report whose finding is about a Kustomization', async () => {
    repo = await exampleRepo();
    await repo.commit('change', {
      'clusters/main/apps.yaml': stringify({
        apiVersion: 'kustomize.toolkit.fluxcd.io/v1',
        kind: 'Kustomization',
        metadata: { name: 'apps', namespace: 'flux-system' },
        spec: { interval: '10m', path: './does-not-exist', prune: true, sourceRef: gitSource },
      }),
    });
    const report = await runCheck({ cwd: repo.dir, base: 'main', head: 'change', cacheDir });
    expect(report.findings.some((f) => f.subject.kind === 'Kustomization')).toBe(true);
    assertValidReport(report);
  });

  it('lists every subject kind the findings contract has', () => {
    const schema = JSON.parse(readFileSync(path.join(repoRoot, 'schemas/report.schema.json'), 'utf8'));
    expect(schema.definitions.finding.properties.subject.properties.kind.enum).toEqual([...SUBJECT_KINDS]);
  });

  it('validates every report the tests produce (the setup file wraps the engine and the merge)', () => {
    const report = { version: 1, tool: { name: 'gitops-guard', version: '0' }, base: { ref: 'a', sha: 'a'.repeat(40) }, head: { ref: 'b', sha: 'b'.repeat(40) }, policy: 'x', failOn: 'error', releases: [], summary: {} };
    const bad = { rule: 'x/y', severity: 'error', message: 'm', location: { path: 'a', line: 1 }, subject: { kind: 'Nonsense', name: 'n' }, introduced: true };
    expect(() => mergeReports([{ ...report, findings: [bad] } as never])).toThrow(/does not match schemas\/report.schema.json/);
    expect(() => mergeReports([{ ...report, findings: [] } as never])).not.toThrow();
  });

  it('validates the JSON report of the CLI run as a process too', async () => {
    // node -e prints a report that is not one; the arguments after the script make it look like `guard check --format json`.
    const impostor = ['-e', 'console.log(JSON.stringify({ version: 2 }))', path.join(repoRoot, 'build', 'cli.js'), 'check', '--format', 'json'];
    await expect(execa('node', impostor, { reject: false })).rejects.toThrow(/does not match schemas\/report.schema.json/);
    const plain = await execa('node', ['-e', 'console.log(JSON.stringify({ version: 2 }))'], { reject: false });
    expect(plain.stdout).toBe('{"version":2}');
  });
});
