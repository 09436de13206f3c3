import { execa } from 'execa';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCheck, type Report } from '../../src/engine.js';
import type { Finding } from '../../src/findings.js';
import { publishFailure, publishReport, publisherFor } from '../../src/forge/publish.js';
import type { ForgeTarget } from '../../src/forge/publisher.js';
import { FakeForge, type ForgeKind } from '../support/fake-forge.js';
import { incidentFixture } from '../support/paths.js';

let work: string;
let incident: { report: Report; diff: string };
let benign: { report: Report; diff: string };

beforeAll(async () => {
  work = await fs.mkdtemp(path.join(os.tmpdir(), 'guard-forge-'));
  const repo = path.join(work, 'gitops');
  await execa('bash', [path.join(incidentFixture, 'build-repo.sh'), repo]);
  const cacheDir = path.join(work, 'cache');
  const diff = async (head: string) => (await execa('git', ['diff', 'main', head], { cwd: repo })).stdout;
  incident = { report: await runCheck({ cwd: repo, base: 'main', head: 'fix-traefik-flags', cacheDir }), diff: await diff('fix-traefik-flags') };
  benign = { report: await runCheck({ cwd: repo, base: 'main', head: 'tune-external-dns', cacheDir }), diff: await diff('fix-traefik-flags') };
});
afterAll(async () => fs.rm(work, { recursive: true, force: true }));

function targetFor(forge: FakeForge, pullNumber: number | undefined = 7): ForgeTarget {
  return { forge: forge.kind, apiUrl: forge.apiUrl, token: 't0ken', owner: 'platform', repo: 'gitops', sha: 'a'.repeat(40), pullNumber, runUrl: 'https://ci.example.net/run/1' };
}

const publish = (forge: FakeForge, report: Report, mode: 'review' | 'annotations' | 'summary' | 'off' = 'review') =>
  publishReport(report, targetFor(forge), mode, publisherFor(targetFor(forge), { retryBaseMs: 5, throttle: false }));

describe.each<ForgeKind>(['github', 'forgejo'])('publishing to %s, checked against its API description', (kind) => {
  let forge: FakeForge;
  beforeAll(async () => {
    forge = await FakeForge.start(kind);
  });
  afterAll(async () => forge.stop());

  it('posts the failing status, line comments on the diff and one summary comment, then edits the same summary on a re-run', async () => {
    forge.diff = incident.diff;
    const first = await publish(forge, incident.report);
    expect(first.notes).toEqual([]);
    expect(forge.statuses.at(-1)).toMatchObject({ state: 'failure', context: 'gitops-guard' });
    expect(forge.reviewComments.map((c) => `${c.path}:${c.line}`).sort()).toEqual(['infrastructure/external-dns/helmrelease.yaml:35', 'nixos/modules/common.nix:3']);
    expect(forge.issueComments).toHaveLength(1);
    expect(forge.issueComments[0]!.body).toContain('merge blocked');

    const second = await publish(forge, incident.report);
    expect(second.summary).toBe('updated');
    expect(second.lineComments).toBe(0);
    expect(forge.issueComments).toHaveLength(1);
    expect(forge.reviewComments).toHaveLength(2);
    expect(forge.violations()).toEqual([]);
  });

  it('removes the line comment of a fixed finding and turns the status green', async () => {
    forge.diff = benign.diff;
    const outcome = await publish(forge, benign.report);
    expect(outcome.removedComments).toBe(2);
    expect(forge.reviewComments).toEqual([]);
    expect(forge.statuses.at(-1)?.state).toBe('success');
    expect(forge.issueComments).toHaveLength(1);
    expect(forge.issueComments[0]!.body).toContain('no blocking findings');
    expect(forge.violations()).toEqual([]);
  });

  it('still reports after a 502 from the forge', async () => {
    forge.diff = incident.diff;
    forge.fail('POST', /\/statuses\//, 502, 1);
    const outcome = await publish(forge, incident.report);
    expect(outcome.statusPosted).toBe(true);
    expect(forge.statuses.at(-1)?.state).toBe('failure');
    expect(forge.requests.filter((r) => r.method === 'POST' && r.path.includes('/statuses/')).length).toBeGreaterThanOrEqual(2);
  });

  it('puts a finding outside the diff into the summary instead of a rejected line comment', async () => {
    forge.diff = incident.diff;
    const outside: Finding = { ...incident.report.findings[0]!, location: { path: 'infrastructure/external-dns/helmrelease.yaml', line: 3 }, message: 'a finding on an unchanged line' };
    const report = { ...incident.report, findings: [...incident.report.findings, outside] };
    const outcome = await publish(forge, report);
    expect(outcome.notes).toEqual([]);
    expect(outcome.outsideDiff).toContainEqual(outside);
    expect(forge.reviewComments.some((c) => c.line === 3 && c.path?.endsWith('helmrelease.yaml'))).toBe(false);
    expect(forge.issueComments[0]!.body).toContain('a finding on an unchanged line');
    expect(forge.violations()).toEqual([]);
  });

  it('keeps the verdict when the token is read-only (a fork), and says why', async () => {
    forge.fail('POST', /\/statuses\//, 403, 1);
    const outcome = await publish(forge, incident.report, 'summary');
    expect(outcome.statusPosted).toBe(false);
    expect(outcome.notes.join('\n')).toContain('read-only token');
    expect(outcome.gateError).toBeUndefined();
  });

  it('reports the merge gate as not set when the forge fails the commit status after its retries', async () => {
    // Its own forge: the failures left over after the retries must not reach the other tests.
    const down = await FakeForge.start(kind);
    down.fail('POST', /\/statuses\//, 503, 100);
    const outcome = await publish(down, incident.report, 'summary');
    expect(outcome.statusPosted).toBe(false);
    expect(down.statuses).toEqual([]);
    expect(outcome.gateError).toMatch(/503/);
    expect(outcome.gateError).not.toContain('\n');
    expect(down.violations()).toEqual([]);
    await down.stop();
  });

  it('reports the merge gate as not set when the forge does not answer at all', async () => {
    const closed = await FakeForge.start(kind);
    const target = targetFor(closed);
    await closed.stop();
    const outcome = await publishReport(incident.report, target, 'summary', publisherFor(target, { retryBaseMs: 5, throttle: false }));
    expect(outcome.statusPosted).toBe(false);
    expect(outcome.gateError).toBeTruthy();
    expect(outcome.gateError).not.toContain('\n');
  });

  it('posts an error status when the guard itself could not run', async () => {
    const note = await publishFailure('helm not found', publisherFor(targetFor(forge), { retryBaseMs: 5, throttle: false }));
    expect(note).toBeUndefined();
    expect(forge.statuses.at(-1)).toMatchObject({ state: 'error', description: expect.stringContaining('helm not found') });
  });
});

describe('GitHub annotations', () => {
  it('adds more than 50 annotations in pages of 50', async () => {
    const forge = await FakeForge.start('github');
    forge.diff = incident.diff;
    const base = incident.report.findings[0]!;
    const many = Array.from({ length: 120 }, (_, i) => ({ ...base, message: `finding ${i}`, location: { path: 'infrastructure/external-dns/helmrelease.yaml', line: 1 + (i % 30) } }));
    const outcome = await publish(forge, { ...incident.report, findings: many }, 'annotations');
    expect(outcome.annotated).toBe(true);
    expect(forge.checkRuns).toHaveLength(1);
    expect(forge.checkRuns[0]!.annotations).toBe(120);
    expect(forge.violations()).toEqual([]);
    await forge.stop();
  });
});
