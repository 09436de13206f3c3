import os from 'node:os';
import path from 'node:path';
import { promises as fs } from 'node:fs';
import { findExecutable, runTool, toolEnvironment } from '../tools/sandbox.js';

/**
 * An evaluation can depend on a revision without reading any file of it: through the flake's own
 * identity (self.rev, self.lastModified, self.narHash) or the store path of its source (`"${self}"`,
 * `src = self`), which changes with any file of the tree. A result that does, cannot be reused for
 * another revision however little changed. Both are looked for, conservatively:
 * - in the repository's .nix files the evaluation read, any name of that identity, or a builtin that
 *   drops a string's link to the source (its use is then invisible to the second check);
 * - in the results: the source's store path in a node's values, or in a profile's derivation closure.
 */
const IDENTITY_NAMES = /\b(rev|shortRev|revCount|lastModified|lastModifiedDate|narHash|dirtyRev|dirtyShortRev|sourceInfo|outPath|unsafeDiscardStringContext|unsafeDiscardOutputDependency|hashString)\b/;

/** The first .nix file (with line) that names the revision's identity, or undefined. */
export function identityInSources(files: Map<string, string>): string | undefined {
  for (const [file, text] of files) {
    const lines = text.split('\n');
    const index = lines.findIndex((line) => IDENTITY_NAMES.test(line.replace(/#.*$/, '')));
    if (index >= 0) return `${file}:${index + 1} (${IDENTITY_NAMES.exec(lines[index]!)![1]})`;
  }
  return undefined;
}

/**
 * Whether the source store path is in the node results or in the closure of their derivations
 * (`nix-store --query --requisites`, the same in nix 2.8 and 2.18+). undefined: it is not; else why.
 */
export async function sourceInResults(nixBin: string, source: string, resultsJson: string, drvPaths: string[]): Promise<string | undefined> {
  const hash = path.basename(source).slice(0, 32);
  if (resultsJson.includes(hash)) return `a node's values hold the store path of the revision's source (${source})`;
  const drvs = [...new Set(drvPaths.filter((p) => /^\/nix\/store\/[a-z0-9]{32}-[^/]+\.drv$/.test(p)))];
  if (drvs.length === 0) return undefined;
  const sibling = nixBin.includes('/') ? findExecutable(path.join(path.dirname(await fs.realpath(nixBin).catch(() => nixBin)), 'nix-store')) : undefined;
  const nixStore = sibling && (await fs.access(sibling).then(() => true, () => false)) ? sibling : findExecutable('nix-store');
  if (!nixStore) return 'nix-store was not found next to nix nor on PATH';
  const result = await runTool(nixStore, ['--query', '--requisites', ...drvs], { env: toolEnvironment(os.tmpdir()), timeoutMs: 120_000, maxBuffer: 256 * 1024 * 1024, network: 'none' }).catch(
    (error: Error) => ({ exitCode: null, stdout: '', stderr: error.message, timedOut: false }),
  );
  if (result.exitCode !== 0) return `the derivations' closure could not be read (${result.stderr.trim().split('\n')[0] ?? 'nix-store failed'})`;
  if (result.stdout.split('\n').some((line) => line.trim() === source)) return `a profile's derivation uses the store path of the revision's whole source (${source}, e.g. src = self)`;
  return undefined;
}
