import { closeSync, openSync, readFileSync, readSync, statSync } from 'node:fs';
import path from 'node:path';
import { shellInvocation, splitPlainCommand } from '../flags/shell-script.js';
import { resolveInRoot } from './rootfs.js';

/** The parts of an OCI image config that decide what a container runs. */
export interface ImageConfig {
  Entrypoint?: string[] | null;
  Cmd?: string[] | null;
  Env?: string[] | null;
  WorkingDir?: string | null;
}

/** A Kubernetes container's `command` and `args`. */
export interface ContainerCommand {
  command?: string[];
  args?: string[];
}

export type ResolvedProgram =
  | {
      ok: true;
      /** The program's path in the image as it is started (a symlink stays a symlink: busybox-style tools read their name). */
      program: string;
      /** The same after every symlink, inside the image root. */
      realPath: string;
      /** What the program receives after its name. */
      args: string[];
      /** How the program was found: init wrappers, shells, wrapper scripts and symlinks followed. */
      steps: string[];
    }
  | { ok: false; error: string };

export const DEFAULT_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';
const SHELLS = new Set(['sh', 'bash', 'ash', 'dash', 'ksh', 'mksh', 'zsh', 'busybox']);
const MAX_STEPS = 8;
const MAX_SCRIPT_BYTES = 16_384;
const NAME_THE_BINARY = 'say which binary parses the args in .guard.yaml flags.images[].binary';

/**
 * The argv a container runs, by Kubernetes' rules: `command` replaces the image ENTRYPOINT (and
 * then the image CMD is dropped too), `args` replaces CMD.
 */
export function kubernetesArgv(config: ImageConfig, container: ContainerCommand): string[] {
  if (container.command && container.command.length > 0) return [...container.command, ...(container.args ?? [])];
  return [...(config.Entrypoint ?? []), ...(container.args ?? config.Cmd ?? [])];
}

/** The image's PATH, as the container runtime sets it (its default when the image has none). */
export function imagePath(config: ImageConfig): string {
  const entry = (config.Env ?? []).find((e) => e.startsWith('PATH='));
  return entry ? entry.slice('PATH='.length) : DEFAULT_PATH;
}

/**
 * The binary that will parse the container's args, found in the extracted image root: looked up
 * on the image's PATH, symlinks resolved inside the root only, followed through init wrappers
 * (`tini -- app`), `sh -c 'exec app ...'` and wrapper scripts that only `exec BIN "$@"`.
 */
export async function resolveProgram(rootfs: string, config: ImageConfig, container: ContainerCommand): Promise<ResolvedProgram> {
  let argv = kubernetesArgv(config, container);
  let searchPath = imagePath(config);
  const workingDir = config.WorkingDir || '/';
  const steps: string[] = [];
  for (let step = 0; step < MAX_STEPS; step++) {
    if (argv.length === 0 || argv[0] === '') return { ok: false, error: step === 0 ? 'the image has no ENTRYPOINT or CMD and the container no command: nothing to run' : `${steps[steps.length - 1] ?? 'the wrapper'} leaves nothing to run` };
    const shell = shellInvocation(argv, []);
    if (shell?.kind === 'simple') {
      steps.push(`${argv[0]} -c runs ${shell.program}`);
      argv = [shell.program, ...shell.args];
      continue;
    }
    if (shell?.kind === 'complex') return { ok: false, error: `the container runs a shell (${argv.slice(0, 2).join(' ')}) that does more than start one program (${shell.reason}); ${NAME_THE_BINARY}` };
    const found = await lookUp(rootfs, argv[0]!, searchPath, workingDir);
    if ('error' in found) return { ok: false, error: found.error };
    if (found.realPath !== found.program) steps.push(`${found.program} is a symlink to ${found.realPath}`);
    const init = afterInit(found, argv.slice(1));
    if (init) {
      if ('error' in init) return { ok: false, error: init.error };
      steps.push(`${found.program} (an init process) runs ${init.argv[0] ?? 'nothing'}`);
      argv = init.argv;
      continue;
    }
    const script = readShebang(found.hostPath);
    if (script && isShell(script.interpreter)) {
      const wrapped = followWrapper(found.hostPath, argv.slice(1));
      if ('error' in wrapped) return { ok: false, error: `${found.program} is a shell script that does more than exec a program (${wrapped.error}); ${NAME_THE_BINARY}` };
      steps.push(`${found.program} is a wrapper script that execs ${wrapped.argv[0]}${wrapped.passesArgs ? '' : ' without passing on its own args'}`);
      if (wrapped.path) searchPath = wrapped.path;
      argv = wrapped.argv;
      continue;
    }
    if (script) {
      const interpreter = await lookUp(rootfs, script.interpreter, searchPath, '/');
      if ('error' in interpreter) return { ok: false, error: `${found.program} is a script for ${script.interpreter}, which the image does not hold` };
    }
    return { ok: true, program: found.program, realPath: found.realPath, args: argv.slice(1), steps };
  }
  return { ok: false, error: `more than ${MAX_STEPS} wrappers before the program (${steps.join('; ')}); ${NAME_THE_BINARY}` };
}

