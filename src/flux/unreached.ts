import path from 'node:path';
import { parseAllDocuments } from 'yaml';
import { isChartSource, type RepoInventory } from './discover.js';
import { isFluxKustomization, readFluxKustomization, type FluxKustomization } from './kustomization.js';
import { asRecord, asString, objectsInFile } from './objects.js';
import { KUSTOMIZATION_FILES, type RevisionTree } from './revision-tree.js';
import { KUBERNETES_YAML } from '../yaml/kubernetes-schema.js';

/**
 * Which Flux Kustomizations a change cannot reach, proved before anything is built, so that
 * neither the base nor the head builds them. A static view of each revision (the Flux
 * Kustomizations written in its files, what each one's build reads, the Kustomizations those
 * files define) over-approximates the built graph; wherever it could be wrong (generators,
 * replacements, renames, patches that rewrite a Kustomization's path, sources outside this
 * revision, files that do not parse), the Kustomization and every ancestor are built. A
 * subtree is skipped only when, in both revisions:
 * - no changed file is among the files its builds read, nor among its ancestors' own reads (its
 *   applied spec is then the same at base and head);
 * - no changed file makes an object its HelmReleases or patches name (their render inputs are
 *   unchanged), nor one any postBuild substitution names;
 * - it makes no object a built Kustomization, a HelmRelease or a changed file names (lookups see
 *   what a full build sees).
 * A changed kustomization, patch, chart or guard policy file, a changed file defining a Flux
 * Kustomization or named by path in a HelmRelease or HelmChart (a chart, valuesFiles), builds
 * everything. A file nothing reads (a README) reaches nothing; the same files at base and head
 * build nothing. Names postBuild may substitute (`${APP}-values`) match every name they can become;
 * valuesFiles are paths from the source's root however they are spelled (`prod.yaml`, `../x.yaml`),
 * and one that is substituted could be any file.
 */

/** Static nodes beyond which the proof is not attempted (everything is built). */
const MAX_STATIC_NODES = 2000;
/** Kustomize features whose output the static view cannot predict. */
const OPAQUE_KEYS = ['generators', 'transformers', 'validators', 'replacements', 'vars', 'helmCharts', 'helmChartInflationGenerator', 'helmGlobals', 'openapi', 'configurations', 'crds', 'namePrefix', 'nameSuffix'];
const ANY = Symbol('any name');
type Names = Set<string> | typeof ANY;

export interface SkippedSubtree {
  /** Files the skipped builds would read (they count as reached and consumed). */
  reads: string[];
  /** Files holding objects those builds would apply. */
  consumed: string[];
  /** Folders those builds would build. */
  folders: string[];
  /** Flux Kustomizations skipped (this one and those below it). */
  kustomizations: number;
  /** HelmReleases as written in those files, with the namespace they would be applied in: unchanged by proof. */
  releases: Array<{ namespace: string; name: string; file: string }>;
}

export interface SkipPlan {
  /** Why nothing is skipped, when nothing is (for --timings and tests). */
  reason?: string;
  skip(spec: FluxKustomization): SkippedSubtree | undefined;
}

export interface RevisionView {
  tree: RevisionTree;
  raw: RepoInventory;
  patches: ReadonlySet<string>;
}

type Side = 'base' | 'head';

/**
 * Shared by the base and head of one check: each side offers its revision once its tree is read,
 * and gets the plan once both have (a side that has nothing to build withdraws, and then nothing is skipped).
 */
export class UnreachedSkips {
  private readonly views: Partial<Record<Side, RevisionView | null>> = {};
  private readonly waiters: Array<() => void> = [];
  private plan?: { base: SkipPlan; head: SkipPlan };

  constructor(private readonly guardFiles: { files: string[]; dirs: string[] }) {}

  offer(side: Side, view: RevisionView): Promise<SkipPlan> {
    this.views[side] = view;
    return this.ready().then(() => this.plan![side]);
  }

  withdraw(side: Side): void {
    if (this.views[side] === undefined) this.views[side] = null;
    this.ready().catch(() => undefined);
  }

