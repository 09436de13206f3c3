import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { promises as fs } from 'node:fs';
import { checkRevisions } from '../../src/engine.js';
import { renderText } from '../../src/report/text.js';
import type { TestRepo } from '../support/git-repo.js';
import { BASE_VALUES, exampleRepo, externalDnsRelease } from '../support/scenario.js';

const SECRET = 'hunter2-very-secret-token';
let repo: TestRepo | undefined;
afterEach(async () => {
  await repo?.remove();
  repo = undefined;
});

describe('secret hygiene', () => {
  it('never prints a value that came from a Secret, in any output format', async () => {
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
    repo = await exampleRepo();
    await repo.commit('change', {
      'infrastructure/external-dns/secret.yaml': secret,
      'infrastructure/external-dns/helmrelease.yaml': externalDnsRelease(BASE_VALUES, { valuesFrom: [{ kind: 'Secret', name: 'dns-credentials' }] }),
    });
    const { report, secrets } = await checkRevisions({ cwd: repo.dir, base: 'main', head: 'change', cacheDir: path.join(os.tmpdir(), 'guard-test-cache') });
    const finding = report.findings.find((f) => f.rule === 'container-flags/unknown-flag');
    expect(finding?.location).toMatchObject({ path: 'infrastructure/external-dns/secret.yaml', line: 9 });
    expect(JSON.stringify(report)).not.toContain(SECRET);
    expect(JSON.stringify(report)).toContain('REDACTED');
    const dir = repo.dir;
    const text = await renderText(report, (file) => fs.readFile(path.join(dir, file), 'utf8'), { color: false, secrets });
    expect(text).toContain('secret.yaml:9');
    expect(text).toMatch(/> +9 \|/);
    expect(text).not.toContain(SECRET);
  });
});
