import os from 'node:os';
import path from 'node:path';
import { stringify } from 'yaml';
import { afterEach, describe, expect, it } from 'vitest';
import { runCheck } from '../../src/engine.js';
import type { Finding } from '../../src/findings.js';
import type { TestRepo } from '../support/git-repo.js';
import { BASE_VALUES, exampleRepo, externalDnsRelease } from '../support/scenario.js';

/**
 * Flux Kustomizations built the way kustomize-controller does (real kustomize from the bundled
 * kubectl, real helm): each case is one where getting Flux's semantics wrong flips the verdict.
 */
const cacheDir = path.join(os.tmpdir(), 'guard-test-cache');
const HR = 'apps/base/external-dns/helmrelease.yaml';
let repo: TestRepo | undefined;
afterEach(async () => {
  await repo?.remove();
  repo = undefined;
});

function fluxKustomization(name: string, spec: Record<string, unknown>): string {
  return stringify({
    apiVersion: 'kustomize.toolkit.fluxcd.io/v1',
    kind: 'Kustomization',
    metadata: { name, namespace: 'flux-system' },
    spec: { interval: '10m', prune: true, sourceRef: { kind: 'GitRepository', name: 'flux-system' }, ...spec },
  });
}

const configMap = (name: string, namespace: string, data: Record<string, string>, annotations?: Record<string, string>) =>
  stringify({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name, namespace, ...(annotations ? { annotations } : {}) }, data });

const release = (values: Record<string, unknown>, metadata: Record<string, unknown> = {}) => {
  const text = externalDnsRelease(values);
  return Object.keys(metadata).length === 0 ? text : text.replace('metadata:\n', `metadata:\n${stringify(metadata).replace(/^/gm, '  ').trimEnd()}\n`);
};

/** clusters/prod applies apps/prod (an overlay of apps/base) with cluster variables. */
function layout(values: Record<string, unknown>, vars: Record<string, string> = { ZONE_VISIBILITY: 'public' }, appsSpec: Record<string, unknown> = {}) {
  return {
    'clusters/prod/apps.yaml': fluxKustomization('apps', {
      path: './apps/prod',
      postBuild: { substitute: { CLUSTER: 'prod' }, substituteFrom: [{ kind: 'ConfigMap', name: 'cluster-vars' }] },
      ...appsSpec,
    }),
    'clusters/prod/cluster-vars.yaml': configMap('cluster-vars', 'flux-system', vars),
    'apps/prod/kustomization.yaml': 'resources:\n  - ../base/external-dns\n',
    'apps/base/external-dns/kustomization.yaml': 'resources:\n  - helmrelease.yaml\n',
    [HR]: release(values),
  };
}

async function check(base: Record<string, string | null>, change: Record<string, string | null>): Promise<Finding[]> {
  repo = await exampleRepo({ 'infrastructure/external-dns/helmrelease.yaml': null, ...base });
  await repo.commit('change', change);
  const report = await runCheck({ cwd: repo.dir, base: 'main', head: 'change', cacheDir });
  if (process.env.DEBUG_FINDINGS) console.log(JSON.stringify(report.findings.map((f) => [f.rule, f.message, f.location]), null, 1));
  return report.findings.filter((f) => f.severity !== "notice");
}

const withZoneVisibility = { ...BASE_VALUES, extraArgs: ['--google-zone-visibility=${ZONE_VISIBILITY}'] };

