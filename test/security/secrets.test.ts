import { execa } from 'execa';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkRevisions } from '../../src/engine.js';
import { publishReport, publisherFor } from '../../src/forge/publish.js';
import { renderSarif } from '../../src/report/sarif.js';
import { FakeForge } from '../support/fake-forge.js';
import { renderText } from '../../src/report/text.js';
import type { TestRepo } from '../support/git-repo.js';
import { repoRoot } from '../support/paths.js';
import { assertValidReport } from '../support/report-schema.js';
import { stringify } from 'yaml';
import { BASE_VALUES, exampleRepo, externalDnsRelease } from '../support/scenario.js';

const SECRET = 'hunter2-very-secret-token';
const ENCODED_SECRET = 'c3VwZXItc2VjcmV0LWJhc2U2NC12YWx1ZQ==';
const cacheDir = path.join(os.tmpdir(), 'guard-test-cache');
const encoded = Buffer.from(`txtOwnerId: ${Buffer.from(ENCODED_SECRET, 'base64').toString('utf8')}\nextraArg: [x]\n`).toString('base64');
let repo: TestRepo;

beforeAll(async () => {
  const secret = [
    'apiVersion: v1',
    'kind: Secret',
    'metadata:',
    '  name: dns-credentials',
    '  namespace: networking',
    'stringData:',
    '  values.yaml: |',
    '    extraArgs:',
    `      - --cloudflare-api-token=${SECRET}`,
    '',
  ].join('\n');
  const dataSecret = `apiVersion: v1\nkind: Secret\nmetadata:\n  name: dns-owner\n  namespace: networking\ndata:\n  values.yaml: ${encoded}\n`;
  repo = await exampleRepo();
  await repo.commit('change', {
    'infrastructure/external-dns/secret.yaml': secret,
    'infrastructure/external-dns/owner.yaml': dataSecret,
    'infrastructure/external-dns/helmrelease.yaml': externalDnsRelease(BASE_VALUES, {
      valuesFrom: [{ kind: 'Secret', name: 'dns-owner' }, { kind: 'Secret', name: 'dns-credentials' }],
    }),
  });
});
afterAll(async () => repo.remove());

const plainOwner = Buffer.from(ENCODED_SECRET, 'base64').toString('utf8');
const forbidden = [SECRET, plainOwner, encoded];

describe('secret hygiene', () => {
  it('never puts a value from a Secret into the JSON report, the text report or SARIF', async () => {
    const { report, secrets } = await checkRevisions({ cwd: repo.dir, base: 'main', head: 'change', cacheDir });
    const finding = report.findings.find((f) => f.rule === 'container-flags/unknown-flag' && f.message.includes('cloudflare-api-token'));
    expect(finding?.location).toMatchObject({ path: 'infrastructure/external-dns/secret.yaml', line: 9 });
    const outputs = [
      JSON.stringify(report),
      JSON.stringify(renderSarif(report)),
      await renderText(report, (file) => fs.readFile(path.join(repo.dir, file), 'utf8'), { color: false, secrets }),
    ];
    for (const output of outputs) {
      expect(output).toContain('REDACTED');
      for (const value of forbidden) expect(output).not.toContain(value);
    }
    expect(outputs[2]).toMatch(/> +9 \|/);
    // The finding from the base64 Secret points at its data line, whose code frame is blanked too.
    expect(report.findings.some((f) => f.rule === "values-schema/unknown-key" && f.location.path.endsWith('owner.yaml'))).toBe(true);
  });

  it('never sends one to a forge, in statuses, line comments, summaries or annotations', async () => {
    const { report } = await checkRevisions({ cwd: repo.dir, base: 'main', head: 'change', cacheDir });
    const diff = (await execa('git', ['diff', 'main', 'change'], { cwd: repo.dir })).stdout;
    for (const kind of ['github', 'forgejo'] as const) {
      const forge = await FakeForge.start(kind);
      forge.diff = diff;
      const target = { forge: kind, apiUrl: forge.apiUrl, token: 't', owner: 'o', repo: 'r', sha: 'b'.repeat(40), pullNumber: 3 };
      await publishReport(report, target, 'review', publisherFor(target, { retryBaseMs: 5, throttle: false }));
      expect(forge.reviewComments.length).toBeGreaterThan(0);
      const sent = JSON.stringify(forge.requests);
      for (const value of forbidden) expect(sent).not.toContain(value);
      await forge.stop();
    }
  });

  it('never prints one from the CLI either, in any format', async () => {
    for (const format of ['text', 'json', 'sarif']) {
      const result = await execa('node', [path.join(repoRoot, 'build', 'cli.js'), 'check', '--base', 'main', '--head', 'change', '--format', format], {
        cwd: repo.dir,
        reject: false,
        env: { GUARD_CACHE_DIR: cacheDir, NO_COLOR: '1' },
      });
      expect(result.exitCode).toBe(1);
      for (const value of forbidden) {
        expect(result.stdout).not.toContain(value);
        expect(result.stderr).not.toContain(value);
      }
    }
  });
});

