import { readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { stringify } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCheck, type Report } from '../../src/engine.js';
import type { TestRepo } from '../support/git-repo.js';
import { assertValidReport } from '../support/report-schema.js';
import { fixtures } from '../support/paths.js';
import { exampleRepo } from '../support/scenario.js';

/**
 * `guard check` end to end with an image of every framework: one generic chart, a HelmRelease per
 * binary whose help is stored in .guard/help, each change breaking the args the way that parser refuses.
 */
const TOOL_CHART = {
  'charts/tool/Chart.yaml': 'apiVersion: v2\nname: tool\nversion: 0.1.0\n',
  'charts/tool/values.yaml': 'image: ""\nargs: []\n',
  'charts/tool/templates/deployment.yaml': [
    'apiVersion: apps/v1',
    'kind: Deployment',
    'metadata:',
    '  name: {{ .Release.Name }}',
    'spec:',
    '  selector:',
    '    matchLabels: {app: {{ .Release.Name }}}',
    '  template:',
    '    metadata:',
    '      labels: {app: {{ .Release.Name }}}',
    '    spec:',
    '      containers:',
    '        - name: tool',
    '          image: {{ .Values.image }}',
    '          args: {{- toYaml .Values.args | nindent 12 }}',
    '',
  ].join('\n'),
};

const BINARIES = [
  { name: 'ripgrep', image: 'example.org/tools/ripgrep:13.0.0', help: 'ripgrep/13.0.0.txt', good: ['--color=never', '-A', '3', '-e', 'x'], bad: ['--colour=never', '-e', 'x'], rule: 'container-flags/unknown-flag', at: '--colour=never', suggestion: '--color' },
  { name: 'etcd', image: 'example.org/tools/etcd:3.4.23', help: 'etcd/3.4.23.txt', good: ['-listen-client-urls', 'http://0.0.0.0:2379', '--snapshot-count=1000'], bad: ['-listen-client-urls', 'http://0.0.0.0:2379', '--snapshot-count=many'], rule: 'container-flags/bad-value', at: '--snapshot-count=many' },
  { name: 'runc', image: 'example.org/tools/runc:1.1.5', help: 'runc/1.1.5.txt', good: ['--debug', 'list'], bad: ['--debug', 'lsit'], rule: 'container-flags/unexpected-argument', at: 'lsit' },
  { name: 'json-tool', image: 'example.org/tools/json-tool:3.11.2', help: 'python3-json-tool/3.11.2.txt', good: ['--indent', '2', '--sort-keys'], bad: ['--indent', '2', '--tab'], rule: 'container-flags/conflicting-flags', at: '--tab' },
  { name: 'helm-version', image: 'example.org/tools/helm-version:4.1.4', help: 'helm/4.1.4/version.txt', good: ['version', '--short'], bad: ['version', '--short=maybe'], rule: 'container-flags/bad-value', at: '--short=maybe' },
];

const helpPath = (image: string) => `.guard/help/${image.replace(':', '/')}.txt`;
const release = (name: string, image: string, args: string[]) =>
  stringify({
    apiVersion: 'helm.toolkit.fluxcd.io/v2',
    kind: 'HelmRelease',
    metadata: { name, namespace: 'tools' },
    spec: {
      interval: '30m',
      chart: { spec: { chart: './charts/tool', sourceRef: { kind: 'GitRepository', name: 'flux-system', namespace: 'flux-system' } } },
      upgrade: { remediation: { retries: 3 } },
      values: { image, args },
    },
  });

let repo: TestRepo;
let report: Report;
const releaseFiles = Object.fromEntries(BINARIES.map((b) => [b.name, `apps/${b.name}.yaml`]));

beforeAll(async () => {
  repo = await exampleRepo({
    ...TOOL_CHART,
    ...Object.fromEntries(BINARIES.map((b) => [helpPath(b.image), readFileSync(path.join(fixtures, 'help', b.help), 'utf8')])),
    ...Object.fromEntries(BINARIES.map((b) => [releaseFiles[b.name]!, release(b.name, b.image, b.good)])),
  });
  await repo.commit('change', Object.fromEntries(BINARIES.map((b) => [releaseFiles[b.name]!, release(b.name, b.image, b.bad)])));
  report = await runCheck({ cwd: repo.dir, base: 'main', head: 'change', cacheDir: path.join(os.tmpdir(), 'guard-test-cache') });
  assertValidReport(report);
}, 120_000);
afterAll(async () => repo?.remove());

describe('guard check with an image of each framework', () => {
  it.each(BINARIES)('blocks the $name change at the argument its parser refuses', async ({ name, rule, at, suggestion }) => {
    const findings = report.findings.filter((f) => f.subject.name === name);
    expect(findings.map((f) => [f.rule, f.message])).toEqual([[rule, expect.any(String)]]);
    const text = await repo.git('show', `change:${releaseFiles[name]}`);
    const line = text.split('\n').findIndex((l) => l.trim() === `- ${at}`) + 1;
    expect(findings[0]).toMatchObject({ severity: 'error', introduced: true, location: { path: releaseFiles[name], line } });
    if (suggestion) expect(findings[0]!.suggestion).toBe(suggestion);
  });

  it('passes the same releases at the base revision', async () => {
    const base = await runCheck({ cwd: repo.dir, base: 'main', head: 'main', all: true, cacheDir: path.join(os.tmpdir(), 'guard-test-cache') });
    expect(base.findings.filter((f) => BINARIES.some((b) => b.name === f.subject.name))).toEqual([]);
  });
});
