import { execa } from 'execa';
import { openFlake, inPool, type FlakeFailure, type NodeOutcome } from '../nix/eval-deploy.js';
import { fetchInputs, type InputHostPolicy, type LockedInput } from '../nix/input-fetch.js';
import { cacheKey, type CachedRevision, type EvalCache } from './eval-cache.js';

/** What every revision of one check shares. */
export interface FleetContext {
  nixBin: string;
  nixVersion: string;
  repoRoot: string;
  flakeDir: string;
  /** Per nix process (deploy.evalTimeoutSeconds). */
  timeoutMs: number;
  /** nix processes at once per revision (deploy.evalConcurrency). */
  concurrency: number;
  cache: EvalCache;
  /** Counts nix evaluations started (tests, timings). */
  onEvaluate?: (label: string, node: string | undefined) => void;
}

export interface RevisionSpec {
  /** undefined: the working tree (never cached). */
  rev?: string;
  label: string;
  lockText?: string;
  inputs: LockedInput[];
  /** Hosts this revision's inputs may be fetched from. */
  hosts: InputHostPolicy;
}

export type RevisionResult = { ok: false; flake: FlakeFailure } | { ok: true; names: string[]; nodes: Map<string, NodeOutcome> };

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
  const session = await openFlake({ nixBin: context.nixBin, repoRoot: context.repoRoot, rev: spec.rev, flakeDir: context.flakeDir, timeoutMs: context.timeoutMs, label: spec.label });
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
    const outcomes = await inPool(
      todo.map((name) => () => {
        context.onEvaluate?.(spec.label, name);
        return session.node(all.indexOf(name), name);
      }),
      context.concurrency,
    );
    todo.forEach((name, i) => (cached.nodes[name] = outcomes[i]!));
    cached.names = all;
    if (key) await context.cache.write(key, cached);
    return result(all, cached);
  } finally {
    await session.close();
  }
}

function result(names: string[], cached: CachedRevision): RevisionResult {
  return { ok: true, names, nodes: new Map(names.flatMap((n) => (cached.nodes[n] ? [[n, cached.nodes[n]!] as const] : []))) };
}

/** The commit, not its tree: a flake sees self.rev and self.lastModified (system.configurationRevision). */
async function commitOf(root: string, rev: string): Promise<string> {
  return (await execa('git', ['rev-parse', '--verify', `${rev}^{commit}`], { cwd: root })).stdout.trim();
}

/** Up to `depth` first-parent ancestors of a commit, nearest first. */
export async function ancestors(root: string, rev: string, depth: number): Promise<string[]> {
  if (depth <= 0) return [];
  const { stdout, exitCode } = await execa('git', ['rev-list', '--first-parent', `--max-count=${depth}`, `${rev}^`, '--'], { cwd: root, reject: false });
  return exitCode === 0 ? stdout.split('\n').filter(Boolean) : [];
}
