import path from 'node:path';
import { parseShared } from '../yaml/shared-parse.js';
import type { DraftFinding } from '../findings.js';
import { toRepoObject } from './built-objects.js';
import type { RepoInventory } from './discover.js';
import { buildFolder, treeSource } from './kustomize-build.js';
import { asRecord, asString, type RepoObject } from './objects.js';
import type { RevisionTree } from './revision-tree.js';

/**
 * Catalog repositories: folders with a kustomization.yaml that no Flux Kustomization in this
 * repository reaches (customer repositories point their Kustomizations at them). Each such
 * folder is a kustomize unit: built, and what it outputs is what is checked (generated Secrets,
 * patches applied), never its files one by one.
 */
export interface UnitsResult {
  objects: RepoObject[];
  consumedFiles: Set<string>;
  folders: string[];
  findings: DraftFinding[];
}

const SKIPPED_PREFIXES = ['.github/', '.forgejo/', '.gitea/', '.guard/'];

export async function buildCatalogUnits(tree: RevisionTree, raw: RepoInventory, reached: ReadonlySet<string>, fluxFolders: readonly string[], isChartSource: (file: string) => boolean, scratchDir: string, timeoutMs: number, limit: <T>(run: () => Promise<T>) => Promise<T>, cacheDir?: string): Promise<UnitsResult> {
  // Inside a folder a Flux Kustomization builds, what its kustomization leaves out is not applied: not a unit.
  const insideFlux = (folder: string) => fluxFolders.some((dir) => dir === '' || folder === dir || folder.startsWith(dir + '/'));
  const units = unitFolders(tree, reached, isChartSource).filter((folder) => !insideFlux(folder));
  const source = treeSource(tree);
  const outcomes = await Promise.all(units.map((folder, index) => limit(() => buildFolder(source, folder, undefined, path.join(scratchDir, 'w', `unit-${index}`), timeoutMs, cacheDir))));
  const result: UnitsResult = { objects: [], consumedFiles: new Set(), folders: units, findings: [] };
  for (const [index, outcome] of outcomes.entries()) {
    const folder = units[index]!;
    const file = tree.kustomizationFile(folder)!;
    const fallback = { path: file, line: 1 };
    if (!outcome.ok) {
      result.findings.push({
        rule: 'kustomize/unit-build-failed',
        severity: 'warning',
        message: `${file}: kustomize build of ./${folder} fails, so nothing in it is checked: ${outcome.error}`,
        location: fallback,
        subject: { kind: 'Config', name: file },
      });
      continue;
    }
    for (const text of outcome.documents) {
      const object = toRepoObject(text, { raw, wrapperDir: outcome.wrapperDir, sourceDir: source.dir, repoFile: source.repoFile, tree, fallback });
      if (!object) continue;
      if (tree.files.has(object.file)) result.consumedFiles.add(object.file);
      result.objects.push({ ...object, cluster: `kustomize:${folder}` });
    }
  }
  return result;
}

/** Unreached kustomization folders that no other unreached one includes; components are not buildable alone. */
function unitFolders(tree: RevisionTree, reached: ReadonlySet<string>, isChartSource: (file: string) => boolean): string[] {
  const candidates: string[] = [];
  for (const file of tree.files.keys()) {
    const folder = path.posix.dirname(file) === '.' ? '' : path.posix.dirname(file);
    if (tree.kustomizationFile(folder) !== file || reached.has(file) || isChartSource(file) || SKIPPED_PREFIXES.some((p) => file.startsWith(p))) continue;
    if (kindOf(tree, file) === 'Component') continue;
    candidates.push(folder);
  }
  const included = new Set<string>();
  for (const folder of candidates) for (const f of tree.readsOf(folder)) if (f !== tree.kustomizationFile(folder)) included.add(f);
  return candidates.filter((folder) => !included.has(tree.kustomizationFile(folder)!)).sort();
}

function kindOf(tree: RevisionTree, file: string): string | undefined {
  try {
    return asString(asRecord(parseShared(tree.text(file) ?? ''))?.kind);
  } catch {
    return undefined;
  }
}

/** Files listed as patches in any kustomization of the tree: a patch is never a resource of its own. */
export function patchFiles(tree: RevisionTree): Set<string> {
  const out = new Set<string>();
  for (const file of tree.files.keys()) {
    const folder = path.posix.dirname(file) === '.' ? '' : path.posix.dirname(file);
    if (tree.kustomizationFile(folder) !== file) continue;
    let document: Record<string, unknown> | undefined;
    try {
      document = asRecord(parseShared(tree.text(file) ?? ''));
    } catch {
      continue;
    }
    const entries = [
      ...(Array.isArray(document?.patches) ? document.patches : []).map((p) => asString(asRecord(p)?.path)),
      ...(Array.isArray(document?.patchesJson6902) ? document.patchesJson6902 : []).map((p) => asString(asRecord(p)?.path)),
      ...(Array.isArray(document?.patchesStrategicMerge) ? document.patchesStrategicMerge : []).map(asString),
    ];
    for (const entry of entries) {
      const target = entry === undefined ? undefined : tree.resolve(folder, entry);
      if (target !== undefined && tree.files.has(target)) out.add(target);
    }
  }
  return out;
}
