import { execa } from 'execa';
import { createHash } from 'node:crypto';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { GuardError } from '../errors.js';
import { memoized } from '../tools/memo.js';
import { parseUnifiedDiff } from './unified-diff.js';

async function git(cwd: string, args: string[], input?: string): Promise<string> {
  const result = await execa('git', args, { cwd, input, reject: false, stripFinalNewline: false, maxBuffer: 512 * 1024 * 1024 });
  if (result.exitCode !== 0) {
    throw new GuardError(`git ${args.join(' ')} failed: ${String(result.stderr).trim()}`);
  }
  return String(result.stdout);
}

export async function repositoryRoot(cwd: string): Promise<string> {
  const result = await execa('git', ['rev-parse', '--show-toplevel'], { cwd, reject: false });
  if (result.exitCode !== 0) {
    throw new GuardError(`${cwd} is not inside a git repository`, undefined, 'run guard check from a clone of the GitOps repository');
  }
  return result.stdout.trim();
}

export async function resolveCommit(root: string, ref: string): Promise<string> {
  const result = await execa('git', ['rev-parse', '--verify', '--quiet', `${ref}^{commit}`], { cwd: root, reject: false });
  if (result.exitCode !== 0) {
    const fetched = await fetchMissing(root, ref);
    if (fetched) return fetched;
    throw new GuardError(
      `git revision "${ref}" not found in ${root}`,
      undefined,
      'fetch it first (in CI: actions/checkout with fetch-depth: 0, or git fetch origin <branch>), or pass --base/--head explicitly',
    );
  }
  return result.stdout.trim();
}

/**
 * A shallow CI checkout often lacks the base commit: fetch just that commit (or branch) from
 * origin, once, and use it.
 */
async function fetchMissing(root: string, ref: string): Promise<string | undefined> {
  const remotes = await execa('git', ['remote'], { cwd: root, reject: false });
  if (!remotes.stdout.split('\n').includes('origin') || ref.startsWith('-')) return undefined;
  const fetch = await execa('git', ['fetch', '--quiet', '--no-tags', '--depth=1', 'origin', ref], { cwd: root, reject: false, timeout: 120_000 });
  if (fetch.exitCode !== 0) return undefined;
  const again = await execa('git', ['rev-parse', '--verify', '--quiet', `${ref}^{commit}`], { cwd: root, reject: false });
  if (again.exitCode === 0) return again.stdout.trim();
  const fetchHead = await execa('git', ['rev-parse', '--verify', '--quiet', 'FETCH_HEAD^{commit}'], { cwd: root, reject: false });
  return fetchHead.exitCode === 0 ? fetchHead.stdout.trim() : undefined;
}

/** Merge-base of HEAD with the default branch: origin/HEAD, origin/main, origin/master, main, master. */
export async function defaultBase(root: string): Promise<{ sha: string; ref: string }> {
  for (const candidate of ['origin/HEAD', 'origin/main', 'origin/master', 'main', 'master']) {
    const exists = await execa('git', ['rev-parse', '--verify', '--quiet', `${candidate}^{commit}`], { cwd: root, reject: false });
    if (exists.exitCode !== 0) continue;
    const base = await execa('git', ['merge-base', 'HEAD', candidate], { cwd: root, reject: false });
    if (base.exitCode === 0) return { sha: base.stdout.trim(), ref: candidate };
  }
  throw new GuardError(
    'could not find the default branch to compare against (tried origin/HEAD, origin/main, origin/master, main, master)',
    undefined,
    'pass --base REF',
  );
}

/** A read-only view of the repository's files at one revision (a commit or the working tree). */
export interface Snapshot {
  /** Commit sha, or "WORKTREE". */
  readonly id: string;
  readonly label: string;
  listFiles(): Promise<string[]>;
  readFile(file: string): Promise<Buffer | undefined>;
  /** Reads many files at once; missing ones are absent from the result. */
  readFiles(files: string[]): Promise<Map<string, Buffer>>;
  /** A directory on disk holding `dir` of this revision (materialized for commits). */
  materialize(dir: string, into: string): Promise<string>;
  /** Content digest of every file under `dir`: equal digests mean identical trees. */
  treeDigest(dir: string): Promise<string>;
}

