import { createHash } from 'node:crypto';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { readCacheFile, writeCacheFile } from '../tools/cache-file.js';
import type { DeployNode, FlakeFailure, NodeFailure } from '../nix/eval-deploy.js';
import type { ReadSet } from '../nix/read-set.js';

/**
 * What the evaluations of a revision read of the repository (src/nix/read-set.ts), kept with its
 * results: a change that touches none of it is evaluated to the same result without nix.
 */
export interface RecordedReads {
  reads: ReadSet;
  /** The store copy of the revision's source. */
  source?: string;
  /** Why the record cannot be relied on (strace missing, the evaluation depends on the revision itself). */
  unusable?: string;
  /** Whether the node list's evaluation was traced, and which nodes' were: complete when all were. */
  names: boolean;
  nodes: string[];
  /** The check that no result depends on the revision's own identity (self.rev, the source's store path) was done. */
  selfChecked?: boolean;
}

/**
 * Evaluation results of committed revisions, on disk. What a node evaluates to is fixed by the
 * revision's commit (a flake sees self.rev), its flake.lock, the nix version and how the guard asks (the key); a PR run and
 * `guard targets` reuse the base's results, a rerun reuses both. Timeouts are never stored.
 */
export interface CachedRevision {
  /** The flake as a whole failed (no node list). */
  flake?: Omit<FlakeFailure, 'ok'>;
  names?: string[];
  nodes: Record<string, { ok: true; node: DeployNode } | { ok: false; failure: NodeFailure }>;
  reads?: RecordedReads;
}

// Bump when what is evaluated, or how, changes.
const FORMAT = 'deploy-nodes-v2';

export function cacheKey(parts: { commit: string; lock: string | undefined; nixVersion: string; flakeDir: string }): string {
  return createHash('sha256')
    .update(JSON.stringify([FORMAT, parts.commit, parts.lock === undefined ? null : createHash('sha256').update(parts.lock).digest('hex'), parts.nixVersion, parts.flakeDir]))
    .digest('hex');
}

export class EvalCache {
  /** The largest peak recorded in this run, per flake: base, head and ancestors each record theirs. */
  private readonly runPeaks = new Map<string, number>();

  constructor(private readonly dir: string | undefined) {}

  private file(key: string): string | undefined {
    return this.dir ? path.join(this.dir, 'nix-eval', `${key}.json`) : undefined;
  }

  async read(key: string): Promise<CachedRevision | undefined> {
    const file = this.file(key);
    if (!file) return undefined;
    try {
      const value = JSON.parse(await fs.readFile(file, 'utf8')) as CachedRevision;
      if (typeof value !== 'object' || value === null || typeof value.nodes !== 'object' || value.nodes === null) return undefined;
      if (value.names !== undefined && !(Array.isArray(value.names) && value.names.every((n) => typeof n === 'string'))) return undefined;
      return value;
    } catch {
      return undefined;
    }
  }

  /** The largest resident memory of one nix evaluation of this flake in the last run (MB), to size the pool. */
  async peakMB(flakeDir: string): Promise<number | undefined> {
    const file = this.peakFile(flakeDir);
    if (!file) return undefined;
    let value: unknown;
    try {
      value = (JSON.parse((await readCacheFile(file, 4096)) ?? 'null') as { peakMB?: unknown } | null)?.peakMB;
    } catch {
      return undefined;
    }
    return typeof value === 'number' && Number.isFinite(value) && value > 0 ? value : undefined;
  }

  /** One EvalCache per run: the run's largest peak is kept, whichever revision finished last. */
  async recordPeak(flakeDir: string, peakMB: number): Promise<void> {
    const largest = Math.max(peakMB, this.runPeaks.get(flakeDir) ?? 0);
    this.runPeaks.set(flakeDir, largest);
    const file = this.peakFile(flakeDir);
    if (file) await writeCacheFile(file, JSON.stringify({ peakMB: largest }));
  }

  private peakFile(flakeDir: string): string | undefined {
    return this.file(`peak-${createHash('sha256').update(flakeDir).digest('hex').slice(0, 16)}`);
  }

  /** Written whole to a temporary name, then renamed: a reader never sees half an entry. */
  async write(key: string, value: CachedRevision): Promise<void> {
    const file = this.file(key);
    if (!file) return;
    const stored: CachedRevision = { ...value, nodes: Object.fromEntries(Object.entries(value.nodes).filter(([, v]) => v.ok || !(v.failure.timedOut || v.failure.outOfMemory))) };
    if (stored.flake?.timedOut) return;
    await writeCacheFile(file, JSON.stringify(stored));
  }
}
