import { createHash } from 'node:crypto';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pLimit from 'p-limit';
import { stringify as stringifyYaml } from 'yaml';
import { resolveKubectl } from '../kustomize/binary.js';
import { kustomizeBuild, type KustomizeResult } from '../kustomize/build.js';
import { readCacheFile, writeCacheFile } from '../tools/cache-file.js';
import { parseYamlFile } from '../yaml/source.js';
import type { FluxKustomization } from './kustomization.js';
import { asRecord } from './objects.js';
import { KUSTOMIZATION_FILES, type RevisionTree } from './revision-tree.js';

/** Where a build reads from: this revision's tree, or another checkout mapped in `.guard.yaml` / an artifact assembled from this tree. */
export interface BuildSource {
  dir: string;
  /** Set when `dir` is the revision's own tree: generated kustomization files may be written there, builds are cached by content. */
  tree?: RevisionTree;
  /** Which file of this revision a file of `dir` is, if any. */
  repoFile: (relative: string) => string | undefined;
  /** Files of this revision the source was assembled from (an artifact): they count as read by the build. */
  reads?: string[];
  /** How to name the source in messages. */
  label: string;
}

export type BuildOutcome = { ok: true; documents: string[]; wrapperDir: string } | { ok: false; error: string };

export function treeSource(tree: RevisionTree): BuildSource {
  return { dir: tree.dir, tree, repoFile: (relative) => (tree.files.has(relative) ? relative : undefined), label: 'this repository' };
}

/** Flux's spec fields that change what kustomize builds; absent for a plain kustomize folder. */
export type FluxOverlay = Pick<FluxKustomization, 'targetNamespace' | 'namePrefix' | 'nameSuffix' | 'patches' | 'images' | 'components' | 'commonMetadata'>;

/** The generated kustomization.yaml of a folder is written once per tree (builds of one folder run concurrently). */
const generatedWrites = new WeakMap<RevisionTree, Map<string, Promise<void>>>();

/**
 * One kustomize per core, for the whole process (base, head and catalog units together). Only the
 * process itself takes a slot: a build waiting for the same input's shared result holds none.
 */
const kustomizeLimit = pLimit(Math.max(2, os.availableParallelism()));

/** Equal inputs build once per process (base and head of a run share every unchanged build). */
const outputs = new Map<string, Promise<KustomizeResult>>();
const MAX_CACHED = 512;

/**
 * One `kubectl kustomize` of `folder` in the source, with the Flux overlay laid over it the way
 * kustomize-controller amends kustomization.yaml, in a wrapper folder beside the tree (never in
 * it, so no other build sees it and no message names it).
 */
export async function buildFolder(source: BuildSource, folder: string, overlay: FluxOverlay | undefined, wrapperDir: string, timeoutMs: number, cacheDir?: string): Promise<BuildOutcome> {
  const dir = path.resolve(source.dir, folder);
  if (dir !== source.dir && !dir.startsWith(source.dir + path.sep)) return { ok: false, error: `path "./${folder}" is outside the source` };
  const tree = source.tree;
  if (!(tree ? tree.isDir(folder) : await isDirectory(dir))) return { ok: false, error: `path "./${folder}" does not exist in ${source.label}` };
  // Like kustomize-controller: without a kustomization file, every manifest below the path is a resource.
  const generate = tree ? tree.kustomizationFile(folder) === undefined : false;
  if (!tree && !(await hasKustomizationFile(dir))) return { ok: false, error: `"./${folder}" has no kustomization.yaml` };
  if (tree && generate) tree.generated.add(folder);
  const wrapper = wrapperFor(overlay, dir, wrapperDir);
  const key = tree ? cacheKey(tree, folder, overlay, wrapper, (await resolveKubectl()).version) : undefined;
  // Files are written only for a build that runs: the tree, Flux's generated kustomization, the wrapper.
  const run = async () => {
    if (tree) await tree.onDisk();
    if (tree && generate) await writeGenerated(tree, folder, dir);
    await fs.mkdir(wrapperDir, { recursive: true });
    await fs.writeFile(path.join(wrapperDir, 'kustomization.yaml'), stringifyYaml(wrapper));
    return kustomizeLimit(async () => {
      kustomizeRuns.count++;
      const result = await kustomizeBuild(wrapperDir, timeoutMs, { roots: [source.dir, wrapperDir] });
      if (!result.ok) kustomizeRuns.failed++;
      return result;
    });
  };
  const cached = key ? outputs.get(key) : undefined;
  const pending = cached ?? (key && cacheDir ? fromDisk(cacheDir, key, run) : run());
  if (key) {
    outputs.delete(key);
    outputs.set(key, pending);
    if (outputs.size > MAX_CACHED) outputs.delete(outputs.keys().next().value!);
  }
  let result = await pending;
  // An error names the paths of the build that made it: run again here to name ours.
  if (!result.ok && cached) result = await run();
  if (!result.ok) return { ok: false, error: scrub(result.error, source, wrapperDir) };
  const documents = result.output.split(/^---\s*$/m).filter((d) => d.trim() !== '');
  return { ok: true, documents, wrapperDir };
}

/** Flux's generated kustomization.yaml for a folder without one, written once per tree. */
function writeGenerated(tree: RevisionTree, folder: string, dir: string): Promise<void> {
  const writes = generatedWrites.get(tree) ?? generatedWrites.set(tree, new Map()).get(tree)!;
  let written = writes.get(folder);
  if (!written) {
    written = fs.writeFile(path.join(dir, 'kustomization.yaml'), stringifyYaml({ apiVersion: 'kustomize.config.k8s.io/v1beta1', kind: 'Kustomization', resources: scanManifests(tree, folder) }));
    writes.set(folder, written);
  }
  return written;
}

