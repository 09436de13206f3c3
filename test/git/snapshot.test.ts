import { promises as fs } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CommitSnapshot, WorktreeSnapshot, defaultBase } from '../../src/git/repo.js';
import { TestRepo } from '../support/git-repo.js';

let repo: TestRepo;
let first: string;

beforeAll(async () => {
  repo = await TestRepo.create();
  first = await repo.commit('one', { 'a.yaml': 'a: 1\n', 'dir/b.txt': 'b\n', 'dir/sub/c.bin': '\u0000\u0001' });
  await repo.branch('feature');
  await repo.commit('two', { 'a.yaml': 'a: 2\n', 'dir/b.txt': null });
  await repo.write({ 'dir/new.txt': 'untracked\n' });
});
afterAll(async () => repo.remove());

describe('snapshots of a revision', () => {
  it('reads the files of a commit, not of the working tree', async () => {
    const snapshot = new CommitSnapshot(repo.dir, first, 'first');
    expect((await snapshot.listFiles()).sort()).toEqual(['a.yaml', 'dir/b.txt', 'dir/sub/c.bin']);
    const files = await snapshot.readFiles(['a.yaml', 'dir/sub/c.bin', 'missing']);
    expect(files.get('a.yaml')?.toString()).toBe('a: 1\n');
    expect([...files.get('dir/sub/c.bin')!]).toEqual([0, 1]);
    expect(files.has('missing')).toBe(false);
  });

  it('reads the working tree including untracked files, without deleted ones', async () => {
    const worktree = new WorktreeSnapshot(repo.dir);
    expect((await worktree.listFiles()).sort()).toEqual(['a.yaml', 'dir/new.txt', 'dir/sub/c.bin']);
  });

  it('gives equal tree digests for equal content in a commit and the working tree', async () => {
    const head = new CommitSnapshot(repo.dir, await repo.git('rev-parse', 'HEAD'), 'head');
    const worktree = new WorktreeSnapshot(repo.dir);
    expect(await head.treeDigest('dir/sub')).toBe(await worktree.treeDigest('dir/sub'));
    expect(await head.treeDigest('dir')).not.toBe(await worktree.treeDigest('dir'));
  });

  it('materializes a folder of a commit on disk', async () => {
    const snapshot = new CommitSnapshot(repo.dir, first, 'first');
    const into = path.join(repo.dir, '..', `${path.basename(repo.dir)}-out`);
    const dir = await snapshot.materialize('dir', into);
    expect(await fs.readFile(path.join(dir, 'b.txt'), 'utf8')).toBe('b\n');
    await fs.rm(into, { recursive: true, force: true });
  });

  it('finds the merge-base with main as the default base', async () => {
    expect((await defaultBase(repo.dir)).sha).toBe(first);
  });
});

describe('shallow clones', () => {
  it('fetches a base commit that a depth-1 clone lacks, by sha or by branch name', async () => {
    const { resolveCommit } = await import('../../src/git/repo.js');
    const origin = await TestRepo.create();
    const old = await origin.commit('old', { 'a.yaml': 'a: 1\n' });
    await origin.commit('new', { 'a.yaml': 'a: 2\n' });
    await origin.git('branch', 'release', old);
    const clone = await TestRepo.create();
    await clone.git('fetch', '--quiet', '--depth=1', `file://${origin.dir}`, 'main');
    await clone.git('checkout', '--quiet', 'FETCH_HEAD');
    await clone.git('remote', 'add', 'origin', `file://${origin.dir}`);
    expect(await resolveCommit(clone.dir, old)).toBe(old);
    expect(await resolveCommit(clone.dir, 'release')).toBe(old);
    await expect(resolveCommit(clone.dir, 'no-such-ref')).rejects.toThrow(/not found/);
    await origin.remove();
    await clone.remove();
  });
});

describe('normalizeDir', () => {
  it('keeps dot-folders and strips ./ and trailing slashes', async () => {
    const { normalizeDir } = await import('../../src/git/repo.js');
    expect(['.guard/help', './charts/x/', '.', './', 'a'].map(normalizeDir)).toEqual(['.guard/help', 'charts/x', '', '', 'a']);
  });
});
