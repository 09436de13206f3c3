import { promises as fs, readFileSync } from 'node:fs';
import path from 'node:path';
import { parse as parseYaml, stringify as stringifyYaml } from 'yaml';
import type { DraftFinding, SourceLocation } from '../findings.js';
import type { Snapshot } from '../git/repo.js';
import { kustomizeBuild } from '../kustomize/build.js';
import { jsonPointer, locatePath, parseYamlFile, type YamlDocument } from '../yaml/source.js';
import type { RepoInventory } from './discover.js';
import { isFluxKustomization, readFluxKustomization, type FluxKustomization } from './kustomization.js';
import { asRecord, asString, locationOf, objectId, type RepoObject, type SubstitutedVariable } from './objects.js';
import { substituteVariables, SubstitutionError, VALID_VARIABLE_NAME } from './substitute.js';
import { findReferenced } from './values-sources.js';

export interface KustomizeContext {
  /** Where the revision's files are copied so kustomize can read (and Flux's generator write) them. */
  scratchDir: string;
  /** GitRepository ns/name -> local checkout, from the config. */
  gitRepositories: Record<string, string>;
  repoRoot: string;
  timeoutMs: number;
}

export interface KustomizeOutcome {
  inventory: RepoInventory;
  findings: DraftFinding[];
  /** Values read from Secrets for substitution: redacted in every output. */
  secrets: string[];
}

const ORIGIN_ANNOTATION = 'config.kubernetes.io/origin';
const SUBSTITUTE_KEY = 'kustomize.toolkit.fluxcd.io/substitute';
const KUSTOMIZATION_FILES = ['kustomization.yaml', 'kustomization.yml', 'Kustomization'];
/** A Kustomization may apply other Kustomizations whose spec it substitutes: rebuilt with the applied spec, this many times at most. */
const MAX_ROUNDS = 3;

interface BuiltObject {
  object: RepoObject;
  text: string;
  by: FluxKustomization;
}

/**
 * What kustomize-controller would apply: every Flux Kustomization in the revision built with
 * kustomize (Flux's generated kustomization.yaml where the path has none, targetNamespace,
 * patches, images, name prefix/suffix, common metadata), then post-build substitution. The
 * objects it builds replace the raw files they come from; YAML outside every Kustomization
 * stays as written.
 */
export async function applyFluxKustomizations(snapshot: Snapshot, raw: RepoInventory, context: KustomizeContext): Promise<KustomizeOutcome> {
  let specs = raw.objects.filter(isFluxKustomization).map(readFluxKustomization);
  if (specs.length === 0) return { inventory: raw, findings: [], secrets: [] };
  const tree = path.join(context.scratchDir, 'tree');
  await copyRevision(snapshot, tree);

  let result: KustomizeOutcome = { inventory: raw, findings: [], secrets: [] };
  for (let round = 0; round < MAX_ROUNDS; round++) {
    result = await buildAll(specs, raw, tree, context, round);
    const applied = new Map(result.inventory.objects.filter(isFluxKustomization).map((o) => [objectId(o.kind, o.namespace ?? 'default', o.name), o]));
    const next = specs.map((spec) => {
      const built = applied.get(objectId(spec.object.kind, spec.namespace, spec.name));
      return built && JSON.stringify(built.body.spec) !== JSON.stringify(spec.object.body.spec) ? readFluxKustomization(built) : spec;
    });
    if (next.every((spec, i) => spec === specs[i])) break;
    specs = next;
  }
  return result;
}

