import { promises as fs } from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { parse, stringify } from 'yaml';
import { checkRevisions } from '../../src/engine.js';
import { BASE_VALUES, externalDnsRelease, exampleRepo } from '../support/scenario.js';
import { useTempDirs } from '../support/temp-dirs.js';

/**
 * A blob is read from git once per run, however many releases ask for it at the same moment:
 * 500 releases of one chart each reading its Chart.yaml started 1000 `git cat-file` processes
 * (4.6 s of a one-release pull request).
 */
const { tempDir, keepRepo } = useTempDirs();
const originalPath = process.env.PATH;
afterEach(() => {
  process.env.PATH = originalPath;
});

describe('reading a revision from git', () => {
  it('starts one git cat-file per batch of blobs nobody asked for yet, not one per caller', async () => {
    const releases: Record<string, string> = {};
    for (let i = 0; i < 60; i++) {
      const release = parse(externalDnsRelease({ ...BASE_VALUES, txtOwnerId: `owner-${i}` })) as { metadata: Record<string, string> };
      release.metadata = { name: `dns-${i}`, namespace: 'networking' };
      releases[`apps/dns-${i}.yaml`] = stringify(release);
    }
    const repo = keepRepo(await exampleRepo(releases));
    await repo.commit('one release', { 'apps/dns-7.yaml': releases['apps/dns-7.yaml']!.replace('owner-7', 'owner-seven') });

    const wrapper = await tempDir('guard-git-count-');
    const log = path.join(wrapper, 'calls');
    const realGit = (await import('node:child_process')).execFileSync('sh', ['-c', 'command -v git']).toString().trim();
    await fs.writeFile(path.join(wrapper, 'git'), `#!/bin/sh\necho "$1" >> ${log}\nexec ${realGit} "$@"\n`, { mode: 0o755 });
    process.env.PATH = `${wrapper}:${originalPath}`;

    const { report } = await checkRevisions({ cwd: repo.dir, base: 'main', head: 'change', noCache: true });
    expect(report.summary.releasesChecked).toBe(1);
    const calls = (await fs.readFile(log, 'utf8')).trim().split('\n');
    // Each revision's files in a few batches (discovery, the chart's own files, the policy); the 120 fingerprints add none
    // (each started its own for the chart's Chart.yaml and Chart.lock before).
    expect(calls.filter((c) => c === 'cat-file').length).toBeLessThanOrEqual(16);
  });
});
