import path from 'node:path';
import { openFlake, inPool, type FlakeFailure, type NodeOutcome } from '../nix/eval-deploy.js';
import { fetchInputs, type InputHostPolicy, type LockedInput } from '../nix/input-fetch.js';
import { EMPTY_READS, mergeReads, type ReadSet } from '../nix/read-set.js';
import { identityInSources, sourceInResults } from '../nix/self-dependence.js';
import type { ReadTracer } from '../nix/trace-reads.js';
import { CommitSnapshot, runGit } from '../git/repo.js';
import { cacheKey, type CachedRevision, type EvalCache, type RecordedReads } from './eval-cache.js';

/** What every revision of one check shares. */
export interface FleetContext {
  nixBin: string;
  nixVersion: string;
  repoRoot: string;
  flakeDir: string;
  /** Per nix process (deploy.evalTimeoutSeconds). */
  timeoutMs: number;
  /** nix processes evaluating nodes at once (src/deploy/eval-memory.ts). */
  concurrency: number;
  /** Shared by revisions evaluated at the same time, so together they stay within `concurrency`; else one pool per revision. */
  pool?: <T>(task: () => Promise<T>) => Promise<T>;
  /** Address space each nix process may use, MB (deploy.evalMemoryMB); undefined: unlimited. */
  memoryLimitMB?: number;
  cache: EvalCache;
  /** Counts nix evaluations started (tests, timings). */
  onEvaluate?: (label: string, node: string | undefined) => void;
  /** Records what committed revisions' evaluations read (strace), for reusing a result across revisions. */
  tracer?: ReadTracer;
}

/** What a revision's evaluation read of the repository, when every evaluation of it was recorded. */
export type RevisionReads = { ok: true; reads: ReadSet } | { ok: false; reason: string };

export interface RevisionSpec {
  /** undefined: the working tree (never cached). */
  rev?: string;
  label: string;
  lockText?: string;
  inputs: LockedInput[];
  /** Hosts this revision's inputs may be fetched from. */
  hosts: InputHostPolicy;
}

export type RevisionResult = { ok: false; flake: FlakeFailure } | { ok: true; names: string[]; nodes: Map<string, NodeOutcome>; reads: RevisionReads };

/**
 * One revision's nodes: from the cache where it has them, else inputs fetched (the only network step)
 * and each missing node evaluated in its own nix process, `concurrency` at a time. `wanted` limits
 * the nodes evaluated (a search for the last good result of a few nodes).
 */
export async function evaluateRevision(context: FleetContext, spec: RevisionSpec, wanted?: string[]): Promise<RevisionResult> {
  const key = spec.rev
    ? cacheKey({ commit: await commitOf(context.repoRoot, spec.rev), lock: spec.lockText, nixVersion: context.nixVersion, flakeDir: context.flakeDir })
    : undefined;
  const cached: CachedRevision = (key ? await context.cache.read(key) : undefined) ?? { nodes: {} };
  if (cached.flake) return { ok: false, flake: { ok: false, ...cached.flake } };
  const missing = (names: string[]) => names.filter((n) => !cached.nodes[n] && (!wanted || wanted.includes(n)));
  if (cached.names && missing(cached.names).length === 0) return result(cached.names, cached);
  await fetchInputs(spec.inputs, { nixBin: context.nixBin, label: spec.label, policy: spec.hosts, timeoutMs: context.timeoutMs });
  // Only a commit's reads are kept (the working tree is never cached); a path input is another store copy, not traced.
  const tracer = spec.rev && context.tracer && !spec.inputs.some((i) => i.type === 'path') ? context.tracer : undefined;
  const session = await openFlake({ nixBin: context.nixBin, repoRoot: context.repoRoot, rev: spec.rev, flakeDir: context.flakeDir, timeoutMs: context.timeoutMs, label: spec.label, ...(tracer ? { tracer } : {}), ...(context.memoryLimitMB ? { memoryLimitMB: context.memoryLimitMB } : {}) });
  try {
    let names = cached.names;
    if (!names) {
      context.onEvaluate?.(spec.label, undefined);
      const listed = await session.names();
      if (!listed.ok) {
        const { ok: _ok, ...flake } = listed;
        if (key) await context.cache.write(key, { flake, nodes: {} });
        return { ok: false, flake: listed };
      }
      names = listed.names;
    }
    const all = names;
    const todo = missing(all);
    const tasks = todo.map((name) => () => {
      context.onEvaluate?.(spec.label, name);
      return session.node(all.indexOf(name), name);
    });
    const outcomes = context.pool ? await Promise.all(tasks.map((task) => context.pool!(task))) : await inPool(tasks, context.concurrency);
    todo.forEach((name, i) => (cached.nodes[name] = outcomes[i]!));
    cached.names = all;
    const peak = session.peakMB();
    if (peak) await context.cache.recordPeak(context.flakeDir, peak);
    if (tracer) cached.reads = await checkedReads(context, spec.rev!, all, cached, mergeRecorded(cached.reads, session.reads()));
    if (key) await context.cache.write(key, cached);
    return result(all, cached);
  } finally {
    await session.close();
  }
}