interface Found {
  program: string;
  realPath: string;
  hostPath: string;
}

/** execvp inside the image: a name with a slash from the working directory, else each PATH entry in turn. */
async function lookUp(rootfs: string, name: string, searchPath: string, workingDir: string): Promise<Found | { error: string }> {
  const candidates = name.includes('/') ? [path.posix.resolve(workingDir, name)] : searchPath.split(':').filter((d) => d.startsWith('/')).map((d) => path.posix.join(d, name));
  for (const candidate of candidates) {
    const resolved = await resolveInRoot(rootfs, candidate, { follow: true });
    if (!resolved.ok) continue;
    const stat = statSync(resolved.path);
    if (!stat.isFile()) continue;
    if ((stat.mode & 0o111) === 0) return { error: `${candidate} in the image is not executable` };
    return { program: candidate, realPath: resolved.inRoot, hostPath: resolved.path };
  }
  return { error: name.includes('/') ? `${name} is not in the image` : `${name} is not on the image's PATH (${searchPath})` };
}

const INIT = /^(tini(-static)?(-[\w-]+)?|dumb-init|catatonit)$/;
/** Init options that take a value as the next argument. */
const INIT_VALUE_OPTIONS = new Set(['-p', '-e', '-r', '--rewrite']);

/** The program an init wrapper (tini, dumb-init, catatonit) starts: after `--`, else after its options. */
function afterInit(found: Found, args: string[]): { argv: string[] } | { error: string } | undefined {
  const names = [path.posix.basename(found.program), path.posix.basename(found.realPath)];
  if (!names.some((n) => INIT.test(n))) return undefined;
  const end = args.indexOf('--');
  if (end >= 0) return { argv: args.slice(end + 1) };
  let i = 0;
  while (i < args.length && args[i]!.startsWith('-')) i += INIT_VALUE_OPTIONS.has(args[i]!) ? 2 : 1;
  if (i >= args.length) return { error: `${found.program} (an init process) is given no program to run` };
  return { argv: args.slice(i) };
}

function readShebang(hostPath: string): { interpreter: string; args: string[] } | undefined {
  const head = Buffer.alloc(256);
  const fd = openSync(hostPath, 'r');
  let read: number;
  try {
    read = readSync(fd, head, 0, head.length, 0);
  } finally {
    closeSync(fd);
  }
  const text = head.subarray(0, read).toString('latin1');
  if (!text.startsWith('#!')) return undefined;
  const words = text.slice(2).split('\n')[0]!.trim().split(/\s+/).filter((w) => w !== '');
  if (words.length === 0) return undefined;
  // `#!/usr/bin/env [-S] bash`: the interpreter is the word env looks up.
  if (path.posix.basename(words[0]!) === 'env') {
    const rest = words.slice(1).filter((w) => w !== '-S');
    return rest[0] ? { interpreter: rest[0], args: rest.slice(1) } : undefined;
  }
  return { interpreter: words[0]!, args: words.slice(1) };
}

function isShell(interpreter: string): boolean {
  return SHELLS.has(path.posix.basename(interpreter));
}

const PLACEHOLDER = 'GUARD_WRAPPER_ARGS_7f3a';
const ASSIGNMENT = /^\s*(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)=([^$`;|&<>()'"\s]*|'[^']*'|"[^"$`\\]*")\s*$/;

/**
 * A wrapper script read as plain commands (shell-script.ts): the last one execs the program with
 * "$@". Lines that only assign plain values to variables are set aside first (they change the
 * program's environment, not which program runs or which args it gets), except that a plain PATH
 * assignment is used to look the program up.
 */
function followWrapper(hostPath: string, args: string[]): { argv: string[]; path?: string; passesArgs: boolean } | { error: string } {
  if (statSync(hostPath).size > MAX_SCRIPT_BYTES) return { error: `longer than ${MAX_SCRIPT_BYTES} bytes` };
  const lines = readFileSync(hostPath, 'utf8').split('\n');
  let assignedPath: string | undefined;
  const kept: string[] = [];
  for (const line of lines.slice(1)) {
    const assignment = ASSIGNMENT.exec(line);
    if (!assignment) {
      kept.push(line.replace(/(^|\s)("\$@"|\$@|"\$\{@\}"|\$\{@\})(?=\s|$)/g, `$1${PLACEHOLDER}`));
      continue;
    }
    if (assignment[1] === 'PATH') assignedPath = assignment[2]!.replace(/^['"]|['"]$/g, '');
  }
  const split = splitPlainCommand(kept.join('\n'));
  if ('reason' in split) return { error: split.reason };
  const words = [split.program, ...split.args];
  const at = words.indexOf(PLACEHOLDER);
  if (words.lastIndexOf(PLACEHOLDER) !== at) return { error: '"$@" given twice' };
  if (words.some((w, i) => i !== at && w.includes(PLACEHOLDER))) return { error: '"$@" inside a word' };
  if (split.program === PLACEHOLDER) return { error: 'it runs its first argument' };
  const argv = at < 0 ? words : [...words.slice(0, at), ...args, ...words.slice(at + 1)];
  return { argv, path: assignedPath, passesArgs: at >= 0 };
}
