import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { GuardError } from '../errors.js';
import { runGit } from '../git/repo.js';
import { filesystemFence, findExecutable, networkFence, runTool, toolEnvironment, type FilesystemView } from '../tools/sandbox.js';
import { DECLARED_INPUTS_APPLY, parseDeclaredInputs, refusedDeclaredInputs, stageFlakeFile } from './declared-inputs.js';
import { lockedInputs, NIX_FEATURES } from './input-fetch.js';
import { exportRevision } from './revision-export.js';
import { inputNamedIn, localInputs, printableUrl, type FlakeLocks } from './flake-inputs.js';
import { EMPTY_READS, mergeReads, parseTrace, type ReadSet } from './read-set.js';
import { gnuTime } from './memory-measure.js';
import { straceArguments, type ReadTracer } from './trace-reads.js';

/** One deploy-rs node as evaluated from `deploy.nodes.<name>`. */
export interface DeployNode {
  name: string;
  hostname: string;
  /** `site` attribute on the node, when the flake declares it. */
  site?: string;
  magicRollback?: boolean;
  autoRollback?: boolean;
  confirmTimeout?: number;
  activationTimeout?: number;
  profilesOrder?: string[];
  /** Profile name -> store paths. outPath is what deploy-rs pushes and activates. */
  profiles: Record<string, { outPath: string; drvPath: string }>;
}

/** A node whose evaluation failed: named, with the repository file and line nix's trace points at. */
export interface NodeFailure {
  name: string;
  error: string;
  identity: string;
  position?: { path: string; line: number };
  timedOut?: boolean;
  /** Stopped at the memory limit (deploy.evalMemoryMB): like a timeout, never cached. */
  outOfMemory?: boolean;
}

/** The flake as a whole does not evaluate (flake.nix, the lock, the list of nodes). */
export interface FlakeFailure {
  ok: false;
  error: string;
  /** The error without store paths, hashes or positions. */
  identity: string;
  position?: { path: string; line: number };
  timedOut?: boolean;
}

export type NodeOutcome = { ok: true; node: DeployNode } | { ok: false; failure: NodeFailure };

// Attribute names avoid `outPath`: nix serialises any attrset holding one as that string.
const NODE = `node: {
  hostname = node.hostname or name;
  site = node.site or null;
  magicRollback = node.magicRollback or deploy.magicRollback or null;
  autoRollback = node.autoRollback or deploy.autoRollback or null;
  confirmTimeout = node.confirmTimeout or deploy.confirmTimeout or null;
  activationTimeout = node.activationTimeout or deploy.activationTimeout or null;
  profilesOrder = node.profilesOrder or null;
  profiles = builtins.mapAttrs (profileName: profile: {
    out = profile.path.outPath;
    drv = profile.path.drvPath;
  }) (node.profiles or {});
}`;

/** Every node in one nix process (the shape before per-node evaluation; kept for the memory benchmark). */
export const ALL_NODES_APPLY = `deploy: builtins.mapAttrs (name: ${NODE}) (deploy.nodes or {})`;
const NAMES_APPLY = 'deploy: builtins.attrNames (deploy.nodes or {})';
/** One node, chosen by its index in the sorted names: no string of the change is spliced into nix code. */
const nodeApply = (index: number) =>
  `deploy: let name = builtins.elemAt (builtins.attrNames (deploy.nodes or {})) ${index}; in { inherit name; value = (${NODE}) deploy.nodes.\${name}; }`;

export interface EvalRequest {
  nixBin: string;
  /** Repository root on disk. */
  repoRoot: string;
  /** Commit to evaluate; undefined evaluates the working tree (tracked files, dirty changes included). */
  rev?: string;
  /** Flake directory inside the repository ('' for the root). */
  flakeDir: string;
  /** Per nix process. */
  timeoutMs: number;
  /** Which revision this is, for messages ("base", "head"). */
  label?: string;
  /** Record which files of the repository the evaluations read (strace), for FlakeSession.reads(). */
  tracer?: ReadTracer;
  /** Address space each nix process may use (prlimit --as): a runaway evaluation fails as its node, the runner stays up. */
  memoryLimitMB?: number;
}

