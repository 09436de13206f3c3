import { execa } from 'execa';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { TestRepo } from '../support/git-repo.js';
import { externalDnsData, repoRoot } from '../support/paths.js';

/** `guard flags capture` runs the shell command .guard.yaml names: that file is never read through a symbolic link. */
const cli = path.join(repoRoot, 'build', 'cli.js');
let repo: TestRepo | undefined;
let outside: string | undefined;
afterEach(async () => {
  await repo?.remove();
  if (outside) await fs.rm(outside, { recursive: true, force: true });
  repo = undefined;
  outside = undefined;
});

const policy = (command: string) => `flags:\n  images:\n    - image: example.net/tool\n      capture: ${JSON.stringify(command)}\n`;

function capture(dir: string) {
  return execa('node', [cli, 'flags', 'capture', 'example.net/tool:1.0'], { cwd: dir, reject: false, env: { NO_COLOR: '1', GUARD_CACHE_DIR: path.join(dir, '.cache') } });
}

describe('guard flags capture and .guard.yaml', () => {
  it('a regular .guard.yaml: its capture command runs', async () => {
    repo = await TestRepo.create();
    await fs.writeFile(path.join(repo.dir, '.guard.yaml'), policy(`cat ${path.join(externalDnsData, 'help-v0.22.0.txt')}`));
    const result = await capture(repo.dir);
    expect(result.stderr).toBe('');
    expect(result.exitCode).toBe(0);
    expect(await fs.readFile(path.join(repo.dir, '.guard/help/example.net/tool/1.0.txt'), 'utf8')).toContain('--[no-]traefik-enable-legacy');
  });

  it('a .guard.yaml that is a symbolic link to a file outside: refused with exit 2, its command never runs', async () => {
    repo = await TestRepo.create();
    outside = await fs.mkdtemp(path.join(os.tmpdir(), 'guard-outside-'));
    const marker = path.join(outside, 'ran');
    await fs.writeFile(path.join(outside, 'policy.yaml'), policy(`touch ${marker}; cat ${path.join(externalDnsData, 'help-v0.22.0.txt')}`));
    await fs.symlink(path.join(outside, 'policy.yaml'), path.join(repo.dir, '.guard.yaml'));
    const result = await capture(repo.dir);
    expect(result.exitCode).toBe(2);
    expect(result.stderr).toContain('.guard.yaml is a symbolic link');
    expect(result.stderr).not.toMatch(/\n\s+at /);
    await expect(fs.access(marker)).rejects.toThrow();
    await expect(fs.access(path.join(repo.dir, '.guard/help/example.net/tool/1.0.txt'))).rejects.toThrow();
  });
});
