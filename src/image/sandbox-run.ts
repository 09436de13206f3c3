import { spawn, spawnSync } from 'node:child_process';
import { existsSync, lstatSync, promises as fs, readdirSync, readlinkSync, statSync } from 'node:fs';
import path from 'node:path';
import { GuardError } from '../errors.js';
import { findExecutable, safePath } from '../tools/sandbox.js';
import { memoized } from '../tools/memo.js';
import { DEFAULT_PATH } from './entrypoint.js';
import { resolveInRoot } from './rootfs.js';

/**
 * Runs a program of an image (its `--help`) with the image's own root file system and nothing of
 * the machine: no network, no environment but the image's, the root read-only, a private /tmp,
 * limits on time, memory and output. The program is pull-request data (the PR names the image).
 *
 * bubblewrap is started directly rather than through runTool: it builds every fence itself
 * (network, pid, mount, user namespaces, a cleared environment), and runTool's own fences would
 * hide the image root (filesystem view) or only repeat --unshare-net. What is kept from
 * src/tools/sandbox.ts: absolute tool paths found on the safe PATH and an environment built from
 * nothing for bwrap itself.
 */

export type SandboxMethod = 'bubblewrap' | 'docker' | 'podman';

export interface SandboxRequest {
  /** The image's extracted root file system on this machine. */
  rootfs: string;
  /** argv[0] is the program's path (or name) inside the image. */
  argv: string[];
  /** The image config's Env ("NAME=value" strings): all the program gets. */
  env: string[];
  /** The image config's WorkingDir; / when empty. */
  workingDir?: string;
  timeoutMs?: number;
  /** Address-space limit (RLIMIT_AS) for bubblewrap, memory limit for Docker/Podman. */
  memoryMB?: number;
  /** IMAGE@sha256:... for Docker/Podman, which run the image itself rather than the extracted root. */
  image?: string;
  /** Use this method instead of the detected one. */
  method?: SandboxMethod;
}

export interface SandboxResult {
  stdout: string;
  stderr: string;
  exitCode: number | null;
  timedOut: boolean;
  /** stdout or stderr went over MAX_STREAM_BYTES: the program was stopped and the text cut. */
  truncated: boolean;
  method: SandboxMethod;
}

export const DEFAULT_TIMEOUT_MS = 20_000;
/**
 * Address space, not resident memory: Go programs reserve ~700 MB of address space at start
 * (measured: etcd 3.5, alertmanager 0.25 and kubectl 1.35 need 800 MB of RLIMIT_AS to print their
 * help, 700 fails), python3 and ripgrep far less. 2 GB leaves room on machines with more cores.
 */
export const DEFAULT_MEMORY_MB = 2048;
/** Per stream; a real --help is tens of KB and the parsers refuse more than 256 KB anyway. */
export const MAX_STREAM_BYTES = 512 * 1024;
/** Unprivileged inside the sandbox: nobody/nogroup, as most images' non-root user. */
const SANDBOX_UID = 65534;
/**
 * Who bubblewrap runs as, outside, when the guard runs as root: a user id nothing else on the
 * machine uses. bubblewrap maps the sandbox's user to the user that starts it; started by root,
 * the image's program would be root outside (without capabilities, but owner of every root-owned
 * file and sysctl, and exempt from process limits).
 */
export const SANDBOX_HOST_ID = 2_000_065_534;
/** Processes of the sandbox user at once (RLIMIT_NPROC, enforced for a non-root user): a fork bomb stops there. */
const MAX_PROCESSES = 512;

let detected: { method: SandboxMethod | undefined } | undefined;

/**
 * Who the program is inside bubblewrap. 'nobody': a user namespace of its own, uid/gid 65534, no
 * capabilities, no further user namespaces. 'dropped': the same, started by root as
 * SANDBOX_HOST_ID, so that outside it is no one (the root file system it runs is handed to that
 * user). 'caller': where user namespaces are unavailable (setuid bwrap on a kernel that forbids
 * them), the calling user; a non-root caller only, since root would stay root (its capabilities
 * are dropped all the same).
 */
export type SandboxIdentity = 'nobody' | 'dropped' | 'caller';
let identity: SandboxIdentity | undefined;

