import os from 'node:os';
import path from 'node:path';
import pLimit from 'p-limit';
import type { DraftFinding } from '../findings.js';
import { toRepoObject } from './built-objects.js';
import type { RepoInventory } from './discover.js';
import { buildFolder } from './kustomize-build.js';
import { isFluxKustomization, readFluxKustomization, type FluxKustomization } from './kustomization.js';
import { resolveSource, type SourceResolver } from './kustomization-source.js';
import { objectId, objectsNamed, type RepoObject } from './objects.js';
import { kustomizationFinding, substitute, variablesOf, type ObjectLookup, type PostBuildContext, type SubstitutionSources } from './post-build.js';
import type { RevisionTree } from './revision-tree.js';
import type { SkippedSubtree, SkipPlan } from './unreached.js';

/**
 * The Flux object graph as kustomize-controller builds it: start from the root Kustomizations
 * (those no other Kustomization in the repository applies), build each, and the Kustomizations
 * in its output, as applied (namespace, patches, postBuild of the parent included), are the next
 * to build, level by level, with cycles and depth bounded.
 */

export interface AppliedObject {
  object: RepoObject;
  /** "Kustomization/ns/name" of the Kustomization that applied it, and of the root of its tree (one cluster, usually). */
  by: string;
  root: string;
  /** The folder of the root's file: roots written side by side are one cluster; bootstrap roots of two clusters are not. */
  cluster: string;
}

export interface GraphResult {
  applied: AppliedObject[];
  /** Files of this revision that some build read an object from. */
  consumedFiles: Set<string>;
  /** Folders of this revision that Flux Kustomizations build (repository-relative, '' for the root). */
  builtFolders: string[];
  findings: DraftFinding[];
  secrets: string[];
  sources: SubstitutionSources;
  /** Nodes that were built, by id. */
  nodes: Map<string, GraphNode>;
  /** "ns/name" of the GitRepositories the root Kustomizations build from (source-identity.ts rootSources). */
  rootSources: Set<string>;
}

export interface GraphNode {
  /** Unique per tree: the same Kustomization in two clusters is two nodes. */
  key: string;
  id: string;
  spec: FluxKustomization;
  root: string;
  parent?: string;
  depth: number;
  rebuilds: number;
  result?: NodeResult;
  /** Not built: the change cannot reach it (unreached.ts proves it for base and head alike). */
  skipped?: SkippedSubtree;
}

interface NodeResult {
  objects: AppliedObject[];
  texts: string[];
  findings: DraftFinding[];
  secrets: string[];
  consumed: string[];
  folder?: string;
  reads?: string[];
}

export interface GraphInput {
  raw: RepoInventory;
  tree: RevisionTree;
  /** Wrapper folders are made at `<scratchDir>/w/<n>`: the tree must be `<scratchDir>/<name>`. */
  scratchDir: string;
  resolver: Omit<SourceResolver, 'identity'> & { identity: Omit<SourceResolver['identity'], 'rootSources'> };
  clusterObjects: ReadonlySet<string>;
  /** Files listed under `patches:` of some kustomization. */
  patchFiles: ReadonlySet<string>;
  timeoutMs: number;
  /** On-disk build cache (absent: this process only). */
  cacheDir?: string;
  /** Told the root sources as soon as they are known (the base's decide "this repository" for the change). */
  onRootSources?: (rootSources: Set<string>) => void;
  /** Which Kustomizations the change cannot reach: waited for before the first build. */
  skips?: Promise<SkipPlan>;
}

const MAX_DEPTH = 12;
const MAX_NODES = 4000;
const MAX_REBUILDS = 2;
/**
 * Nodes prepared at once (sources, wrappers, parsing the output); the kustomize processes
 * themselves are limited per core in kustomize-build.ts, so a node waiting for a build base and
 * head share does not hold a core.
 */
const buildLimit = pLimit(Math.max(8, 4 * os.availableParallelism()));

