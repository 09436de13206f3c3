import { promises as fs, readdirSync, readFileSync, existsSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parse } from 'yaml';
import { afterEach, describe, expect, it } from 'vitest';
import { runCheck } from '../../src/engine.js';
import { GuardError } from '../../src/errors.js';
import type { TestRepo } from '../support/git-repo.js';
import { fixtures } from '../support/paths.js';
import { assertValidReport } from '../support/report-schema.js';
import { BASE_VALUES, exampleRepo, externalDnsRelease } from '../support/scenario.js';

interface Expected {
  description: string;
  exit?: 2;
  error?: string;
  generate?: { path: string; kind: 'huge' | 'latin1' | 'nul' };
  findings?: Array<{ rule: string; path?: string; line?: number; severity?: string; message?: string }>;
  absent?: string[];
}

const corpus = path.join(fixtures, 'bad');
const cases = readdirSync(corpus).filter((name) => existsSync(path.join(corpus, name, 'expected.yaml'))).sort();
const cacheDir = path.join(os.tmpdir(), 'guard-test-cache');
const INCIDENT_HR = 'infrastructure/external-dns/helmrelease.yaml';
let repo: TestRepo | undefined;

afterEach(async () => {
  await repo?.remove();
  repo = undefined;
});

function generated(kind: 'huge' | 'latin1' | 'nul'): Buffer {
  if (kind === 'huge') return Buffer.from(`items:\n${'  - just a long list item to fill the file up\n'.repeat(130_000)}`);
  if (kind === 'latin1') return Buffer.from('apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: caf\xe9\n', 'latin1');
  return Buffer.from([0x61, 0x3a, 0x20, 0x00, 0x01, 0x02, 0xff, 0xfe, 0x0a]);
}

async function filesOf(dir: string): Promise<Record<string, string>> {
  const files: Record<string, string> = {};
  if (!existsSync(dir)) return files;
  for (const entry of await fs.readdir(dir, { recursive: true, withFileTypes: true })) {
    if (!entry.isFile()) continue;
    const full = path.join(entry.parentPath, entry.name);
    files[path.relative(dir, full)] = await fs.readFile(full, 'utf8');
  }
  return files;
}

describe('bad-input corpus (fixtures/bad)', () => {
  it('has at least 25 cases', () => {
    expect(cases.length).toBeGreaterThanOrEqual(25);
  });

  it.each(cases)('%s', async (name) => {
    const dir = path.join(corpus, name);
    const expected = parse(readFileSync(path.join(dir, 'expected.yaml'), 'utf8')) as Expected;
    repo = await exampleRepo(await filesOf(path.join(dir, 'base')));
    await repo.write(await filesOf(path.join(dir, 'change')));
    if (expected.generate) {
      await fs.mkdir(path.dirname(path.join(repo.dir, expected.generate.path)), { recursive: true });
      await fs.writeFile(path.join(repo.dir, expected.generate.path), generated(expected.generate.kind));
    }
    await repo.commit(name, { [INCIDENT_HR]: externalDnsRelease({ ...BASE_VALUES, extraArgs: ['--traefik-disable-legacy'] }) });

    if (expected.exit === 2) {
      const failure = await runCheck({ cwd: repo.dir, base: 'main', head: 'change', cacheDir }).then(() => undefined, (error: unknown) => error);
      expect(failure).toBeInstanceOf(GuardError);
      expect((failure as GuardError).describe()).toContain(expected.error);
      return;
    }
    const report = await runCheck({ cwd: repo.dir, base: 'main', head: 'change', cacheDir });
    assertValidReport(report);
    for (const want of expected.findings ?? []) {
      const match = report.findings.find(
        (f) =>
          f.rule === want.rule &&
          (want.path === undefined || f.location.path === want.path) &&
          (want.line === undefined || f.location.line === want.line) &&
          (want.severity === undefined || f.severity === want.severity) &&
          (want.message === undefined || f.message.includes(want.message) || (f.evidence ?? []).some((e) => e.includes(want.message!))),
      );
      expect(match, `${want.rule} at ${want.path}:${want.line} in ${JSON.stringify(report.findings.map((f) => [f.rule, f.location, f.message]), null, 1)}`).toBeDefined();
    }
    // The rest of the check still ran: the incident's flag in the same change is still found.
    expect(report.findings.some((f) => f.rule === 'container-flags/unknown-flag' && f.location.path === INCIDENT_HR)).toBe(true);
    expect(report.summary.verdict).toBe('fail');
    if (expected.findings?.length === 0) {
      expect(report.findings.filter((f) => f.location.path !== INCIDENT_HR && f.rule !== 'config/changed')).toEqual([]);
    }
    const serialized = JSON.stringify(report);
    for (const text of expected.absent ?? []) expect(serialized).not.toContain(text);
  });
});
