import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { runCheck } from '../../src/engine.js';
import type { TestRepo } from '../support/git-repo.js';
import { assertValidReport } from '../support/report-schema.js';
import { BASE_VALUES, exampleRepo, externalDnsRelease } from '../support/scenario.js';
import { SHAPED_CHART, SHAPED_HR, shapedRelease } from './support/shaped-chart.js';

/**
 * Class 10 of issue 12: changes that the base's own truth (external-dns v0.19.0 --help) refutes,
 * which the guard once passed with exit 0. Each must block, at the line that carries it.
 */
const cacheDir = path.join(os.tmpdir(), `guard-test-cache-exit-zero-${process.pid}`);
const HR = 'infrastructure/external-dns/helmrelease.yaml';
let repo: TestRepo | undefined;

afterEach(async () => {
  await repo?.remove();
  repo = undefined;
});
afterAll(async () => {
  await fs.rm(cacheDir, { recursive: true, force: true });
});

async function check(files: Record<string, string>, base: Record<string, string> = {}) {
  repo = await exampleRepo(base);
  await repo.commit('change', files);
  const report = await runCheck({ cwd: repo.dir, base: 'main', head: 'change', cacheDir });
  assertValidReport(report);
  return report;
}

function lineOf(text: string, needle: string): number {
  const index = text.split('\n').findIndex((line) => line.includes(needle));
  if (index < 0) throw new Error(`${needle} not in text`);
  return index + 1;
}

const describeFindings = (report: Awaited<ReturnType<typeof check>>) => JSON.stringify(report.findings.map((f) => `${f.severity} ${f.rule}: ${f.message}`), null, 1);

