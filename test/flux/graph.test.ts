import { readdirSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { runCheck, type Report } from '../../src/engine.js';
import { renderRevision } from '../../src/inspect/render-releases.js';
import { forgetBuilds, kustomizeRuns } from '../../src/flux/kustomize-build.js';
import { promises as fs } from 'node:fs';
import type { Finding } from '../../src/findings.js';
import type { TestRepo } from '../support/git-repo.js';
import { fixtures } from '../support/paths.js';
import { exampleRepo } from '../support/scenario.js';

/**
 * The Flux object graph as kustomize-controller builds it, on layouts taken from real public
 * repositories (fixtures/real-patterns/*): real kustomize, real helm, real git.
 */
const cacheDir = path.join(os.tmpdir(), 'guard-test-cache');
let repo: TestRepo | undefined;
afterEach(async () => {
  await repo?.remove();
  repo = undefined;
});

/** Every file of a fixture folder, as the map TestRepo writes. */
export function fixtureFiles(name: string): Record<string, string> {
  const root = path.join(fixtures, 'real-patterns', name);
  const out: Record<string, string> = {};
  const walk = (dir: string) => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const full = path.join(dir, entry.name);
      if (entry.isDirectory()) walk(full);
      else if (entry.name !== 'README.md') out[path.relative(root, full)] = readFileSync(full, 'utf8');
    }
  };
  walk(root);
  return out;
}

async function check(base: Record<string, string | null>, change: Record<string, string | null>, options: { all?: boolean } = {}): Promise<Report> {
  repo = await exampleRepo({ 'infrastructure/external-dns/helmrelease.yaml': null, ...base });
  await repo.commit('change', change);
  const report = await runCheck({ cwd: repo.dir, base: 'main', head: 'change', cacheDir, all: options.all ?? true });
  if (process.env.DEBUG_FINDINGS) console.log(JSON.stringify(report.findings.map((f) => [f.severity, f.rule, f.message, f.location]), null, 1));
  return report;
}

const rules = (findings: Finding[], severity?: Finding['severity']) => findings.filter((f) => !severity || f.severity === severity).map((f) => f.rule).sort();
const HOME_OPS_HR = 'kubernetes/apps/network/external-dns/app/helmrelease.yaml';

describe('Flux object graph: a child Kustomization is what its parent applied', () => {
  it('home-ops: the parent patches every child Kustomization whose namespace kustomize sets; three levels, with components', async () => {
    const base = fixtureFiles('home-ops-parent-patches');
    const report = await check(base, {});
    // cluster-apps' patch gives the HelmRelease upgrade.remediation.retries: no remediation warning.
    expect(rules(report.findings)).not.toContain('helmrelease/remediation');
    expect(rules(report.findings, 'error')).toEqual([]);
    expect(rules(report.findings, 'warning')).toEqual([]);
    // The HelmRelease is checked once, in the namespace the child's targetNamespace gives it.
    expect(report.releases.map((r) => `${r.namespace}/${r.name}:${r.status}`)).toEqual(['network/external-dns:rendered']);
    // The Secret created at bootstrap is assumed, not an error.
    const missing = report.findings.filter((f) => f.rule === 'kustomize/substitute-from-missing');
    expect(missing.map((f) => f.severity)).toEqual(['notice']);
    expect(missing[0]!.message).toContain('Secret network/cluster-secrets');
    // What Flux applies: the child's component set txtOwnerId from the variable its parent's patch made available.
    const rendered = await renderRevision({ cwd: repo!.dir, rev: 'change', cacheDir });
    expect(rendered.releases.map((r) => r.key)).toEqual(['network/external-dns']);
    expect(rendered.releases[0]!.manifests).toContain('--txt-owner-id=main');
  });

  it('home-ops: a bad flag in the app is blocked at its line, with the variable from the parent-patched substituteFrom applied', async () => {
    const base = fixtureFiles('home-ops-parent-patches');
    const bad = base[HOME_OPS_HR]!.replace('      - --cloudflare-proxied\n', '      - --cloudflare-proxied\n      - --traefik-disable-legacy\n');
    const report = await check(base, { [HOME_OPS_HR]: bad });
    const errors = report.findings.filter((f) => f.severity === 'error');
    expect(errors.map((f) => f.rule)).toEqual(['container-flags/unknown-flag']);
    expect(errors[0]!.location).toMatchObject({ path: HOME_OPS_HR, line: 24 });
    expect(errors[0]!.subject).toMatchObject({ kind: 'HelmRelease', namespace: 'network', name: 'external-dns' });
    expect(errors[0]!.introduced).toBe(true);
  });

  it('home-ops: a parent patch that removes remediation reaches the grandchild HelmRelease', async () => {
    const base = fixtureFiles('home-ops-parent-patches');
    const report = await check(base, { 'clusters/main/cluster-apps.yaml': base['clusters/main/cluster-apps.yaml']!.replace('retries: 2', 'retries: 0') });
    expect(rules(report.findings, 'warning')).toEqual(['helmrelease/remediation']);
  });

  it('a Secret declared in .guard.yaml cluster.objects is provided: no finding; the base having it in Git and the change removing it is an error', async () => {
    const base = fixtureFiles('home-ops-parent-patches');
    const guard = readFileSync(path.join(fixtures, 'incident', 'base', '.guard.yaml'), 'utf8');
    const declared = await check({ ...base, '.guard.yaml': `${guard}cluster:\n  objects:\n    - Secret/network/cluster-secrets\n` }, {});
    expect(rules(declared.findings)).not.toContain('kustomize/substitute-from-missing');
    await repo?.remove();
    const secret = 'apiVersion: v1\nkind: Secret\nmetadata:\n  name: cluster-secrets\n  namespace: network\nstringData:\n  DOMAIN: example.net\n';
    const removed = await check({ ...base, 'clusters/main/cluster-secrets.yaml': secret, 'clusters/main/kustomization.yaml': base['clusters/main/kustomization.yaml']! + '  - ./cluster-secrets.yaml\n' }, {
      'clusters/main/cluster-secrets.yaml': null,
      'clusters/main/kustomization.yaml': base['clusters/main/kustomization.yaml']!,
    });
    const missing = removed.findings.filter((f) => f.rule === 'kustomize/substitute-from-missing');
    expect(missing.map((f) => [f.severity, f.introduced])).toEqual([['error', true]]);
  });
});

