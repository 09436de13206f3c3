import { promises as fs } from 'node:fs';
import path from 'node:path';
import picomatch from 'picomatch';
import type { RepoInventory } from './discover.js';
import { asRecord, asString, type RepoObject } from './objects.js';
import type { RevisionTree } from './revision-tree.js';

/**
 * Flux 2.7 ArtifactGenerator (source.extensions.fluxcd.io): it copies files from named sources
 * into ExternalArtifacts. Where every source an artifact copies from is this repository, the
 * guard assembles the same artifact from the revision's tree and builds from it; otherwise the
 * artifact is not checked and the caller says so.
 */
export type ArtifactResolution =
  | { ok: true; dir: string; generator: RepoObject; files: Map<string, string> }
  | { ok: false; reason: string };

interface CopyOperation {
  from: string;
  to: string;
  exclude: string[];
}

export function findArtifactGenerator(inventory: RepoInventory, namespace: string, artifactName: string): { generator: RepoObject; artifact: Record<string, unknown> } | undefined {
  for (const object of inventory.objects) {
    if (object.kind !== 'ArtifactGenerator' || !object.apiVersion.startsWith('source.extensions.fluxcd.io/') || (object.namespace ?? 'default') !== namespace) continue;
    const artifacts = asRecord(object.body.spec)?.artifacts;
    const artifact = (Array.isArray(artifacts) ? artifacts : []).map(asRecord).find((a) => asString(a?.name) === artifactName);
    if (artifact) return { generator: object, artifact };
  }
  return undefined;
}

/**
 * Assembles the artifact into `into` from the tree. `isThisRepository(kind, ns, name)` says
 * whether an aliased source is this repository.
 */
export async function assembleArtifact(
  found: { generator: RepoObject; artifact: Record<string, unknown> },
  tree: RevisionTree,
  into: string,
  isThisRepository: (kind: string, namespace: string, name: string) => boolean,
): Promise<ArtifactResolution> {
  const { generator, artifact } = found;
  const namespace = generator.namespace ?? 'default';
  const sources = new Map<string, { kind: string; name: string; namespace: string }>();
  const listed = asRecord(generator.body.spec)?.sources;
  for (const entry of Array.isArray(listed) ? listed : []) {
    const source = asRecord(entry);
    const alias = asString(source?.alias);
    if (alias) sources.set(alias, { kind: asString(source?.kind) ?? '', name: asString(source?.name) ?? '', namespace: asString(source?.namespace) ?? namespace });
  }
  const operations: CopyOperation[] = (Array.isArray(artifact.copy) ? artifact.copy : []).flatMap((entry) => {
    const op = asRecord(entry);
    const from = asString(op?.from);
    const to = asString(op?.to);
    if (!from || !to) return [];
    return [{ from, to, exclude: (Array.isArray(op?.exclude) ? op.exclude : []).filter((e): e is string => typeof e === 'string') }];
  });
  for (const op of operations) {
    const alias = /^@([^/]+)/.exec(op.from)?.[1] ?? '';
    const source = sources.get(alias);
    if (!source) return { ok: false, reason: `copy from "${op.from}" names no source of ArtifactGenerator ${namespace}/${generator.name}` };
    if (!isThisRepository(source.kind, source.namespace, source.name)) {
      return { ok: false, reason: `it copies from ${source.kind} ${source.namespace}/${source.name} ("@${alias}"), which is not this repository` };
    }
  }
  await fs.mkdir(into, { recursive: true });
  const files = new Map<string, string>();
  for (const op of operations) {
    const pattern = op.from.replace(/^@[^/]+\/?/, '');
    const target = op.to.replace(/^@artifact\/?/, '');
    if (target.split('/').includes('..')) return { ok: false, reason: `copy to "${op.to}" leaves the artifact` };
    const excluded = op.exclude.length > 0 ? picomatch(op.exclude, { dot: true }) : () => false;
    for (const [file, to] of copies(tree, pattern, target)) {
      if (excluded(file) || excluded(path.posix.basename(file))) continue;
      const data = tree.text(file);
      if (data === undefined) continue;
      const destination = path.join(into, to);
      await fs.mkdir(path.dirname(destination), { recursive: true });
      await fs.writeFile(destination, data);
      files.set(path.posix.normalize(to), file);
    }
  }
  return { ok: true, dir: into, generator, files };
}

/** [file in the tree, path in the artifact] for one copy: a glob keeps paths below its fixed part, a folder its contents, a file goes to `to` (or into it, when `to` ends with /). */
function* copies(tree: RevisionTree, pattern: string, target: string): Generator<[string, string]> {
  const into = (relative: string) => (target === '' ? relative : `${target.replace(/\/$/, '')}/${relative}`);
  if (/[*?[{]/.test(pattern)) {
    const scan = picomatch.scan(pattern);
    const base = scan.base.replace(/\/$/, '');
    const matches = picomatch(pattern, { dot: true });
    for (const file of tree.filesUnder(base)) if (matches(file)) yield [file, into(base === '' ? file : file.slice(base.length + 1))];
    return;
  }
  const clean = pattern.replace(/\/$/, '');
  if (tree.files.has(clean)) {
    yield [clean, target === '' || target.endsWith('/') ? into(path.posix.basename(clean)) : target];
    return;
  }
  if (tree.isDir(clean)) for (const file of tree.filesUnder(clean)) yield [file, into(clean === '' ? file : file.slice(clean.length + 1))];
}
