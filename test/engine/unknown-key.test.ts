import os from 'node:os';
import path from 'node:path';
import { stringify } from 'yaml';
import { afterEach, describe, expect, it } from 'vitest';
import { runCheck } from '../../src/engine.js';
import type { TestRepo } from '../support/git-repo.js';
import { assertValidReport } from '../support/report-schema.js';
import { exampleRepo } from '../support/scenario.js';

const cacheDir = path.join(os.tmpdir(), 'guard-test-cache');
let repo: TestRepo | undefined;
afterEach(async () => {
  await repo?.remove();
  repo = undefined;
});

const release = (name: string, chart: string, values: Record<string, unknown>) =>
  stringify({
    apiVersion: 'helm.toolkit.fluxcd.io/v2',
    kind: 'HelmRelease',
    metadata: { name, namespace: 'apps' },
    spec: { interval: '30m', chart: { spec: { chart, sourceRef: { kind: 'GitRepository', name: 'flux-system', namespace: 'flux-system' } } }, values },
  });

// Like stakater reloader: podMonitor.namespace is read by the template, only a comment in values.yaml.
const monitorChart = {
  'charts/monitor/Chart.yaml': 'apiVersion: v2\nname: monitor\nversion: 0.1.0\n',
  'charts/monitor/values.yaml': 'podMonitor:\n  enabled: false\n  # namespace: monitoring\nextraArgs: []\n',
  'charts/monitor/templates/_helpers.tpl': '{{- define "monitor.namespace" -}}{{ .Values.podMonitor.namespace | default .Release.Namespace }}{{- end -}}\n',
  'charts/monitor/templates/cm.yaml':
    'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: monitor\n  namespace: {{ include "monitor.namespace" . }}\ndata:\n  args: {{ join " " .Values.extraArgs | quote }}\n  enabled: {{ .Values.podMonitor.enabled | quote }}\n',
};

// Like bjw-s app-template: a library subchart ranges over controllers whose names the user chooses.
const appChart = {
  'charts/app/Chart.yaml': 'apiVersion: v2\nname: app\nversion: 0.1.0\ndependencies:\n  - name: common\n    version: 0.1.0\n',
  'charts/app/values.yaml': 'controllers:\n  main:\n    replicas: 1\n',
  'charts/app/templates/all.yaml': '{{ include "common.all" . }}\n',
  'charts/app/charts/common/Chart.yaml': 'apiVersion: v2\nname: common\ntype: library\nversion: 0.1.0\n',
  'charts/app/charts/common/templates/_all.tpl':
    '{{- define "common.all" -}}\n{{- range $name, $c := $.Values.controllers }}\n---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ $name }}\ndata:\n  replicas: {{ $c.replicas | quote }}\n{{- end }}\n{{- end -}}\n',
};

describe('values-schema/unknown-key on a rendered release', () => {
  it('knows a key the templates read that values.yaml lacks, and still warns about a real typo', async () => {
    repo = await exampleRepo({ ...monitorChart, 'apps/monitor.yaml': release('monitor', './charts/monitor', { podMonitor: { enabled: true } }) });
    await repo.commit('change', { 'apps/monitor.yaml': release('monitor', './charts/monitor', { podMonitor: { enabled: true, namespace: 'monitoring' }, extraArg: ['--verbose'] }) });
    const report = await runCheck({ cwd: repo.dir, base: 'main', head: 'change', cacheDir });
    assertValidReport(report);
    if (process.env.DEBUG_FINDINGS) console.log(JSON.stringify(report.findings, null, 1));
    expect(report.releases.find((r) => r.name === 'monitor')?.status).not.toBe('failed');
    const unknown = report.findings.filter((f) => f.rule === 'values-schema/unknown-key');
    expect(unknown.map((f) => f.message.replace(/^HelmRelease [^:]+: /, '').split(' ')[0])).toEqual(['extraArg']);
    expect(unknown[0]).toMatchObject({ severity: 'warning', suggestion: 'extraArgs', location: { path: 'apps/monitor.yaml' } });
  });

  it('does not warn about user-chosen keys of a library chart map (controllers.<name>)', async () => {
    repo = await exampleRepo({ ...appChart, 'apps/app.yaml': release('app', './charts/app', { controllers: { main: { replicas: 1 } } }) });
    await repo.commit('change', { 'apps/app.yaml': release('app', './charts/app', { controllers: { web: { replicas: 2 }, worker: { replicas: 1 } } }) });
    const report = await runCheck({ cwd: repo.dir, base: 'main', head: 'change', cacheDir });
    assertValidReport(report);
    if (process.env.DEBUG_FINDINGS) console.log(JSON.stringify(report.findings, null, 1));
    expect(report.releases.find((r) => r.name === 'app')?.status).not.toBe('failed');
    expect(report.findings.filter((f) => f.rule === 'values-schema/unknown-key')).toEqual([]);
  });
});