/** Probed once per process: bubblewrap when it can start a sandbox here, else a Docker or Podman that answers `info`. */
export function detectSandbox(): SandboxMethod | undefined {
  if (detected) return detected.method;
  const bwrap = findExecutable('bwrap');
  const base = ['--unshare-all', '--die-with-parent', '--ro-bind', '/', '/'];
  if (bwrap && process.getuid?.() === 0 && probe(bwrap, [...base, ...identityArgs('nobody'), '--', 'true'], SANDBOX_HOST_ID)) identity = 'dropped';
  else if (bwrap && probe(bwrap, [...base, ...identityArgs('nobody'), '--', 'true'])) identity = 'nobody';
  else if (bwrap && process.getuid?.() !== 0 && probe(bwrap, [...base, ...identityArgs('caller'), '--', 'true'])) identity = 'caller';
  if (identity) return (detected = { method: 'bubblewrap' }).method;
  for (const runtime of ['docker', 'podman'] as const) {
    const binary = findExecutable(runtime);
    if (binary && probe(binary, ['info'])) return (detected = { method: runtime }).method;
  }
  return (detected = { method: undefined }).method;
}

function probe(binary: string, args: string[], asUser?: number): boolean {
  const result = spawnSync(binary, args, { stdio: 'ignore', timeout: 10_000, env: { PATH: safePath() }, cwd: '/', ...(asUser !== undefined ? { uid: asUser, gid: asUser } : {}) });
  return result.status === 0;
}

/** Who the sandbox's program is, as detected (undefined before detectSandbox ran, or without bubblewrap). */
export function sandboxIdentity(): SandboxIdentity | undefined {
  return identity;
}

/** The error for a machine with no sandbox: the caller turns it into exit 2. */
export function noSandboxError(): GuardError {
  return new GuardError(
    'cannot run an image\'s --help: no sandbox is available (bubblewrap could not start a sandbox here, and no Docker or Podman daemon answers)',
    undefined,
    'install bubblewrap (`apt-get install bubblewrap`; unprivileged runs need user namespaces enabled), or run a Docker or Podman daemon',
  );
}

export async function runInSandbox(request: SandboxRequest): Promise<SandboxResult> {
  const method = request.method ?? detectSandbox();
  if (!method) throw noSandboxError();
  if (method === 'bubblewrap') {
    const bwrap = findExecutable('bwrap');
    const prlimit = findExecutable('prlimit');
    if (!bwrap || !prlimit) throw noSandboxError();
    const workingDir = await existingWorkingDir(request);
    const asUser = identity === 'dropped' && (await handedToSandboxUser(request.rootfs)) ? SANDBOX_HOST_ID : undefined;
    const limits = [...memoryLimit(request), ...(asUser !== undefined ? [`--nproc=${MAX_PROCESSES}`] : [])];
    const argv = [prlimit, ...limits, '--', ...bubblewrapArgv({ ...request, workingDir }, bwrap, asUser !== undefined ? 'dropped' : undefined)];
    return { ...(await runBounded(argv, request.timeoutMs ?? DEFAULT_TIMEOUT_MS, asUser)), method };
  }
  const runtime = findExecutable(method);
  if (!runtime) throw noSandboxError();
  if (!request.image) throw new GuardError(`${method} runs images by reference, and no image reference was given`);
  return { ...(await runBounded([runtime, ...containerArgv(request)], request.timeoutMs ?? DEFAULT_TIMEOUT_MS)), method };
}

function memoryLimit(request: SandboxRequest): string[] {
  const bytes = (request.memoryMB ?? DEFAULT_MEMORY_MB) * 1024 * 1024;
  // Core dumps off: a crashing program must not write its memory anywhere.
  return [`--as=${bytes}`, '--core=0'];
}

/**
 * bwrap arguments: an empty tmpfs root with each top-level entry of the image bound read-only
 * (binding the image root itself on / would need /proc, /dev and /tmp to exist in every image),
 * then the root remounted read-only. Symlinks at the top (usr-merged /lib -> usr/lib) are
 * recreated as symlinks, so they resolve inside the sandbox, never on this machine.
 */
