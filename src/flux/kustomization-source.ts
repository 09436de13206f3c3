import path from 'node:path';
import { assembleArtifact, findArtifactGenerator } from './artifact-generator.js';
import type { RepoInventory } from './discover.js';
import { treeSource, type BuildSource } from './kustomize-build.js';
import { isFluxKustomization, readFluxKustomization, type FluxKustomization } from './kustomization.js';
import { asRecord, asString } from './objects.js';
import type { RevisionTree } from './revision-tree.js';
import { classifyGitRepository, normalizeGitUrl, type RepositoryIdentity, type SourceIdentityContext } from './source-identity.js';

export type ResolvedSource =
  | { ok: true; source: BuildSource; /** folder of the source the Kustomization's path is relative to */ prefix: string; /** said beside what is checked (e.g. an assembled artifact) */ notice?: string }
  | { ok: false; message: string; /** Set when the base checked what the change makes uncheckable: a blocking error. */ moved?: { rule: string; severity: 'error'; evidence: string[] } };

export interface SourceResolver {
  tree: RevisionTree;
  inventory: RepoInventory;
  identity: SourceIdentityContext;
  /** Where an artifact is assembled (outside the tree; one folder per build). */
  artifactDir: string;
  /** Set when resolving the change: the base revision, whose idea of "this repository" applies to both. */
  base?: Promise<BaseRevision>;
}

/** The base's raw objects and what it takes for this repository (`repositoryIdentity` of the base). */
export interface BaseRevision {
  inventory: RepoInventory;
  identity: RepositoryIdentity;
}

export const SOURCE_MOVED_RULE = 'flux/source-moved';

const MAP_HINT = 'map it in .guard.yaml under gitRepositories ("namespace/name": "." when it is this repository, or a path to a local checkout) to check it';

/**
 * Where a Kustomization's files come from: this revision, a mapped checkout, an artifact assembled from
 * this revision, or nowhere the guard can read. Resolving the change, "this repository" is the base's,
 * and a Kustomization the base checked that the change moves where the guard cannot read is blocked.
 */
export async function resolveSource(spec: FluxKustomization, resolver: SourceResolver): Promise<ResolvedSource> {
  const base = await resolver.base;
  if (!base) return resolveIn(spec, resolver);
  const resolved = await resolveIn(spec, { ...resolver, identity: { ...resolver.identity, identity: base.identity } });
  if (resolved.ok) return resolved;
  const before = checkedAtBase(spec, base, resolver);
  if (!before) return resolved;
  const key = `${spec.sourceRef.kind} ${spec.sourceRef.namespace}/${spec.sourceRef.name}`;
  const moved = before.source === key ? `this change re-points ${key} (what the base checked)` : `this change moves it from ${before.source} (what the base checked) to ${key}`;
  return {
    ok: false,
    message: `${moved}, and the guard cannot check the new source, so what the base checked is now unverifiable: ${resolved.message}. If the new source is this repository, map it at the base first (.guard.yaml gitRepositories, merged before this change); otherwise keep the Kustomization on a source the guard checks`,
    moved: { rule: SOURCE_MOVED_RULE, severity: 'error', evidence: [`base: applies ./${before.path} from ${before.source}, checked from ${before.checkedAs}`, `change: ${resolved.message}`] },
  };
}

/**
 * The same Kustomization in the base, when the guard could read its source there: by name, or (renamed
 * by the change) the base's Kustomization of the same path that the change no longer has.
 */
function checkedAtBase(spec: FluxKustomization, base: BaseRevision, resolver: SourceResolver): { source: string; path: string; checkedAs: string } | undefined {
  const all = base.inventory.objects.filter(isFluxKustomization).map(readFluxKustomization);
  const sameName = (k: { name: string; namespace: string }) => k.name === spec.name && k.namespace === spec.namespace;
  const gone = (k: FluxKustomization) => !resolver.inventory.objects.some((o) => isFluxKustomization(o) && o.name === k.name && (o.namespace ?? 'default') === k.namespace);
  // Several clusters often hold a Kustomization of one name: the copy in the same file first.
  const before = all.find((k) => sameName(k) && k.object.file === spec.object.file) ?? all.find(sameName) ?? all.find((k) => k.path === spec.path && gone(k));
  if (!before) return undefined;
  const { kind, namespace, name } = before.sourceRef;
  const source = `${kind} ${namespace}/${name}`;
  if (kind === 'GitRepository') {
    const where = classifyGitRepository({ namespace, name }, base.inventory, { ...resolver.identity, identity: base.identity });
    if (where.kind === 'foreign') return undefined;
    return { source, path: before.path, checkedAs: where.kind === 'this' ? 'this repository' : `the checkout mapped in .guard.yaml` };
  }
  if ((kind === 'OCIRepository' || kind === 'Bucket') && resolver.identity.gitRepositories[`${namespace}/${name}`] !== undefined) {
    return { source, path: before.path, checkedAs: 'the folder mapped in .guard.yaml' };
  }
  return undefined;
}

