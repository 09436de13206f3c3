import { execa } from 'execa';
import pLimit from 'p-limit';
import { createHash } from 'node:crypto';
import { constants, promises as fs } from 'node:fs';
import path from 'node:path';
import { GuardError } from '../errors.js';
import { memoized } from '../tools/memo.js';
import { parseUnifiedDiff } from './unified-diff.js';

/** What git keeps of the guard's environment: where its config and ssh agent are, and its own GIT_ settings. */
const GIT_KEEPS = /^(PATH|HOME|USER|LOGNAME|LANG|LC_[A-Z]+|TMPDIR|TZ|XDG_CONFIG_HOME|SSH_AUTH_SOCK|GIT_[A-Z0-9_]+)$/;
const SECRET_NAME = /TOKEN|SECRET|PASSWORD|PASSPHRASE|_KEY$/;

/**
 * git's environment: no job token, no SOPS key, no forge variables. The clone's own config
 * (actions/checkout puts its credentials there) still lets `git fetch` reach origin.
 */
export function gitEnvironment(env: NodeJS.ProcessEnv = process.env): NodeJS.ProcessEnv {
  const kept: NodeJS.ProcessEnv = { GIT_TERMINAL_PROMPT: '0' };
  for (const [name, value] of Object.entries(env)) {
    if (value !== undefined && GIT_KEEPS.test(name) && !SECRET_NAME.test(name)) kept[name] = value;
  }
  return kept;
}

type GitOptions = Omit<NonNullable<Parameters<typeof execa>[1]>, 'env' | 'extendEnv'>;

/** Every git command of the guard starts here, with `gitEnvironment()` and nothing else. */
export function runGit(args: string[], options: GitOptions & { encoding: 'buffer' }): ReturnType<typeof execa<{ encoding: 'buffer' }>>;
export function runGit(args: string[], options: GitOptions): ReturnType<typeof execa<{}>>;
export function runGit(args: string[], options: GitOptions) {
  return execa('git', args, { ...options, env: gitEnvironment(), extendEnv: false } as never);
}

async function git(cwd: string, args: string[], input?: string): Promise<string> {
  const result = await runGit(args, { cwd, input, reject: false, stripFinalNewline: false, maxBuffer: 512 * 1024 * 1024 });
  if (result.exitCode !== 0) {
    throw new GuardError(`git ${args.join(' ')} failed: ${String(result.stderr).trim()}`);
  }
  return String(result.stdout);
}

export async function repositoryRoot(cwd: string): Promise<string> {
  const result = await runGit(['rev-parse', '--show-toplevel'], { cwd, reject: false });
  if (result.exitCode !== 0) {
    throw new GuardError(`${cwd} is not inside a git repository`, undefined, 'run guard check from a clone of the GitOps repository');
  }
  return result.stdout.trim();
}

export async function resolveCommit(root: string, ref: string): Promise<string> {
  const result = await runGit(['rev-parse', '--verify', '--quiet', `${ref}^{commit}`], { cwd: root, reject: false });
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
  const remotes = await runGit(['remote'], { cwd: root, reject: false });
  if (!remotes.stdout.split('\n').includes('origin') || ref.startsWith('-')) return undefined;
  const fetch = await runGit(['fetch', '--quiet', '--no-tags', '--depth=1', 'origin', ref], { cwd: root, reject: false, timeout: 120_000 });
  if (fetch.exitCode !== 0) return undefined;
  const again = await runGit(['rev-parse', '--verify', '--quiet', `${ref}^{commit}`], { cwd: root, reject: false });
  if (again.exitCode === 0) return again.stdout.trim();
  const fetchHead = await runGit(['rev-parse', '--verify', '--quiet', 'FETCH_HEAD^{commit}'], { cwd: root, reject: false });
  return fetchHead.exitCode === 0 ? fetchHead.stdout.trim() : undefined;
}

/** Merge-base of HEAD with the default branch: origin/HEAD, origin/main, origin/master, main, master. */
export async function defaultBase(root: string): Promise<{ sha: string; ref: string }> {
  for (const candidate of ['origin/HEAD', 'origin/main', 'origin/master', 'main', 'master']) {
    const exists = await runGit(['rev-parse', '--verify', '--quiet', `${candidate}^{commit}`], { cwd: root, reject: false });
    if (exists.exitCode !== 0) continue;
    const base = await runGit(['merge-base', 'HEAD', candidate], { cwd: root, reject: false });
    if (base.exitCode === 0) return { sha: base.stdout.trim(), ref: candidate };
  }
  throw new GuardError(
    'could not find the default branch to compare against (tried origin/HEAD, origin/main, origin/master, main, master)',
    undefined,
    'pass --base REF',
  );
}

