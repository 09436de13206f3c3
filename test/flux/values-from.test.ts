import { readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { stringify } from 'yaml';
import { afterEach, describe, expect, it } from 'vitest';
import { runCheck } from '../../src/engine.js';
import type { TestRepo } from '../support/git-repo.js';
import { incidentFixture } from '../support/paths.js';
import { assertValidReport } from '../support/report-schema.js';
import { BASE_VALUES, exampleRepo, externalDnsRelease } from '../support/scenario.js';

/**
 * valuesFrom as helm-controller merges it, each case built so that a different reading (ignoring
 * valuesKey, merging a targetPath value as a document, another order) changes the verdict.
 */
const cacheDir = path.join(os.tmpdir(), 'guard-test-cache');
const HR = 'infrastructure/external-dns/helmrelease.yaml';
const CM = 'infrastructure/external-dns/values.yaml';
let repo: TestRepo | undefined;
afterEach(async () => {
  await repo?.remove();
  repo = undefined;
});

const configMap = (name: string, data: Record<string, string>) => stringify({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name, namespace: 'networking' }, data });

async function verdictOf(files: Record<string, string>) {
  repo = await exampleRepo();
  await repo.commit('change', files);
  const report = await runCheck({ cwd: repo.dir, base: 'main', head: 'change', cacheDir });
  return { verdict: report.summary.verdict, rules: report.findings.filter((f) => f.severity === 'error').map((f) => f.rule), findings: report.findings };
}

describe('valuesFrom as helm-controller merges it', () => {
  it('reads the key valuesKey names, not values.yaml', async () => {
    const data = { 'values.yaml': 'logLevel: info\n', 'prod.yaml': 'extraArgs:\n  - --not-a-flag\n' };
    const withKey = await verdictOf({ [CM]: configMap('dns-values', data), [HR]: externalDnsRelease(BASE_VALUES, { valuesFrom: [{ kind: 'ConfigMap', name: 'dns-values', valuesKey: 'prod.yaml' }] }) });
    expect(withKey.rules).toEqual(['container-flags/unknown-flag']);
    expect(withKey.findings[0]?.location.path).toBe(CM);
    await repo!.remove();
    const withoutKey = await verdictOf({ [CM]: configMap('dns-values', data), [HR]: externalDnsRelease(BASE_VALUES, { valuesFrom: [{ kind: 'ConfigMap', name: 'dns-values' }] }) });
    expect(withoutKey.verdict).toBe('pass');
  });

  it('sets the value of a targetPath key at that path, with helm --set typing', async () => {
    const files = {
      [CM]: configMap('dns-flags', { extra: '--not-a-flag', interval: '5m' }),
      [HR]: externalDnsRelease(BASE_VALUES, {
        valuesFrom: [
          { kind: 'ConfigMap', name: 'dns-flags', valuesKey: 'extra', targetPath: 'extraArgs[0]' },
          { kind: 'ConfigMap', name: 'dns-flags', valuesKey: 'interval', targetPath: 'interval' },
        ],
      }),
    };
    const result = await verdictOf(files);
    expect(result.rules).toEqual(['container-flags/unknown-flag']);
    expect(result.findings.find((f) => f.rule === 'container-flags/unknown-flag')?.message).toContain('--not-a-flag');
  });

  it('merges valuesFrom in order, then spec.values over them', async () => {
    const files = (order: string[], values: Record<string, unknown>) => ({
      [CM]: [configMap('loud', { 'values.yaml': 'logLevel: loud\n' }), configMap('quiet', { 'values.yaml': 'logLevel: warning\n' })].join('---\n'),
      [HR]: externalDnsRelease(values, { valuesFrom: order.map((name) => ({ kind: 'ConfigMap', name })) }),
    });
    expect((await verdictOf(files(['loud', 'quiet'], BASE_VALUES))).verdict).toBe('pass');
    await repo!.remove();
    expect((await verdictOf(files(['quiet', 'loud'], BASE_VALUES))).rules).toContain('values-schema/violation');
    await repo!.remove();
    expect((await verdictOf(files(['quiet', 'loud'], { ...BASE_VALUES, logLevel: 'debug' }))).verdict).toBe('pass');
  });
});