export function bubblewrapArgv(request: SandboxRequest, bwrap = 'bwrap', who: SandboxIdentity | undefined = identity === 'dropped' ? 'nobody' : identity): string[] {
  const args = [bwrap, '--unshare-all', ...identityArgs(who ?? 'nobody'), '--die-with-parent', '--new-session', '--clearenv'];
  for (const [name, value] of environment(request.env)) args.push('--setenv', name, value);
  args.push('--tmpfs', '/');
  for (const entry of readdirSync(request.rootfs).sort()) {
    if (RUNTIME_MOUNTS.has(entry)) continue;
    const source = path.join(request.rootfs, entry);
    const stat = lstatSync(source);
    if (stat.isSymbolicLink()) args.push('--symlink', readlinkSync(source), `/${entry}`);
    else if (stat.isDirectory() || stat.isFile()) args.push('--ro-bind', source, `/${entry}`);
  }
  args.push('--proc', '/proc', ...procMasks(), '--dev', '/dev', '--size', String(TMP_BYTES), '--tmpfs', '/tmp', '--remount-ro', '/');
  args.push('--chdir', request.workingDir || '/', '--', ...request.argv);
  return args;
}

function identityArgs(who: SandboxIdentity): string[] {
  const nobody = String(SANDBOX_UID);
  return who === 'caller' ? ['--cap-drop', 'ALL'] : ['--unshare-user', '--disable-userns', '--uid', nobody, '--gid', nobody, '--cap-drop', 'ALL'];
}

const handedOver = new Map<string, Promise<boolean>>();

/**
 * The image root made the sandbox user's (every entry, links not followed), as an image's files
 * are its root user's inside a container; false when the sandbox user could not reach it (a
 * folder above it closed to others), and the program then runs as 'nobody' mapped to root.
 */
function handedToSandboxUser(rootfs: string): Promise<boolean> {
  const root = path.resolve(rootfs);
  let key: string;
  try {
    key = `${root}\0${statSync(root).ino}`;
  } catch {
    return Promise.resolve(false);
  }
  return memoized(handedOver, key, () => handOver(root));
}

async function handOver(root: string): Promise<boolean> {
  for (let dir = path.dirname(root); ; dir = path.dirname(dir)) {
    const stat = await fs.stat(dir).catch(() => undefined);
    if (!stat || (stat.mode & 0o001) === 0) return false;
    if (dir === path.dirname(dir)) break;
  }
  const pending = [root];
  while (pending.length > 0) {
    const current = pending.pop()!;
    await fs.lchown(current, SANDBOX_HOST_ID, SANDBOX_HOST_ID);
    const stat = await fs.lstat(current);
    if (stat.isDirectory()) for (const entry of await fs.readdir(current)) pending.push(path.join(current, entry));
  }
  return true;
}

/** A WorkingDir the image does not hold would stop bwrap; container runtimes create it, empty, so / is as good for --help. */
async function existingWorkingDir(request: SandboxRequest): Promise<string> {
  const dir = request.workingDir || '/';
  const resolved = await resolveInRoot(request.rootfs, dir, { follow: true });
  return resolved.ok && statSync(resolved.path).isDirectory() ? path.posix.normalize(dir) : '/';
}

/**
 * The parts of /proc that are the kernel's, not the sandbox's: read-only or hidden, as container
 * runtimes do (Docker's readonly and masked paths). Run by root, bubblewrap maps the sandbox's
 * user to root outside; without this, /proc/sys would let the image's program change host-wide
 * settings (kernel.core_pattern names a program the kernel then runs as root). The host's own
 * entries are bound: a sysctl shows the namespaces of the process that reads it.
 */
function procMasks(): string[] {
  const args: string[] = [];
  for (const entry of PROC_READ_ONLY) if (existsSync(`/proc/${entry}`)) args.push('--ro-bind', `/proc/${entry}`, `/proc/${entry}`);
  for (const entry of PROC_MASKED) {
    const stat = statOrUndefined(`/proc/${entry}`);
    if (stat?.isDirectory()) args.push('--size', '4096', '--tmpfs', `/proc/${entry}`, '--remount-ro', `/proc/${entry}`);
    else if (stat) args.push('--ro-bind', '/dev/null', `/proc/${entry}`);
  }
  return args;
}

const PROC_READ_ONLY = ['sys', 'sysrq-trigger', 'irq', 'bus', 'fs'];
const PROC_MASKED = ['acpi', 'kcore', 'keys', 'latency_stats', 'timer_list', 'timer_stats', 'sched_debug', 'scsi'];

function statOrUndefined(file: string): ReturnType<typeof statSync> | undefined {
  try {
    return statSync(file);
  } catch {
    return undefined;
  }
}