/** What this session's evaluations read of the repository; `unusable` says why it cannot be relied on. */
export interface SessionReads {
  reads: ReadSet;
  unusable?: string;
  /** Whether the node list's evaluation was traced, and which nodes' were. */
  names: boolean;
  nodes: string[];
  /** The store copy of the revision's source the reads are under. */
  source?: string;
}

/**
 * Settings of every nix call: never build, never import from a derivation, never download
 * (`restrict-eval` allows only the URLs of locked inputs, so builtins.fetchurl and the like stop before
 * they connect; the empty network namespace stops what restrict-eval does not govern, such as fetching
 * flake inputs, so a locked input is usable only when it is already in the store: the guard's fetch
 * step, src/nix/input-fetch.ts, puts it there), no binary cache, no flake registry lookup, no
 * `nixConfig` of the flake itself.
 */
export const NIX_SETTINGS = [
  // fetch-tree: its own feature from nix 2.19 on (an unknown name to 2.8, which ignores it).
  ...NIX_FEATURES,
  '--option', 'allow-import-from-derivation', 'false',
  '--option', 'restrict-eval', 'true',
  '--option', 'pure-eval', 'true',
  '--option', 'accept-flake-config', 'false',
  '--option', 'flake-registry', '',
  '--option', 'substituters', '',
  '--option', 'build-users-group', '',
  '--option', 'warn-dirty', 'false',
  '--offline',
];

/** An opened flake of one revision: its inputs judged, its nodes listed and evaluated one nix process each. */
export interface FlakeSession {
  label: string;
  /** Sorted node names, or why the flake does not evaluate. */
  names(): Promise<{ ok: true; names: string[] } | FlakeFailure>;
  /** One node by its index in `names()`: one nix process that forces only this node. */
  node(index: number, name: string): Promise<NodeOutcome>;
  /** What the traced evaluations so far read (request.tracer). */
  reads(): SessionReads;
  /** The largest resident memory of one nix process of this session so far (GNU time), in MB; undefined: not measured. */
  peakMB(): number | undefined;
  close(): Promise<void>;
}

export function assertFence(): void {
  const fence = networkFence();
  if (fence.kind === 'none' && process.env.GUARD_NETWORK_FENCE !== 'off') {
    throw new GuardError(
      `could not check the deploy targets: nix would evaluate this change's flake with network access (${fence.reason})`,
      undefined,
      'run the guard where network namespaces are available (root, or unprivileged user namespaces enabled); GUARD_NETWORK_FENCE=off accepts the risk explicitly',
    );
  }
}

/**
 * Open one revision's flake under the guard's fence: an environment built from nothing (builtins.getEnv
 * sees no token), an empty network namespace, a view of the file system holding only /nix and this
 * revision (where mount namespaces work: fencedView), and nix's own restrictions. The inputs flake.nix
 * declares are judged before nix locks them, and the locked inputs again before anything is evaluated. Something the
 * evaluation needs that is not in the nix store is "could not check" (GuardError, exit 2), never a finding.
 */
