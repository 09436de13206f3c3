import { spawnSync } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
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
}

/** Start a tool with the environment given (never inherited) and, unless asked otherwise, no network. */
export function runTool(file: string, args: string[], options: ToolRunOptions): Promise<ProcessResult> {
  const isolation = options.network === 'host' ? undefined : networkFence();
  if (isolation?.kind === 'namespace') {
    const [command, ...prefix] = isolation.prefix;
    return runProcess(command!, [...prefix, file, ...args], options);
  }
  return runProcess(file, args, options);
}