/** Private /tmp: enough for a program that unpacks itself, bounded. */
const TMP_BYTES = 64 * 1024 * 1024;

/** Top-level entries the sandbox provides itself. */
const RUNTIME_MOUNTS = new Set(['proc', 'dev', 'tmp', 'sys']);

/**
 * docker/podman run arguments (the binary name not included): no network, a read-only root, no
 * capabilities, no new privileges, the image's user replaced by nobody, the entrypoint replaced by
 * the program, only the environment given, limits on memory and processes.
 */
export function containerArgv(request: SandboxRequest): string[] {
  const [program, ...rest] = request.argv;
  if (!program) throw new GuardError('nothing to run: empty argv');
  const memory = `${request.memoryMB ?? DEFAULT_MEMORY_MB}m`;
  const args = ['run', '--rm', '--pull', 'missing', '--network', 'none', '--read-only', '--tmpfs', '/tmp', '--cap-drop', 'ALL', '--security-opt', 'no-new-privileges', '--user', `${SANDBOX_UID}:${SANDBOX_UID}`, '--memory', memory, '--memory-swap', memory, '--pids-limit', '256', '--workdir', request.workingDir || '/', '--entrypoint', program];
  for (const [name, value] of environment(request.env)) args.push('--env', `${name}=${value}`);
  args.push('--', request.image ?? '', ...rest);
  return args;
}

/** The image's Env as pairs; PATH defaults as container runtimes set it when the image has none. */
function environment(env: string[]): Array<[string, string]> {
  const pairs: Array<[string, string]> = [];
  for (const item of env) {
    const equals = item.indexOf('=');
    if (equals <= 0) continue;
    pairs.push([item.slice(0, equals), item.slice(equals + 1)]);
  }
  if (!pairs.some(([name]) => name === 'PATH')) pairs.push(['PATH', DEFAULT_PATH]);
  return pairs;
}

/**
 * Start in a process group of its own with an empty environment; on timeout or too much output
 * the whole group is killed (bwrap --die-with-parent then takes the sandbox's pid namespace down).
 */
function runBounded(argv: string[], timeoutMs: number, asUser?: number): Promise<Omit<SandboxResult, 'method'>> {
  return new Promise((resolve) => {
    const child = spawn(argv[0]!, argv.slice(1), { env: {}, cwd: '/', stdio: ['ignore', 'pipe', 'pipe'], detached: true, ...(asUser !== undefined ? { uid: asUser, gid: asUser } : {}) });
    const streams = { stdout: [] as Buffer[], stderr: [] as Buffer[] };
    const sizes = { stdout: 0, stderr: 0 };
    let timedOut = false;
    let truncated = false;
    let settled = false;
    const killGroup = () => {
      try {
        if (child.pid) process.kill(-child.pid, 'SIGKILL');
      } catch {
        // already gone
      }
    };
    const timer = setTimeout(() => {
      timedOut = true;
      killGroup();
    }, timeoutMs);
    const collect = (name: 'stdout' | 'stderr') => (chunk: Buffer) => {
      const room = MAX_STREAM_BYTES - sizes[name];
      if (chunk.length > room) {
        truncated = true;
        if (room > 0) streams[name].push(chunk.subarray(0, room));
        sizes[name] = MAX_STREAM_BYTES;
        killGroup();
        return;
      }
      sizes[name] += chunk.length;
      streams[name].push(chunk);
    };
    child.stdout.on('data', collect('stdout'));
    child.stderr.on('data', collect('stderr'));
    const finish = (exitCode: number | null, error?: Error) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      const stderr = Buffer.concat(streams.stderr).toString('utf8');
      resolve({ stdout: Buffer.concat(streams.stdout).toString('utf8'), stderr: error ? `${stderr}${error.message}` : stderr, exitCode, timedOut, truncated });
    };
    child.on('error', (error) => finish(null, error));
    child.on('close', (code) => finish(code));
  });
}

/** A runner for src/flags/capture-plan.ts: every command in the same image, sandbox and limits (a time limit per run may be given). */
export function sandboxRunner(base: Omit<SandboxRequest, 'argv'>): (argv: string[], timeoutMs?: number) => Promise<SandboxResult> {
  return (argv, timeoutMs) => runInSandbox({ ...base, argv, ...(timeoutMs !== undefined ? { timeoutMs } : {}) });
}
