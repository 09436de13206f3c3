import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach } from 'vitest';
import type { TestRepo } from './git-repo.js';

/**
 * Temporary folders and one test repository per test, removed after each test of the file that
 * calls this (at its top level).
 */
export function useTempDirs(): { tempDir: (prefix?: string) => Promise<string>; keepRepo: <T extends TestRepo>(repo: T) => T } {
  const dirs: string[] = [];
  let repo: TestRepo | undefined;
  afterEach(async () => {
    await repo?.remove();
    repo = undefined;
    for (const dir of dirs.splice(0)) await fs.rm(dir, { recursive: true, force: true });
  });
  return {
    tempDir: async (prefix = 'guard-test-') => {
      const dir = await fs.mkdtemp(path.join(os.tmpdir(), prefix));
      dirs.push(dir);
      return dir;
    },
    keepRepo: (created) => (repo = created),
  };
}