describe('Sources that are not this repository', () => {
  it('a Kustomization of another GitRepository or of an OCIRepository is a notice saying it is not checked, never an error or a temp path', async () => {
    const base = fixtureFiles('foreign-sources');
    const bad = base['apps/network/helmrelease.yaml']!.replace('      - --cloudflare-proxied\n', '      - --cloudflare-proxied\n      - --traefik-disable-legacy\n');
    const report = await check(base, { 'apps/network/helmrelease.yaml': bad });
    // This repository's own apps are still checked.
    expect(rules(report.findings, 'error')).toEqual(['container-flags/unknown-flag']);
    const notChecked = report.findings.filter((f) => f.rule === 'kustomize/source-not-checked');
    expect(notChecked.map((f) => [f.severity, f.subject.name]).sort()).toEqual([['notice', 'crds'], ['notice', 'podinfo']]);
    const crds = notChecked.find((f) => f.subject.name === 'crds')!;
    expect(crds.message).toContain('github.com/prometheus-operator/prometheus-operator');
    expect(crds.message).toContain('gitRepositories');
    expect(crds.location).toMatchObject({ path: 'clusters/main/crds.yaml' });
    for (const finding of report.findings) {
      expect(finding.message).not.toMatch(/\.guard-flux|guard-run-|\/tmp\//);
    }
  });

  it('a foreign GitRepository mapped to "." in .guard.yaml is built from this repository', async () => {
    const base = fixtureFiles('foreign-sources');
    const guard = readFileSync(path.join(fixtures, 'incident', 'base', '.guard.yaml'), 'utf8');
    const report = await check({ ...base, '.guard.yaml': `${guard}gitRepositories:\n  flux-system/prometheus-operator: "."\n` }, {});
    // Now built from this tree, where the path does not exist: that is a real build failure of the mapping.
    const crds = report.findings.filter((f) => f.subject.name === 'crds');
    expect(crds.map((f) => f.rule)).toEqual(['kustomize/build-failed']);
    expect(crds[0]!.message).not.toMatch(/\/tmp\/|guard-run-/);
  });

  it('Flux 2.7 ArtifactGenerator: an artifact copied from this repository is assembled and checked; one copied from an OCIRepository is a notice', async () => {
    const base = fixtureFiles('artifact-generator');
    const bad = base['deploy/network/helmrelease.yaml']!.replace('      - --cloudflare-proxied\n', '      - --cloudflare-proxied\n      - --traefik-disable-legacy\n');
    const report = await check(base, { 'deploy/network/helmrelease.yaml': bad });
    const errors = report.findings.filter((f) => f.severity === 'error');
    expect(errors.map((f) => f.rule)).toEqual(['container-flags/unknown-flag']);
    expect(errors[0]!.location.path).toBe('deploy/network/helmrelease.yaml');
    expect(errors[0]!.subject.namespace).toBe('network');
    expect(report.releases.map((r) => `${r.namespace}/${r.name}`)).toEqual(['network/external-dns']);
    const notices = report.findings.filter((f) => f.severity === 'notice' && f.subject.kind === 'Kustomization');
    expect(notices.map((f) => [f.rule, f.subject.name]).sort()).toEqual([['kustomize/source-assembled', 'network'], ['kustomize/source-not-checked', 'vendor']]);
    expect(notices.find((f) => f.subject.name === 'vendor')!.message).toContain('OCIRepository flux-system/vendor-manifests');
  });
});

describe('Tenants: this repository on another branch, and Kustomizations written as patches', () => {
  it('a patch file holding a Kustomization is not built; a GitRepository of this URL on another branch is a notice, not a build of this tree', async () => {
    const report = await check(fixtureFiles('tenants'), {});
    expect(rules(report.findings, 'error')).toEqual([]);
    expect(rules(report.findings, 'warning')).toEqual([]);
    const notChecked = report.findings.filter((f) => f.rule === 'kustomize/source-not-checked');
    expect(notChecked).toHaveLength(1);
    expect(notChecked[0]!.subject).toMatchObject({ namespace: 'apps', name: 'dev-team' });
    expect(notChecked[0]!.message).toContain('branch dev-team');
    expect(notChecked[0]!.message).toContain('./staging');
  });
});

describe('ArtifactGenerators of the same name in two clusters', () => {
  it('each cluster assembles its artifact from its own generator (flux2-kustomize-helm-example)', async () => {
    const base = fixtureFiles('artifact-generator');
    const files: Record<string, string> = { ...base };
    for (const [file, text] of Object.entries(base)) {
      if (!file.startsWith('clusters/main/')) continue;
      files[file.replace('clusters/main/', 'clusters/other/')] = text.replace('@repo/deploy/network/**', '@repo/deploy/other/**').replace('path: ./clusters/main', 'path: ./clusters/other');
    }
    files['deploy/other/kustomization.yaml'] = base['deploy/network/kustomization.yaml']!.replace('namespace: network', 'namespace: other');
    files['deploy/other/helmrelease.yaml'] = base['deploy/network/helmrelease.yaml']!;
    const report = await check(files, {});
    expect(rules(report.findings, 'error')).toEqual([]);
    expect(report.releases.map((r) => `${r.namespace}/${r.name}`).sort()).toEqual(['network/external-dns', 'other/external-dns']);
  });
});

describe('Cycles', () => {
  it('two Kustomizations that apply each other are built once each, and what they apply is checked', async () => {
    const ks = (name: string, folder: string) =>
      `apiVersion: kustomize.toolkit.fluxcd.io/v1\nkind: Kustomization\nmetadata:\n  name: ${name}\n  namespace: flux-system\nspec:\n  interval: 1h\n  path: ./${folder}\n  prune: true\n  sourceRef:\n    kind: GitRepository\n    name: flux-system\n`;
    const hr = fixtureFiles('foreign-sources')['apps/network/helmrelease.yaml']!;
    const base = {
      'a/ks-b.yaml': ks('b', 'b'),
      'a/kustomization.yaml': 'resources:\n  - ks-b.yaml\n',
      'b/ks-a.yaml': ks('a', 'a'),
      'b/helmrelease.yaml': hr.replace('name: external-dns\n', 'name: external-dns\n  namespace: network\n'),
      'b/kustomization.yaml': 'resources:\n  - ks-a.yaml\n  - helmrelease.yaml\n',
    };
    const report = await check(base, { 'b/helmrelease.yaml': base['b/helmrelease.yaml'].replace('      - --cloudflare-proxied\n', '      - --cloudflare-proxied\n      - --traefik-disable-legacy\n') });
    expect(rules(report.findings, 'error')).toEqual(['container-flags/unknown-flag']);
    expect(rules(report.findings, 'warning')).toEqual([]);
    expect(report.releases).toHaveLength(1);
  });
});

describe('Catalog repositories: kustomize folders nothing in the repository applies', () => {
  const VALUES = 'services/external-dns/values.yaml';

  it('builds the folder: the generated values Secret exists and a patch file is never a second HelmRelease', async () => {
    const base = fixtureFiles('catalog');
    const report = await check(base, {});
    expect(rules(report.findings, 'error')).toEqual([]);
    // The remediation patch was applied, so no remediation warning either.
    expect(rules(report.findings, 'warning')).toEqual([]);
    expect(report.releases.map((r) => `${r.namespace}/${r.name}:${r.status}`)).toEqual(['networking/external-dns:rendered']);
  });

  it('a change to the values file feeding the secretGenerator re-renders the release (not "unchanged") and is blocked at its line', async () => {
    const base = fixtureFiles('catalog');
    repo = await exampleRepo({ 'infrastructure/external-dns/helmrelease.yaml': null, ...base });
    await repo.commit('change', { [VALUES]: base[VALUES]! + '  - --traefik-disable-legacy\n' });
    const report = await runCheck({ cwd: repo.dir, base: 'main', head: 'change', cacheDir });
    expect(report.releases.map((r) => r.status)).toEqual(['rendered']);
    const errors = report.findings.filter((f) => f.severity === 'error');
    expect(errors.map((f) => f.rule)).toEqual(['container-flags/unknown-flag']);
    expect(errors[0]!.location).toMatchObject({ path: VALUES, line: 9 });
    expect(errors[0]!.introduced).toBe(true);
  });
});

describe('Two clusters from one repository', () => {
  const PROD = 'apps/production/external-dns-values.yaml';

  it('the same HelmRelease in two clusters is two releases, each with its cluster\'s values; not a duplicate', async () => {
    const base = fixtureFiles('two-clusters');
    const rendered = await (async () => {
      await check(base, {});
      return renderRevision({ cwd: repo!.dir, rev: 'change', cacheDir });
    })();
    const manifests = rendered.releases.map((r) => r.manifests ?? r.error ?? '');
    expect(manifests).toHaveLength(2);
    expect(manifests.some((m) => m.includes('--txt-owner-id=staging'))).toBe(true);
    expect(manifests.some((m) => m.includes('--txt-owner-id=production'))).toBe(true);
  });

  it('a bad flag in the second cluster\'s overlay is blocked at the overlay line (first one does not win)', async () => {
    const base = fixtureFiles('two-clusters');
    const report = await check(base, { [PROD]: base[PROD]! + '    extraArgs:\n      - --traefik-disable-legacy\n' });
    expect(rules(report.findings, 'warning')).toEqual([]);
    const errors = report.findings.filter((f) => f.severity === 'error');
    expect(errors.map((f) => [f.rule, f.location.path, f.location.line])).toEqual([['container-flags/unknown-flag', PROD, 9]]);
  });
});

describe('Each Kustomization is built once per distinct input (issue 15)', () => {
  it('a no-op change builds each Kustomization once (base and head share), a one-release change rebuilds only its chain, a warm rerun builds nothing', async () => {
    const base = fixtureFiles('home-ops-parent-patches');
    const diskCache = await fs.mkdtemp(path.join(os.tmpdir(), 'guard-kustomize-cache-'));
    try {
      repo = await exampleRepo({ 'infrastructure/external-dns/helmrelease.yaml': null, ...base });
      await repo.commit('no-op', {});
      forgetBuilds();
      let before = kustomizeRuns.count;
      await runCheck({ cwd: repo.dir, base: 'main', head: 'change', cacheDir, noCache: true });
      // The same files at base and head: nothing can differ, nothing is built (unreached.ts).
      expect(kustomizeRuns.count - before).toBe(0);

      await repo.commit('one release', { [HOME_OPS_HR]: base[HOME_OPS_HR]!.replace('interval: 30m', 'interval: 31m') });
      forgetBuilds();
      before = kustomizeRuns.count;
      await runCheck({ cwd: repo.dir, base: 'main', head: 'change', cacheDir: diskCache });
      // The change reaches only external-dns' own build: 3 at base + 1 at head.
      expect(kustomizeRuns.count - before).toBe(4);

      forgetBuilds();
      before = kustomizeRuns.count;
      await runCheck({ cwd: repo.dir, base: 'main', head: 'change', cacheDir: diskCache });
      expect(kustomizeRuns.count - before).toBe(0);
    } finally {
      await fs.rm(diskCache, { recursive: true, force: true });
    }
  });
});
