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
