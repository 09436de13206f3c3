import os from 'node:os';
import path from 'node:path';
import pLimit from 'p-limit';
import type { DraftFinding } from '../findings.js';
import type { Snapshot } from '../git/repo.js';
import { buildCatalogUnits, patchFiles } from './catalog-units.js';
import { isChartSource, type RepoInventory } from './discover.js';
import { findDuplicates } from './duplicates.js';
import { buildGraph } from './graph.js';
import { isFluxKustomization } from './kustomization.js';
import type { BaseRevision } from './kustomization-source.js';
import { objectId, type RepoObject } from './objects.js';
import { withPatchPositions } from './patch-positions.js';
import { escalateRemovedSources, type SubstitutionSources } from './post-build.js';
import { KUSTOMIZATION_FILES, RevisionTree } from './revision-tree.js';
import type { SkippedSubtree, UnreachedSkips } from './unreached.js';

export { escalateRemovedSources };

export interface KustomizeContext {
  /** Where the revision's files are copied so kustomize can read (and Flux's generator write) them. */
  scratchDir: string;
  /** GitRepository ns/name -> local checkout, from the config. */
  gitRepositories: Record<string, string>;
  repoRoot: string;
  timeoutMs: number;
  /** URLs of this clone's remotes (`remoteUrls(root)`): which GitRepository is this repository. */
  remoteUrls?: string[];
  /** `.guard.yaml` cluster.objects of the base: "Kind/namespace/name" (or "Kind/name") created in the cluster, not in Git. */
  clusterObjects?: string[];
  /** On-disk cache of kustomize builds, keyed by the content of what each build reads (absent: none). */
  cacheDir?: string;
  /** Building the change: the base revision, whose idea of "this repository" applies (kustomization-source.ts). */
  base?: Promise<BaseRevision>;
  /** Building the base: told its root sources as soon as they are known. */
  onRootSources?: (rootSources: Set<string>) => void;
  /** Shared by base and head (absent with --all): Kustomizations the change cannot reach are built by neither. */
  skips?: { plan: UnreachedSkips; side: 'base' | 'head' };
}

export interface KustomizeOutcome {
  inventory: RepoInventory;
  findings: DraftFinding[];
  /** Values read from Secrets for substitution: redacted in every output. */
  secrets: string[];
  /** substituteFrom objects found / not found: `escalateRemovedSources(base, head)` turns a removal into an error. */
  substitutionSources: SubstitutionSources;
  /** "ns/name" of the GitRepositories the root Kustomizations build from: charts from them are this repository's too. */
  rootSources: Set<string>;
  /** Flux Kustomizations not built because the change cannot reach them, and their HelmReleases as written (unchanged by proof). */
  unbuilt: { kustomizations: number; releases: Array<SkippedSubtree['releases'][number] & { cluster: string }> };
}

const unitLimit = pLimit(Math.max(2, os.availableParallelism()));

/**
 * What Flux would apply: the Flux Kustomization graph built from its roots (a child is what its
 * parent applied), kustomize folders nothing in the repository reaches built as units, and the
 * YAML outside all of them as written. Built objects replace the files they come from; a file a
 * kustomization lists as a patch is never an object of its own.
 */
export async function applyFluxKustomizations(snapshot: Snapshot, raw: RepoInventory, context: KustomizeContext): Promise<KustomizeOutcome> {
  try {
    return await applyRevision(snapshot, raw, context);
  } finally {
    // A side that offered nothing (no Flux Kustomization, or failed) lets the other go on, skipping nothing.
    context.skips?.plan.withdraw(context.skips.side);
  }
}

