import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { stringify } from 'yaml';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { runCheck } from '../../src/engine.js';
import { ChartServer } from '../support/chart-server.js';
import type { TestRepo } from '../support/git-repo.js';
import { incidentFixture } from '../support/paths.js';
import { assertValidReport } from '../support/report-schema.js';
import { BASE_VALUES, exampleRepo, externalDnsRelease } from '../support/scenario.js';

const cacheDir = path.join(os.tmpdir(), 'guard-test-cache');
const HR = 'infrastructure/external-dns/helmrelease.yaml';
let repo: TestRepo | undefined;
let charts: ChartServer;

beforeAll(async () => {
  charts = await ChartServer.start([path.join(incidentFixture, 'base', 'charts', 'external-dns')]);
});
afterAll(async () => {
  await charts.stop();
});
afterEach(async () => {
  await repo?.remove();
  repo = undefined;
});

function release(name: string, chart: Record<string, unknown>, values: Record<string, unknown> = BASE_VALUES, extra: Record<string, unknown> = {}) {
  return stringify({
    apiVersion: 'helm.toolkit.fluxcd.io/v2',
    kind: 'HelmRelease',
    metadata: { name, namespace: 'networking' },
    spec: { interval: '30m', chart: { spec: chart }, ...extra, values },
  });
}

const helmRepository = (url: string) =>
  stringify({ apiVersion: 'source.toolkit.fluxcd.io/v1', kind: 'HelmRepository', metadata: { name: 'external-dns', namespace: 'flux-system' }, spec: { interval: '1h', url } });

describe('rendering releases as Flux would', () => {
  it('reports a chart that fails to render as render/failed and still checks the other releases', async () => {
    repo = await exampleRepo({
      'charts/broken/Chart.yaml': 'apiVersion: v2\nname: broken\nversion: 0.1.0\n',
      'charts/broken/templates/cm.yaml': 'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\ndata:\n  a: {{ required "brokenValue is required" .Values.brokenValue }}\n',
      'apps/broken.yaml': release('broken', { chart: './charts/broken', sourceRef: { kind: 'GitRepository', name: 'flux-system', namespace: 'flux-system' } }, { brokenValue: 'ok' }),
    });
    await repo.commit('change', {
      'apps/broken.yaml': release('broken', { chart: './charts/broken', sourceRef: { kind: 'GitRepository', name: 'flux-system', namespace: 'flux-system' } }, { other: 1 }),
      [HR]: externalDnsRelease({ ...BASE_VALUES, extraArgs: ['--traefik-disable-legacy'] }),
    });
    const report = await runCheck({ cwd: repo.dir, base: 'main', head: 'change', cacheDir });
    assertValidReport(report);
    const failed = report.findings.find((f) => f.rule === 'render/failed');
    expect(failed?.subject.name).toBe('broken');
    expect(failed?.message).toContain('brokenValue is required');
    expect(failed?.location.path).toBe('apps/broken.yaml');
    expect(report.findings.some((f) => f.rule === 'container-flags/unknown-flag' && f.subject.name === 'external-dns')).toBe(true);
    expect(report.releases.find((r) => r.name === 'broken')?.status).toBe('failed');
  });

  it('reports a chart directory that does not exist, at the chart line', async () => {
    repo = await exampleRepo();
    const text = release('missing', { chart: './charts/nope', sourceRef: { kind: 'GitRepository', name: 'flux-system', namespace: 'flux-system' } });
    await repo.commit('change', { 'apps/missing.yaml': text });
    const report = await runCheck({ cwd: repo.dir, base: 'main', head: 'change', cacheDir });
    const finding = report.findings.find((f) => f.rule === 'render/chart-missing');
    expect(finding?.location).toMatchObject({ path: 'apps/missing.yaml', line: text.split('\n').findIndex((l) => l.includes('chart: ./charts/nope')) + 1 });
    expect(report.summary.verdict).toBe('fail');
  });

  it('fetches charts from an HTTP HelmRepository (exact version and semver range) and checks their args', async () => {
    repo = await exampleRepo({ 'infrastructure/sources.yaml': helmRepository(charts.url) });
    const sourceRef = { kind: 'HelmRepository', name: 'external-dns', namespace: 'flux-system' };
    await repo.commit('change', {
      'apps/exact.yaml': release('exact', { chart: 'external-dns', version: '1.19.0', sourceRef }, { ...BASE_VALUES, extraArgs: ['--traefik-disable-legacy'] }),
      'apps/range.yaml': release('range', { chart: 'external-dns', version: '1.19.x', sourceRef }, { ...BASE_VALUES, policy: 'upsert-onyl' }),
    });
    // A cache of its own: a chart another run already cached would not be fetched.
    const report = await runCheck({ cwd: repo.dir, base: 'main', head: 'change', cacheDir: await fs.mkdtemp(path.join(os.tmpdir(), 'guard-http-cache-')) });
    expect(report.findings.find((f) => f.subject.name === 'exact')?.rule).toBe('container-flags/unknown-flag');
    expect(report.findings.find((f) => f.subject.name === 'range')?.rule).toBe('values-schema/violation');
    expect(charts.requests.some((r) => r.endsWith('.tgz'))).toBe(true);
  });

  it('reports a HelmRepository that is not in the repository instead of skipping the release', async () => {
    repo = await exampleRepo();
    await repo.commit('change', {
      'apps/orphan.yaml': release('orphan', { chart: 'external-dns', version: '1.19.0', sourceRef: { kind: 'HelmRepository', name: 'nowhere', namespace: 'flux-system' } }),
    });
    const report = await runCheck({ cwd: repo.dir, base: 'main', head: 'change', cacheDir });
    const finding = report.findings.find((f) => f.rule === 'render/chart-missing');
    expect(finding?.message).toContain('HelmRepository flux-system/nowhere');
  });

  it('says a valuesFrom ConfigMap the repository does not have is assumed to come from the cluster (a notice), and nothing for an optional one', async () => {
    repo = await exampleRepo();
    await repo.commit('change', {
      [HR]: externalDnsRelease(BASE_VALUES, { valuesFrom: [{ kind: 'ConfigMap', name: 'absent' }, { kind: 'ConfigMap', name: 'absent-but-optional', optional: true }] }),
    });
    const report = await runCheck({ cwd: repo.dir, base: 'main', head: 'change', cacheDir });
    const missing = report.findings.filter((f) => f.rule === 'render/values-from-external');
    expect(missing).toHaveLength(1);
    expect(missing[0]).toMatchObject({ severity: 'notice', message: expect.stringContaining('ConfigMap networking/absent ') });
    expect(report.releases.find((r) => r.name === 'external-dns')?.status).toBe('rendered');
  });

  it('reports malformed YAML with its file and line and checks the rest', async () => {
    repo = await exampleRepo();
    await repo.commit('change', {
      'apps/bad.yaml': 'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\n  name: y\n',
      [HR]: externalDnsRelease({ ...BASE_VALUES, extraArgs: ['--traefik-disable-legacy'] }),
    });
    const report = await runCheck({ cwd: repo.dir, base: 'main', head: 'change', cacheDir });
    const yaml = report.findings.find((f) => f.rule === 'yaml/invalid');
    expect(yaml?.location).toMatchObject({ path: 'apps/bad.yaml', line: 5 });
    expect(report.findings.some((f) => f.rule === 'container-flags/unknown-flag')).toBe(true);
  });
});