export async function buildGraph(input: GraphInput): Promise<GraphResult> {
  const { raw, tree } = input;
  // A Kustomization written in a patch file is a patch, never a Kustomization of its own.
  const specs = raw.objects.filter((o) => isFluxKustomization(o) && !input.patchFiles.has(o.file)).map(readFluxKustomization);
  const roots = rootsOf(specs, tree);
  const rootSources = new Set(roots.filter((s) => s.sourceRef.kind === 'GitRepository').map((s) => `${s.sourceRef.namespace}/${s.sourceRef.name}`));
  input.onRootSources?.(rootSources);
  const plan = await input.skips;
  const resolver: SourceResolver = { ...input.resolver, identity: { ...input.resolver.identity, rootSources } };
  const nodes = new Map<string, GraphNode>();
  const findings: DraftFinding[] = [];
  const sources: SubstitutionSources = { present: new Set(), missing: new Map() };
  let wrapperCount = 0;

  /** Objects of one tree (one cluster) as applied so far, this level included; then the files as written, nearest first. */
  const lookupIn = (extra: AppliedObject[]) => {
    const byRoot = new Map<string, Map<string, RepoObject>>();
    const add = (a: AppliedObject) => {
      const scope = byRoot.get(a.root) ?? byRoot.set(a.root, new Map()).get(a.root)!;
      if (!scope.has(idOf(a.object))) scope.set(idOf(a.object), a.object);
    };
    for (const node of nodes.values()) node.result?.objects.forEach(add);
    extra.forEach(add);
    return (root: string): ObjectLookup => (kind, namespace, name, nearFile) =>
      byRoot.get(root)?.get(objectId(kind, namespace, name)) ?? nearestRaw(raw, kind, namespace, name, nearFile);
  };

  const discardTree = (root: string) => {
    for (const [key, node] of nodes) if (node.root === root) nodes.delete(key);
  };

  let level: GraphNode[] = [];
  const enqueueRoots = (list: FluxKustomization[]) => {
    for (const spec of list) {
      const root = rootKey(spec);
      if (nodes.has(nodeKey(root, idOfSpec(spec)))) continue;
      const node: GraphNode = { key: nodeKey(root, idOfSpec(spec)), id: idOfSpec(spec), spec, root, depth: 0, rebuilds: 0 };
      nodes.set(node.key, node);
      node.skipped = plan?.skip(spec);
      if (!node.skipped) level.push(node);
    }
  };
  enqueueRoots(roots);

  for (let pass = 0; pass < 4; pass++) {
    while (level.length > 0) {
      const built = await Promise.all(
        level.map((node) => {
          const serial = wrapperCount++;
          // Sources (GitRepositories, ArtifactGenerators) as this tree's cluster has them, then as written.
          const scoped: RepoInventory = { ...raw, objects: [...appliedIn(nodes, clusterOf(node.root)), ...nearestFirst(raw.objects, node.spec.object.file)] };
          return buildLimit(() => buildNode(node, input, { ...resolver, inventory: scoped, artifactDir: path.join(resolver.artifactDir, String(serial)) }, serial));
        }),
      );
      // Variables come from objects as the cluster has them: everything applied so far, this level included, then the files as written.
      const lookup = lookupIn(built.flatMap((b) => b.objects));
      const next: GraphNode[] = [];
      for (const [index, node] of level.entries()) {
        if (nodes.get(node.key) !== node) continue; // discarded meanwhile
        const result = built[index]!;
        node.result = finishNode(node, result, lookup(node.root), input.clusterObjects, sources);
        for (const applied of node.result.objects) {
          if (!isFluxKustomization(applied.object)) continue;
          const child = readFluxKustomization(applied.object);
          const key = nodeKey(node.root, idOfSpec(child));
          const existing = nodes.get(key);
          if (existing === node) {
            // A Kustomization that applies itself (Flux bootstrap): what it applied is what the cluster runs.
            if (sameSpec(existing.spec, child) || existing.rebuilds >= MAX_REBUILDS) continue;
            const again: GraphNode = { ...existing, spec: child, rebuilds: existing.rebuilds + 1, result: undefined };
            nodes.set(key, again);
            next.push(again);
            continue;
          }
          if (existing) {
            // Applied twice in one tree (a cycle back to an ancestor is not a second copy).
            if (!isAncestor(nodes, node, existing.key)) {
              findings.push({
                ...kustomizationFinding(child, 'flux/duplicate-object', 'warning', `is applied by both ${existing.parent ?? existing.id} and ${node.id}; the two would fight over it in the cluster (the guard builds the first)`, applied.object.document.start),
                related: [{ ...existing.spec.object.document.start, message: 'the other copy' }],
              });
            }
            continue;
          }
          // Taken for a root from the files alone, but another Kustomization applies it: the applied one wins.
          for (const other of nodes.values()) {
            if (other.parent === undefined && other.root !== node.root && other.spec.object.file === applied.object.file && other.spec.name === child.name) discardTree(other.root);
          }
          if (node.depth + 1 > MAX_DEPTH || nodes.size >= MAX_NODES) {
            findings.push(kustomizationFinding(child, 'kustomize/not-built', 'warning', `is nested deeper than ${MAX_DEPTH} Kustomizations (or the repository has more than ${MAX_NODES}); what it applies is not checked`, applied.object.document.start));
            continue;
          }
          const childNode: GraphNode = { key, id: idOfSpec(child), spec: child, root: node.root, parent: node.id, depth: node.depth + 1, rebuilds: 0 };
          nodes.set(key, childNode);
          childNode.skipped = plan?.skip(child);
          if (!childNode.skipped) next.push(childNode);
        }
      }
      level = next.filter((n) => nodes.get(n.key) === n);
    }
    // A Kustomization that nothing built turned out to apply is a root of its own (files alone can mislead: cycles, unusual layouts).
    const consumed = consumedFilesOf(nodes);
    const leftovers = specs.filter((spec) => !nodes.has(nodeKey(rootKey(spec), idOfSpec(spec))) && !consumed.has(spec.object.file));
    if (leftovers.length === 0) break;
    enqueueRoots(leftovers);
  }

  const applied: AppliedObject[] = [];
  const secrets: string[] = [];
  const builtFolders: string[] = [];
  for (const node of nodes.values()) {
    if (node.skipped) builtFolders.push(...node.skipped.folders);
    if (!node.result) continue;
    applied.push(...node.result.objects);
    findings.push(...node.result.findings);
    secrets.push(...node.result.secrets);
    if (node.result.folder !== undefined) builtFolders.push(node.result.folder);
  }
  return { applied, consumedFiles: consumedFilesOf(nodes), builtFolders, findings, secrets, sources, nodes, rootSources };
}