/** A repository-relative folder without ./ or a trailing slash; '' for the root. Keeps dot-folders such as .guard. */
export function normalizeDir(dir: string): string {
  const trimmed = dir.replace(/^(\.\/)+/, '').replace(/\/+$/, '');
  return trimmed === '.' ? '' : trimmed;
}

function underPrefix(files: string[], dir: string): string[] {
  const prefix = normalizeDir(dir);
  return files.filter((f) => prefix === '' || f === prefix || f.startsWith(prefix + '/')).sort();
}

export class CommitSnapshot implements Snapshot {
  private blobs?: Map<string, string>;
  /** Blob contents by object id: a blob is read from git at most once per run. */
  private readonly contents = new Map<string, Buffer>();

  constructor(
    private readonly root: string,
    readonly id: string,
    readonly label: string,
  ) {}

  private async tree(): Promise<Map<string, string>> {
    if (!this.blobs) {
      const out = await git(this.root, ['ls-tree', '-r', '-z', '--full-tree', this.id]);
      const blobs = new Map<string, string>();
      for (const entry of out.split('\0')) {
        if (!entry) continue;
        const tab = entry.indexOf('\t');
        const [, type, oid] = entry.slice(0, tab).split(' ');
        if (type === 'blob' && oid) blobs.set(entry.slice(tab + 1), oid);
      }
      this.blobs = blobs;
    }
    return this.blobs;
  }

  async listFiles(): Promise<string[]> {
    return [...(await this.tree()).keys()];
  }

  async readFile(file: string): Promise<Buffer | undefined> {
    return (await this.readFiles([file])).get(file);
  }

  async readFiles(files: string[]): Promise<Map<string, Buffer>> {
    const tree = await this.tree();
    const result = new Map<string, Buffer>();
    for (const file of files) {
      const known = this.contents.get(tree.get(file) ?? '');
      if (known) result.set(file, known);
    }
    const wanted = files.filter((f) => tree.has(f) && !result.has(f));
    if (wanted.length === 0) return result;
    const child = execa('git', ['cat-file', '--batch'], {
      cwd: this.root,
      input: wanted.map((f) => tree.get(f)).join('\n') + '\n',
      encoding: 'buffer',
      maxBuffer: 1024 * 1024 * 1024,
    });
    const out = Buffer.from((await child).stdout);
    let offset = 0;
    for (const file of wanted) {
      const headerEnd = out.indexOf(0x0a, offset);
      const header = out.subarray(offset, headerEnd).toString('utf8');
      const size = Number(header.split(' ')[2]);
      const start = headerEnd + 1;
      const blob = out.subarray(start, start + size);
      result.set(file, blob);
      this.contents.set(tree.get(file)!, blob);
      offset = start + size + 1;
    }
    return result;
  }

  private readonly materialized = new Map<string, Promise<string>>();

  /** Memoized: several releases rendering the same chart share one copy. */
  materialize(dir: string, into: string): Promise<string> {
    return memoized(this.materialized, `${into}\0${dir}`, () => this.writeTree(dir, into));
  }

  private readonly digests = new Map<string, Promise<string>>();

  treeDigest(dir: string): Promise<string> {
    return memoized(this.digests, dir, () => this.computeDigest(dir));
  }

  private async computeDigest(dir: string): Promise<string> {
    const tree = await this.tree();
    const hash = createHash('sha256');
    for (const file of underPrefix([...tree.keys()], dir)) hash.update(`${file}\0${tree.get(file)}\0`);
    return hash.digest('hex');
  }

  private async writeTree(dir: string, into: string): Promise<string> {
    const prefix = normalizeDir(dir);
    const files = (await this.listFiles()).filter((f) => prefix === '' || f === prefix || f.startsWith(prefix + '/'));
    const contents = await this.readFiles(files);
    for (const [file, data] of contents) {
      const target = path.join(into, file);
      await fs.mkdir(path.dirname(target), { recursive: true });
      await fs.writeFile(target, data);
    }
    return path.join(into, prefix);
  }
}

