import os from 'node:os';
import path from 'node:path';
import { stringify } from 'yaml';
import { afterEach, describe, expect, it } from 'vitest';
import { runCheck } from '../../src/engine.js';
import type { TestRepo } from '../support/git-repo.js';
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
