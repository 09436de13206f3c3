import { promises as fs } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { create as createArchive } from 'tar';
import { stringify } from 'yaml';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { runCheck } from '../../src/engine.js';
import { resolveSchemaReferences } from '../../src/helm/schema-refs.js';
import type { TestRepo } from '../support/git-repo.js';
import { exampleRepo } from '../support/scenario.js';

/**
 * The bjw-s app-template pattern: the chart's values.schema.json is only a `$ref` to the schema
 * of its library subchart at a URL. helm 4 fetches such refs over the network when it validates
 * (pkg/chart/common/util/jsonschema.go); the guard resolves them from the chart and never fetches.
 */
const cacheDir = path.join(os.tmpdir(), 'guard-test-cache');
const gitSource = { kind: 'GitRepository', name: 'flux-system', namespace: 'flux-system' };
let repo: TestRepo | undefined;
let listener: http.Server;
let origin: string;
const contacts: string[] = [];

beforeAll(async () => {
  listener = http.createServer((request, response) => {
    contacts.push(request.url ?? '');
    response.writeHead(200, { 'content-type': 'application/json' });
    response.end('{"type":"object"}');
  });
  await new Promise<void>((resolve) => listener.listen(0, '127.0.0.1', resolve));
  origin = `http://127.0.0.1:${(listener.address() as AddressInfo).port}`;
});
afterAll(async () => {
  await new Promise((resolve) => listener.close(resolve));
});
afterEach(async () => {
  await repo?.remove();
  repo = undefined;
  expect(contacts).toEqual([]);
});

const COMMON_SCHEMA = JSON.stringify({
  $schema: 'http://json-schema.org/draft-07/schema#',
  type: 'object',
  properties: {
    replicas: { type: 'integer' },
    args: { type: 'array', items: { type: 'string' } },
    controller: { $ref: 'definitions/controller.json' },
  },
});
const CONTROLLER_SCHEMA = JSON.stringify({ type: 'object', properties: { strategy: { enum: ['Recreate', 'RollingUpdate'] } } });

function appChart(refUrl: string, extra: Record<string, string> = {}): Record<string, string> {
  return {
    'charts/app/Chart.yaml': 'apiVersion: v2\nname: app\nversion: 3.7.3\n',
    'charts/app/values.yaml': 'replicas: 1\nargs: []\ncontroller:\n  strategy: Recreate\n',
    'charts/app/values.schema.json': JSON.stringify({ $schema: 'http://json-schema.org/draft-07/schema#', $ref: refUrl }),
    'charts/app/templates/deployment.yaml': [
      'apiVersion: apps/v1',
      'kind: Deployment',
      'metadata:',
      '  name: {{ .Release.Name }}',
      'spec:',
      '  replicas: {{ .Values.replicas }}',
      '  selector: {matchLabels: {app: app}}',
      '  template:',
      '    metadata: {labels: {app: app}}',
      '    spec:',
      '      containers:',
      '        - name: main',
      '          image: registry.k8s.io/external-dns/external-dns:v0.19.0',
      '          args: {{ toJson .Values.args }}',
      '',
    ].join('\n'),
    ...extra,
  };
}

const vendoredCommon = {
  'charts/app/charts/common/Chart.yaml': 'apiVersion: v2\nname: common\nversion: 3.7.3\ntype: library\n',
  'charts/app/charts/common/values.schema.json': COMMON_SCHEMA,
  'charts/app/charts/common/definitions/controller.json': CONTROLLER_SCHEMA,
};

function appRelease(values: Record<string, unknown>) {
  return stringify({
    apiVersion: 'helm.toolkit.fluxcd.io/v2',
    kind: 'HelmRelease',
    metadata: { name: 'app', namespace: 'apps' },
    spec: { interval: '30m', chart: { spec: { chart: './charts/app', sourceRef: gitSource } }, upgrade: { remediation: { retries: 3 } }, values },
  });
}

const ARGS = ['--source=service', '--provider=cloudflare'];