export class WorktreeSnapshot implements Snapshot {
  readonly id = 'WORKTREE';
  private files?: string[];

  constructor(
    private readonly root: string,
    readonly label = 'working tree',
  ) {}

  async listFiles(): Promise<string[]> {
    if (!this.files) {
      const out = await git(this.root, ['ls-files', '-z', '--cached', '--others', '--exclude-standard']);
      const listed = [...new Set(out.split('\0').filter(Boolean))];
      const present = await Promise.all(listed.map(async (f) => ((await isFile(path.join(this.root, f))) ? f : undefined)));
      this.files = present.filter((f): f is string => f !== undefined);
    }
    return this.files;
  }

  async readFile(file: string): Promise<Buffer | undefined> {
    try {
      return await fs.readFile(path.join(this.root, file));
    } catch {
      return undefined;
    }
  }

  async readFiles(files: string[]): Promise<Map<string, Buffer>> {
    const result = new Map<string, Buffer>();
    await Promise.all(
      files.map(async (f) => {
        const data = await this.readFile(f);
        if (data) result.set(f, data);
      }),
    );
    return result;
  }

  async materialize(dir: string): Promise<string> {
    return path.join(this.root, dir);
  }

  private readonly digests = new Map<string, Promise<string>>();

  treeDigest(dir: string): Promise<string> {
    return memoized(this.digests, dir, () => this.computeDigest(dir));
  }

  private async computeDigest(dir: string): Promise<string> {
    const files = underPrefix(await this.listFiles(), dir);
    const contents = await this.readFiles(files);
    const hash = createHash('sha256');
    for (const file of files) {
      const blob = contents.get(file) ?? Buffer.alloc(0);
      // Same object id git would compute, so commit and worktree digests agree.
      const oid = createHash('sha1').update(`blob ${blob.length}\0`).update(blob).digest('hex');
      hash.update(`${file}\0${oid}\0`);
    }
    return hash.digest('hex');
  }
}

async function isFile(p: string): Promise<boolean> {
  try {
    return (await fs.stat(p)).isFile();
  } catch {
    return false;
  }
}

/**
 * For each file changed between base and head (the working tree when head is undefined) that
 * still exists in head, the first changed line there, from `git diff -U0`.
 */
export async function firstChangedLines(root: string, base: string, head: string | undefined, pathspecs: string[] = []): Promise<Array<{ path: string; line: number }>> {
  const args = ['diff', '-U0', '--no-color', '--no-ext-diff', '--no-renames', base, ...(head ? [head] : []), '--', ...pathspecs];
  return [...parseUnifiedDiff(await git(root, args)).values()]
    .filter((file) => file.hunkStarts.length > 0)
    .map((file) => ({ path: file.path, line: Math.max(1, file.hunkStarts[0]!) }));
}

/** Values of a commit trailer in the commits base..head, with the commit that carries each. */
export async function trailersBetween(root: string, base: string, head: string, key: string): Promise<Array<{ commit: string; value: string }>> {
  const out = await git(root, ['log', `--format=%H%x00%(trailers:key=${key},valueonly,separator=%x01)%x00`, `${base}..${head}`]);
  const found: Array<{ commit: string; value: string }> = [];
  const fields = out.split('\0');
  for (let i = 0; i + 1 < fields.length; i += 2) {
    const commit = fields[i]!.trim();
    const values = fields[i + 1]!.split('\u0001').map((v) => v.trim()).filter(Boolean);
    for (const value of values) found.push({ commit, value });
  }
  return found;
}

/** URLs of the clone's remotes, origin first (credentials in them are never printed: callers keep host and path only). */
export async function remoteUrls(root: string): Promise<string[]> {
  const result = await execa('git', ['config', '--get-regexp', '^remote\\..*\\.url$'], { cwd: root, reject: false });
  if (result.exitCode !== 0) return [];
  const entries = result.stdout.split('\n').filter(Boolean).map((line) => {
    const space = line.indexOf(' ');
    return { remote: line.slice(0, space), url: line.slice(space + 1) };
  });
  return entries.sort((a, b) => Number(b.remote === 'remote.origin.url') - Number(a.remote === 'remote.origin.url')).map((e) => e.url);
}
