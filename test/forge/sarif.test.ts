import { execa } from 'execa';
import { promises as fs, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCheck } from '../../src/engine.js';
import { renderSarif } from '../../src/report/sarif.js';
import { incidentFixture } from '../support/paths.js';

/** Microsoft's SARIF multitool (the reference validator), shipped natively on npm. */
const multitool = createRequire(import.meta.url)('@microsoft/sarif-multitool') as string;
let work: string;

beforeAll(async () => {
  work = await fs.mkdtemp(path.join(os.tmpdir(), 'guard-sarif-'));
});
afterAll(async () => fs.rm(work, { recursive: true, force: true }));

describe('SARIF output', () => {
  it('passes the reference SARIF 2.1.0 validator without a single error or warning', async () => {
    const repo = path.join(work, 'gitops');
    await execa('bash', [path.join(incidentFixture, 'build-repo.sh'), repo]);
    const report = await runCheck({ cwd: repo, base: 'main', head: 'fix-traefik-flags', cacheDir: path.join(work, 'cache') });
    const sarif = renderSarif(report);
    const input = path.join(work, 'guard.sarif');
    const output = path.join(work, 'validation.sarif');
    await fs.writeFile(input, JSON.stringify(sarif));
    const result = await execa(multitool, ['validate', input, '--output', output], { reject: false, timeout: 120_000 });
    expect(result.exitCode, result.stdout + result.stderr).toBe(0);
    const validation = JSON.parse(readFileSync(output, 'utf8')) as { runs: Array<{ results?: Array<{ ruleId: string; message: unknown }> }> };
    expect(validation.runs[0]!.results ?? []).toEqual([]);
    expect(sarif.runs[0]!.results!.map((r) => r.ruleId).sort()).toEqual(['container-flags/unknown-flag', 'deploy/multi-site', 'helmrelease/remediation']);
    expect(sarif.runs[0]!.results![0]!.locations![0]!.physicalLocation!.region!.startLine).toBeGreaterThan(0);
  });
});
