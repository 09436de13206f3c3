import path from 'node:path';
import { firstReadChange } from '../nix/read-set.js';
import type { RevisionResult } from './fleet-eval.js';

export type HeadReuse = { reuse: true; why: string } | { reuse: false; why: string };

/** A change the head is evaluated for whatever the base read (why), or undefined. */
export function headMustEvaluate(changed: string[]): string | undefined {
  // .gitattributes: nix copies a commit with git archive, which applies them.
  const nix = changed.find((file) => file.endsWith('.nix') || ['flake.lock', '.gitattributes'].includes(path.posix.basename(file)));
  return nix ? `${nix} changed` : undefined;
}

/**
 * Whether the head evaluates to exactly the base's result without running nix: the base's evaluations
 * were all traced and depend on no identity of the revision (fleet-eval's checkedReads), the change
 * touches no .nix file and no flake.lock (the caller asks headMustEvaluate first), and none of its paths (added,
 * modified or deleted) is one the base evaluation read, listed, or resolved.
 */
export async function headReusesBase(base: RevisionResult, changed: string[], headFiles: Set<string>): Promise<HeadReuse> {
  if (!base.ok) return { reuse: false, why: 'the base does not evaluate' };
  if (!base.reads.ok) return { reuse: false, why: `what the base evaluation read is not known: ${base.reads.reason}` };
  const stillDir = async (dir: string) => [...headFiles].some((file) => file.startsWith(dir + '/'));
  const read = await firstReadChange(base.reads.reads, changed, stillDir);
  if (read) return { reuse: false, why: `${read} changed, which the base evaluation read` };
  return { reuse: true, why: `none of the ${changed.length} changed path${changed.length === 1 ? '' : 's'} is read by the flake (${base.reads.reads.paths.length} files read at base)` };
}