/**
 * A read-only view of the repository's files at one revision (a commit or the working tree).
 * Symbolic links are never followed: they are not files of the view (listFiles, readFile,
 * readFiles and materialize leave them out) and `symlinks()` names them, so a report can say
 * they were not read. Nothing outside the revision is ever read through a view.
 */
export interface Snapshot {
  /** Commit sha, or "WORKTREE". */
  readonly id: string;
  readonly label: string;
  /** Regular files only. */
  listFiles(): Promise<string[]>;
  readFile(file: string): Promise<Buffer | undefined>;
  /** Reads many files at once; missing ones (and symbolic links) are absent from the result. */
  readFiles(files: string[]): Promise<Map<string, Buffer>>;
  /** Paths that are symbolic links in this revision (or lie under one): never followed, never read. */
  symlinks(): Promise<string[]>;
  /** A directory on disk holding `dir` of this revision: a copy of its regular files, never a link. */
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

/** A path that names something of the revision: relative, no empty, `.` or `..` part, nothing inside `.git` (the clone's config holds the checkout's token). */
function isContainedPath(file: string): boolean {
  return file !== '' && !file.startsWith('/') && file.split('/').every((part) => part !== '' && part !== '.' && part !== '..' && part.toLowerCase() !== '.git');
}

/** Writes regular files (and only those) below `into`; the caller gives contained paths. */
async function writeFiles(into: string, contents: Map<string, Buffer>): Promise<void> {
  for (const [file, data] of contents) {
    const target = path.join(into, file);
    await fs.mkdir(path.dirname(target), { recursive: true });
    // A fresh file in a fresh folder: even a link left behind by an earlier run is replaced, not followed.
    await fs.rm(target, { force: true });
    await fs.writeFile(target, data, { flag: 'wx' });
  }
}

const SYMLINK_MODE = '120000';

/** Files of the working tree open at once: a large tree read in one go would run out of file handles. */
const worktreeReads = pLimit(64);

export class CommitSnapshot implements Snapshot {
  private blobs?: Map<string, string>;
  private links?: string[];
  /** Blob contents by object id: a blob is read from git at most once per run. */
  private readonly contents = new Map<string, Promise<Buffer>>();

  constructor(
    private readonly root: string,
    readonly id: string,
    readonly label: string,
  ) {}

  private async tree(): Promise<Map<string, string>> {
    if (!this.blobs) {
      const out = await git(this.root, ['ls-tree', '-r', '-z', '--full-tree', this.id]);
      const blobs = new Map<string, string>();
      const links: string[] = [];
      for (const entry of out.split('\0')) {
        if (!entry) continue;
        const tab = entry.indexOf('\t');
        const [mode, type, oid] = entry.slice(0, tab).split(' ');
        const file = entry.slice(tab + 1);
        if (type !== 'blob' || !oid || !isContainedPath(file)) continue;
        // Mode 120000: the blob is the link's target text. It is a link, not a file with that text.
        if (mode === SYMLINK_MODE) links.push(file);
        else blobs.set(file, oid);
      }
      this.blobs = blobs;
      this.links = links.sort();
    }
    return this.blobs;
  }

  async listFiles(): Promise<string[]> {
    return [...(await this.tree()).keys()];
  }

  async symlinks(): Promise<string[]> {
    await this.tree();
    return [...this.links!];
  }

  async readFile(file: string): Promise<Buffer | undefined> {
    return (await this.readFiles([file])).get(file);
  }

  async readFiles(files: string[]): Promise<Map<string, Buffer>> {
    const tree = await this.tree();
    const wanted = [...new Set(files.filter((f) => tree.has(f)))];
    // Blobs nobody asked for yet, read by one `git cat-file --batch`; a blob already on its way is awaited, not read again.
    const missing = [...new Set(wanted.map((f) => tree.get(f)!).filter((oid) => !this.contents.has(oid)))];
    if (missing.length > 0) {
      const batch = this.catFile(missing);
      for (const oid of missing) this.contents.set(oid, batch.then((blobs) => blobs.get(oid)!));
      // A failed read is not kept: the next caller asks git again.
      batch.catch(() => missing.forEach((oid) => this.contents.delete(oid)));
    }
    const result = new Map<string, Buffer>();
    await Promise.all(wanted.map(async (file) => result.set(file, await this.contents.get(tree.get(file)!)!)));
    return result;
  }