async function applyRevision(snapshot: Snapshot, raw: RepoInventory, context: KustomizeContext): Promise<KustomizeOutcome> {
  const empty: SubstitutionSources = { present: new Set(), missing: new Map() };
  const files = await snapshot.listFiles();
  const hasKustomizeFolders = files.some((f) => KUSTOMIZATION_FILES.includes(path.posix.basename(f)));
  if (!raw.objects.some(isFluxKustomization) && !hasKustomizeFolders) return { inventory: raw, findings: [], secrets: [], substitutionSources: empty, rootSources: new Set(), unbuilt: { kustomizations: 0, releases: [] } };

  const tree = await RevisionTree.write(snapshot, path.join(context.scratchDir, 'tree'));
  const patches = patchFiles(tree);
  const skips = context.skips?.plan.offer(context.skips.side, { tree, raw, patches });
  const graph = await buildGraph({
    ...(skips ? { skips } : {}),
    patchFiles: patches,
    raw,
    tree,
    scratchDir: context.scratchDir,
    resolver: {
      tree,
      inventory: raw,
      identity: { gitRepositories: context.gitRepositories, repoRoot: context.repoRoot, remoteUrls: context.remoteUrls ?? [] },
      artifactDir: path.join(context.scratchDir, 'artifacts'),
      ...(context.base ? { base: context.base } : {}),
    },
    ...(context.onRootSources ? { onRootSources: context.onRootSources } : {}),
    clusterObjects: clusterObjectSet(context.clusterObjects ?? []),
    timeoutMs: context.timeoutMs,
    cacheDir: context.cacheDir,
  });

  const reached = new Set<string>();
  const readsByNode = new Map<string, Set<string>>();
  const unbuilt: KustomizeOutcome['unbuilt'] = { kustomizations: 0, releases: [] };
  for (const node of graph.nodes.values()) {
    if (node.skipped) {
      unbuilt.kustomizations += node.skipped.kustomizations;
      const cluster = path.posix.dirname(node.root.slice(0, node.root.indexOf('#')));
      unbuilt.releases.push(...node.skipped.releases.map((r) => ({ ...r, cluster })));
      readsByNode.set(`${node.root}|${node.id}`, new Set(node.skipped.reads));
      for (const f of node.skipped.reads) reached.add(f);
      continue;
    }
    const reads = new Set<string>(node.result?.reads ?? []);
    readsByNode.set(`${node.root}|${node.id}`, reads);
    const folder = node.result?.folder;
    if (folder !== undefined) {
      for (const f of tree.readsOf(folder)) reads.add(f);
      for (const component of node.spec.components) {
        const target = tree.resolve(folder, component);
        if (target !== undefined) for (const f of tree.readsOf(target)) reads.add(f);
      }
    }
    for (const f of reads) reached.add(f);
  }
  // A release some built Kustomization applies too is that one (Flux would apply one object).
  const builtReleases = new Set(graph.applied.filter((a) => a.object.kind === 'HelmRelease').map((a) => `${a.cluster}|${a.object.namespace ?? 'default'}/${a.object.name}`));
  unbuilt.releases = unbuilt.releases.filter((r) => !builtReleases.has(`${r.cluster}|${r.namespace}/${r.name}`));
  const units = await buildCatalogUnits(tree, raw, reached, graph.builtFolders, (f) => isChartSource(f, raw.chartDirs), context.scratchDir, context.timeoutMs, unitLimit, context.cacheDir);

  const consumed = new Set([...graph.consumedFiles, ...units.consumedFiles]);
  const readFolders = new Set([...consumed].map((f) => path.posix.dirname(f)));
  const builtFolders = [...graph.builtFolders, ...units.folders];
  const inKustomizeFolder = (file: string) => readFolders.has(path.posix.dirname(file)) || builtFolders.some((dir) => dir === '' || file.startsWith(dir + '/'));
  // Outside every Kustomization: as written. A root Flux Kustomization nothing applies stays as written too.
  const written = raw.objects.filter((o) => !consumed.has(o.file) && !patches.has(o.file) && (!inKustomizeFolder(o.file) || (isFluxKustomization(o) && !consumed.has(o.file))));

  const patchObjects = raw.objects.filter((o) => patches.has(o.file));
  const unitReads = (object: RepoObject) => (object.cluster?.startsWith('kustomize:') ? tree.readsOf(object.cluster.slice('kustomize:'.length)) : undefined);
  const readBy = (index: number) => (index < graph.applied.length ? readsByNode.get(`${graph.applied[index]!.root}|${graph.applied[index]!.by}`) : unitReads(units.objects[index - graph.applied.length]!));
  const applied = withPatchPositions([...graph.applied.map((a) => a.object), ...units.objects], patchObjects, readBy);
  const duplicates = findDuplicates(graph.applied, written);
  const shadowed = new Set(duplicates.shadowed);
  const objects = [...applied, ...written.filter((o) => !shadowed.has(o))];
  return {
    inventory: inventoryOf(objects, raw),
    findings: dedupe([...graph.findings, ...units.findings, ...duplicates.findings]),
    secrets: graph.secrets,
    substitutionSources: graph.sources,
    rootSources: graph.rootSources,
    unbuilt,
  };
}

/** "Kind/namespace/name" as written; "Kind/name" matches any namespace (stored as Kind/*\/name). */
function clusterObjectSet(entries: string[]): Set<string> {
  const out = new Set<string>();
  for (const entry of entries) {
    const parts = entry.split('/');
    if (parts.length === 3) out.add(entry);
    else if (parts.length === 2) out.add(`${parts[0]}/*/${parts[1]}`);
  }
  return out;
}

/** One object per id and cluster; by id, an applied object is found before a written one. */
function inventoryOf(objects: RepoObject[], raw: RepoInventory): RepoInventory {
  const byId = new Map<string, RepoObject>();
  const seen = new Set<string>();
  const unique: RepoObject[] = [];
  for (const object of objects) {
    const id = objectId(object.kind, object.namespace, object.name);
    const scoped = `${object.cluster ?? ''}\0${id}`;
    if (seen.has(scoped)) continue;
    seen.add(scoped);
    unique.push(object);
    if (!byId.has(id)) byId.set(id, object);
  }
  return { objects: unique, byId, problems: raw.problems, chartDirs: raw.chartDirs };
}

function dedupe(findings: DraftFinding[]): DraftFinding[] {
  const seen = new Set<string>();
  return findings.filter((f) => {
    const key = `${f.rule}\0${f.message}\0${f.location.path}:${f.location.line}`;
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}