describe('guard render and guard diff', () => {
  it('show the manifests Flux would apply with every value from a Secret redacted', async () => {
    const cli = (...args: string[]) => execa('node', [path.join(repoRoot, 'build', 'cli.js'), ...args], { cwd: repo.dir, reject: false, env: { GUARD_CACHE_DIR: cacheDir } });
    const render = await cli('render', 'networking/external-dns', '--rev', 'change');
    expect(render.exitCode).toBe(0);
    expect(render.stdout).toContain('# HelmRelease networking/external-dns (infrastructure/external-dns/helmrelease.yaml)');
    expect(render.stdout).toContain('helm.toolkit.fluxcd.io/name: external-dns');
    expect(render.stdout).toContain('--cloudflare-api-token=***REDACTED***');
    const diff = await cli('diff', '--base', 'main', '--head', 'change');
    expect(diff.exitCode).toBe(0);
    expect(diff.stdout).toContain('+++ change/networking/external-dns');
    expect(diff.stdout).toMatch(/^\+ +- "?--cloudflare-api-token=\*\*\*REDACTED\*\*\*"?$/m);
    expect(diff.stderr).toContain('1 changed, 0 added, 0 removed, 0 unchanged');
    for (const output of [render.stdout, render.stderr, diff.stdout, diff.stderr]) {
      for (const value of forbidden) expect(output).not.toContain(value);
    }
    const missing = await cli('render', 'nope', '--rev', 'change');
    expect(missing.exitCode).toBe(2);
    expect(missing.stderr).toContain('no HelmRelease named nope');
    expect(missing.stderr).toContain('networking/external-dns');
    expect(missing.stderr).not.toMatch(/\n\s+at /);
  });
});

describe('the guard\'s own environment', () => {
  it('never leaks a token from its environment into a report', async () => {
    const { sensitiveEnvironment } = await import('../../src/engine.js');
    expect(sensitiveEnvironment({ GUARD_TOKEN: 'ghp_abcdefghijkl', HOME: '/root', DB_PASSWORD: 'short', NPM_API_KEY: '0123456789' })).toEqual(['ghp_abcdefghijkl', '0123456789']);
    // A value that the report would otherwise contain (here: a flag name in a finding).
    const token = '--cloudflare-api-token';
    process.env.GUARD_TEST_TOKEN = token;
    try {
      const { report } = await checkRevisions({ cwd: repo.dir, base: 'main', head: 'change', cacheDir });
      expect(JSON.stringify(report)).not.toContain(token);
      expect(report.findings.some((f) => f.message.includes('REDACTED'))).toBe(true);
    } finally {
      delete process.env.GUARD_TEST_TOKEN;
    }
  });
});

/**
 * Class 8 of issue 12 (redaction by exact substring) and item 14 of issue 13 (redaction that
 * corrupts the report): each leak below got through the old exact-substring redaction.
 */
