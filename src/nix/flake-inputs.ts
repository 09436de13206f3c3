/**
 * The inputs of a flake, as nix locked them (`nix flake metadata --json`), judged before anything of
 * the flake is evaluated: an input is data of the pull request, so it may name only sources that the
 * guard's fence governs (network sources, which the empty network namespace stops, or paths already
 * in the nix store), never a file or repository of the machine the guard runs on.
 */

export interface LockNode {
  inputs?: Record<string, unknown>;
  locked?: Record<string, unknown>;
  original?: Record<string, unknown>;
}

export interface FlakeLocks {
  nodes?: Record<string, LockNode>;
  root?: string;
}

export interface LocalInput {
  input: string;
  /** The path or file URL, never the lock's query (narHash) or anything read from it. */
  where: string;
}

const STORE_DIR = '/nix/store/';

/** Inputs that would read the guard machine's own files: `path:/abs`, `git+file://`, `file://` tarballs outside the store. */
export function localInputs(locks: FlakeLocks | undefined): LocalInput[] {
  const found: LocalInput[] = [];
  for (const [input, node] of Object.entries(locks?.nodes ?? {})) {
    if (input === (locks?.root ?? 'root')) continue;
    for (const ref of [node.locked, node.original]) {
      const where = localPath(ref);
      if (where !== undefined && !isInside(where, STORE_DIR)) {
        found.push({ input, where });
        break;
      }
    }
  }
  return found;
}

function localPath(ref: Record<string, unknown> | undefined): string | undefined {
  if (!ref) return undefined;
  const type = String(ref.type ?? '');
  if (type === 'path') {
    const p = String(ref.path ?? '');
    // Relative paths resolve inside the flake's own copy of the checked revision.
    return p.startsWith('/') ? p : undefined;
  }
  const url = typeof ref.url === 'string' ? ref.url : undefined;
  if (!url) return undefined;
  if (url.startsWith('/')) return url;
  if (/^file:/i.test(url)) {
    try {
      return decodeURIComponent(new URL(url).pathname);
    } catch {
      return url;
    }
  }
  return undefined;
}

function isInside(file: string, dir: string): boolean {
  const normalized = file.split('/').reduce<string[]>((parts, part) => {
    if (part === '..') parts.pop();
    else if (part !== '' && part !== '.') parts.push(part);
    return parts;
  }, []);
  return ('/' + normalized.join('/') + '/').startsWith(dir) && normalized.length > 2;
}

/** The input an error is about: the lock node whose URL, repository or revision the error text names. */
export function inputNamedIn(text: string, locks: FlakeLocks | undefined): string | undefined {
  for (const [input, node] of Object.entries(locks?.nodes ?? {})) {
    const locked = node.locked ?? {};
    const marks = [locked.url, locked.rev, locked.owner && locked.repo ? `${String(locked.owner)}/${String(locked.repo)}` : undefined, node.original?.url]
      .filter((mark): mark is string => typeof mark === 'string' && mark.length >= 6);
    if (marks.some((mark) => text.includes(mark))) return input;
  }
  return undefined;
}

/** A URL fit to print: scheme, host and path only (no credentials, no query). */
export function printableUrl(url: string): string {
  try {
    const parsed = new URL(url);
    return `${parsed.protocol}//${parsed.host}${parsed.pathname}`;
  } catch {
    return url.replace(/\/\/[^/@\s]*@/, '//').replace(/[?#].*$/, '');
  }
}
