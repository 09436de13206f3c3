import { execa } from 'execa';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { incidentFixture, repoRoot } from '../support/paths.js';

const cli = path.join(repoRoot, 'build', 'cli.js');
let cacheDir: string | undefined;

afterEach(async () => {
  if (cacheDir) await fs.rm(cacheDir, { recursive: true, force: true });
  cacheDir = undefined;
});

describe('guard charts import', () => {
  it('stores the chart under the version given with --version (not the program version)', async () => {
    cacheDir = await fs.mkdtemp(path.join(os.tmpdir(), 'guard-import-'));
    const chart = path.join(incidentFixture, 'base', 'charts', 'external-dns');
    const result = await execa('node', [cli, 'charts', 'import', chart, '--repo', 'https://charts.example.net/', '--version', '9.9.9', '--cache-dir', cacheDir], { reject: false });
    expect(result.exitCode).toBe(0);
    expect(result.stdout).toContain('imported external-dns 9.9.9');
    const refs = path.join(cacheDir, 'charts', 'refs');
    const [key] = await fs.readdir(refs);
    expect(await fs.readdir(path.join(refs, key!, 'external-dns'))).toEqual(['9.9.9']);
  });
});