interface BuiltNode {
  objects: AppliedObject[];
  texts: string[];
  findings: DraftFinding[];
  consumed: string[];
  folder?: string;
  reads?: string[];
}

async function buildNode(node: GraphNode, input: GraphInput, resolver: SourceResolver, serial: number): Promise<BuiltNode> {
  const { spec } = node;
  const resolved = await resolveSource(spec, resolver);
  if (!resolved.ok) {
    const finding = kustomizationFinding(spec, resolved.moved?.rule ?? 'kustomize/source-not-checked', resolved.moved?.severity ?? 'notice', resolved.message, spec.locations.path);
    return { objects: [], texts: [], consumed: [], findings: [resolved.moved ? { ...finding, evidence: resolved.moved.evidence } : finding] };
  }
  const findings: DraftFinding[] = resolved.notice ? [kustomizationFinding(spec, 'kustomize/source-assembled', 'notice', resolved.notice, spec.locations.path)] : [];
  const folder = [resolved.prefix, spec.path].filter((p) => p !== '').join('/');
  const wrapperDir = path.join(input.scratchDir, 'w', String(serial));
  const outcome = await buildFolder(resolved.source, folder, spec, wrapperDir, input.timeoutMs, input.cacheDir);
  if (!outcome.ok) {
    findings.push({
      ...kustomizationFinding(spec, 'kustomize/build-failed', 'error', `kustomize build of ./${spec.path} fails, so Flux would apply nothing from it: ${rootCause(outcome.error)}`, spec.locations.path),
      evidence: [`kubectl kustomize: ${outcome.error}`],
    });
    return { objects: [], texts: [], consumed: [], findings, folder: resolved.source.tree ? folder : undefined };
  }
  const objects: AppliedObject[] = [];
  const texts: string[] = [];
  const consumed: string[] = [];
  const by = idOfSpec(spec);
  for (const text of outcome.documents) {
    const object = toRepoObject(text, {
      raw: input.raw,
      wrapperDir: outcome.wrapperDir,
      sourceDir: resolved.source.dir,
      repoFile: resolved.source.repoFile,
      tree: input.tree,
      namePrefix: spec.namePrefix,
      nameSuffix: spec.nameSuffix,
      fallback: spec.locations.path,
    });
    if (!object) continue;
    if (input.tree.files.has(object.file) && object.document.start !== spec.locations.path) consumed.push(object.file);
    objects.push({ object, by, root: node.root, cluster: clusterOf(node.root) });
    texts.push(text);
  }
  return { objects, texts, findings, consumed, folder: resolved.source.tree ? folder : undefined, reads: resolved.source.reads };
}