/** kubectl kustomize runs started by this process (tests count them: unchanged inputs build once), and how many failed. */
export const kustomizeRuns = { count: 0, failed: 0 };

/** Forget the builds of this process (tests that count builds start from nothing). */
export function forgetBuilds(): void {
  outputs.clear();
}

/**
 * The on-disk cache beside the renders: a build's output under its content key, with the output's
 * own digest checked on read (a damaged or edited entry is rebuilt, never used). Only successful
 * builds are kept; failures name this run's paths.
 */
/** A build's output is at most what kustomizeBuild itself accepts from kustomize. */
const MAX_CACHE_ENTRY_BYTES = 256 * 1024 * 1024;

async function fromDisk(cacheDir: string, key: string, run: () => Promise<KustomizeResult>): Promise<KustomizeResult> {
  const file = path.join(cacheDir, key.slice(0, 2), `${key}.json`);
  try {
    const entry = JSON.parse((await readCacheFile(file, MAX_CACHE_ENTRY_BYTES)) ?? '') as { sha256?: unknown; output?: unknown };
    if (typeof entry.output === 'string' && entry.sha256 === createHash('sha256').update(entry.output).digest('hex')) return { ok: true, output: entry.output };
  } catch {
    // not cached (or unreadable): build
  }
  const result = await run();
  if (result.ok) {
    await writeCacheFile(file, JSON.stringify({ sha256: createHash('sha256').update(result.output).digest('hex'), output: result.output }));
  }
  return result;
}

/** Wrapper folders sit two levels below the scratch folder that holds the tree, so equal inputs give equal relative paths. */
function cacheKey(tree: RevisionTree, folder: string, overlay: FluxOverlay | undefined, wrapper: Record<string, unknown>, kubectlVersion: string): string {
  const reads = new Set(tree.readsOf(folder));
  for (const component of overlay?.components ?? []) {
    const target = tree.resolve(folder, component);
    if (target !== undefined) for (const f of tree.readsOf(target)) reads.add(f);
  }
  return createHash('sha256').update(kubectlVersion).update(JSON.stringify(wrapper)).update(tree.digestOf(reads)).digest('hex');
}

function wrapperFor(overlay: FluxOverlay | undefined, dir: string, wrapperDir: string): Record<string, unknown> {
  const wrapper: Record<string, unknown> = {
    apiVersion: 'kustomize.config.k8s.io/v1beta1',
    kind: 'Kustomization',
    resources: [path.relative(wrapperDir, dir)],
    buildMetadata: ['originAnnotations'],
  };
  if (!overlay) return wrapper;
  if (overlay.targetNamespace) wrapper.namespace = overlay.targetNamespace;
  if (overlay.namePrefix) wrapper.namePrefix = overlay.namePrefix;
  if (overlay.nameSuffix) wrapper.nameSuffix = overlay.nameSuffix;
  if (overlay.patches.length > 0) wrapper.patches = overlay.patches;
  if (overlay.images.length > 0) wrapper.images = overlay.images;
  if (overlay.components.length > 0) wrapper.components = overlay.components.map((c) => path.relative(wrapperDir, path.resolve(dir, c)));
  if (overlay.commonMetadata?.labels) wrapper.labels = [{ pairs: overlay.commonMetadata.labels, includeSelectors: false }];
  if (overlay.commonMetadata?.annotations) wrapper.commonAnnotations = overlay.commonMetadata.annotations;
  return wrapper;
}

/** Temp paths never reach a message: the tree is the repository root, the wrapper is the Kustomization itself. */
function scrub(error: string, source: BuildSource, wrapperDir: string): string {
  const treeName = path.basename(source.dir);
  return error
    .replaceAll(`${source.dir}/`, '')
    .replaceAll(source.dir, '.')
    .replaceAll(`${wrapperDir}/`, '')
    .replaceAll(wrapperDir, '<Flux Kustomization>')
    .replace(new RegExp(`(?:\\.\\./)+${treeName.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}/`, 'g'), '')
    .replace(/\/tmp\/[^\s'":]+/g, '<temp>');
}

/**
 * kustomize-controller's generator: manifests below the folder, and sub-folders with their own
 * kustomization as a whole. From the revision's file list (what git tracks, and untracked files
 * that are not ignored): an ignored node_modules/ is never walked or read.
 */
function scanManifests(tree: RevisionTree, folder: string): string[] {
  const prefix = folder === '' ? '' : `${folder}/`;
  return tree.generatedResources(folder).filter((entry) => !tree.files.has(prefix + entry) || isManifestText(tree.text(prefix + entry) ?? '', prefix + entry));
}

function isManifestText(text: string, file: string): boolean {
  const parsed = parseYamlFile(text, file);
  const objects = parsed.documents.map((d) => asRecord(d.value)).filter((v) => v !== undefined);
  return parsed.problems.length === 0 && objects.length > 0 && objects.every((o) => typeof o.kind === 'string' && typeof o.apiVersion === 'string');
}

export async function hasKustomizationFile(dir: string): Promise<boolean> {
  for (const name of KUSTOMIZATION_FILES) if (await fs.stat(path.join(dir, name)).then((s) => s.isFile(), () => false)) return true;
  return false;
}

async function isDirectory(dir: string): Promise<boolean> {
  return fs.stat(dir).then((s) => s.isDirectory(), () => false);
}