async function buildAll(specs: FluxKustomization[], raw: RepoInventory, tree: string, context: KustomizeContext, round: number): Promise<KustomizeOutcome> {
  const findings: DraftFinding[] = [];
  const secrets: string[] = [];
  const built: BuiltObject[] = [];
  const consumedFiles = new Set<string>();
  const consumedDirs: string[] = [];
  for (const [index, spec] of specs.entries()) {
    const source = sourceRoot(spec, tree, context);
    if (!source.ok) {
      findings.push(finding(spec, 'kustomize/source-not-built', 'notice', source.message, spec.object.document.start));
      continue;
    }
    if (source.local) consumedDirs.push(spec.path);
    const outcome = await buildOne(spec, source.dir, tree, path.join(tree, '.guard-flux', `${round}-${index}`), context);
    if (!outcome.ok) {
      findings.push({
        ...finding(spec, 'kustomize/build-failed', 'error', `kustomize build of ./${spec.path} fails, so Flux would apply nothing from it: ${rootCause(outcome.error)}`, spec.locations.path),
        evidence: [`kubectl kustomize: ${outcome.error}`],
      });
      continue;
    }
    for (const document of outcome.documents) {
      const object = toRepoObject(document, raw, spec, outcome.wrapperDir, tree, source.local);
      if (!object) continue;
      if (source.local) consumedFiles.add(object.file);
      built.push({ object, text: document, by: spec });
    }
  }

  // A folder kustomize read from belongs to kustomize: a manifest there that no build includes is not applied.
  const consumedFolders = new Set([...consumedFiles].map((f) => path.posix.dirname(f)));
  const isConsumed = (file: string) => consumedFolders.has(path.posix.dirname(file)) || consumedDirs.some((dir) => dir === '' || file.startsWith(dir + '/'));
  const kept = raw.objects.filter((o) => !isConsumed(o.file) || (isFluxKustomization(o) && !built.some((b) => b.object.kind === o.kind && b.object.name === o.name)));
  // Variables come from objects as they would be in the cluster: plain YAML and built objects, before substitution.
  const beforeSubstitution = inventoryOf([...kept, ...built.map((b) => b.object)], raw);

  const applied: RepoObject[] = [];
  for (const item of built) {
    const substituted = substitute(item, beforeSubstitution, findings, secrets);
    if (substituted) applied.push(substituted);
  }
  return { inventory: inventoryOf([...kept, ...applied], raw), findings: dedupe(findings), secrets };
}

type SourceRoot = { ok: true; dir: string; local: boolean } | { ok: false; message: string };

function sourceRoot(spec: FluxKustomization, tree: string, context: KustomizeContext): SourceRoot {
  const mapped = context.gitRepositories[`${spec.sourceRef.namespace}/${spec.sourceRef.name}`];
  if (spec.sourceRef.kind === 'GitRepository' && mapped) return { ok: true, dir: path.resolve(context.repoRoot, mapped), local: false };
  if (spec.sourceRef.kind === 'GitRepository') return { ok: true, dir: tree, local: true };
  return {
    ok: false,
    message: `Kustomization ${spec.namespace}/${spec.name} builds from ${spec.sourceRef.kind} ${spec.sourceRef.namespace}/${spec.sourceRef.name}, which is not this repository; what it applies is not checked (map a GitRepository checkout in .guard.yaml gitRepositories to check it)`,
  };
}

type BuildOutcome = { ok: true; documents: string[]; wrapperDir: string } | { ok: false; error: string };

async function buildOne(spec: FluxKustomization, sourceDir: string, tree: string, wrapperDir: string, context: KustomizeContext): Promise<BuildOutcome> {
  const dir = path.resolve(sourceDir, spec.path);
  if (!dir.startsWith(sourceDir) || !(await isDirectory(dir))) return { ok: false, error: `path "./${spec.path}" does not exist in the source` };
  if (!(await hasKustomizationFile(dir))) {
    // Like kustomize-controller: without a kustomization file, every manifest below the path is a resource.
    if (!dir.startsWith(tree)) return { ok: false, error: `"./${spec.path}" has no kustomization.yaml` };
    await fs.writeFile(path.join(dir, 'kustomization.yaml'), stringifyYaml({ apiVersion: 'kustomize.config.k8s.io/v1beta1', kind: 'Kustomization', resources: await scanManifests(dir) }));
  }
  await fs.mkdir(wrapperDir, { recursive: true });
  await fs.writeFile(path.join(wrapperDir, 'kustomization.yaml'), stringifyYaml(wrapperFor(spec, dir, wrapperDir)));
  const result = await kustomizeBuild(wrapperDir, context.timeoutMs);
  if (!result.ok) return { ok: false, error: result.error.replaceAll(`${tree}/`, '').replaceAll(tree, '.') };
  const documents = result.output.split(/^---\s*$/m).filter((d) => d.trim() !== '');
  return { ok: true, documents, wrapperDir };
}