function finishNode(node: GraphNode, built: BuiltNode, lookup: ObjectLookup, clusterObjects: ReadonlySet<string>, sources: SubstitutionSources): NodeResult {
  const findings = [...built.findings];
  const secrets: string[] = [];
  const context: PostBuildContext = { lookup, clusterObjects, findings, secrets, sources };
  const definitions = node.spec.postBuild && built.objects.length > 0 ? variablesOf(node.spec, context) : new Map();
  const objects: AppliedObject[] = [];
  for (const [index, item] of built.objects.entries()) {
    const object = substitute(item.object, built.texts[index]!, node.spec, definitions, findings);
    if (object) objects.push({ ...item, object: { ...object, cluster: item.cluster } });
  }
  return { objects, texts: built.texts, findings, secrets, consumed: built.consumed, folder: built.folder, reads: built.reads };
}

/**
 * Roots from the files alone: a Kustomization is a root unless it sits in a file another
 * Kustomization's folder reads. An estimate: the walk corrects it both ways.
 */
export function rootsOf(specs: FluxKustomization[], tree: RevisionTree): FluxKustomization[] {
  const reads = specs.map((spec) => {
    const files = new Set(tree.isDir(spec.path) ? tree.readsOf(spec.path) : []);
    for (const component of spec.components) {
      const target = tree.resolve(spec.path, component);
      if (target !== undefined) for (const f of tree.readsOf(target)) files.add(f);
    }
    return files;
  });
  return specs.filter((spec) => !specs.some((other, index) => other !== spec && other.object.file !== spec.object.file && reads[index]!.has(spec.object.file)));
}

/** A raw object by id; one written without a namespace matches too; the one nearest the asking file wins. */
export function nearestRaw(raw: RepoInventory, kind: string, namespace: string, name: string, nearFile: string): RepoObject | undefined {
  const candidates = objectsNamed(raw.objects, kind, name).filter((o) => o.namespace === undefined || o.namespace === namespace);
  const exact = candidates.filter((o) => o.namespace === namespace);
  const pool = exact.length > 0 ? exact : candidates;
  return pool.sort((a, b) => sharedPrefix(b.file, nearFile) - sharedPrefix(a.file, nearFile))[0];
}

function sharedPrefix(a: string, b: string): number {
  let i = 0;
  while (i < a.length && i < b.length && a[i] === b[i]) i++;
  return i;
}

function appliedIn(nodes: Map<string, GraphNode>, cluster: string): RepoObject[] {
  const out: RepoObject[] = [];
  for (const node of nodes.values()) if (clusterOf(node.root) === cluster) for (const a of node.result?.objects ?? []) out.push(a.object);
  return out;
}

/** Objects written nearest the file first: two clusters' folders often define the same source by the same name. */
function nearestFirst(objects: RepoObject[], file: string): RepoObject[] {
  return objects
    .map((object, index) => ({ object, index, shared: sharedPrefix(object.file, file) }))
    .sort((a, b) => b.shared - a.shared || a.index - b.index)
    .map((entry) => entry.object);
}

function consumedFilesOf(nodes: Map<string, GraphNode>): Set<string> {
  const files = new Set<string>();
  for (const node of nodes.values()) for (const f of node.result?.consumed ?? node.skipped?.consumed ?? []) files.add(f);
  return files;
}

function isAncestor(nodes: Map<string, GraphNode>, node: GraphNode, key: string): boolean {
  let current: GraphNode | undefined = node;
  for (let i = 0; current && i <= MAX_DEPTH + 1; i++) {
    if (current.key === key) return true;
    current = current.parent ? nodes.get(nodeKey(current.root, current.parent)) : undefined;
  }
  return false;
}

function sameSpec(a: FluxKustomization, b: FluxKustomization): boolean {
  return canonical(a.object.body.spec) === canonical(b.object.body.spec);
}

/** JSON with sorted keys: kustomize writes keys in its own order. */
function canonical(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) =>
    v !== null && typeof v === 'object' && !Array.isArray(v) ? Object.fromEntries(Object.entries(v as Record<string, unknown>).sort(([a], [b]) => a.localeCompare(b))) : v,
  );
}

function rootKey(spec: FluxKustomization): string {
  return `${spec.object.file}#${idOfSpec(spec)}`;
}

function clusterOf(root: string): string {
  const file = root.slice(0, root.indexOf('#'));
  return path.posix.dirname(file);
}

function nodeKey(root: string, id: string): string {
  return `${root}|${id}`;
}

function idOfSpec(spec: FluxKustomization): string {
  return objectId('Kustomization', spec.namespace, spec.name);
}

function idOf(object: RepoObject): string {
  return objectId(object.kind, object.namespace, object.name);
}

/** kustomize nests its errors ("accumulating resources: ... : lstat x: no such file"); the innermost says what is wrong. */
function rootCause(error: string): string {
  const parts = error.split(/'?: /);
  return parts.length > 2 ? parts.slice(-2).join(': ') : error;
}