describe('a values.schema.json that $refs a URL', () => {
  it('resolves the URL to the vendored subchart schema (and its relative refs), validates with it, and renders', async () => {
    const url = `${origin}/bjw-s/helm-charts/common-3.7.3/charts/library/common/values.schema.json`;
    repo = await exampleRepo({ ...appChart(url, vendoredCommon), 'apps/app.yaml': appRelease({ args: ARGS }) });
    const text = appRelease({ replicas: 'two', args: ARGS, controller: { strategy: 'Sideways' } });
    await repo.commit('change', { 'apps/app.yaml': text });
    const report = await runCheck({ cwd: repo.dir, base: 'main', head: 'change', cacheDir });
    const violations = report.findings.filter((f) => f.rule === 'values-schema/violation' && f.subject.name === 'app');
    expect(violations.map((f) => f.message.replace(/ \(values.schema.*$/, ''))).toEqual(expect.arrayContaining([
      expect.stringContaining('replicas must be integer'),
      expect.stringContaining('controller.strategy must be one of "Recreate", "RollingUpdate"'),
    ]));
    expect(violations.find((f) => f.message.includes('replicas'))?.location).toMatchObject({ path: 'apps/app.yaml', line: text.split('\n').findIndex((l) => l.includes('replicas: two')) + 1 });
    expect(report.findings.some((f) => f.rule === 'values-schema/invalid-schema')).toBe(false);
    expect(report.summary.verdict).toBe('fail');
  });

  it('renders and checks the containers when the values are valid (helm is not asked to fetch the ref)', async () => {
    const url = `${origin}/bjw-s/helm-charts/common-3.7.3/charts/library/common/values.schema.json`;
    repo = await exampleRepo({ ...appChart(url, vendoredCommon), 'apps/app.yaml': appRelease({ args: ARGS }) });
    await repo.commit('change', { 'apps/app.yaml': appRelease({ args: [...ARGS, '--traefik-disable-legacy'] }) });
    const report = await runCheck({ cwd: repo.dir, base: 'main', head: 'change', cacheDir });
    expect(report.releases.find((r) => r.name === 'app')).toMatchObject({ status: 'rendered', containers: 1 });
    expect(report.findings.filter((f) => f.subject.name === 'app' && f.severity === 'error').map((f) => f.rule)).toEqual(['container-flags/unknown-flag']);
    expect(report.findings.some((f) => f.rule.startsWith('values-schema/'))).toBe(false);
  });

  it('warns about a ref it cannot resolve, still renders the release, and the incident flag still blocks', async () => {
    const url = `${origin}/someone/else/main/schemas/app.schema.json`;
    repo = await exampleRepo({ ...appChart(url), 'apps/app.yaml': appRelease({ args: ARGS }) });
    await repo.commit('change', { 'apps/app.yaml': appRelease({ replicas: 'two', args: [...ARGS, '--traefik-disable-legacy'] }) });
    const report = await runCheck({ cwd: repo.dir, base: 'main', head: 'change', cacheDir });
    const warning = report.findings.find((f) => f.rule === 'values-schema/invalid-schema');
    expect(warning?.severity).toBe('warning');
    expect(warning?.message).toContain(url);
    expect(warning?.message).toContain('the guard does not fetch');
    expect(warning?.introduced).toBe(false);
    expect(report.releases.find((r) => r.name === 'app')?.status).toBe('rendered');
    expect(report.findings.find((f) => f.rule === 'container-flags/unknown-flag')?.subject.name).toBe('app');
    expect(report.summary.verdict).toBe('fail');
  });

  it('renders a chart whose subchart schema $refs a URL (helm would fetch it for the subchart too)', async () => {
    const sub = {
      'charts/app/charts/common/Chart.yaml': 'apiVersion: v2\nname: common\nversion: 3.7.3\ntype: library\n',
      'charts/app/charts/common/values.yaml': 'enabled: true\n',
      'charts/app/charts/common/values.schema.json': JSON.stringify({ $ref: `${origin}/elsewhere/common.schema.json` }),
    };
    const files = { ...appChart('unused', sub), 'charts/app/values.schema.json': COMMON_SCHEMA.replace('"controller":{"$ref":"definitions/controller.json"}', '"controller":{"type":"object"}') };
    repo = await exampleRepo({ ...files, 'apps/app.yaml': appRelease({ args: ARGS }) });
    await repo.commit('change', { 'apps/app.yaml': appRelease({ args: [...ARGS, '--traefik-disable-legacy'] }) });
    const report = await runCheck({ cwd: repo.dir, base: 'main', head: 'change', cacheDir });
    expect(report.releases.find((r) => r.name === 'app')?.status).toBe('rendered');
    expect(report.findings.filter((f) => f.subject.name === 'app' && f.severity === 'error').map((f) => f.rule)).toEqual(['container-flags/unknown-flag']);
  });

  it('keeps the warning a warning when the policy does not say otherwise, and passes a release with nothing else wrong', async () => {
    repo = await exampleRepo({ ...appChart(`${origin}/nowhere/values.schema.json`), 'apps/app.yaml': appRelease({ args: ARGS }) });
    await repo.commit('change', { 'apps/app.yaml': appRelease({ args: [...ARGS, '--log-level=debug'] }) });
    const report = await runCheck({ cwd: repo.dir, base: 'main', head: 'change', cacheDir });
    expect(report.findings.filter((f) => f.subject.name === 'app').map((f) => `${f.rule}:${f.severity}`)).toEqual(['values-schema/invalid-schema:warning']);
    expect(report.summary.verdict).toBe('pass');
  });
});

describe('resolving schema references without the network', () => {
  let work: string;
  beforeAll(async () => {
    work = await fs.mkdtemp(path.join(os.tmpdir(), 'guard-schema-refs-'));
  });
  afterAll(async () => {
    await fs.rm(work, { recursive: true, force: true });
  });

  async function writeTree(root: string, files: Record<string, string>) {
    for (const [file, text] of Object.entries(files)) {
      await fs.mkdir(path.dirname(path.join(root, file)), { recursive: true });
      await fs.writeFile(path.join(root, file), text);
    }
  }

  it('finds the schema in a packaged subchart (charts/common-3.7.3.tgz)', async () => {
    const chart = path.join(work, 'packaged');
    await writeTree(path.join(work, 'src'), { 'common/Chart.yaml': 'name: common\nversion: 3.7.3\n', 'common/values.schema.json': COMMON_SCHEMA, 'common/definitions/controller.json': CONTROLLER_SCHEMA });
    await fs.mkdir(path.join(chart, 'charts'), { recursive: true });
    await createArchive({ gzip: true, file: path.join(chart, 'charts', 'common-3.7.3.tgz'), cwd: path.join(work, 'src') }, ['common']);
    const url = 'https://raw.githubusercontent.com/bjw-s/helm-charts/common-3.7.3/charts/library/common/values.schema.json';
    const resolved = await resolveSchemaReferences(chart, { $ref: url });
    expect(resolved.unresolved).toEqual([]);
    expect(resolved.remote).toBe(true);
    expect([...resolved.documents.keys()]).toEqual([url, url.replace('values.schema.json', 'definitions/controller.json')]);
    expect(resolved.documents.get(url)?.from).toBe('charts/common-3.7.3.tgz:common/values.schema.json');
  });

  it('finds it in the chart cache only for the chart name and version the URL names', async () => {
    const cache = path.join(work, 'cache');
    await writeTree(path.join(cache, 'charts', 'k1'), { 'Chart.yaml': 'name: common\nversion: 3.7.3\n', 'values.schema.json': COMMON_SCHEMA, 'definitions/controller.json': CONTROLLER_SCHEMA });
    const chart = path.join(work, 'bare');
    await fs.mkdir(chart, { recursive: true });
    const at = (version: string) => `https://example.com/charts/common-${version}/common/values.schema.json`;
    expect((await resolveSchemaReferences(chart, { $ref: at('3.7.3') }, cache)).unresolved).toEqual([]);
    expect((await resolveSchemaReferences(chart, { $ref: at('4.0.0') }, cache)).unresolved).toEqual([at('4.0.0')]);
  });

  it('never matches on the generic file name alone, nor follows a link out of the chart', async () => {
    const chart = path.join(work, 'generic');
    await writeTree(chart, { 'charts/other/values.schema.json': COMMON_SCHEMA });
    await fs.symlink('/etc', path.join(chart, 'etc'));
    const generic = await resolveSchemaReferences(chart, { properties: { a: { $ref: 'https://example.com/values.schema.json' }, b: { $ref: 'etc/passwd' } } });
    expect(generic.unresolved.sort()).toEqual(['file:///etc/passwd', 'https://example.com/values.schema.json']);
    expect(generic.documents.size).toBe(0);
  });
});