/** The Flux-side settings of a Kustomization, laid over its path the way kustomize-controller amends kustomization.yaml. */
function wrapperFor(spec: FluxKustomization, dir: string, wrapperDir: string): Record<string, unknown> {
  const wrapper: Record<string, unknown> = {
    apiVersion: 'kustomize.config.k8s.io/v1beta1',
    kind: 'Kustomization',
    resources: [path.relative(wrapperDir, dir)],
    buildMetadata: ['originAnnotations'],
  };
  if (spec.targetNamespace) wrapper.namespace = spec.targetNamespace;
  if (spec.namePrefix) wrapper.namePrefix = spec.namePrefix;
  if (spec.nameSuffix) wrapper.nameSuffix = spec.nameSuffix;
  if (spec.patches.length > 0) wrapper.patches = spec.patches;
  if (spec.images.length > 0) wrapper.images = spec.images;
  if (spec.components.length > 0) wrapper.components = spec.components.map((c) => path.relative(wrapperDir, path.resolve(dir, c)));
  if (spec.commonMetadata?.labels) wrapper.labels = [{ pairs: spec.commonMetadata.labels, includeSelectors: false }];
  if (spec.commonMetadata?.annotations) wrapper.commonAnnotations = spec.commonMetadata.annotations;
  return wrapper;
}

/** kustomize-controller's generator: manifests below the folder, and sub-folders with their own kustomization as a whole. */
async function scanManifests(dir: string): Promise<string[]> {
  const resources: string[] = [];
  const walk = async (current: string) => {
    const entries = (await fs.readdir(current, { withFileTypes: true })).sort((a, b) => a.name.localeCompare(b.name));
    for (const entry of entries) {
      const full = path.join(current, entry.name);
      if (entry.isDirectory()) {
        if (await hasKustomizationFile(full)) resources.push(path.relative(dir, full));
        else await walk(full);
      } else if (/\.ya?ml$/.test(entry.name) && (await isManifestFile(full))) {
        resources.push(path.relative(dir, full));
      }
    }
  };
  await walk(dir);
  return resources;
}

async function isManifestFile(file: string): Promise<boolean> {
  const parsed = parseYamlFile(await fs.readFile(file, 'utf8'), file);
  const objects = parsed.documents.map((d) => asRecord(d.value)).filter((v) => v !== undefined);
  return parsed.problems.length === 0 && objects.length > 0 && objects.every((o) => typeof o.kind === 'string' && typeof o.apiVersion === 'string');
}

/** A built object, tied to the file and position it was written at (kustomize's origin annotation). */
function toRepoObject(text: string, raw: RepoInventory, spec: FluxKustomization, wrapperDir: string, tree: string, local: boolean): RepoObject | undefined {
  const value = asRecord(parseYaml(text));
  const metadata = asRecord(value?.metadata);
  const kind = asString(value?.kind);
  const name = asString(metadata?.name);
  const apiVersion = asString(value?.apiVersion);
  if (!value || !metadata || !kind || !name || !apiVersion) return undefined;
  const annotations = asRecord(metadata.annotations);
  const origin = asRecord(parseYaml(asString(annotations?.[ORIGIN_ANNOTATION]) ?? '{}'));
  const originPath = asString(origin?.path) ?? asString(origin?.configuredIn);
  const file = originPath && local ? path.relative(tree, path.resolve(wrapperDir, originPath)) : spec.object.file;
  const unprefixed = name.slice(spec.namePrefix?.length ?? 0, spec.nameSuffix ? -spec.nameSuffix.length : undefined);
  const source = raw.objects.filter((o) => o.file === file && o.kind === kind);
  const written = source.find((o) => o.name === unprefixed || o.name === name) ?? (source.length === 1 ? source[0] : undefined);
  const generated = !written && local && asString(origin?.configuredIn) ? generatorDocument(tree, file, asString(asRecord(origin?.configuredBy)?.kind), unprefixed, value) : undefined;
  const document: YamlDocument = written?.document ?? generated ?? { value, positions: new Map(), literalBlocks: new Map(), start: originPath && local ? { path: file, line: 1 } : spec.locations.path };
  return { apiVersion, kind, name, namespace: asString(metadata.namespace), file: written?.file ?? document.start.path, document, body: value };
}

/**
 * Positions for a ConfigMap or Secret made by a generator: the object at its generator entry, and
 * each `files:` key at the file it was read from, line for line, so values read from it are
 * reported where they are written.
 */
