import { spawnSync } from 'node:child_process';
import { accessSync, constants, mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { runProcess, type ProcessResult } from './run-process.js';

/**
 * How external tools (helm, kustomize, nix) are started. They read pull-request data, so they
 * get no secrets and no network:
 * - an environment built from nothing (never the guard's own: no job token, no SOPS key, no forge
 *   variables), plus what the caller names;
 * - a network namespace of their own with only a loopback that is down, where the kernel allows it
 *   (root, or unprivileged user namespaces): every connection fails where it is made, loopback
 *   and the runner's services included, whatever URL, redirect or proxy setting the tool follows.
 */

export type NetworkFence = { kind: 'namespace'; prefix: string[] } | { kind: 'none'; reason: string };

let fence: NetworkFence | undefined;

/** Probed once per process: `unshare -n` as root, else `unshare -rn` (a user namespace). */
export function networkFence(): NetworkFence {
  if (fence) return fence;
  if (process.env.GUARD_NETWORK_FENCE === 'off') return (fence = { kind: 'none', reason: 'GUARD_NETWORK_FENCE=off' });
  // Absolute, so a tool started with an empty PATH (kustomize: no git to run) still gets its fence.
  const unshare = findExecutable('unshare');
  if (!unshare) return (fence = { kind: 'none', reason: 'network namespaces are not available here (no unshare on PATH)' });
  const candidates = process.getuid?.() === 0 ? [[unshare, '--net', '--'], [unshare, '--map-root-user', '--net', '--']] : [[unshare, '--map-root-user', '--net', '--']];
  for (const prefix of candidates) {
    const probe = spawnSync(prefix[0]!, [...prefix.slice(1), 'true'], { stdio: 'ignore', timeout: 10_000, env: { PATH: safePath() } });
    if (probe.status === 0) return (fence = { kind: 'namespace', prefix });
  }
  return (fence = { kind: 'none', reason: 'network namespaces are not available here (unshare --net failed: not root and user namespaces disabled)' });
}

/** PATH for tools: the guard's, without relative or empty entries (a PR cannot plant a binary in the working directory). */
export function safePath(): string {
  return (process.env.PATH ?? '/usr/local/bin:/usr/bin:/bin').split(':').filter((entry) => entry.startsWith('/')).join(':');
}

/** The absolute path of an executable on the safe PATH (a name with a slash is taken as it is). */
export function findExecutable(name: string): string | undefined {
  if (name.includes('/')) return path.resolve(name);
  for (const dir of safePath().split(':')) {
    const candidate = path.join(dir, name);
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // not in this folder
    }
  }
  return undefined;
}

/**
 * The whole environment a tool gets: PATH, a HOME and TMPDIR the caller chooses, C locale, and
 * the caller's own variables. Nothing else of the guard's environment is passed on.
 */
export function toolEnvironment(home: string, extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  return {
    PATH: safePath(),
    HOME: home,
    TMPDIR: process.env.TMPDIR && process.env.TMPDIR.startsWith('/') ? process.env.TMPDIR : '/tmp',
    LANG: 'C.UTF-8',
    LC_ALL: 'C.UTF-8',
    ...extra,
  };
}

export interface ToolRunOptions {
  env: NodeJS.ProcessEnv;
  input?: string;
  timeoutMs: number;
  maxBuffer: number;
  /** 'none' (the default): the tool runs behind the network fence. */
  network?: 'none' | 'host';
  cwd?: string;
  /**
   * Limit what of the machine's file system the tool sees (filesystemFence): only the system's
   * programs and libraries (read-only), /nix, and these folders. Ignored with network 'host'; the
   * caller checks filesystemFence() first and decides what to do when it is unavailable.
   */
  filesystem?: FilesystemView;
}

/** Start a tool with the environment given (never inherited) and, unless asked otherwise, no network. */
export function runTool(file: string, args: string[], options: ToolRunOptions): Promise<ProcessResult> {
  if (options.filesystem && options.network !== 'host') {
    const view = filesystemFence();
    if (view.kind === 'namespace') return runProcess(view.prefix[0]!, [...view.prefix.slice(1), ...viewArguments(options.filesystem), '--', file, ...args], { ...options, cwd: undefined });
  }
  const isolation = options.network === 'host' ? undefined : networkFence();
  if (isolation?.kind === 'namespace') {
    const [command, ...prefix] = isolation.prefix;
    return runProcess(command!, [...prefix, file, ...args], options);
  }
  return runProcess(file, args, options);
}