function result(names: string[], cached: CachedRevision): RevisionResult {
  return { ok: true, names, nodes: new Map(names.flatMap((n) => (cached.nodes[n] ? [[n, cached.nodes[n]!] as const] : []))), reads: readsOf(names, cached.reads) };
}

function readsOf(names: string[], recorded: RecordedReads | undefined): RevisionReads {
  if (!recorded) return { ok: false, reason: 'what the evaluation read was not recorded' };
  if (recorded.unusable) return { ok: false, reason: recorded.unusable };
  const traced = new Set(recorded.nodes);
  const untraced = names.filter((n) => !traced.has(n));
  if (!recorded.names || untraced.length > 0) return { ok: false, reason: `not every evaluation was traced (${recorded.names ? untraced.join(', ') : 'the node list'})` };
  if (!recorded.selfChecked) return { ok: false, reason: 'the results were not checked for dependence on the revision itself' };
  return { ok: true, reads: recorded.reads };
}

function mergeRecorded(previous: RecordedReads | undefined, session: { reads: ReadSet; unusable?: string; names: boolean; nodes: string[]; source?: string }): RecordedReads {
  const before = previous ?? { reads: EMPTY_READS, names: false, nodes: [] };
  const unusable = before.unusable ?? session.unusable;
  const source = before.source ?? session.source;
  return {
    reads: mergeReads(before.reads, session.reads),
    names: before.names || session.names,
    nodes: [...new Set([...before.nodes, ...session.nodes])],
    ...(source ? { source } : {}),
    ...(unusable ? { unusable } : {}),
    ...(session.source && before.source && session.source !== before.source ? { unusable: 'the source was copied to two store paths' } : {}),
  };
}

/** Once every evaluation of the revision is traced: whether a result depends on the revision's identity (src/nix/self-dependence.ts). */
async function checkedReads(context: FleetContext, rev: string, names: string[], cached: CachedRevision, recorded: RecordedReads): Promise<RecordedReads> {
  if (recorded.unusable || recorded.selfChecked || !recorded.names || !names.every((n) => recorded.nodes.includes(n))) return recorded;
  if (!recorded.source) return { ...recorded, unusable: 'nix did not name the store copy of the flake' };
  // A nix that reads the revision another way (from git objects, lazily) shows no reads of the store copy: nothing to rely on.
  const flakeFile = path.posix.join(context.flakeDir, 'flake.nix');
  if (!recorded.reads.paths.includes(flakeFile)) return { ...recorded, unusable: `the trace shows no read of ${flakeFile} in the store copy of the revision (this nix reads sources another way)` };
  const snapshot = new CommitSnapshot(context.repoRoot, rev, 'revision');
  const hazard = await treeHazard(snapshot);
  if (hazard) return { ...recorded, unusable: hazard };
  const nixFiles = recorded.reads.paths.filter((p) => p.endsWith('.nix'));
  const texts = new Map([...(await snapshot.readFiles(nixFiles)).entries()].map(([file, data]) => [file, data.toString('utf8')] as const));
  const named = identityInSources(texts);
  if (named) return { ...recorded, unusable: `${named} may use the revision's own identity (self.rev and the like)` };
  const outcomes = Object.values(cached.nodes);
  const drvPaths = outcomes.flatMap((o) => (o.ok ? Object.values(o.node.profiles).map((p) => p.drvPath) : []));
  const inResults = await sourceInResults(context.nixBin, recorded.source, JSON.stringify(outcomes), drvPaths);
  if (inResults) return { ...recorded, unusable: inResults };
  return { ...recorded, selfChecked: true };
}

/**
 * What of a commit nix sees differently from the tree: a symbolic link is followed by the kernel
 * (the log shows only the link), and nix 2.8 copies a revision with `git archive`, which applies
 * .gitattributes (export-subst writes the commit's own hash into files, export-ignore drops files).
 */
async function treeHazard(snapshot: CommitSnapshot): Promise<string | undefined> {
  const [link] = await snapshot.symlinks();
  if (link) return `the revision holds a symbolic link (${link}), which nix follows without a trace`;
  const attributes = (await snapshot.listFiles()).filter((file) => path.posix.basename(file) === '.gitattributes');
  const texts = await snapshot.readFiles(attributes);
  for (const [file, data] of texts) {
    if (/export-(subst|ignore)/.test(data.toString('utf8'))) return `${file} sets export-subst or export-ignore, which change what nix copies of each commit`;
  }
  return undefined;
}

/** The commit, not its tree: a flake sees self.rev and self.lastModified (system.configurationRevision). */
async function commitOf(root: string, rev: string): Promise<string> {
  return (await runGit(['rev-parse', '--verify', `${rev}^{commit}`], { cwd: root })).stdout.trim();
}

/** Up to `depth` first-parent ancestors of a commit, nearest first. */
export async function ancestors(root: string, rev: string, depth: number): Promise<string[]> {
  if (depth <= 0) return [];
  const { stdout, exitCode } = await runGit(['rev-list', '--first-parent', `--max-count=${depth}`, `${rev}^`, '--'], { cwd: root, reject: false });
  return exitCode === 0 ? stdout.split('\n').filter(Boolean) : [];
}