function generatorDocument(tree: string, kustomizationFile: string, generator: string | undefined, builtName: string, value: Record<string, unknown>): YamlDocument | undefined {
  const field = generator === 'ConfigMapGenerator' ? 'configMapGenerator' : generator === 'SecretGenerator' ? 'secretGenerator' : undefined;
  if (!field) return undefined;
  let parsed: ReturnType<typeof parseYamlFile>;
  try {
    parsed = parseYamlFile(readFileSync(path.join(tree, kustomizationFile), 'utf8'), kustomizationFile);
  } catch {
    return undefined;
  }
  const document = parsed.documents[0];
  const entries = asRecord(document?.value)?.[field];
  if (!document || !Array.isArray(entries)) return undefined;
  const index = entries.findIndex((e) => {
    const name = asString(asRecord(e)?.name);
    return name !== undefined && (builtName === name || builtName.startsWith(`${name}-`));
  });
  if (index < 0) return undefined;
  const start = locatePath(document.positions, [field, index]) ?? document.start;
  const positions = new Map<string, SourceLocation>([['', start]]);
  const literalBlocks = new Map<string, number>();
  const files = asRecord(entries[index])?.files;
  for (const item of Array.isArray(files) ? files : []) {
    if (typeof item !== 'string') continue;
    const [key, file] = item.includes('=') ? [item.slice(0, item.indexOf('=')), item.slice(item.indexOf('=') + 1)] : [path.posix.basename(item), item];
    const source = path.posix.normalize(path.posix.join(path.posix.dirname(kustomizationFile), file));
    for (const dataField of ['data', 'stringData']) {
      positions.set(jsonPointer([dataField, key]), { path: source, line: 1 });
      literalBlocks.set(jsonPointer([dataField, key]), 0);
    }
  }
  return { value, positions, literalBlocks, start };
}

/** Post-build substitution of one built object, then the object as Flux applies it. */
function substitute(item: BuiltObject, inventory: RepoInventory, findings: DraftFinding[], secrets: string[]): RepoObject | undefined {
  const { object, by } = item;
  const finish = (body: Record<string, unknown>): RepoObject => ({ ...object, body: withoutOrigin(body), document: { ...object.document, value: body } });
  const metadata = asRecord(object.body.metadata);
  const disabled = asRecord(metadata?.labels)?.[SUBSTITUTE_KEY] === 'disabled' || asRecord(metadata?.annotations)?.[SUBSTITUTE_KEY] === 'disabled';
  if (!by.postBuild || disabled) return finish(object.body);
  const definitions = variablesOf(by, inventory, findings, secrets);
  if (definitions.size === 0) return finish(object.body);
  const vars = new Map([...definitions].map(([name, definition]) => [name, definition.value]));
  const invalid = [...vars.keys()].find((name) => !VALID_VARIABLE_NAME.test(name));
  if (invalid) {
    findings.push(finding(by, 'kustomize/substitute-failed', 'error', `variable name "${invalid}" is invalid (must match ^[_a-zA-Z][_a-zA-Z0-9]*$), so Flux fails the whole Kustomization`, by.locations.postBuild));
    return undefined;
  }
  try {
    const result = substituteVariables(item.text, vars);
    const body = asRecord(parseYaml(result.text));
    if (!body) throw new SubstitutionError('the result is not an object');
    const variables = [...result.used].flatMap(([name, use]) => {
      const definition = definitions.get(name);
      return use.defined && definition ? [{ name, ...definition }] : [];
    });
    return { ...finish(body), ...(variables.length > 0 ? { variables } : {}) };
  } catch (error) {
    const message = error instanceof SubstitutionError || (error as Error).name === 'YAMLParseError' ? (error as Error).message.split('\n')[0] : String(error);
    findings.push(finding(by, 'kustomize/substitute-failed', 'error', `post-build substitution of ${object.kind} ${object.name} (${object.file}) fails: ${message}; Flux would apply nothing from this Kustomization`, object.document.start));
    return undefined;
  }
}

