import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { runCheck } from '../../src/engine.js';
import type { Finding } from '../../src/findings.js';
import type { TestRepo } from '../support/git-repo.js';
import { BASE_VALUES, exampleRepo, externalDnsRelease } from '../support/scenario.js';

/** What helm-controller does between `helm template` and apply, through real helm and kustomize. */
const cacheDir = path.join(os.tmpdir(), 'guard-test-cache');
const HR = 'infrastructure/external-dns/helmrelease.yaml';
const REMEDIATION = { remediation: { retries: 3, remediateLastFailure: true } };
let repo: TestRepo | undefined;
afterEach(async () => {
  await repo?.remove();
  repo = undefined;
});

async function check(change: Record<string, string>): Promise<Finding[]> {
  repo = await exampleRepo();
  await repo.commit('change', change);
  // Offline: no registry is asked for an image whose help is not recorded.
  const report = await runCheck({ cwd: repo.dir, base: 'main', head: 'change', cacheDir, offline: true });
  return report.findings.filter((f) => f.severity !== 'notice');
}

const strategicMerge = `apiVersion: apps/v1
kind: Deployment
metadata:
  name: external-dns
spec:
  template:
    spec:
      containers:
        - name: external-dns
          args:
            - --source=service
            - --provider=cloudflare
            - --traefik-disable-legacy
`;

describe('post-renderers', () => {
  it('checks container args after a kustomize strategic-merge patch, and points at the patch line', async () => {
    const findings = await check({
      [HR]: externalDnsRelease(BASE_VALUES, { upgrade: REMEDIATION, postRenderers: [{ kustomize: { patches: [{ target: { kind: 'Deployment' }, patch: strategicMerge }] } }] }),
    });
    expect(findings.map((f) => f.rule)).toEqual(['container-flags/unknown-flag']);
    const text = await repo!.git('show', `change:${HR}`);
    const line = text.split('\n').findIndex((l) => l.includes('- --traefik-disable-legacy')) + 1;
    expect(findings[0]!.location).toMatchObject({ path: HR, line });
  });

  it('applies JSON 6902 patches (v2beta1 patchesJson6902 form too)', async () => {
    const add = [{ op: 'add', path: '/spec/template/spec/containers/0/args/-', value: '--traefik-disable-legacy' }];
    const modern = await check({
      [HR]: externalDnsRelease(BASE_VALUES, { upgrade: REMEDIATION, postRenderers: [{ kustomize: { patches: [{ target: { kind: 'Deployment', name: 'external-dns' }, patch: JSON.stringify(add) }] } }] }),
    });
    expect(modern.map((f) => f.rule)).toEqual(['container-flags/unknown-flag']);
    await repo?.remove();
    const legacy = await check({
      [HR]: externalDnsRelease(BASE_VALUES, { upgrade: REMEDIATION, postRenderers: [{ kustomize: { patchesJson6902: [{ target: { version: 'v1', group: 'apps', kind: 'Deployment', name: 'external-dns' }, patch: add }] } }] }),
    });
    expect(legacy.map((f) => f.rule)).toEqual(['container-flags/unknown-flag']);
  });

  it('checks the image a post-renderer sets: its own help decides', async () => {
    const findings = await check({
      [HR]: externalDnsRelease(BASE_VALUES, { upgrade: REMEDIATION, postRenderers: [{ kustomize: { images: [{ name: 'registry.k8s.io/external-dns/external-dns', newTag: 'v0.20.0' }] } }] }),
    });
    // v0.20.0 replaces the verified v0.19.0, and offline its help cannot be taken from the image.
    expect(findings.map((f) => f.rule)).toEqual(['container-flags/capture-unreachable']);
    expect(findings[0]!.message).toContain('v0.20.0');
  });

  it('reports a post-renderer that kustomize refuses at spec.postRenderers', async () => {
    const findings = await check({
      [HR]: externalDnsRelease(BASE_VALUES, { upgrade: REMEDIATION, postRenderers: [{ kustomize: { patches: [{ patch: 'not: [valid' }] } }] }),
    });
    expect(findings.map((f) => f.rule)).toEqual(['render/failed']);
    expect(findings[0]!.message).toContain('post-renderer');
  });
});

describe('install and upgrade settings', () => {
  it('does not block a schema violation helm will not check (upgrade.disableSchemaValidation), but says so', async () => {
    const enforced = await check({ [HR]: externalDnsRelease({ ...BASE_VALUES, interval: 5 }) });
    expect(enforced.map((f) => [f.rule, f.severity])).toEqual([['values-schema/violation', 'error']]);
    await repo?.remove();
    const skipped = await check({ [HR]: externalDnsRelease({ ...BASE_VALUES, interval: 5 }, { upgrade: { ...REMEDIATION, disableSchemaValidation: true } }) });
    // helm no longer refuses it, so it renders: and external-dns then refuses `--interval=5` itself (a duration needs a unit).
    expect(skipped.map((f) => [f.rule, f.severity])).toEqual([['container-flags/bad-value', 'error'], ['values-schema/violation', 'warning']]);
    expect(skipped[1]!.message).toContain('disableSchemaValidation');
  });
});
