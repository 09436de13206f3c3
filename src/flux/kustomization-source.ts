import path from 'node:path';
import { assembleArtifact, findArtifactGenerator } from './artifact-generator.js';
import type { RepoInventory } from './discover.js';
import { treeSource, type BuildSource } from './kustomize-build.js';
import type { FluxKustomization } from './kustomization.js';
import { asRecord, asString } from './objects.js';
import type { RevisionTree } from './revision-tree.js';
import { classifyGitRepository, normalizeGitUrl, type SourceIdentityContext } from './source-identity.js';

export type ResolvedSource =
  | { ok: true; source: BuildSource; /** folder of the source the Kustomization's path is relative to */ prefix: string; /** said beside what is checked (e.g. an assembled artifact) */ notice?: string }
  | { ok: false; message: string };

export interface SourceResolver {
  tree: RevisionTree;
  inventory: RepoInventory;
  identity: SourceIdentityContext;
  /** Where an artifact is assembled (outside the tree; one folder per build). */
  artifactDir: string;
}

const MAP_HINT = 'map it in .guard.yaml under gitRepositories ("namespace/name": "." when it is this repository, or a path to a local checkout) to check it';

/** Where a Kustomization's files come from: this revision, a mapped checkout, an artifact assembled from this revision, or nowhere the guard can read. */
export async function resolveSource(spec: FluxKustomization, resolver: SourceResolver): Promise<ResolvedSource> {
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
