import path from 'node:path';

/**
 * What one evaluation read of the repository's own flake source, from an strace log of the nix
 * process (nix 2.8 cannot report it itself). Paths are repository paths (relative to the source root).
 * - `paths`: files opened or probed, and paths that did not exist: a change at, under or above one matters;
 * - `dirs`: folders seen to exist (a component of a path nix resolved): only their disappearing matters;
 * - `listed`: folders whose entries were read (builtins.readDir, copying a folder): any change directly in one matters.
 */
export interface ReadSet {
  paths: string[];
  dirs: string[];
  listed: string[];
}

export type TraceResult = { ok: true; reads: ReadSet } | { ok: false; reason: string };

const STORE_SOURCE = /^\/nix\/store\/[a-z0-9]{32}-source$/;
/** Calls that change the file system: the source being written while traced means the copy and the reads cannot be told apart. */
const WRITES = /^(mkdir|mkdirat|rename|renameat2?|unlink|unlinkat|rmdir|chmod|fchmodat|utimensat|link|linkat|symlink|symlinkat|truncate|creat|lchown|chown|fchownat|setxattr|lsetxattr|removexattr|lremovexattr)$/;

/**
 * Read an strace log (`strace -f -e trace=%file,dup,dup2,dup3,fcntl`) of one nix process. `source`
 * is the store copy of the repository (flake metadata's `path`). Paths relative to a descriptor are
 * resolved through the descriptors the log shows opened; one relative to an unknown descriptor or to
 * the working directory, a write under the source, or another program started makes the log
 * unusable: never guessed.
 */
export function parseTrace(text: string, source: string): TraceResult {
  if (!STORE_SOURCE.test(source)) return { ok: false, reason: `the flake's source is not a store path (${source})` };
  const paths = new Set<string>();
  const dirs = new Set<string>();
  const listed = new Set<string>();
  const descriptors = new Map<number, string>();
  const pending = new Map<string, string>();
  let program: string | undefined;
  for (const raw of text.split('\n')) {
    const head = /^(?:\[pid\s+)?(\d+)\]?\s+(.*)$/.exec(raw);
    if (!head) continue;
    const [, pid, body] = head as unknown as [string, string, string];
    // A call interrupted by another thread's is logged in two parts: put them together.
    const unfinished = /^(.*) <unfinished \.\.\.>$/.exec(body);
    if (unfinished) {
      pending.set(pid, unfinished[1]!);
      continue;
    }
    const resumed = /^<\.\.\. ([a-z0-9_]+) resumed>(.*)$/.exec(body);
    const line = resumed ? `${pending.get(pid) ?? `${resumed[1]}(?`}${resumed[2]}` : body;
    if (resumed) pending.delete(pid);
    const call = /^([a-z0-9_]+)\((.*)\)\s+= (-?\d+)(?: ([A-Z]+))?/.exec(line);
    if (!call) {
      if (/^[a-z0-9_]+\(/.test(line)) return { ok: false, reason: `a call in the log could not be read (${line.slice(0, 120)})` };
      continue;
    }
    const [, syscall, args, resultText] = call as unknown as [string, string, string, string];
    const result = Number(resultText);
    if (syscall === 'execve' || syscall === 'execveat') {
      if (result !== 0) continue;
      // One process replacing its program (a wrapper exec-ing nix) is one process; a second one is not followed.
      program ??= pid;
      if (pid !== program) return { ok: false, reason: 'nix started another program while it was traced' };
      descriptors.clear();
      continue;
    }
    if (syscall === 'chdir' || syscall === 'fchdir' || syscall === 'chroot') return { ok: false, reason: `nix changed its working directory (${syscall})` };
    if (syscall === 'dup' || syscall === 'dup2' || syscall === 'dup3' || syscall === 'fcntl') {
      const from = /^(\d+)/.exec(args);
      if (syscall === 'fcntl' && !/F_DUPFD/.test(args)) continue;
      if (from && result >= 0) {
        const known = descriptors.get(Number(from[1]));
        if (known === undefined) descriptors.delete(result);
        else descriptors.set(result, known);
      }
      continue;
    }
    const named = /^\s*(?:(AT_FDCWD|-?\d+), )?"((?:[^"\\]|\\.)*)"/.exec(args);
    if (!named) continue;
    const target = unescape(named[2]!);
    // An empty path is a call on the descriptor itself (fstat).
    if (target === '') continue;
    let absolute = target;
    if (!target.startsWith('/')) {
      const base = named[1] && named[1] !== 'AT_FDCWD' ? descriptors.get(Number(named[1])) : undefined;
      if (base === undefined) return { ok: false, reason: `nix used a path relative to a folder the log does not name (${syscall} "${target}")` };
      absolute = path.posix.join(base, target);
    }
    const normalized = path.posix.normalize(absolute).replace(/\/+$/, '') || '/';
    if ((syscall === 'open' || syscall === 'openat' || syscall === 'openat2') && result >= 0) descriptors.set(result, normalized);
    const inSource = normalized === source || normalized.startsWith(source + '/');
    // A folder above the source, opened to reach it by name later, is followed through the descriptors.
    if (!inSource) continue;
    if (WRITES.test(syscall) || /O_WRONLY|O_RDWR|O_CREAT|O_TRUNC/.test(args)) return { ok: false, reason: `nix wrote to the source while it was traced (${syscall})` };
    const relative = normalized === source ? '' : normalized.slice(source.length + 1);
    if (/O_DIRECTORY/.test(args)) listed.add(relative);
    else if (result >= 0 && /S_IFDIR/.test(args)) dirs.add(relative);
    else paths.add(relative);
  }
  return { ok: true, reads: { paths: [...paths].sort(), dirs: [...dirs].sort(), listed: [...listed].sort() } };
}