export async function openFlake(request: EvalRequest): Promise<FlakeSession> {
  assertFence();
  const label = request.label ?? (request.rev ? request.rev.slice(0, 12) : 'the working tree');
  // One HOME per revision: nix's fetcher cache there lets every node's process reuse the copy of the revision.
  const home = await fs.mkdtemp(path.join(os.tmpdir(), 'guard-nix-'));
  const scratch = await fs.mkdtemp(path.join(os.tmpdir(), 'guard-rev-'));
  const cleanup = () => Promise.all([home, scratch].map((dir) => fs.rm(dir, { recursive: true, force: true }).catch(() => undefined))).then(() => undefined);
  let fenced: Awaited<ReturnType<typeof fencedView>>;
  try {
    fenced = await fencedView(request, home, scratch, label);
  } catch (error) {
    await cleanup();
    throw error;
  }
  const { flakeRef, view } = fenced;
  const untraceable = request.tracer?.kind === 'none' ? request.tracer.reason : request.tracer && !view ? 'reads are traced only behind the file-system fence (mount and pid namespaces)' : undefined;
  const traced: SessionReads = { reads: EMPTY_READS, names: false, nodes: [], ...(untraceable ? { unusable: untraceable } : {}) };
  let traces = 0;
  let peakKB: number | undefined;
  // Only behind the file-system fence: its pid namespace ends nix with the wrappers when a timeout kills them.
  const timeBin = view ? await gnuTime() : undefined;
  const prlimitBin = request.memoryLimitMB ? findExecutable('prlimit') : undefined;
  /** `tracing`: the source's store path, when this evaluation's reads are recorded. */
  const run = async (args: string[], allowedUris: string[] = [], tracing?: { source: string | undefined; what: string | null }) => {
    const nixArgs = [...NIX_SETTINGS, '--option', 'allowed-uris', allowedUris.join(' '), ...args];
    const tracer = request.tracer?.kind === 'strace' && view && tracing && !traced.unusable ? request.tracer : undefined;
    const n = traces++;
    const log = path.join(home, `reads-${n}.strace`);
    const rss = path.join(home, `rss-${n}.txt`);
    // time (max resident memory of the largest process under it) > prlimit (address space) > strace (reads) > nix.
    const command = [
      ...(timeBin ? [timeBin, '-f', '%M', '-o', rss] : []),
      ...(prlimitBin ? [prlimitBin, `--as=${request.memoryLimitMB! * 1024 * 1024}`] : []),
      ...(tracer ? [tracer.bin, ...straceArguments(tracer, log)] : []),
      request.nixBin,
      ...nixArgs,
    ];
    const result = await runTool(command[0]!, command.slice(1), {
      env: nixEnvironment(home, view !== undefined),
      timeoutMs: request.timeoutMs,
      maxBuffer: 256 * 1024 * 1024,
      network: 'none',
      ...(view ? { filesystem: view } : {}),
    });
    if (timeBin) {
      const measured = /^(\d+)\s*$/m.exec(await fs.readFile(rss, 'utf8').catch(() => ''));
      if (measured) peakKB = Math.max(peakKB ?? 0, Number(measured[1]));
      await fs.rm(rss, { force: true });
    }
    if (tracer && tracing) {
      const text = await fs.readFile(log, 'utf8').catch(() => undefined);
      await fs.rm(log, { force: true });
      const parsed = text === undefined ? { ok: false as const, reason: 'strace wrote no log' } : tracing.source ? parseTrace(text, tracing.source) : { ok: false as const, reason: 'nix did not name the store copy of the flake' };
      if (!parsed.ok) traced.unusable = parsed.reason;
      else if (!result.timedOut) {
        traced.source ??= tracing.source;
        traced.reads = mergeReads(traced.reads, parsed.reads);
        if (tracing.what === null) traced.names = true;
        else traced.nodes.push(tracing.what);
      }
    }
    return result;
  };
  let opened: Promise<{ ok: true; locks?: FlakeLocks; source?: string } | FlakeFailure> | undefined;
  const open = () => (opened ??= (async () => {
    const metadata = await run(['flake', 'metadata', '--json', '--no-write-lock-file', '--', flakeRef]);
    if (metadata.timedOut) return timedOut(request);
    if (metadata.exitCode !== 0) return failure(metadata.stderr, undefined, label);
    const parsed = parseJson(metadata.stdout) as { locks?: FlakeLocks; path?: unknown } | undefined;
    const locks = parsed?.locks;
    const local = localInputs(locks);
    if (local.length > 0) throw localInputError(local, label);
    return { ok: true as const, locks, source: typeof parsed?.path === 'string' ? parsed.path : undefined };
  })());
  return {
    label,
    async names() {
      const flake = await open();
      if (!flake.ok) return flake;
      const result = await run(['eval', '--json', '--no-write-lock-file', '--apply', NAMES_APPLY, '--', `${flakeRef}#deploy`], lockedUrls(flake.locks), { source: flake.source, what: null });
      if (result.timedOut) return timedOut(request);
      if (result.exitCode !== 0) return failure(result.stderr, flake.locks, label, flake.source);
      const names = parseJson(result.stdout);
      if (!Array.isArray(names) || !names.every((n) => typeof n === 'string')) return { ok: false, error: 'nix eval printed output that is not a list of node names', identity: 'output is not JSON' };
      return { ok: true, names: names as string[] };
    },
    async node(index, name) {
      const flake = await open();
      if (!flake.ok) return { ok: false, failure: { name, error: flake.error, identity: flake.identity, ...(flake.position ? { position: flake.position } : {}) } };
      const result = await run(['eval', '--json', '--no-write-lock-file', '--apply', nodeApply(index), '--', `${flakeRef}#deploy`], lockedUrls(flake.locks), { source: flake.source, what: name });
      if (result.timedOut) {
        const error = `nix eval of node ${name} did not finish within ${Math.round(request.timeoutMs / 1000)} s (deploy.evalTimeoutSeconds)`;
        return { ok: false, failure: { name, error, identity: 'timeout', timedOut: true } };
      }
      if (result.exitCode !== 0 && request.memoryLimitMB && /^error: out of memory/m.test(result.stderr)) {
        const error = `nix eval of node ${name} needed more memory than the ${request.memoryLimitMB} MB of address space one evaluation may use (deploy.evalMemoryMB)`;
        return { ok: false, failure: { name, error, identity: 'out of memory', outOfMemory: true } };
      }
      // A failed evaluation may still print partial JSON: only trust stdout after exit 0.
      if (result.exitCode !== 0) {
        const failed = failure(result.stderr, flake.locks, label, flake.source);
        return { ok: false, failure: { name, error: failed.error, identity: failed.identity, ...(failed.position ? { position: failed.position } : {}) } };
      }
      const parsed = parseJson(result.stdout) as { name?: unknown; value?: RawNode } | undefined;
      if (!parsed || parsed.name !== name || typeof parsed.value !== 'object' || parsed.value === null) {
        return { ok: false, failure: { name, error: 'nix eval printed output that is not this node', identity: 'output is not JSON' } };
      }
      return { ok: true, node: toNode(name, parsed.value) };
    },
    reads: () => ({ ...traced, nodes: [...traced.nodes] }),
    peakMB: () => (peakKB === undefined ? undefined : Math.ceil(peakKB / 1024)),
    close: cleanup,
  };
}