  private ready(): Promise<void> {
    if (this.plan) return Promise.resolve();
    if (this.views.base === undefined || this.views.head === undefined) return new Promise((resolve) => this.waiters.push(resolve));
    const { base, head } = this.views;
    try {
      this.plan = base && head ? planSkips(base, head, this.guardFiles) : { base: NOTHING, head: NOTHING };
    } catch {
      // Skipping only saves time: whatever the static view trips on, everything is built.
      this.plan = { base: NOTHING, head: NOTHING };
    }
    for (const wake of this.waiters.splice(0)) wake();
    return Promise.resolve();
  }
}

const NOTHING: SkipPlan = { reason: 'a revision has no Flux Kustomization', skip: () => undefined };

interface StaticNode {
  key: string;
  spec: FluxKustomization;
  ownReads: Set<string>;
  children: Set<string>;
  parents: Set<string>;
  unreliable: boolean;
}

class StaticView {
  readonly nodes = new Map<string, StaticNode>();
  private readonly docs = new Map<string, unknown[] | undefined>();
  /** Generator names by the file they read. */
  readonly generated = new Map<string, Set<string>>();
  /** Something in this revision renames objects or runs kustomize features the static view cannot follow. */
  opaque = false;
  readonly patchNames = new Set<string>();
  /** Path-like strings of patches (a component may set a release's chart path or valuesFiles). */
  readonly patchPaths = new Set<string>();
  substituteNames: Names = new Set();
  readonly reads = new Set<string>();
  private readonly problemFiles: Set<string>;