/**
 * Issue 13 item 6: a valuesFrom object the repository cannot show (created at bootstrap, by
 * external-secrets, decrypted by SOPS in the cluster) is not an error by itself.
 */
describe('valuesFrom objects created outside Git', () => {
  const basePolicy = readFileSync(path.join(incidentFixture, 'base', '.guard.yaml'), 'utf8');
  const external = { valuesFrom: [{ kind: 'Secret', name: 'dns-external' }] };
  const secret = (name: string) => stringify({ apiVersion: 'v1', kind: 'Secret', metadata: { name, namespace: 'networking' }, stringData: { 'values.yaml': 'logLevel: debug\n' } });
  const SECRET_FILE = 'infrastructure/external-dns/secret.yaml';

  async function check(base: Record<string, string | null>, change: Record<string, string | null>) {
    repo = await exampleRepo(base);
    await repo.commit('change', change);
    const report = await runCheck({ cwd: repo.dir, base: 'main', head: 'change', cacheDir });
    assertValidReport(report);
    return report;
  }

  it('is a notice naming the assumption, and the release is still rendered and checked', async () => {
    const report = await check({}, { [HR]: externalDnsRelease({ ...BASE_VALUES, extraArgs: ['--traefik-disable-legacy'] }, external) });
    const notice = report.findings.find((f) => f.rule === 'render/values-from-external');
    expect(notice).toMatchObject({ severity: 'notice', location: { path: HR } });
    expect(notice?.message).toContain('Secret networking/dns-external');
    expect(notice?.message).toContain('assumed to be created in the cluster');
    expect(notice?.message).toContain('"Secret/networking/dns-external"');
    expect(report.findings.filter((f) => f.severity === 'error').map((f) => f.rule)).toEqual(['container-flags/unknown-flag']);
    expect(report.releases).toEqual([expect.objectContaining({ name: 'external-dns', status: 'rendered' })]);
  });

  it('passes with that notice when nothing else is wrong', async () => {
    const report = await check({}, { [HR]: externalDnsRelease(BASE_VALUES, external) });
    expect(report.summary.verdict).toBe('pass');
    expect(report.findings.map((f) => `${f.severity} ${f.rule}`)).toEqual(['notice render/values-from-external']);
  });

  it('says nothing when the base policy declares it under cluster.objects (Kind/namespace/name, or Kind/name for any namespace)', async () => {
    for (const declared of ['Secret/networking/dns-external', 'Secret/dns-external']) {
      const report = await check({ '.guard.yaml': `${basePolicy}cluster:\n  objects: ["${declared}"]\n` }, { [HR]: externalDnsRelease(BASE_VALUES, external) });
      expect(report.findings, declared).toEqual([]);
      await repo!.remove();
      repo = undefined;
    }
  });

  it('does not take the declaration from the pull request itself', async () => {
    const report = await check({}, {
      '.guard.yaml': `${basePolicy}cluster:\n  objects: ["Secret/networking/dns-external"]\n`,
      [HR]: externalDnsRelease(BASE_VALUES, external),
    });
    expect(report.findings.map((f) => f.rule)).toContain('render/values-from-external');
  });

  it('is an error when the change removes an object the base had', async () => {
    const report = await check({ [SECRET_FILE]: secret('dns-external'), [HR]: externalDnsRelease(BASE_VALUES, external) }, { [SECRET_FILE]: null });
    const error = report.findings.find((f) => f.rule === 'render/values-from-missing');
    expect(error).toMatchObject({ severity: 'error', location: { path: HR } });
    expect(error?.message).toContain('was in the base revision and this change removes it');
    expect(report.summary.verdict).toBe('fail');
  });

  it('a ConfigMap is treated the same, and optional: true says nothing', async () => {
    const configMapRef = await check({}, { [HR]: externalDnsRelease(BASE_VALUES, { valuesFrom: [{ kind: 'ConfigMap', name: 'dns-external' }] }) });
    expect(configMapRef.findings.map((f) => `${f.severity} ${f.rule}`)).toEqual(['notice render/values-from-external']);
    await repo!.remove();
    const optional = await check({}, { [HR]: externalDnsRelease(BASE_VALUES, { valuesFrom: [{ kind: 'Secret', name: 'dns-external', optional: true }] }) });
    expect(optional.findings).toEqual([]);
  });
});
