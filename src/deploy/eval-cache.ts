import { createHash } from 'node:crypto';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import type { DeployNode, FlakeFailure, NodeFailure } from '../nix/eval-deploy.js';

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
}

// Bump when what is evaluated, or how, changes.
const FORMAT = 'deploy-nodes-v1';

export function cacheKey(parts: { commit: string; lock: string | undefined; nixVersion: string; flakeDir: string }): string {
  return createHash('sha256')
    .update(JSON.stringify([FORMAT, parts.commit, parts.lock === undefined ? null : createHash('sha256').update(parts.lock).digest('hex'), parts.nixVersion, parts.flakeDir]))
    .digest('hex');
}

export class EvalCache {
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

  /** Written whole to a temporary name, then renamed: a reader never sees half an entry. */
  async write(key: string, value: CachedRevision): Promise<void> {
    const file = this.file(key);
    if (!file) return;
    const stored: CachedRevision = { ...value, nodes: Object.fromEntries(Object.entries(value.nodes).filter(([, v]) => v.ok || !v.failure.timedOut)) };
    if (stored.flake?.timedOut) return;
    try {
      await fs.mkdir(path.dirname(file), { recursive: true });
      const temporary = `${file}.${process.pid}.${Math.random().toString(36).slice(2)}`;
      await fs.writeFile(temporary, JSON.stringify(stored));
      await fs.rename(temporary, file);
    } catch {
      // A cache that cannot be written costs time, not correctness.
    }
  }
}
