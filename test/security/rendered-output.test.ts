import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { runCheck } from '../../src/engine.js';
import type { TestRepo } from '../support/git-repo.js';
import { assertValidReport } from '../support/report-schema.js';
import { exampleRepo } from '../support/scenario.js';
import { SHAPED_CHART, SHAPED_HR, shapedRelease } from './support/shaped-chart.js';

/**
 * Class 7 of issue 12: rendered output read as Flux and the API server read it. Each shape carries
 * the incident's flag (--traefik-disable-legacy, unknown to external-dns v0.19.0) and must block.
 */
// A cache of its own: renders cached by another revision of the guard must not answer for this one.
const cacheDir = path.join(os.tmpdir(), `guard-test-cache-rendered-${process.pid}`);
const INCIDENT = '--traefik-disable-legacy';
let repo: TestRepo | undefined;

afterEach(async () => {
  await repo?.remove();
  repo = undefined;
});
afterAll(async () => {
  await fs.rm(cacheDir, { recursive: true, force: true });
});

async function checkShape(shape: string, values: Record<string, unknown> = { extraArgs: [INCIDENT] }) {
  repo = await exampleRepo({ ...SHAPED_CHART, [SHAPED_HR]: shapedRelease({ shape }) });
  await repo.commit('change', { [SHAPED_HR]: shapedRelease({ shape, ...values }) });
  const report = await runCheck({ cwd: repo.dir, base: 'main', head: 'change', cacheDir });
  assertValidReport(report);
  return report;
}

function incidentFinding(report: Awaited<ReturnType<typeof checkShape>>) {
  return report.findings.find((f) => f.rule === 'container-flags/unknown-flag' && f.message.includes(INCIDENT));
}

describe('rendered output read as Kubernetes reads it (issue 12 class 7)', () => {
  it.each([
    ['list', 'Deployment'],
    ['deployment-list', 'Deployment'],
    ['replication-controller', 'ReplicationController'],
    ['rollout', 'Rollout'],
    ['cronjob', 'CronJob'],
    ['init', 'Deployment'],
    ['ephemeral', 'Deployment'],
  ])('blocks the incident flag in a %s', async (shape, kind) => {
    const report = await checkShape(shape);
    const finding = incidentFinding(report);
    expect(finding, JSON.stringify(report.findings.map((f) => `${f.rule}: ${f.message}`), null, 1)).toBeDefined();
    expect(finding).toMatchObject({ severity: 'error', introduced: true, location: { path: SHAPED_HR }, subject: { workload: `${kind}/shaped` } });
    expect(finding!.suggestion).toBe('--traefik-enable-legacy');
    expect(report.summary.verdict).toBe('fail');
  });

  it('blocks a duplicate args key: helm-controller refuses it, and the last args (what kubectl keeps) carry the incident flag', async () => {
    const report = await checkShape('duplicate-args');
    const duplicate = report.findings.find((f) => f.rule === 'render/duplicate-key');
    expect(duplicate).toMatchObject({ severity: 'error', introduced: true });
    expect(duplicate!.message).toContain('"args"');
    expect(duplicate!.message).toContain('shaped/templates/workload.yaml');
    expect(duplicate!.message).toMatch(/kustomize post-renderer/);
    expect(incidentFinding(report)).toMatchObject({ severity: 'error', location: { path: SHAPED_HR } });
    expect(report.summary.verdict).toBe('fail');
  });

  it('keeps the last of two args keys, as sigs.k8s.io/yaml does, and passes when that one is valid', async () => {
    // base without the second key; the change adds a second args with only valid flags: still refused by helm-controller
    const report = await checkShape('duplicate-args', { extraArgs: ['--txt-owner-id=prod'] });
    expect(report.findings.filter((f) => f.rule.startsWith('container-flags/') && f.severity === 'error')).toEqual([]);
    expect(report.findings.find((f) => f.rule === 'render/duplicate-key')?.severity).toBe('error');
  });

  it('names a kind that holds containers it does not inspect (Argo Workflow), never silently', async () => {
    const report = await checkShape('workflow', { extraArgs: ['--txt-owner-id=prod'] });
    const notice = report.findings.find((f) => f.rule === 'render/kinds-not-inspected');
    expect(notice).toMatchObject({ severity: 'notice' });
    expect(notice!.message).toContain('Workflow/shaped');
    expect(notice!.message).toContain('spec.templates[0].container');
  });

  it('reads a plain `sh -c "exec external-dns ..."` command and blocks the incident flag in it', async () => {
    const report = await checkShape('deployment', {
      command: ['/bin/sh', '-c'],
      args: [`exec external-dns --source=service --provider=cloudflare ${INCIDENT}`],
    });
    const finding = incidentFinding(report);
    expect(finding).toMatchObject({ severity: 'error', location: { path: SHAPED_HR } });
    expect(finding!.evidence?.join('\n')).toContain('argument 3 of external-dns');
    expect(report.summary.verdict).toBe('fail');
  });
});