/** nix's environment: nothing of the guard's; behind the file-system fence, paths that exist there. */
function nixEnvironment(home: string, fenced: boolean): NodeJS.ProcessEnv {
  // nix needs a user name; behind the fence there is no /etc/passwd to find one in.
  return toolEnvironment(home, { XDG_CACHE_HOME: path.join(home, 'cache'), XDG_CONFIG_HOME: path.join(home, 'config'), USER: 'guard', ...(fenced ? { TMPDIR: '/tmp' } : {}) });
}

/**
 * What nix is given of one revision. Where mount namespaces work (filesystemFence), nix sees only the
 * system's programs, /nix, a scratch repository holding this commit and its own HOME: no path of the
 * machine exists for a `path:` input or `builtins.fetchTree { type = "path"; }` to copy into the
 * world-readable store. Before nix locks anything, the inputs flake.nix declares are judged against
 * flake.lock as committed (nix evaluates only flake.nix's `inputs`, behind the same fence).
 * Without the fence, nix sees the checkout itself and only the lock is judged (after nix locked it).
 */
async function fencedView(request: EvalRequest, home: string, scratch: string, label: string): Promise<{ flakeRef: string; view?: FilesystemView }> {
  const fence = filesystemFence();
  if (fence.kind === 'none') {
    const query = new URLSearchParams();
    if (request.rev) query.set('rev', request.rev);
    if (request.flakeDir) query.set('dir', request.flakeDir);
    return { flakeRef: `git+file://${request.repoRoot}${query.size > 0 ? `?${query.toString()}` : ''}` };
  }
  const exported = await exportRevision(request.repoRoot, request.rev, request.flakeDir, scratch);
  const nixDir = await nixInstallDir(request.nixBin);
  const view: FilesystemView = { readOnly: [...exported.readOnly, ...(nixDir ? [nixDir] : [])], writable: [home], hidden: exported.hidden };
  const flakeFile = path.posix.join(request.flakeDir, 'flake.nix');
  const flakeText = await revisionFile(request.repoRoot, request.rev, flakeFile);
  if (flakeText === undefined) return { flakeRef: exported.flakeRef, view };
  const lockText = await revisionFile(request.repoRoot, request.rev, path.posix.join(request.flakeDir, 'flake.lock'));
  const { locks } = lockedInputs(lockText, path.posix.join(request.flakeDir, 'flake.lock'), label);
  const staged = await stageFlakeFile(flakeText, scratch);
  const result = await runTool(request.nixBin, [...NIX_SETTINGS, 'eval', '--impure', '-I', `guard-flake=${path.dirname(staged)}`, '--json', '--expr', `(${DECLARED_INPUTS_APPLY}) (import <guard-flake/flake.nix>)`], {
    env: nixEnvironment(home, true),
    timeoutMs: request.timeoutMs,
    maxBuffer: 16 * 1024 * 1024,
    network: 'none',
    filesystem: { ...view, readOnly: [...(view.readOnly ?? []), path.dirname(staged)] },
  });
  // Impure only for the search path; restrict-eval keeps it to flake.nix's own folder. A flake.nix that does
  // not evaluate on its own is left to nix's own error below (still behind the fence).
  const declared = result.exitCode === 0 ? parseDeclaredInputs(result.stdout) : undefined;
  const refused = refusedDeclaredInputs(declared ?? [], locks);
  if (refused.length > 0) {
    throw new GuardError(
      `could not check the deploy targets at ${label}: ${refused.map((r) => `flake input "${r.input}" ${r.why}`).join('; ')}`,
      { path: flakeFile, line: 1 },
      'flake inputs must come from the network (github:, https:, git+https:) or from paths inside the checked revision (path:./dir), and be locked in the committed flake.lock (nix flake lock)',
    );
  }
  return { flakeRef: exported.flakeRef, view };
}