describe('redaction at the source', () => {
  const COMMENTED = 'Cm7Secret-42x';
  const FLOW = 'Fl0wSecret-42x';
  const ECHOED = 'Ech0Secret-42x';
  const BROKEN = 'Br0kenSecret-42x';
  const URL_PASSWORD = 'Url5ecret-42x';
  const JOB_TOKEN = 'ghs_J0bT0kenOfTheRunner42xyz';
  const JOB_TOKEN_BASIC = Buffer.from(`x-access-token:${JOB_TOKEN}`).toString('base64');
  const JOB_TOKEN_ECHOED = Buffer.from(`${JOB_TOKEN}\n`).toString('base64');
  // Plain words: too common for a search of the whole report, masked where a check prints them as values.
  const WORD_FROM_VALUES = 'kumquat';
  const WORD_SUBSTITUTED = 'parsnip';
  const leaked = [COMMENTED, FLOW, ECHOED, BROKEN, URL_PASSWORD, JOB_TOKEN, JOB_TOKEN_BASIC, JOB_TOKEN_ECHOED, Buffer.from(`${ECHOED}\n`).toString('base64').slice(0, 16), WORD_FROM_VALUES, WORD_SUBSTITUTED];
  let leaky: TestRepo;

  const kustomization = (name: string, spec: Record<string, unknown>) => stringify({
    apiVersion: 'kustomize.toolkit.fluxcd.io/v1',
    kind: 'Kustomization',
    metadata: { name, namespace: 'flux-system' },
    spec: { interval: '10m', prune: true, sourceRef: { kind: 'GitRepository', name: 'flux-system' }, ...spec },
  });
  const valuesSecret = (name: string, values: string) =>
    `apiVersion: v1\nkind: Secret\nmetadata:\n  name: ${name}\n  namespace: networking\nstringData:\n  values.yaml: |\n${values.replace(/^/gm, '    ')}\n`;
  const release = (name: string, extra: Record<string, unknown>, values: Record<string, unknown> = BASE_VALUES) =>
    externalDnsRelease(values, extra).replace('name: external-dns\n', `name: ${name}\n`);

  beforeAll(async () => {
    leaky = await exampleRepo({ 'infrastructure/external-dns/helmrelease.yaml': null });
    await leaky.commit('change', {
      'clusters/prod/apps.yaml': kustomization('apps', { path: './apps', postBuild: { substituteFrom: [{ kind: 'Secret', name: 'cluster-secrets' }] } }),
      // `echo Ech0Secret-42x | base64`: the value ends in a newline that Flux drops when substituting.
      'clusters/prod/cluster-secrets.yaml': `apiVersion: v1\nkind: Secret\nmetadata:\n  name: cluster-secrets\n  namespace: flux-system\ndata:\n  ECHO_TOKEN: ${Buffer.from(`${ECHOED}\n`).toString('base64')}\n  ZONE: ${Buffer.from(WORD_SUBSTITUTED).toString('base64')}\n`,
      'apps/kustomization.yaml': 'resources:\n  - commented.yaml\n  - flow.yaml\n  - url.yaml\n  - token.yaml\n',
      'apps/commented.yaml': [
        release('commented', { valuesFrom: [{ kind: 'Secret', name: 'commented-values' }] }),
        valuesSecret('commented-values', `extraArgs:\n  - --cloudflare-api-tokn=${COMMENTED} # rotated monthly\n  - --substituted-flg=\${ECHO_TOKEN}\n  - --txt-owner-idd=${WORD_FROM_VALUES}\n  - --google-zone-visibility=\${ZONE}`),
      ].join('---\n'),
      'apps/flow.yaml': [
        release('flow', { valuesFrom: [{ kind: 'Secret', name: 'flow-values' }] }),
        valuesSecret('flow-values', `extraArgs: [--flow-flg=${FLOW}, --other-flg]`),
      ].join('---\n'),
      'apps/url.yaml': [
        stringify({ apiVersion: 'source.toolkit.fluxcd.io/v1', kind: 'HelmRepository', metadata: { name: 'private', namespace: 'networking' }, spec: { url: `https://bob:${URL_PASSWORD}@charts.invalid/stable` } }),
        stringify({ apiVersion: 'helm.toolkit.fluxcd.io/v2', kind: 'HelmRelease', metadata: { name: 'from-private', namespace: 'networking' }, spec: { chart: { spec: { chart: 'app', version: '1.0.0', sourceRef: { kind: 'HelmRepository', name: 'private' } } } } }),
      ].join('---\n'),
      // What a tool may print once it has read the runner's git config: the job token, base64-encoded.
      'apps/token.yaml': release('token', {}, { ...BASE_VALUES, extraArgs: [`--auth-header=AUTHORIZATION: basic ${JOB_TOKEN_BASIC}`, `--echoed-token=${JOB_TOKEN_ECHOED}`] }),
      // Not applied by any Kustomization and not valid YAML: reported with a code frame of its lines.
      'apps/broken-secret.yaml': `apiVersion: v1\nkind: Secret\nmetadata:\n  name: broken\nstringData:\n  password: ${BROKEN}\n   token: [${BROKEN}\n`,
    });
  });
  afterAll(async () => leaky.remove());

  it('leaks none of them: Secret values with comments, in flow lists, echoed with a newline, a broken Secret, URL credentials, encoded job tokens', async () => {
    process.env.GUARD_TEST_TOKEN = JOB_TOKEN;
    try {
      const { report, secrets } = await checkRevisions({ cwd: leaky.dir, base: 'main', head: 'change', cacheDir, all: true });
      if (process.env.DEBUG_FINDINGS) console.log(JSON.stringify(report.findings, null, 1));
      assertValidReport(report);
      const text = await renderText(report, (file) => fs.readFile(path.join(leaky.dir, file), 'utf8'), { color: false, secrets });
      for (const output of [JSON.stringify(report), JSON.stringify(renderSarif(report)), text]) {
        for (const value of leaked) expect(output, value).not.toContain(value);
      }
      // Each case did reach the report, masked: the guard still points at the line to edit.
      const rules = report.findings.map((f) => `${f.rule} ${f.location.path}`);
      expect(rules).toContain('container-flags/unknown-flag apps/commented.yaml');
      expect(rules).toContain('container-flags/unknown-flag apps/flow.yaml');
      expect(rules).toContain('container-flags/unknown-flag apps/token.yaml');
      expect(rules).toContain('render/source-not-allowed apps/url.yaml');
      expect(rules).toContain('yaml/invalid apps/broken-secret.yaml');
      const messages = JSON.stringify(report.findings.map((f) => [f.message, f.evidence]));
      expect(messages).toContain('--cloudflare-api-tokn');
      expect(messages).toContain('--flow-flg');
      expect(messages).toContain('https://***@charts.invalid/stable');
      expect(messages).toContain('--txt-owner-idd=***REDACTED***');
      expect(report.findings.find((f) => f.rule === 'container-flags/bad-enum')?.message).toContain('--google-zone-visibility=***REDACTED***');
      expect(text).toMatch(/password: \*\*\*REDACTED\*\*\*/);
    } finally {
      delete process.env.GUARD_TEST_TOKEN;
    }
  });
});

