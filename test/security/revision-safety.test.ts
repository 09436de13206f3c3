import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { fenceWarning } from '../../src/checks/revision-safety.js';
import { runCheck } from '../../src/engine.js';
import type { TestRepo } from '../support/git-repo.js';
import { exampleRepo } from '../support/scenario.js';

const cacheDir = path.join(os.tmpdir(), 'guard-test-cache');
let repo: TestRepo | undefined;

afterEach(async () => {
  await repo?.remove();
  repo = undefined;
});

describe('what the guard does not follow is said in the report', () => {
  it('a manifest committed as a symbolic link is a warning naming the link, and its target is never read', async () => {
    repo = await exampleRepo();
    await fs.mkdir(path.join(repo.dir, 'apps'), { recursive: true });
    await fs.symlink('../infrastructure/external-dns/helmrelease.yaml', path.join(repo.dir, 'apps', 'linked.yaml'));
    await fs.symlink('/etc', path.join(repo.dir, 'apps', 'host-etc'));
    await repo.git('add', '-A');
    await repo.git('commit', '-qm', 'links');
    const report = await runCheck({ cwd: repo.dir, base: 'main', head: 'change', cacheDir });
    const links = report.findings.filter((f) => f.rule === 'repo/symlink-not-followed');
    expect(links.map((f) => [f.location.path, f.severity, f.introduced])).toEqual([
      ['apps/linked.yaml', 'warning', true],
      ['apps/host-etc', 'notice', true],
    ]);
    expect(JSON.stringify(report)).not.toContain('root:x:0:0');
  });

  it('tools running without a network namespace make a warning that says how to get one', () => {
    const [warning] = fenceWarning({ kind: 'none', reason: 'unshare --net failed' });
    expect(warning?.rule).toBe('guard/network-fence-off');
    expect(warning?.severity).toBe('warning');
    expect(warning?.message).toContain('unshare --net failed');
    expect(warning?.suggestion).toContain('apparmor_restrict_unprivileged_userns');
    expect(fenceWarning({ kind: 'namespace', prefix: ['unshare', '--net', '--'] })).toEqual([]);
  });
});