/** substituteFrom in order, then spec.postBuild.substitute on top; newlines removed like Flux does. */
function variablesOf(spec: FluxKustomization, inventory: RepoInventory, findings: DraftFinding[], secrets: string[]): Map<string, Omit<SubstitutedVariable, 'name'>> {
  const vars = new Map<string, Omit<SubstitutedVariable, 'name'>>();
  for (const reference of spec.postBuild?.substituteFrom ?? []) {
    const source = findReferenced(inventory, reference.kind, spec.namespace, reference.name, spec.object.file);
    if (!source) {
      if (!reference.optional) {
        findings.push(finding(spec, 'kustomize/substitute-from-missing', 'error', `${reference.kind} ${spec.namespace}/${reference.name} named in postBuild.substituteFrom is not in the repository; Flux would fail to reconcile this Kustomization (mark it optional: true if it may be absent)`, reference.location));
      }
      continue;
    }
    for (const [key, value] of Object.entries(dataOf(source))) {
      const field = source.kind === 'Secret' && asRecord(source.body.stringData)?.[key] !== undefined ? 'stringData' : 'data';
      vars.set(key, { value: value.replaceAll('\n', ''), source: `${source.kind} ${spec.namespace}/${source.name}`, location: locationOf(source, [field, key]) });
      if (source.kind === 'Secret' && value.length >= 4) secrets.push(value);
    }
  }
  for (const [key, value] of Object.entries(spec.postBuild?.substitute ?? {})) {
    vars.set(key, { value: value.replaceAll('\n', ''), source: `Kustomization ${spec.namespace}/${spec.name} postBuild.substitute`, location: locationOf(spec.object, ['spec', 'postBuild', 'substitute', key]) });
  }
  return vars;
}

function dataOf(source: RepoObject): Record<string, string> {
  const out: Record<string, string> = {};
  const data = asRecord(source.body.data) ?? {};
  for (const [key, value] of Object.entries(data)) {
    if (typeof value !== 'string') continue;
    out[key] = source.kind === 'Secret' ? Buffer.from(value, 'base64').toString('utf8') : value;
  }
  if (source.kind === 'Secret') {
    for (const [key, value] of Object.entries(asRecord(source.body.stringData) ?? {})) if (typeof value === 'string') out[key] = value;
  }
  return out;
}

function withoutOrigin(body: Record<string, unknown>): Record<string, unknown> {
  const metadata = asRecord(body.metadata);
  const annotations = asRecord(metadata?.annotations);
  if (!metadata || !annotations || !(ORIGIN_ANNOTATION in annotations)) return body;
  const { [ORIGIN_ANNOTATION]: _origin, ...rest } = annotations;
  const { annotations: _annotations, ...otherMetadata } = metadata;
  return { ...body, metadata: Object.keys(rest).length > 0 ? { ...otherMetadata, annotations: rest } : otherMetadata };
}

function inventoryOf(objects: RepoObject[], raw: RepoInventory): RepoInventory {
  const byId = new Map<string, RepoObject>();
  const unique: RepoObject[] = [];
  for (const object of objects) {
    const id = objectId(object.kind, object.namespace, object.name);
    if (byId.has(id)) continue;
    byId.set(id, object);
    unique.push(object);
  }
  return { objects: unique, byId, problems: raw.problems, chartDirs: raw.chartDirs };
}

function finding(spec: FluxKustomization, rule: string, severity: DraftFinding['severity'], message: string, location: SourceLocation): DraftFinding {
  return { rule, severity, message: `Kustomization ${spec.namespace}/${spec.name}: ${message}`, location, subject: { kind: 'Kustomization', namespace: spec.namespace, name: spec.name } };
}

/** kustomize nests its errors ("accumulating resources: ... : lstat x: no such file"); the innermost says what is wrong. */
function rootCause(error: string): string {
  const parts = error.split(/'?: /);
  return parts.length > 2 ? parts.slice(-2).join(': ') : error;
}

function dedupe(findings: DraftFinding[]): DraftFinding[] {
  const seen = new Set<string>();
  return findings.filter((f) => {
    const key = `${f.rule}\0${f.message}`;
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}

async function copyRevision(snapshot: Snapshot, into: string): Promise<void> {
  const files = (await snapshot.listFiles()).filter((f) => !f.startsWith('.git/'));
  const contents = await snapshot.readFiles(files);
  for (const [file, data] of contents) {
    const target = path.join(into, file);
    await fs.mkdir(path.dirname(target), { recursive: true });
    await fs.writeFile(target, data);
  }
}

async function hasKustomizationFile(dir: string): Promise<boolean> {
  for (const name of KUSTOMIZATION_FILES) if (await isFile(path.join(dir, name))) return true;
  return false;
}

async function isFile(file: string): Promise<boolean> {
  return fs.stat(file).then((s) => s.isFile(), () => false);
}

async function isDirectory(dir: string): Promise<boolean> {
  return fs.stat(dir).then((s) => s.isDirectory(), () => false);
}