/** A file of the revision (or of the working tree: a regular file only, never followed through a symlink). */
async function revisionFile(repoRoot: string, rev: string | undefined, file: string): Promise<string | undefined> {
  if (rev) {
    const shown = await runGit(['cat-file', 'blob', `${rev}:${file}`], { cwd: repoRoot, reject: false, maxBuffer: 64 * 1024 * 1024 });
    return shown.exitCode === 0 ? shown.stdout : undefined;
  }
  const full = path.join(repoRoot, file);
  const stat = await fs.lstat(full).catch(() => undefined);
  return stat?.isFile() ? fs.readFile(full, 'utf8') : undefined;
}

/** The folder of a nix installed outside the system folders (e.g. /opt), which the fenced view must also show. */
async function nixInstallDir(nixBin: string): Promise<string | undefined> {
  const found = findExecutable(nixBin);
  const real = found ? await fs.realpath(found).catch(() => found) : undefined;
  if (!real || /^\/(usr|nix|bin|sbin|lib)\//.test(real)) return undefined;
  return path.dirname(path.dirname(real));
}

/** Every node of one revision, `concurrency` nix processes at a time. */
export async function evaluateDeployNodes(request: EvalRequest & { concurrency?: number }): Promise<{ ok: true; nodes: DeployNode[]; failed: NodeFailure[] } | FlakeFailure> {
  const session = await openFlake(request);
  try {
    const listed = await session.names();
    if (!listed.ok) return listed;
    const outcomes = await inPool(listed.names.map((name, index) => () => session.node(index, name)), request.concurrency ?? 2);
    return {
      ok: true,
      nodes: outcomes.flatMap((o) => (o.ok ? [o.node] : [])),
      failed: outcomes.flatMap((o) => (o.ok ? [] : [o.failure])),
    };
  } finally {
    await session.close();
  }
}

/** Run tasks with at most `size` at once, results in task order. */
export async function inPool<T>(tasks: Array<() => Promise<T>>, size: number): Promise<T[]> {
  const results = new Array<T>(tasks.length);
  let next = 0;
  const worker = async () => {
    while (next < tasks.length) {
      const index = next++;
      results[index] = await tasks[index]!();
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(size, tasks.length)) }, worker));
  return results;
}