describe('Flux Kustomizations', () => {
  it('substitutes variables from substituteFrom: a ConfigMap-only change that gives a flag a bad value is blocked', async () => {
    const findings = await check(layout(withZoneVisibility), { 'clusters/prod/cluster-vars.yaml': configMap('cluster-vars', 'flux-system', { ZONE_VISIBILITY: 'internal' }) });
    expect(findings.map((f) => f.rule)).toEqual(['container-flags/bad-enum']);
    expect(findings[0]!.message).toContain('--google-zone-visibility=internal');
    // Reported where the flag is written, in the base HelmRelease.
    expect(findings[0]!.location).toMatchObject({ path: HR });
    expect(findings[0]!.subject).toMatchObject({ kind: 'HelmRelease', namespace: 'networking', name: 'external-dns' });
  });

  it('uses ${VAR:=default} when the variable is not defined, and postBuild.substitute overrides substituteFrom', async () => {
    const defaults = await check(layout(BASE_VALUES), { [HR]: release({ ...BASE_VALUES, extraArgs: ['--google-zone-visibility=${UNDEFINED_VISIBILITY:=private}'] }) });
    expect(defaults).toEqual([]);
    await repo?.remove();
    const overridden = await check(layout(withZoneVisibility), {
      'clusters/prod/apps.yaml': fluxKustomization('apps', { path: './apps/prod', postBuild: { substitute: { ZONE_VISIBILITY: 'shared' }, substituteFrom: [{ kind: 'ConfigMap', name: 'cluster-vars' }] } }),
    });
    expect(overridden.map((f) => f.rule)).toEqual(['container-flags/bad-enum']);
    expect(overridden[0]!.message).toContain('--google-zone-visibility=shared');
  });

  it('leaves ${...} alone in objects marked kustomize.toolkit.fluxcd.io/substitute: disabled', async () => {
    const findings = await check(layout(BASE_VALUES), {
      [HR]: release(withZoneVisibility, { annotations: { 'kustomize.toolkit.fluxcd.io/substitute': 'disabled' } }),
    });
    expect(findings.map((f) => f.rule)).toEqual(['container-flags/bad-enum']);
    expect(findings[0]!.message).toContain('--google-zone-visibility=${ZONE_VISIBILITY}');
  });

  it('applies targetNamespace: the release renders in the Kustomization target namespace', async () => {
    const findings = await check(layout(BASE_VALUES, { ZONE_VISIBILITY: 'public' }, { targetNamespace: 'dns-prod' }), {
      [HR]: release({ ...BASE_VALUES, extraArgs: ['--traefik-disable-legacy'] }),
    });
    expect(findings.map((f) => f.rule)).toEqual(['container-flags/unknown-flag']);
    expect(findings[0]!.subject.namespace).toBe('dns-prod');
  });

  it('reads valuesFrom a ConfigMap made by configMapGenerator', async () => {
    const base = {
      ...layout(BASE_VALUES),
      'apps/base/external-dns/kustomization.yaml': 'resources:\n  - helmrelease.yaml\nconfigMapGenerator:\n  - name: external-dns-values\n    namespace: networking\n    files:\n      - values.yaml=site-values.yaml\ngeneratorOptions:\n  disableNameSuffixHash: true\n',
      'apps/base/external-dns/site-values.yaml': 'txtOwnerId: prod\n',
      [HR]: externalDnsRelease(BASE_VALUES, { valuesFrom: [{ kind: 'ConfigMap', name: 'external-dns-values' }] }),
    };
    const findings = await check(base, { 'apps/base/external-dns/site-values.yaml': 'txtOwnerId: prod\nextraArgs:\n  - --traefik-disable-legacy\n' });
    expect(findings.map((f) => f.rule)).toEqual(['container-flags/unknown-flag']);
    expect(findings[0]!.location.path).toBe('apps/base/external-dns/site-values.yaml');
    expect(findings[0]!.location.line).toBe(3);
  });

  it('does not check a file the kustomization does not include: Flux would not apply it', async () => {
    const findings = await check(layout(BASE_VALUES), {
      'apps/base/external-dns/unused-release.yaml': externalDnsRelease({ ...BASE_VALUES, extraArgs: ['--traefik-disable-legacy'] }).replace('name: external-dns\n', 'name: unused\n'),
    });
    expect(findings).toEqual([]);
  });

  it('generates a kustomization for a path without one, like kustomize-controller', async () => {
    const base = { ...layout(BASE_VALUES), 'apps/prod/kustomization.yaml': null, 'apps/base/external-dns/kustomization.yaml': null, 'clusters/prod/apps.yaml': fluxKustomization('apps', { path: './apps/base' }) };
    const findings = await check(base, { [HR]: release({ ...BASE_VALUES, extraArgs: ['--traefik-disable-legacy'] }) });
    expect(findings.map((f) => f.rule)).toEqual(['container-flags/unknown-flag']);
    expect(findings[0]!.location.path).toBe(HR);
  });

  it('reports a Kustomization that no longer builds at its path, without temp paths', async () => {
    const findings = await check(layout(BASE_VALUES), { 'apps/prod/kustomization.yaml': 'resources:\n  - ../base/external-dns\n  - ../base/missing\n' });
    expect(findings.map((f) => f.rule)).toEqual(['kustomize/build-failed']);
    expect(findings[0]!.location).toMatchObject({ path: 'clusters/prod/apps.yaml', line: 12 });
    // kustomize's own words, or the guard's refusal before it runs (it checks every path first): either names the path.
    expect(findings[0]!.message).toMatch(/apps\/base\/missing/);
    expect(findings[0]!.message).not.toContain(os.tmpdir());
  });

  it('reports a substituteFrom source that is gone, unless it is optional', async () => {
    const findings = await check(layout(BASE_VALUES), { 'clusters/prod/cluster-vars.yaml': null });
    expect(findings.map((f) => f.rule)).toEqual(['kustomize/substitute-from-missing']);
    expect(findings[0]!.location).toMatchObject({ path: 'clusters/prod/apps.yaml' });
    await repo?.remove();
    const optional = await check(layout(BASE_VALUES), {
      'clusters/prod/cluster-vars.yaml': null,
      'clusters/prod/apps.yaml': fluxKustomization('apps', { path: './apps/prod', postBuild: { substitute: { CLUSTER: 'prod' }, substituteFrom: [{ kind: 'ConfigMap', name: 'cluster-vars', optional: true }] } }),
    });
    expect(optional).toEqual([]);
  });
});
