import { execFileSync, spawnSync } from 'node:child_process';
import { chmodSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, realpathSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

/**
 * Image root file systems for tests, made of the host's own binaries: each binary with the shared
 * libraries `ldd` lists and the dynamic loader, at the same paths. Small (a few MB) and real.
 */
export type RootfsEntry =
  /** A host file copied (symlinks on the host followed), with its libraries unless `libraries: false`. */
  | { from: string; to: string; libraries?: boolean; mode?: number }
  /** A file written with this content (scripts, configs). */
  | { to: string; content: string; mode?: number }
  /** A symlink in the image, pointing at `target` as written. */
  | { to: string; symlink: string }
  /** An empty directory. */
  | { to: string; directory: true };

export interface RootfsOptions {
  entries: RootfsEntry[];
  /** Python: the interpreter at /usr/bin/python3 plus only the standard-library files this script imports. */
  python?: { script: string };
}

/** A fresh directory holding the image root; remove it with removeRootfs. */
export function rootfsFromHost(options: RootfsOptions): string {
  const root = mkdtempSync(path.join(os.tmpdir(), 'guard-rootfs-'));
  const copied = new Set<string>();
  const copy = (from: string, to: string, mode?: number) => {
    const target = inRoot(root, to);
    mkdirSync(path.dirname(target), { recursive: true });
    copyFileSync(realpathSync(from), target);
    chmodSync(target, mode ?? statSync(from).mode & 0o7777);
    copied.add(to);
  };
  const withLibraries = (binary: string) => {
    for (const library of sharedLibraries(binary)) if (!copied.has(library)) copy(library, library);
  };
  for (const entry of options.entries) {
    if ('from' in entry) {
      copy(entry.from, entry.to, entry.mode);
      if (entry.libraries !== false) withLibraries(entry.from);
    } else if ('content' in entry) {
      const target = inRoot(root, entry.to);
      mkdirSync(path.dirname(target), { recursive: true });
      writeFileSync(target, entry.content, { mode: entry.mode ?? 0o755 });
      chmodSync(target, entry.mode ?? 0o755);
    } else if ('symlink' in entry) {
      const target = inRoot(root, entry.to);
      mkdirSync(path.dirname(target), { recursive: true });
      symlinkSync(entry.symlink, target);
    } else {
      mkdirSync(inRoot(root, entry.to), { recursive: true });
    }
  }
  if (options.python) {
    copy('/usr/bin/python3', '/usr/bin/python3');
    withLibraries('/usr/bin/python3');
    for (const file of pythonImports(options.python.script)) {
      copy(file, file);
      withLibraries(file);
    }
  }
  return root;
}

export function removeRootfs(root: string): void {
  rmSync(root, { recursive: true, force: true });
}

/** Absolute paths of the libraries and loader a dynamic binary needs (none for a static one). */
export function sharedLibraries(binary: string): string[] {
  let output: string;
  try {
    output = execFileSync('ldd', [binary], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  } catch {
    return []; // "not a dynamic executable" exits non-zero
  }
  const libraries: string[] = [];
  for (const line of output.split('\n')) {
    const match = /=>\s+(\/\S+)/.exec(line) ?? /^\s+(\/\S+)\s+\(/.exec(line);
    if (match) libraries.push(match[1]!);
  }
  return libraries;
}

/**
 * Standard-library files an argparse script loads, found by running it on the host with `-v`
 * (every module file it opens is printed): the script's --help is run so that argparse's help
 * formatting modules are included too. Python finds its prefix from the landmark os.py, which is
 * always among them.
 */
function pythonImports(script: string): string[] {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'guard-pyscan-'));
  try {
    const file = path.join(dir, 'scan.py');
    writeFileSync(file, script);
    const run = spawnSync('/usr/bin/python3', ['-v', '-I', '-B', file, '--help'], { encoding: 'utf8', env: { PATH: '/usr/bin:/bin' }, maxBuffer: 16 * 1024 * 1024 });
    const stderr = run.stderr ?? '';
    // The landmark python finds its prefix by (the module itself is frozen in 3.11 and not listed).
    const files = new Set<string>(existsSync('/usr/lib/python3.11/os.py') ? ['/usr/lib/python3.11/os.py'] : []);
    for (const line of stderr.split('\n')) {
      const source = /^# (?:code object from|\S+ matches) '?(\/usr\/lib\/python3[^' ]+)'?/.exec(line)?.[1];
      const extension = /^# extension module '[^']+' loaded from '(\/usr\/lib\/python3[^']+)'/.exec(line)?.[1];
      for (const found of [source, extension]) {
        if (!found) continue;
        // The bytecode cache path names the source beside it; copy the source (python -B writes no cache).
        const sourceFile = found.replace(/__pycache__\/([^/]+)\.cpython-\d+\.pyc$/, '$1.py');
        if (existsSync(sourceFile) && statSync(sourceFile).isFile()) files.add(sourceFile);
      }
    }
    return [...files];
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function inRoot(root: string, imagePath: string): string {
  const resolved = path.join(root, path.posix.normalize(`/${imagePath}`));
  if (!resolved.startsWith(root)) throw new Error(`${imagePath} is outside the image root`);
  return resolved;
}

/** Every regular file in a root, as image paths (for assertions about what a root holds). */
export function listRootfs(root: string, dir = '/'): string[] {
  const out: string[] = [];
  for (const entry of readdirSync(path.join(root, dir), { withFileTypes: true })) {
    const imagePath = path.posix.join(dir, entry.name);
    if (entry.isDirectory()) out.push(...listRootfs(root, imagePath));
    else out.push(imagePath);
  }
  return out;
}