  constructor(
    readonly view: RevisionView,
    /** Parsed documents by content digest, shared by base and head (most files are equal). */
    private readonly parsed: Map<string, unknown[] | undefined> = new Map(),
  ) {
    const { tree, raw, patches } = view;
    this.problemFiles = new Set(raw.problems.map((p) => p.location.path));
    for (const file of tree.files.keys()) {
      if (!KUSTOMIZATION_FILES.includes(path.posix.basename(file))) continue;
      const folder = path.posix.dirname(file) === '.' ? '' : path.posix.dirname(file);
      if (tree.kustomizationFile(folder) !== file) continue;
      this.scanKustomization(folder, file);
    }
    for (const file of patches) {
      for (const doc of this.docsOf(file) ?? [undefined]) {
        if (doc === undefined) this.opaque = true;
        names(doc, this.patchNames);
        for (const p of pathsIn(doc)) this.patchPaths.add(p);
      }
    }
    for (const file of tree.files.keys()) {
      if (!/\.(ya?ml|json)$/i.test(file)) continue;
      const text = tree.text(file) ?? '';
      if (text.includes('substituteFrom')) this.collectSubstitution(this.docsOf(file));
      // The key may be spelled with an escape (`"substitute\x46rom"`); a file that does not parse holds no object Flux could apply.
      else if (/\\(x|u|U|\r?\n)/.test(text) && this.docsOf(file)) this.collectSubstitution(this.docsOf(file));
    }
    const specs = raw.objects.filter((o) => isFluxKustomization(o) && !patches.has(o.file)).map(readFluxKustomization);
    for (const spec of specs) {
      const key = staticKey(spec);
      if (this.nodes.has(key)) {
        this.nodes.get(key)!.unreliable = true;
        continue;
      }
      if (spec.namePrefix || spec.nameSuffix) this.opaque = true;
      for (const patch of spec.patches) this.collectPatch(patch, '');
      const { reads, complete } = this.ownReadsOf(spec);
      this.nodes.set(key, { key, spec, ownReads: reads, children: new Set(), parents: new Set(), unreliable: !complete });
    }
    const byFile = new Map<string, StaticNode[]>();
    for (const node of this.nodes.values()) byFile.set(node.spec.object.file, [...(byFile.get(node.spec.object.file) ?? []), node]);
    for (const node of this.nodes.values()) {
      const spec = node.spec;
      if (!tree.isDir(spec.path) || spec.object.body.spec === undefined || /\$\{|\$[A-Za-z_]/.test(JSON.stringify(spec.object.body.spec))) node.unreliable = true;
      if (spec.sourceRef.kind !== 'GitRepository') node.unreliable = true;
      const rewrites = spec.patches.some((p) => rewritesKustomizations(p)) || [...node.ownReads].some((f) => this.rewritingFiles.has(f));
      for (const file of node.ownReads) {
        this.reads.add(file);
        for (const child of byFile.get(file) ?? []) {
          node.children.add(child.key);
          child.parents.add(node.key);
          if (rewrites) child.unreliable = true;
        }
        if (this.unreliableFiles.has(file)) node.unreliable = true;
      }
      this.reads.add(spec.object.file);
    }
    // A Flux Kustomization in a file discovery does not read (JSON) is no node: what it applies is not followed.
    for (const file of this.reads) {
      if (this.hasObjects(file) || /\.ya?ml$/i.test(file)) continue;
      if (this.fluxDocs(file, ['Kustomization']).some((d) => asString(d.apiVersion)?.startsWith('kustomize.toolkit.fluxcd.io/'))) this.opaque = true;
    }
    // Kustomizations of other sources than the roots' are outside this revision's static view.
    const rootSources = new Set([...this.nodes.values()].filter((n) => [...n.parents].every((p) => p === n.key)).map((n) => sourceOf(n.spec)));
    for (const node of this.nodes.values()) if (!rootSources.has(sourceOf(node.spec))) node.unreliable = true;
  }

  /** Kustomization files that use features the static view cannot follow, or name what is not in the revision. */
  private readonly unreliableFiles = new Set<string>();
  /** Kustomization files whose patches could rewrite a Kustomization's path, components or source. */
  private readonly rewritingFiles = new Set<string>();

  private scanKustomization(folder: string, file: string): void {
    const docs = this.docsOf(file);
    const document = asRecord(docs?.[0]);
    if (!document || docs!.length !== 1) {
      this.unreliableFiles.add(file);
      return;
    }
    if (OPAQUE_KEYS.some((key) => key in document)) {
      this.unreliableFiles.add(file);
      this.opaque = true;
    }
    for (const key of ['resources', 'components', 'bases']) {
      for (const entry of Array.isArray(document[key]) ? document[key] : []) {
        const target = typeof entry === 'string' ? this.view.tree.resolve(folder, entry) : undefined;
        if (target === undefined || !(this.view.tree.files.has(target) || this.view.tree.isDir(target))) this.unreliableFiles.add(file);
      }
    }
    for (const key of ['configMapGenerator', 'secretGenerator']) {
      for (const entry of Array.isArray(document[key]) ? document[key] : []) {
        const generator = asRecord(entry);
        const name = asString(generator?.name);
        if (!generator || !name) {
          this.unreliableFiles.add(file);
          continue;
        }
        for (const list of [generator.files, generator.envs, [generator.env]]) {
          for (const item of Array.isArray(list) ? list : []) {
            if (typeof item !== 'string') continue;
            const target = this.view.tree.resolve(folder, item.includes('=') ? item.slice(item.indexOf('=') + 1) : item);
            if (target !== undefined) (this.generated.get(target) ?? this.generated.set(target, new Set()).get(target)!).add(name);
          }
        }
      }
    }
    const patches = [
      ...(Array.isArray(document.patches) ? document.patches : []),
      ...(Array.isArray(document.patchesJson6902) ? document.patchesJson6902 : []),
      ...(Array.isArray(document.patchesStrategicMerge) ? document.patchesStrategicMerge.map((p) => (typeof p === 'string' && !p.includes('\n') ? { path: p } : { patch: p })) : []),
    ];
    for (const patch of patches) if (this.collectPatch(patch, folder)) this.rewritingFiles.add(file);
  }

  /** Names a patch mentions; true when it could rewrite a Kustomization's path, components or source. */
  private collectPatch(patch: unknown, folder: string): boolean {
    const entry = asRecord(patch);
    if (!entry) return true;
    const file = asString(entry.path);
    const docs = typeof entry.patch === 'string' ? parseDocs(entry.patch) : file !== undefined ? this.docsOfTarget(folder, file) : undefined;
    if (!docs) {
      this.opaque = true;
      return true;
    }
    for (const doc of docs) {
      names(doc, this.patchNames);
      for (const p of pathsIn(doc)) this.patchPaths.add(p);
    }
    // A patch that renames objects, or gives a Kustomization a name prefix or suffix, makes names the static view cannot see.
    if (/metadata\/name|\$patch|namePrefix|nameSuffix/.test(JSON.stringify(docs))) this.opaque = true;
    return rewritesKustomizations(entry, docs);
  }

  private docsOfTarget(folder: string, file: string): unknown[] | undefined {
    const target = this.view.tree.resolve(folder, file);
    return target === undefined ? undefined : this.docsOf(target);
  }

  private collectSubstitution(docs: unknown[] | undefined, depth = 0): void {
    if (!docs || depth > 3) {
      this.substituteNames = ANY;
      return;
    }
    const visit = (value: unknown, inside: boolean, level: number): void => {
      if (level > 64) return;
      if (typeof value === 'string') {
        if (inside) this.addSubstitute(value);
        else if (value.includes('substituteFrom')) this.collectSubstitution(parseDocs(value), depth + 1);
      } else if (Array.isArray(value)) value.forEach((v) => visit(v, inside, level + 1));
      else if (value !== null && typeof value === 'object') {
        for (const [key, v] of Object.entries(value)) visit(v, inside || key === 'substituteFrom', level + 1);
      }
    };
    docs.forEach((d) => visit(d, false, 0));
  }

  private addSubstitute(name: string): void {
    if (this.substituteNames !== ANY) this.substituteNames.add(name);
  }

  docsOf(file: string): unknown[] | undefined {
    if (this.docs.has(file)) return this.docs.get(file);
    const digest = this.view.tree.files.get(file);
    let docs: unknown[] | undefined;
    if (digest !== undefined && this.parsed.has(digest)) docs = this.parsed.get(digest);
    else {
      const text = this.view.tree.text(file);
      docs = text === undefined ? undefined : parseDocs(text);
      if (digest !== undefined) this.parsed.set(digest, docs);
    }
    this.docs.set(file, docs);
    return docs;
  }

  private ownReadsOf(spec: FluxKustomization): { reads: Set<string>; complete: boolean } {
    const { tree } = this.view;
    const reads = new Set(tree.isDir(spec.path) ? tree.readsOf(spec.path) : []);
    let complete = true;
    for (const component of spec.components) {
      const target = tree.resolve(spec.path, component);
      if (target === undefined || !tree.isDir(target)) complete = false;
      else for (const f of tree.readsOf(target)) reads.add(f);
    }
    return { reads, complete };
  }

  /** The node and everything below it, by key. */
  subtree(key: string): StaticNode[] {
    const out: StaticNode[] = [];
    const seen = new Set<string>();
    const walk = [key];
    while (walk.length > 0) {
      const next = walk.pop()!;
      const node = this.nodes.get(next);
      if (!node || seen.has(next)) continue;
      seen.add(next);
      out.push(node);
      walk.push(...node.children);
    }
    return out;
  }

  ancestors(key: string): StaticNode[] {
    const out: StaticNode[] = [];
    const seen = new Set<string>([key]);
    const walk = [...(this.nodes.get(key)?.parents ?? [])];
    while (walk.length > 0) {
      const next = walk.pop()!;
      if (seen.has(next)) continue;
      seen.add(next);
      const node = this.nodes.get(next);
      if (!node) continue;
      out.push(node);
      walk.push(...node.parents);
    }
    return out;
  }

  /** Objects of a file, as written, that are HelmReleases or Flux Kustomizations. */
  fluxDocs(file: string, kinds: string[]): Record<string, unknown>[] {
    return this.objectsOf(file).filter((d) => kinds.includes(asString(d.kind) ?? ''));
  }

  private discovered(file: string): boolean {
    return !isChartSource(file, this.view.raw.chartDirs) && file !== '.guard.yaml' && !/^\.(guard|github|forgejo|gitea)\//.test(file);
  }

  /** Whether discovery read objects from the file (already parsed, Lists expanded). */
  hasObjects(file: string): boolean {
    return objectsInFile(this.view.raw.objects, file).length > 0;
  }

  /** The objects of a file: as discovery read them, or parsed here for a file discovery does not read. */
  objectsOf(file: string): Record<string, unknown>[] {
    const known = objectsInFile(this.view.raw.objects, file);
    if (known.length > 0) return known.map((o) => o.body);
    const records = (this.docsOf(file) ?? []).map(asRecord).filter((d): d is Record<string, unknown> => d !== undefined);
    // kubectl and kustomize apply the items of a v1 List one by one.
    return records.flatMap((d) => (asString(d.kind)?.endsWith('List') && Array.isArray(d.items) ? d.items.map(asRecord).filter((i): i is Record<string, unknown> => i !== undefined) : [d]));
  }

  /** metadata.name of every object written in the file and of every generator that reads it. */
  producedBy(file: string): Names {
    const out = new Set(this.generated.get(file) ?? []);
    // Discovery reads YAML files, kustomize whatever a kustomization names (a .json resource of a Kustomization
    // itself written in JSON, which no static node reads): a file that parses may hold objects.
    if (!/\.ya?ml$/i.test(file) && !this.reads.has(file) && !this.docsOf(file)) return out;
    if (this.problemFiles.has(file)) return ANY;
    // Discovery read every YAML file it does not skip: one it found no object in holds none.
    if (/\.ya?ml$/i.test(file) && !this.hasObjects(file) && this.discovered(file)) return out;
    if (!this.hasObjects(file) && !this.docsOf(file)) return this.generated.has(file) && !/\.(ya?ml|json)$/i.test(file) ? out : ANY;
    for (const object of this.objectsOf(file)) {
      const name = asString(asRecord(object.metadata)?.name);
      if (name) out.add(name);
    }
    return out;
  }
}

export function planSkips(baseView: RevisionView, headView: RevisionView, guardFiles: { files: string[]; dirs: string[] }): { base: SkipPlan; head: SkipPlan } {
  const changed = new Set<string>();
  for (const [file, digest] of baseView.tree.files) if (headView.tree.files.get(file) !== digest) changed.add(file);
  for (const file of headView.tree.files.keys()) if (!baseView.tree.files.has(file)) changed.add(file);
  const parsed = new Map<string, unknown[] | undefined>();
  const views = { base: new StaticView(baseView, parsed), head: new StaticView(headView, parsed) };
  if (changed.size === 0) {
    // The same files: every build is the same at base and head, nothing can differ.
    const all = (view: StaticView): SkipPlan => ({ skip: (spec) => skipped(view, [staticKey(spec)], spec) });
    return { base: all(views.base), head: all(views.head) };
  }
  const nothing = (reason: string) => ({ base: { reason, skip: () => undefined }, head: { reason, skip: () => undefined } });
  const both = [views.base, views.head];
  if (both.some((v) => v.nodes.size > MAX_STATIC_NODES)) return nothing(`more than ${MAX_STATIC_NODES} Flux Kustomizations`);
  if (both.some((v) => v.opaque)) return nothing('the repository renames objects or uses kustomize features the guard cannot follow without building');
  const substitution = union(both.map((v) => v.substituteNames));
  const produced: Names = union([...changed].flatMap((file) => both.map((v) => (v.view.tree.files.has(file) ? v.producedBy(file) : new Set<string>()))));
  for (const file of changed) {
    if (guardFiles.files.map(repoPath).includes(file) || guardFiles.dirs.map(repoPath).some((dir) => dir === '' || file.startsWith(dir + '/'))) return nothing(`${file} is the guard's policy`);
    if (KUSTOMIZATION_FILES.includes(path.posix.basename(file)) || both.some((v) => v.view.patches.has(file))) return nothing(`${file} is a kustomization or a patch`);
    if (both.some((v) => v.view.raw.chartDirs.some((dir) => dir === '' || dir === '.' || file.startsWith(dir + '/')))) return nothing(`${file} is in a chart`);
    if (both.some((v) => v.view.tree.files.has(file) && v.fluxDocs(file, ['Kustomization']).some((d) => asString(d.apiVersion)?.startsWith('kustomize.toolkit.fluxcd.io/')))) return nothing(`${file} defines a Flux Kustomization`);
  }
  if (produced === ANY || intersects(produced, substitution)) return nothing('a changed file makes an object that postBuild substitutes from, or one the guard cannot name without building');
  // Charts, packaged charts and valuesFiles a GitRepository chart reads are named by path in some object.
  const named = new Set(both.flatMap((v) => [...v.patchPaths, ...v.view.raw.objects.filter((o) => o.kind === 'HelmRelease' || o.kind === 'HelmChart').flatMap((o) => pathsIn(o.body))]));
  // Kustomize also builds objects from files discovery does not read (a HelmRelease in a .json file).
  for (const view of both) for (const file of view.reads) for (const doc of view.fluxDocs(file, ['HelmRelease', 'HelmChart'])) for (const p of pathsIn(doc)) named.add(p);
  for (const file of changed) {
    for (let dir = file; ; dir = path.posix.dirname(dir)) {
      if (named.has(dir === '.' ? '' : dir)) return nothing(`${file} is named by path in an object (a chart or values file)`);
      if (dir === '.' || dir === '') break;
    }
  }

  // A node is built when the change may reach it; its ancestors then too (they apply it), and whatever makes an object a built node names.
  const built = new Set<string>();
  for (const view of both) {
    for (const node of view.nodes.values()) {
      if (built.has(node.key)) continue;
      const subtree = view.subtree(node.key);
      const files = new Set(subtree.flatMap((n) => [...n.ownReads, n.spec.object.file]));
      const reached =
        subtree.some((n) => n.unreliable) ||
        [...files].some((f) => changed.has(f)) ||
        view.ancestors(node.key).some((a) => a.unreliable || changed.has(a.spec.object.file) || [...a.ownReads].some((f) => changed.has(f)));
      if (reached || dependsOnChange(view, files, produced, changed, both)) built.add(node.key);
    }
  }
  if (built.size > 0 && substitution === ANY) return nothing('a postBuild substitution source could not be read without building');
  for (let round = 0; round <= MAX_STATIC_NODES; round++) {
    let grew = false;
    // Substitution sources and what patches name are looked up only by a Kustomization that is built.
    const needed = new Set<string>(built.size === 0 || substitution === ANY ? [] : substitution);
    // What a changed object names (a release as written outside every Kustomization, too) must be found as a full build finds it.
    for (const view of both) for (const file of changed) for (const doc of view.view.tree.files.has(file) ? (view.docsOf(file) ?? []) : []) names(doc, needed);
    for (const view of both) {
      for (const key of [...built]) for (const ancestor of view.ancestors(key)) if (!built.has(ancestor.key)) (built.add(ancestor.key), (grew = true));
      if (built.size > 0) for (const name of view.patchNames) needed.add(name);
      for (const key of built) {
        const node = view.nodes.get(key);
        if (!node) continue;
        for (const file of [...node.ownReads, node.spec.object.file]) for (const doc of view.objectsOf(file)) names(doc, needed);
      }
    }
    for (const view of both) {
      for (const node of view.nodes.values()) {
        if (built.has(node.key)) continue;
        const makes = view.subtree(node.key).flatMap((n) => [...n.ownReads]).map((f) => view.producedBy(f));
        if (makes.some((m) => m === ANY || intersects(m, needed))) (built.add(node.key), (grew = true));
      }
    }
    if (!grew) break;
  }
  const plan = (view: StaticView): SkipPlan => ({
    skip: (spec) => {
      const keys = [staticKey(spec)];
      if (keys.some((k) => built.has(k) || !view.nodes.has(k))) return undefined;
      return skipped(view, keys, spec);
    },
  });
  return { base: plan(views.base), head: plan(views.head) };
}

/** Whether the releases in these files name an object a changed file makes, or sit beside a changed file. */
function dependsOnChange(view: StaticView, files: Set<string>, produced: Names, changed: Set<string>, both: StaticView[]): boolean {
  const releaseFiles = [...files].filter((f) => view.fluxDocs(f, ['HelmRelease']).length > 0);
  // A release whose valuesFrom object is not found is re-rendered on any change beside it (fingerprint.ts).
  const folders = releaseFiles.map((f) => path.posix.dirname(f));
  if ([...changed].some((c) => folders.some((dir) => dir === '.' || c.startsWith(dir + '/')))) return true;
  const dependencies = new Set([...view.patchNames]);
  for (const file of releaseFiles) for (const doc of view.fluxDocs(file, ['HelmRelease'])) names(doc, dependencies);
  closeOver(dependencies, both);
  return intersects(produced, dependencies);
}

/** What the named objects name in turn (a HelmChart's repository, a source's secret), as written in either revision. */
function closeOver(names_: Set<string>, views: StaticView[]): void {
  for (let round = 0; round < 8; round++) {
    const before = names_.size;
    for (const view of views) for (const object of view.view.raw.objects) if (names_.has(object.name)) names(object.body, names_);
    if (names_.size === before) return;
  }
}

function skipped(view: StaticView, keys: string[], applied: FluxKustomization): SkippedSubtree | undefined {
  const nodes = keys.flatMap((k) => view.subtree(k));
  if (nodes.length === 0) return undefined;
  const { raw, patches } = view.view;
  const reads = new Set<string>();
  const folders = new Set<string>();
  const releases = new Map<string, SkippedSubtree['releases'][number]>();
  for (const node of nodes) {
    const spec = node.key === keys[0] ? applied : node.spec;
    folders.add(spec.path);
    const namespaceOf = kustomizeNamespace(view, spec.path);
    for (const file of node.ownReads) {
      reads.add(file);
      for (const object of objectsInFile(raw.objects, file)) {
        if (patches.has(file) || object.kind !== 'HelmRelease' || !object.apiVersion.startsWith('helm.toolkit.fluxcd.io/')) continue;
        const namespace = spec.targetNamespace ?? namespaceOf ?? object.namespace ?? 'default';
        const name = `${spec.namePrefix ?? ''}${object.name}${spec.nameSuffix ?? ''}`;
        if (!releases.has(`${namespace}/${name}`)) releases.set(`${namespace}/${name}`, { namespace, name, file });
      }
    }
  }
  const consumed = [...reads].filter((f) => !KUSTOMIZATION_FILES.includes(path.posix.basename(f)) && !patches.has(f) && view.hasObjects(f));
  return { reads: [...reads], consumed, folders: [...folders], kustomizations: nodes.length, releases: [...releases.values()] };
}

function kustomizeNamespace(view: StaticView, folder: string): string | undefined {
  const file = view.view.tree.kustomizationFile(folder);
  return file ? asString(asRecord(view.docsOf(file)?.[0])?.namespace) : undefined;
}

/** Nodes are matched by the file that defines them and their name: a parent's namespace transformer may move them. */
function staticKey(spec: FluxKustomization): string {
  return `${spec.object.file}#${spec.name}`;
}

function sourceOf(spec: FluxKustomization): string {
  return `${spec.sourceRef.kind}/${spec.sourceRef.namespace}/${spec.sourceRef.name}`;
}

/** A patch that may reach a Flux Kustomization and set its path, components or source (or replace its spec). */
function rewritesKustomizations(patch: unknown, parsed?: unknown[]): boolean {
  const entry = asRecord(patch);
  if (!entry) return true;
  const targetKind = asString(asRecord(entry.target)?.kind);
  const docs = parsed ?? (typeof entry.patch === 'string' ? parseDocs(entry.patch) : undefined);
  if (!docs) return true;
  const plainOther = (kind: string | undefined) => kind !== undefined && /^[A-Za-z0-9]+$/.test(kind) && kind !== 'Kustomization';
  if (plainOther(targetKind)) return false;
  for (const doc of docs) {
    if (Array.isArray(doc)) {
      for (const op of doc) {
        const record = asRecord(op);
        for (const pointer of [asString(record?.path), asString(record?.from)]) {
          if (pointer !== undefined && /^(|\/|\/spec|\/spec\/(path|components|sourceRef)(\/.*)?)$/.test(pointer)) return true;
        }
      }
      continue;
    }
    const record = asRecord(doc);
    if (!record) return true;
    if (targetKind === undefined && plainOther(asString(record.kind))) continue;
    if (record.spec === undefined) continue;
    const spec = asRecord(record.spec);
    if (!spec || 'path' in spec || 'components' in spec || 'sourceRef' in spec) return true;
  }
  return false;
}

function parseDocs(text: string): unknown[] | undefined {
  try {
    // As kustomize and Flux read it: YAML 1.1, merge keys resolved (`<<: {namePrefix: p-}` is a namePrefix).
    const docs = parseAllDocuments(text, { ...KUBERNETES_YAML, merge: true });
    const list = Array.isArray(docs) ? docs : [docs];
    if (list.some((d) => d.errors.length > 0)) return undefined;
    return list.map((d) => d.toJS({ maxAliasCount: 100 }) as unknown).filter((d) => d !== null && d !== undefined);
  } catch {
    return undefined;
  }
}

/**
 * Every value under a `name` key, at any depth: what an object refers to by name. Not the
 * object's own name, nor `dependsOn` (ordering in the cluster; the guard looks nothing up by
 * it), nor a patch's `target` (what it patches, not what it refers to).
 */
function names(value: unknown, into: Set<string>, depth = 0): void {
  if (depth > 64) return;
  if (Array.isArray(value)) value.forEach((v) => names(v, into, depth + 1));
  else if (value !== null && typeof value === 'object') {
    for (const [key, v] of Object.entries(value)) {
      if (key === 'name' && typeof v === 'string') into.add(v);
      else if (key === 'dependsOn' || key === 'target' || (depth === 0 && key === 'metadata')) continue;
      else names(v, into, depth + 1);
    }
  }
}

/**
 * Strings of a HelmRelease, HelmChart or patch that may name a folder or file of the revision (chart
 * paths, valuesFiles, read from the source's root, so `prod.yaml` names a file at the root). A chart
 * path or valuesFiles entry postBuild substitutes could name any file: it names the root ('').
 */
function pathsIn(doc: unknown): string[] {
  const out: string[] = [];
  // Confined to the source as source-controller (and chart-values-files.ts) confine them: `../x.yaml` is the root's x.yaml.
  const add = (value: string) => out.push(path.posix.normalize(`/${value}`).slice(1).replace(/\/$/, ''));
  const visit = (value: unknown, depth: number, locating: boolean) => {
    if (depth > 64) return;
    if (typeof value === 'string') {
      if (value.length >= 4096 || value.includes(':')) return;
      if (locating && value.includes('$')) out.push('');
      else if (locating || value.includes('/') || value === '.' || /\.(ya?ml|json|tgz|tar\.gz)$/i.test(value)) {
        if (value !== '/' && value.trim() !== '') add(value);
      }
    } else if (Array.isArray(value)) value.forEach((v) => visit(v, depth + 1, locating));
    else if (value !== null && typeof value === 'object') {
      const record = value as Record<string, unknown>;
      // A JSON patch operation that sets a chart or its valuesFiles: its value locates files.
      const op = typeof record.op === 'string' && typeof record.path === 'string' && /\/(chart|valuesFiles)(\/([0-9]+|-))?$/.test(record.path);
      for (const [key, v] of Object.entries(record)) visit(v, depth + 1, locating || key === 'valuesFiles' || (key === 'chart' && typeof v === 'string') || (op && key === 'value'));
    }
  };
  visit(doc, 0, false);
  return out;
}

/** A name postBuild substitutes (`${APP}-values`) stands for every name it can become (`.*-values`). */
function substituted(name: string): RegExp | undefined {
  if (!name.includes('$')) return undefined;
  let pattern = PATTERNS.get(name);
  if (!pattern) {
    const parts = name.split(/\$\{[^}]*\}|\$[A-Za-z_][A-Za-z0-9_]*/);
    pattern = new RegExp(`^${parts.map((p) => p.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')).join('.*')}$`, 's');
    if (PATTERNS.size < 10_000) PATTERNS.set(name, pattern);
  }
  return pattern;
}
const PATTERNS = new Map<string, RegExp>();

/** Some name of `a` may be some name of `b`: equal, or one a substitution can turn into the other (two substituted names may always meet). */
function meets(a: Set<string>, b: Set<string>): boolean {
  for (const item of a) {
    if (b.has(item)) return true;
    const pattern = substituted(item);
    if (pattern) for (const other of b) if (other.includes('$') || pattern.test(other)) return true;
  }
  for (const other of b) {
    const pattern = substituted(other);
    if (pattern) for (const item of a) if (pattern.test(item)) return true;
  }
  return false;
}

/** A path as the revision's file list spells it (`./.guard/help/` is `.guard/help`). */
function repoPath(file: string): string {
  return path.posix.normalize(`/${file}`).slice(1).replace(/\/$/, '');
}

function union(sets: Names[]): Names {
  const out = new Set<string>();
  for (const set of sets) {
    if (set === ANY) return ANY;
    for (const item of set) out.add(item);
  }
  return out;
}

function intersects(a: Names, b: Names): boolean {
  if (a === ANY) return b === ANY || b.size > 0;
  if (b === ANY) return a.size > 0;
  return meets(a, b);
}