async function resolveIn(spec: FluxKustomization, resolver: SourceResolver): Promise<ResolvedSource> {
  const { kind, namespace, name } = spec.sourceRef;
  const key = `${namespace}/${name}`;
  const what = `applies ./${spec.path} from ${kind} ${key}`;
  if (kind === 'GitRepository') {
    const identity = classifyGitRepository({ namespace, name }, resolver.inventory, resolver.identity);
    if (identity.kind === 'this') return { ok: true, source: treeSource(resolver.tree), prefix: '' };
    if (identity.kind === 'mapped') return mapped(identity.dir, key, resolver);
    const url = identity.url ? ` (${displayUrl(identity.url)})` : '';
    return { ok: false, message: `${what}${url}, which is not this repository (${identity.reason.replace(identity.url ?? '\0', displayUrl(identity.url ?? ''))}): what it applies is not checked; ${MAP_HINT}` };
  }
  if (kind === 'OCIRepository' || kind === 'Bucket') {
    const mappedTo = resolver.identity.gitRepositories[key];
    if (mappedTo !== undefined) return mapped(path.resolve(resolver.identity.repoRoot, mappedTo), key, resolver);
    const url = sourceUrl(resolver.inventory, kind, namespace, name);
    return {
      ok: false,
      message: `${what}${url ? ` (${displayUrl(url)})` : ''}, an artifact made outside this repository: what it applies is not checked; when the artifact is pushed from this repository's files (flux push artifact --path=DIR), ${MAP_HINT.replace('"." when it is this repository', '"DIR"')}`,
    };
  }
  if (kind === 'ExternalArtifact') {
    const found = findArtifactGenerator(resolver.inventory, namespace, name);
    if (!found) return { ok: false, message: `${what}, which no ArtifactGenerator in this repository produces (another controller makes it): what it applies is not checked` };
    const isThis = (sourceKind: string, sourceNamespace: string, sourceName: string) =>
      sourceKind === 'GitRepository' && classifyGitRepository({ namespace: sourceNamespace, name: sourceName }, resolver.inventory, resolver.identity).kind === 'this';
    const assembled = await assembleArtifact(found, resolver.tree, resolver.artifactDir, isThis);
    const generator = `ArtifactGenerator ${found.generator.namespace ?? 'default'}/${found.generator.name}`;
    if (!assembled.ok) return { ok: false, message: `${what}, made by ${generator}; ${assembled.reason}: what it applies is not checked; ${MAP_HINT}` };
    const files = assembled.files;
    return {
      ok: true,
      prefix: '',
      source: { dir: assembled.dir, repoFile: (relative) => files.get(relative), reads: [...files.values()], label: `ExternalArtifact ${key}` },
      notice: `${what}, made by ${generator} from this repository's files: the guard assembled the artifact from this revision and checks what it applies (copy strategies are read as Overwrite)`,
    };
  }
  return { ok: false, message: `${what}: the guard does not read ${kind} sources, so what it applies is not checked` };
}

/** A mapping inside this repository reads the revision being checked, never the working tree. */
function mapped(dir: string, key: string, resolver: SourceResolver): ResolvedSource {
  const relative = path.relative(resolver.identity.repoRoot, dir);
  if (relative === '' || (!relative.startsWith('..') && !path.isAbsolute(relative))) {
    return { ok: true, source: treeSource(resolver.tree), prefix: relative.split(path.sep).join('/') };
  }
  return { ok: true, prefix: '', source: { dir, repoFile: () => undefined, label: `the checkout mapped for ${key}` } };
}

function sourceUrl(inventory: RepoInventory, kind: string, namespace: string, name: string): string | undefined {
  const object = inventory.objects.find((o) => o.kind === kind && o.name === name && (o.namespace ?? 'default') === namespace);
  const spec = asRecord(object?.body.spec);
  return asString(spec?.url) ?? asString(spec?.bucketName);
}

/** host/path only: a URL in the repository may carry credentials. */
function displayUrl(url: string): string {
  if (url === '') return url;
  const normalized = normalizeGitUrl(url);
  if (normalized !== '') return normalized;
  return url.replace(/\/\/[^@/]*@/, '//');
}