export function mergeReads(into: ReadSet, more: ReadSet): ReadSet {
  const union = (a: string[], b: string[]) => [...new Set([...a, ...b])].sort();
  return { paths: union(into.paths, more.paths), dirs: union(into.dirs, more.dirs), listed: union(into.listed, more.listed) };
}

export const EMPTY_READS: ReadSet = { paths: [], dirs: [], listed: [] };

/**
 * Which changed path (added, modified or deleted; repository-relative, `prefix` the repository's
 * path of the source root) the evaluation could have seen; `stillDir` answers whether a folder the
 * evaluation saw still is one at head. undefined: none.
 */
export async function firstReadChange(reads: ReadSet, changed: string[], stillDir: (dir: string) => Promise<boolean>, prefix = ''): Promise<string | undefined> {
  const inSource = (file: string) => (prefix === '' ? file : file.startsWith(prefix + '/') ? file.slice(prefix.length + 1) : undefined);
  const listed = new Set(reads.listed);
  const paths = new Set(reads.paths);
  for (const file of changed) {
    const relative = inSource(file);
    if (relative === undefined) continue;
    if (listed.has(parentOf(relative))) return file;
    if (paths.has(relative)) return file;
    // A folder the evaluation touched without a known type (e.g. a call still unfinished in the log).
    for (let up = relative; up !== ''; ) {
      up = parentOf(up);
      if (paths.has(up)) return file;
    }
    // A path that was probed and did not exist, or a file, now with something under it.
    for (const read of paths) if (read.startsWith(relative + '/')) return file;
  }
  for (const dir of reads.dirs) if (dir !== '' && !(await stillDir(prefix === '' ? dir : `${prefix}/${dir}`))) return `${prefix === '' ? dir : `${prefix}/${dir}`}/`;
  return undefined;
}

function parentOf(relative: string): string {
  const parent = path.posix.dirname(relative);
  return parent === '.' ? '' : parent;
}

/** strace prints bytes outside printable ASCII as C escapes. */
function unescape(text: string): string {
  if (!text.includes('\\')) return text;
  const bytes: number[] = [];
  for (let i = 0; i < text.length; i++) {
    const ch = text[i]!;
    if (ch !== '\\') {
      bytes.push(...Buffer.from(ch, 'utf8'));
      continue;
    }
    const next = text[++i] ?? '';
    const simple: Record<string, number> = { n: 10, t: 9, r: 13, v: 11, f: 12, '"': 34, '\\': 92 };
    if (next in simple) bytes.push(simple[next]!);
    else if (next === 'x') {
      bytes.push(parseInt(text.slice(i + 1, i + 3), 16));
      i += 2;
    } else if (/[0-7]/.test(next)) {
      const octal = /^[0-7]{1,3}/.exec(text.slice(i))![0];
      bytes.push(parseInt(octal, 8));
      i += octal.length - 1;
    } else bytes.push(...Buffer.from(next, 'utf8'));
  }
  return Buffer.from(bytes).toString('utf8');
}