export interface FilesystemView {
  readOnly?: string[];
  writable?: string[];
  /** Files shown as empty (e.g. a checkout's .git/config, which may hold a job token). */
  hidden?: string[];
}

export type FilesystemFence = { kind: 'namespace'; prefix: string[] } | { kind: 'none'; reason: string };

/**
 * Run inside a fresh mount, pid and network namespace: a tmpfs root holding the system's programs
 * and libraries read-only, /nix, a minimal /dev, a /proc of the new pid namespace, an empty /tmp,
 * no /etc but the loader cache (no passwd, no keys), then the folders asked for; chroot into it.
 * Arguments: root, then mode/path pairs (ro|rw|hide), then `--` and the command.
 */
const VIEW_SCRIPT = `set -e
chroot_bin=$1; root=$2; shift 2
mount -t tmpfs -o mode=0755 guard-root "$root"
cd "$root"
mkdir -p proc dev tmp etc
chmod 1777 tmp
mount -t proc -o nosuid,nodev,noexec proc proc
for d in usr bin sbin lib lib32 lib64 libx32; do
  if [ -L "/$d" ]; then ln -s "$(readlink "/$d")" "$d"
  elif [ -d "/$d" ]; then mkdir "$d"; mount --rbind "/$d" "$d"; mount -o remount,bind,ro "$d"; fi
done
for f in null zero full random urandom; do touch "dev/$f"; mount --bind "/dev/$f" "dev/$f"; done
ln -s /proc/self/fd dev/fd
if [ -f /etc/ld.so.cache ]; then touch etc/ld.so.cache; mount --bind /etc/ld.so.cache etc/ld.so.cache; fi
if [ -d /nix ]; then mkdir nix; mount --rbind /nix nix; fi
while [ "$1" != "--" ]; do
  mode=$1; p=$2; shift 2
  case "$mode" in
    hide) if [ -f ".$p" ]; then mount --bind /dev/null ".$p"; fi ;;
    *) mkdir -p ".$p"; mount --rbind "$p" ".$p"; if [ "$mode" = ro ]; then mount -o remount,bind,ro ".$p"; fi ;;
  esac
done
shift
exec "$chroot_bin" "$root" "$@"`;

let view: FilesystemFence | undefined;
let viewRoot: string | undefined;

/** Probed once per process: can tools be run with a limited view of the file system (see VIEW_SCRIPT)? */
export function filesystemFence(): FilesystemFence {
  if (view) return view;
  if (process.env.GUARD_FILESYSTEM_FENCE === 'off') return (view = { kind: 'none', reason: 'GUARD_FILESYSTEM_FENCE=off' });
  const [unshare, sh, chroot] = [findExecutable('unshare'), findExecutable('sh') ?? '/bin/sh', findExecutable('chroot') ?? ['/usr/sbin/chroot', '/sbin/chroot'].find(isExecutable)];
  if (!unshare || !chroot) return (view = { kind: 'none', reason: 'mount namespaces are not available here (no unshare or chroot)' });
  // An empty folder only ever used as a mount point inside the namespaces.
  viewRoot ??= mkdtempSync(path.join(os.tmpdir(), 'guard-view-'));
  const flags = ['--mount', '--pid', '--fork', '--kill-child', '--net'];
  const candidates = process.getuid?.() === 0 ? [[unshare, ...flags, '--'], [unshare, '--map-root-user', ...flags, '--']] : [[unshare, '--map-root-user', ...flags, '--']];
  for (const prefix of candidates) {
    const full = [...prefix, sh, '-c', VIEW_SCRIPT, 'guard-view', chroot, viewRoot];
    const probe = spawnSync(full[0]!, [...full.slice(1), '--', '/bin/sh', '-c', 'test ! -e /etc/passwd && test -d /nix'], { stdio: 'ignore', timeout: 10_000, env: { PATH: safePath() } });
    if (probe.status === 0) return (view = { kind: 'namespace', prefix: full });
  }
  return (view = { kind: 'none', reason: 'mount namespaces are not available here (unshare --mount --pid failed: not root and user namespaces disabled, or /proc cannot be mounted)' });
}

function viewArguments(request: FilesystemView): string[] {
  return [
    ...(request.readOnly ?? []).flatMap((p) => ['ro', path.resolve(p)]),
    ...(request.writable ?? []).flatMap((p) => ['rw', path.resolve(p)]),
    ...(request.hidden ?? []).flatMap((p) => ['hide', path.resolve(p)]),
  ];
}

function isExecutable(file: string): boolean {
  try {
    accessSync(file, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}