export function localInputError(local: Array<{ input: string; where: string }>, label: string): GuardError {
  return new GuardError(
    `could not check the deploy targets at ${label}: flake input${local.length === 1 ? '' : 's'} ${local.map((l) => `"${l.input}" (${l.where})`).join(', ')} would read files of the machine the guard runs on, outside the checked revision`,
    undefined,
    'flake inputs must come from the network (github:, https:, git+https:) or from paths inside the checked revision (path:./dir)',
  );
}

function lockedUrls(locks: FlakeLocks | undefined): string[] {
  return Object.values(locks?.nodes ?? {})
    .map((node) => node.locked?.url)
    .filter((url): url is string => typeof url === 'string' && /^[a-z][a-z0-9+.-]*:\/\/[^\s]+$/i.test(url) && !/^file:/i.test(url));
}

function timedOut(request: EvalRequest): FlakeFailure {
  const error = `nix eval did not finish within ${Math.round(request.timeoutMs / 1000)} s (deploy.evalTimeoutSeconds)`;
  return { ok: false, error, identity: 'timeout', timedOut: true };
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

/** What nix would have had to fetch: a URL it could not download or was forbidden to, or a flake it could not find. */
const NEEDS_FETCH = [
  /unable to download '([^']+)'/,
  /(?:failed to fetch|cannot fetch|unable to fetch|fetching Git repository) '?([^'\s]+)'?/i,
  /cannot find flake '([^']+)' in the flake registries/,
  /Couldn't resolve host|Could not resolve host|Couldn't connect to server|Network is unreachable|Connection refused/,
];

/**
 * A failed nix call. Needing something that is not in the store is the guard's own "could not check"
 * (the message names the input or URL, never a reply: no connection is ever made); anything else is an
 * evaluation error of the flake.
 */
function failure(stderr: string, locks: FlakeLocks | undefined, label: string, source?: string): FlakeFailure {
  const error = cleanNixError(stderr);
  const forbidden = /access to URI '([^']+)' is forbidden in restricted mode/.exec(error);
  if (forbidden) {
    throw new GuardError(
      `could not check the deploy targets at ${label}: the flake downloads ${printableUrl(forbidden[1]!)} while it is evaluated (builtins.fetchurl or the like), which the guard never does for a change`,
      undefined,
      'a deploy target must evaluate from the checked revision and its locked flake inputs alone',
    );
  }
  for (const pattern of NEEDS_FETCH) {
    const match = pattern.exec(error);
    if (!match) continue;
    const url = match[1] ? printableUrl(match[1]) : undefined;
    const input = inputNamedIn(error, locks);
    const what = input ? `flake input "${input}"${url ? ` (${url})` : ''}` : url ? `${url}` : 'a source outside the nix store';
    throw new GuardError(
      `could not check the deploy targets at ${label}: the evaluation needs ${what}, which is not in the nix store, and the guard never downloads while it evaluates a change`,
      undefined,
      'fetch the base revision\'s flake inputs into the runner\'s nix store in a trusted step before the guard runs (e.g. nix flake archive on the base checkout)',
    );
  }
  // Positions in the revision's own copy are repository files (the evidence shows them so); others are inputs'.
  const own = source && /^\/nix\/store\/[a-z0-9]{32}-source$/.test(source) ? source : undefined;
  const at = own
    ? new RegExp(`(?:^|[\\s'"])${own.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}/([^\\s:]+):(\\d+)`).exec(error)
    : /\bat \/nix\/store\/[a-z0-9]{32}-source\/([^\s:]+):(\d+)/.exec(error);
  const shown = own ? error.split(own + '/').join('') : error;
  return { ok: false, error: shown, identity: errorIdentity(error), ...(at ? { position: { path: at[1]!, line: Number(at[2]) } } : {}) };
}