describe('redaction never corrupts the report (issue 13, item 14)', () => {
  it('a values Secret holding helm, latest, warning, error, networking leaves rule ids, severities, paths and namespaces intact', async () => {
    const words = await exampleRepo();
    try {
      const secret = 'apiVersion: v1\nkind: Secret\nmetadata:\n  name: words\n  namespace: networking\nstringData:\n  values.yaml: |\n    txtOwnerId: helm\n    txtPrefix: latest\n    logLevel: error\n    domainFilters: [networking]\n    mode: warning\n';
      await words.commit('change', {
        'infrastructure/external-dns/words.yaml': secret,
        'infrastructure/external-dns/helmrelease.yaml': externalDnsRelease({ ...BASE_VALUES, extraArgs: ['--traefik-disable-legacy'] }, { valuesFrom: [{ kind: 'Secret', name: 'words' }] }),
      });
      const { report, secrets } = await checkRevisions({ cwd: words.dir, base: 'main', head: 'change', cacheDir });
      if (process.env.DEBUG_FINDINGS) console.log(JSON.stringify(report.findings, null, 1));
      assertValidReport(report);
      expect(JSON.stringify(report)).not.toContain('REDACTED');
      expect(report.findings).toContainEqual(expect.objectContaining({
        rule: 'container-flags/unknown-flag',
        severity: 'error',
        location: expect.objectContaining({ path: 'infrastructure/external-dns/helmrelease.yaml' }),
        subject: expect.objectContaining({ kind: 'HelmRelease', namespace: 'networking', name: 'external-dns' }),
      }));
      expect(report.findings).toContainEqual(expect.objectContaining({ rule: 'values-schema/unknown-key', severity: 'warning', location: expect.objectContaining({ path: 'infrastructure/external-dns/words.yaml' }) }));
      expect(report.findings.filter((f) => f.subject.kind === 'HelmRelease').map((f) => `${f.subject.namespace}/${f.subject.name}`)).toEqual(['networking/external-dns', 'networking/external-dns']);
      expect(report.findings.find((f) => f.rule === 'values-schema/unknown-key')?.message).toMatch(/^HelmRelease networking\/external-dns: mode is not a value/);
      // The code frame of the Secret still masks its values.
      const text = await renderText(report, (file) => fs.readFile(path.join(words.dir, file), 'utf8'), { color: false, secrets });
      expect(text).toContain('mode: ***REDACTED***');
      expect(text).toContain('error container-flags/unknown-flag');
    } finally {
      await words.remove();
    }
  });
});

describe('a command line quoted whole', () => {
  it('quotes the arguments that came from a Secret masked when the image cannot be verified', async () => {
    const unverified = await exampleRepo();
    try {
      const secret = 'apiVersion: v1\nkind: Secret\nmetadata:\n  name: owner\n  namespace: networking\nstringData:\n  values.yaml: |\n    image:\n      tag: v9.9.9\n    extraArgs:\n      - --txt-owner-id=lychee\n';
      await unverified.commit('change', {
        'infrastructure/external-dns/owner.yaml': secret,
        'infrastructure/external-dns/helmrelease.yaml': externalDnsRelease(BASE_VALUES, { valuesFrom: [{ kind: 'Secret', name: 'owner' }] }),
      });
      // Offline: the new tag's help cannot be taken from its registry, so its flags cannot be verified.
      const { report } = await checkRevisions({ cwd: unverified.dir, base: 'main', head: 'change', cacheDir, offline: true });
      assertValidReport(report);
      const finding = report.findings.find((f) => f.rule === 'container-flags/capture-unreachable');
      expect(finding?.evidence?.join('\n')).toContain('--txt-owner-id=***REDACTED***');
      expect(finding?.evidence?.join('\n')).toContain('--provider=cloudflare');
      expect(JSON.stringify(report)).not.toContain('lychee');
    } finally {
      await unverified.remove();
    }
  });
});