  private async catFile(oids: string[]): Promise<Map<string, Buffer>> {
    const child = runGit(['cat-file', '--batch'], {
      cwd: this.root,
      input: oids.join('\n') + '\n',
      encoding: 'buffer',
      maxBuffer: 1024 * 1024 * 1024,
    });
    const out = Buffer.from((await child).stdout);
    const blobs = new Map<string, Buffer>();
    let offset = 0;
    for (const oid of oids) {
      const headerEnd = out.indexOf(0x0a, offset);
      const header = out.subarray(offset, headerEnd).toString('utf8');
      const size = Number(header.split(' ')[2]);
      const start = headerEnd + 1;
      blobs.set(oid, out.subarray(start, start + size));
      offset = start + size + 1;
    }
    return blobs;
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
    await writeFiles(into, await this.readFiles(files));
    return path.join(into, prefix);
  }
}

type EntryKind = 'file' | 'symlink' | 'absent';

export class WorktreeSnapshot implements Snapshot {
  readonly id = 'WORKTREE';
  private listing?: Promise<{ files: string[]; links: string[] }>;
  private realRoot?: Promise<string>;
  /** Whether a folder of the tree is reached without passing a symbolic link. */
  private readonly plainFolders = new Map<string, Promise<boolean>>();

  constructor(
    private readonly root: string,
    readonly label = 'working tree',
  ) {}

  private list(): Promise<{ files: string[]; links: string[] }> {
    this.listing ??= (async () => {
      const out = await git(this.root, ['ls-files', '-z', '--cached', '--others', '--exclude-standard']);
      const listed = [...new Set(out.split('\0').filter(isContainedPath))];
      const kinds = await Promise.all(listed.map((f) => this.kindOf(f)));
      return {
        files: listed.filter((_, i) => kinds[i] === 'file'),
        links: listed.filter((_, i) => kinds[i] === 'symlink').sort(),
      };
    })();
    return this.listing;
  }

  /** lstat, and every folder on the way checked too: a link anywhere on the path makes it a link. */
  private async kindOf(file: string): Promise<EntryKind> {
    if (!isContainedPath(file)) return 'absent';
    const parent = path.posix.dirname(file);
    if (parent !== '.' && !(await this.isPlainFolder(parent))) return 'symlink';
    try {
      const stat = await fs.lstat(path.join(this.root, file));
      return stat.isSymbolicLink() ? 'symlink' : stat.isFile() ? 'file' : 'absent';
    } catch {
      return 'absent';
    }
  }

  private isPlainFolder(folder: string): Promise<boolean> {
    return memoized(this.plainFolders, folder, async () => {
      this.realRoot ??= fs.realpath(this.root);
      const real = await fs.realpath(path.join(this.root, folder)).catch(() => undefined);
      return real === path.join(await this.realRoot, folder);
    });
  }

  async listFiles(): Promise<string[]> {
    return [...(await this.list()).files];
  }

  async symlinks(): Promise<string[]> {
    return [...(await this.list()).links];
  }

  /**
   * Every file is read once and the bytes kept: the digest that keys a cache entry and the
   * discovery that fills it see the same content, even if an editor saves the file meanwhile.
   */
  private readonly contents = new Map<string, Promise<Buffer | undefined>>();

  readFile(file: string): Promise<Buffer | undefined> {
    return memoized(this.contents, file, () => worktreeReads(() => this.readFromDisk(file)));
  }

  private async readFromDisk(file: string): Promise<Buffer | undefined> {
    if ((await this.kindOf(file)) !== 'file') return undefined;
    let handle: fs.FileHandle | undefined;
    try {
      // O_NOFOLLOW: should the file turn into a link after the check, the open fails instead of following it.
      handle = await fs.open(path.join(this.root, file), constants.O_RDONLY | constants.O_NOFOLLOW);
      return await handle.readFile();
    } catch {
      return undefined;
    } finally {
      await handle?.close();
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

  private readonly materialized = new Map<string, Promise<string>>();

  /** A copy of the folder's regular files, like a commit's: the working tree itself may hold links. */
  materialize(dir: string, into: string): Promise<string> {
    return memoized(this.materialized, `${into}\0${dir}`, async () => {
      const prefix = normalizeDir(dir);
      await writeFiles(into, await this.readFiles(underPrefix(await this.listFiles(), prefix)));
      return path.join(into, prefix);
    });
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
      const blob = contents.get(file);
      // Same object id git would compute, so commit and worktree digests agree; a file that could not be read is not an empty one.
      const oid = blob ? createHash('sha1').update(`blob ${blob.length}\0`).update(blob).digest('hex') : 'unreadable';
      hash.update(`${file}\0${oid}\0`);
    }
    return hash.digest('hex');
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
  const result = await runGit(['config', '--get-regexp', '^remote\\..*\\.url$'], { cwd: root, reject: false });
  if (result.exitCode !== 0) return [];
  const entries = result.stdout.split('\n').filter(Boolean).map((line) => {
    const space = line.indexOf(' ');
    return { remote: line.slice(0, space), url: line.slice(space + 1) };
  });
  return entries.sort((a, b) => Number(b.remote === 'remote.origin.url') - Number(a.remote === 'remote.origin.url')).map((e) => e.url);
}