/** The first error line without what changes between revisions of the same error: store paths, hashes, positions. */
export function errorIdentity(error: string): string {
  const first = error.split('\n').find((line) => line.startsWith('error:')) ?? error.split('\n')[0] ?? '';
  return first
    .replace(/\/nix\/store\/[a-z0-9]{32}-[^\s'":]*/g, '<store>')
    .replace(/\bsha256[-:][A-Za-z0-9+/=]{20,}/g, '<hash>')
    .replace(/\b[0-9a-f]{32,40}\b/g, '<hash>')
    .replace(/git\+file:\/\/[^\s'"]*/g, '<flake>')
    .replace(/:\d+(?::\d+)?\b/g, '')
    .trim()
    .slice(0, 300);
}

interface RawNode {
  hostname?: unknown;
  site?: unknown;
  magicRollback?: unknown;
  autoRollback?: unknown;
  confirmTimeout?: unknown;
  activationTimeout?: unknown;
  profilesOrder?: unknown;
  profiles?: Record<string, { out?: unknown; drv?: unknown } | null>;
}

/** Values of the change's flake are data of any type: strings stay strings, anything else is shown, not trusted. */
function toNode(name: string, raw: RawNode): DeployNode {
  const text = (value: unknown): string => (typeof value === 'string' ? value : JSON.stringify(value) ?? '');
  const optional = <T>(value: unknown, type: 'boolean' | 'number'): T | undefined => (typeof value === type ? (value as T) : undefined);
  return {
    name,
    hostname: text(raw.hostname),
    site: raw.site === null || raw.site === undefined ? undefined : text(raw.site),
    magicRollback: optional<boolean>(raw.magicRollback, 'boolean'),
    autoRollback: optional<boolean>(raw.autoRollback, 'boolean'),
    confirmTimeout: optional<number>(raw.confirmTimeout, 'number'),
    activationTimeout: optional<number>(raw.activationTimeout, 'number'),
    profilesOrder: Array.isArray(raw.profilesOrder) ? raw.profilesOrder.map(text) : undefined,
    profiles: Object.fromEntries(Object.entries(raw.profiles ?? {}).map(([p, v]) => [p, { outPath: text(v?.out), drvPath: text(v?.drv) }])),
  };
}

function cleanNixError(stderr: string): string {
  const lines = stderr.split('\n').filter((l) => l.trim() !== '' && !l.startsWith('warning: Git tree'));
  const errorIndex = lines.findIndex((l) => l.startsWith('error:'));
  return (errorIndex >= 0 ? lines.slice(errorIndex) : lines).slice(0, 12).join('\n').trim() || 'nix eval failed without a message';
}

let cachedNix: Promise<string | undefined> | undefined;

/** What to do on a runner without nix: said the same way by the finding and the error. */
export const NIX_INSTALL_HINT = 'install nix (Debian/Ubuntu: apt-get install nix-bin; elsewhere the installer from https://nixos.org/download) or set NIX_BIN';

/** The nix command the guard would run (NIX_BIN, else `nix` on PATH), for messages. */
export function nixCandidate(): string {
  return process.env.NIX_BIN ?? 'nix';
}

/** nix from NIX_BIN, else PATH; undefined when it does not run. */
export function findNix(): Promise<string | undefined> {
  cachedNix ??= (async () => {
    const candidate = nixCandidate();
    const result = await runTool(candidate, ['--version'], { env: toolEnvironment(os.tmpdir()), timeoutMs: 30_000, maxBuffer: 1024 * 1024, network: 'none' }).catch(() => undefined);
    if (result?.exitCode !== 0) return undefined;
    // The same answer nixVersion() would ask for again.
    if (!versions.has(candidate)) versions.set(candidate, Promise.resolve(result.stdout.trim() || 'unknown'));
    return candidate;
  })();
  return cachedNix;
}

const versions = new Map<string, Promise<string>>();

/** `nix --version` (e.g. "nix (Nix) 2.8.0"): part of every evaluation cache key. */
export function nixVersion(nixBin: string): Promise<string> {
  let version = versions.get(nixBin);
  if (!version) {
    version = runTool(nixBin, ['--version'], { env: toolEnvironment(os.tmpdir()), timeoutMs: 30_000, maxBuffer: 1024 * 1024, network: 'none' }).then((r) => r.stdout.trim() || 'unknown');
    versions.set(nixBin, version);
  }
  return version;
}