describe('exit 0 while the base truth refutes the change (issue 12 class 10)', () => {
  it('blocks a kingpin env var whose duration value has no unit (EXTERNAL_DNS_MIN_EVENT_SYNC_INTERVAL=5)', async () => {
    const text = externalDnsRelease({ ...BASE_VALUES, env: [{ name: 'EXTERNAL_DNS_MIN_EVENT_SYNC_INTERVAL', value: '5' }] });
    const report = await check({ [HR]: text });
    const finding = report.findings.find((f) => f.rule === 'container-flags/bad-env-value');
    expect(finding, describeFindings(report)).toMatchObject({ severity: 'error', introduced: true, location: { path: HR, line: lineOf(text, 'EXTERNAL_DNS_MIN_EVENT_SYNC_INTERVAL') } });
    expect(finding!.message).toContain('--min-event-sync-interval');
    expect(finding!.evidence?.join('\n')).toContain('time: missing unit in duration "5"');
    expect(finding!.suggestion).toBe('5s');
    expect(report.summary.verdict).toBe('fail');
  });

  it('blocks a kingpin boolean env var that strconv.ParseBool refuses (EXTERNAL_DNS_EVENTS=enabled) and an enum env var outside its options', async () => {
    const text = externalDnsRelease({
      ...BASE_VALUES,
      env: [{ name: 'EXTERNAL_DNS_EVENTS', value: 'enabled' }, { name: 'EXTERNAL_DNS_AWS_ZONE_TYPE', value: 'publik' }],
    });
    const report = await check({ [HR]: text });
    const findings = report.findings.filter((f) => f.rule === 'container-flags/bad-env-value');
    expect(findings.map((f) => f.severity), describeFindings(report)).toEqual(['error', 'error']);
    expect(findings.find((f) => f.message.includes('EXTERNAL_DNS_EVENTS'))).toMatchObject({ suggestion: 'true', location: { line: lineOf(text, 'EXTERNAL_DNS_EVENTS') } });
    expect(findings.find((f) => f.message.includes('EXTERNAL_DNS_AWS_ZONE_TYPE'))).toMatchObject({ suggestion: 'public' });
    expect(report.summary.verdict).toBe('fail');
  });

  it('does not judge an env var whose flag is on the command line (kingpin ignores it then)', async () => {
    const text = externalDnsRelease({ ...BASE_VALUES, env: [{ name: 'EXTERNAL_DNS_POLICY', value: 'whatever' }, { name: 'EXTERNAL_DNS_TXT_CACHE_INTERVAL', value: '' }] });
    const report = await check({ [HR]: text });
    expect(report.findings.filter((f) => f.rule === 'container-flags/bad-env-value')).toEqual([]);
  });

  it('blocks a duration flag given a bare number (--min-event-sync-interval=5), with the unit to add', async () => {
    const text = externalDnsRelease({ ...BASE_VALUES, extraArgs: ['--min-event-sync-interval=5'] });
    const report = await check({ [HR]: text });
    const finding = report.findings.find((f) => f.rule === 'container-flags/bad-value');
    expect(finding, describeFindings(report)).toMatchObject({ severity: 'error', suggestion: '--min-event-sync-interval=5s', location: { path: HR, line: lineOf(text, '--min-event-sync-interval=5') } });
    expect(finding!.evidence?.join('\n')).toContain('flag parsing error: time: missing unit in duration "5"');
    expect(report.summary.verdict).toBe('fail');
  });

  it('blocks a chart value that renders a bad duration (interval: "5" -> --interval=5), at the values line', async () => {
    const text = externalDnsRelease({ ...BASE_VALUES, interval: '5' });
    const report = await check({ [HR]: text });
    const finding = report.findings.find((f) => f.rule === 'container-flags/bad-value');
    expect(finding, describeFindings(report)).toMatchObject({ severity: 'error', location: { path: HR, line: lineOf(text, 'interval: "5"') } });
  });

  it.each(['--version', '--help', '--help-long'])('blocks %s in the args: the binary prints and exits 0, the pod crash-loops', async (flag) => {
    const text = externalDnsRelease({ ...BASE_VALUES, extraArgs: [flag] });
    const report = await check({ [HR]: text });
    const finding = report.findings.find((f) => f.rule === 'container-flags/exits-at-start');
    expect(finding, describeFindings(report)).toMatchObject({ severity: 'error', introduced: true, location: { path: HR, line: lineOf(text, `- ${flag}`) } });
    expect(finding!.message).toContain('CrashLoopBackOff');
    expect(report.summary.verdict).toBe('fail');
  });

  it('blocks a bad flag inside `bash -c "external-dns ..."` (no exec), checked against the help', async () => {
    const report = await check(
      { [SHAPED_HR]: shapedRelease({ shape: 'deployment', command: ['bash', '-ec', "external-dns --source=service --provider='cloudflare' --min-event-sync-interval=5"] }) },
      { ...SHAPED_CHART, [SHAPED_HR]: shapedRelease({ shape: 'deployment' }) },
    );
    const finding = report.findings.find((f) => f.rule === 'container-flags/bad-value');
    expect(finding, describeFindings(report)).toMatchObject({ severity: 'error', location: { path: SHAPED_HR } });
    expect(report.summary.verdict).toBe('fail');
  });

  it('blocks --version given through `sh -c "exec external-dns --version"`', async () => {
    const report = await check(
      { [SHAPED_HR]: shapedRelease({ shape: 'deployment', command: ['/bin/sh', '-c', 'exec external-dns --version'] }) },
      { ...SHAPED_CHART, [SHAPED_HR]: shapedRelease({ shape: 'deployment' }) },
    );
    expect(report.findings.find((f) => f.rule === 'container-flags/exits-at-start')?.severity, describeFindings(report)).toBe('error');
    expect(report.summary.verdict).toBe('fail');
  });

  it('blocks the incident flag at the end of a multi-line `sh -c` script (set -e, comments, continuation lines)', async () => {
    const script = '# start external-dns\nset -e\ncd /\nexec external-dns \\\n  --source=service \\\n  --provider=cloudflare \\\n  --traefik-disable-legacy\n';
    const report = await check(
      { [SHAPED_HR]: shapedRelease({ shape: 'deployment', command: ['/bin/sh', '-c', script] }) },
      { ...SHAPED_CHART, [SHAPED_HR]: shapedRelease({ shape: 'deployment' }) },
    );
    const finding = report.findings.find((f) => f.rule === 'container-flags/unknown-flag');
    expect(finding, describeFindings(report)).toMatchObject({ severity: 'error', suggestion: '--traefik-enable-legacy', location: { path: SHAPED_HR } });
    expect(report.summary.verdict).toBe('fail');
  });

  it('says "not verified: shell script" for a script it cannot read word by word', async () => {
    const report = await check(
      { [SHAPED_HR]: shapedRelease({ shape: 'deployment', command: ['sh', '-c', 'sleep 5 && exec external-dns --source=$SOURCE --provider=cloudflare'] }) },
      { ...SHAPED_CHART, [SHAPED_HR]: shapedRelease({ shape: 'deployment' }) },
    );
    const notice = report.findings.find((f) => f.rule === 'container-flags/shell-script');
    expect(notice, describeFindings(report)).toMatchObject({ severity: 'notice' });
    expect(notice!.message).toContain('not verified: shell script');
  });

  it('warns, not blocks, when a CronJob container prints its version: the job completes instead of crash-looping', async () => {
    const report = await check(
      { [SHAPED_HR]: shapedRelease({ shape: 'cronjob', extraArgs: ['--version'] }) },
      { ...SHAPED_CHART, [SHAPED_HR]: shapedRelease({ shape: 'cronjob' }) },
    );
    const finding = report.findings.find((f) => f.rule === 'container-flags/exits-at-start');
    expect(finding, describeFindings(report)).toMatchObject({ severity: 'warning' });
    expect(finding!.message).toContain('completes without doing any work');
  });
});
