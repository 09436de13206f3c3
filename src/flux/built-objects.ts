import path from 'node:path';
import type { SourceLocation } from '../findings.js';
import { parseOwned, parseShared } from '../yaml/shared-parse.js';
import { jsonPointer, locatePath, parseYamlFile, type YamlDocument } from '../yaml/source.js';
import type { RepoInventory } from './discover.js';
import { asRecord, asString, objectsInFile, type RepoObject } from './objects.js';
import type { RevisionTree } from './revision-tree.js';

export const ORIGIN_ANNOTATION = 'config.kubernetes.io/origin';

export interface BuiltObjectContext {
  raw: RepoInventory;
  wrapperDir: string;
  /** The folder the build read from, and which file of this revision each of its files is (undefined: none). */
  sourceDir: string;
  repoFile: (relative: string) => string | undefined;
  /** The revision's tree, for generator entries. */
  tree?: RevisionTree;
  namePrefix?: string;
  nameSuffix?: string;
  /** Where an object is reported when no file of this revision holds it. */
  fallback: SourceLocation;
}

/** A built object, tied to the file and position it was written at (kustomize's origin annotation). */
export function toRepoObject(text: string, context: BuiltObjectContext): RepoObject | undefined {
  let value: Record<string, unknown> | undefined;
  try {
    value = asRecord(parseOwned(text));
  } catch {
    return undefined;
  }
  const metadata = asRecord(value?.metadata);
  const kind = asString(value?.kind);
  const name = asString(metadata?.name);
  const apiVersion = asString(value?.apiVersion);
  if (!value || !metadata || !kind || !name || !apiVersion) return undefined;
  const annotations = asRecord(metadata.annotations);
  let origin: Record<string, unknown> | undefined;
  try {
    origin = asRecord(parseShared(asString(annotations?.[ORIGIN_ANNOTATION]) ?? '{}'));
  } catch {
    origin = undefined;
  }
  const originPath = asString(origin?.path) ?? asString(origin?.configuredIn);
  const { tree, raw } = context;
  const resolved = originPath ? path.relative(context.sourceDir, path.resolve(context.wrapperDir, originPath)) : undefined;
  const file = resolved && !resolved.startsWith('..') ? context.repoFile(resolved.split(path.sep).join('/')) : undefined;
  const unprefixed = name.slice(context.namePrefix?.length ?? 0, context.nameSuffix ? -context.nameSuffix.length : undefined);
  const source = file ? objectsInFile(raw.objects, file).filter((o) => o.kind === kind) : [];
  const written = source.find((o) => o.name === unprefixed || o.name === name) ?? (source.length === 1 ? source[0] : undefined);
  const generator = asString(asRecord(origin?.configuredBy)?.kind);
  if (!written && generator === 'SecretGenerator' && kind === 'Secret') value = decodedSecret(value);
  const generated = !written && file && tree && asString(origin?.configuredIn) ? generatorDocument(tree, file, generator, unprefixed, value) : undefined;
  const document: YamlDocument = written?.document ?? generated ?? { value, positions: new Map(), literalBlocks: new Map(), start: file ? { path: file, line: 1 } : context.fallback };
  return { apiVersion, kind, name, namespace: asString(metadata.namespace), file: written?.file ?? document.start.path, document, body: value };
}

/**
 * A generated Secret as the API server reads it, with its values decoded into stringData (the same
 * object once applied), so values read from it map line for line to the file they were generated from.
 */
function decodedSecret(value: Record<string, unknown>): Record<string, unknown> {
  const data = asRecord(value.data);
  if (!data) return value;
  const stringData: Record<string, string> = {};
  const rest: Record<string, unknown> = {};
  for (const [key, encoded] of Object.entries(data)) {
    const decoded = typeof encoded === 'string' ? utf8(Buffer.from(encoded, 'base64')) : undefined;
    if (decoded === undefined) rest[key] = encoded;
    else stringData[key] = decoded;
  }
  const { data: _data, ...others } = value;
  return { ...others, ...(Object.keys(rest).length > 0 ? { data: rest } : {}), stringData: { ...(asRecord(value.stringData) ?? {}), ...stringData } };
}

function utf8(bytes: Buffer): string | undefined {
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    return undefined;
  }
}

/** Each kustomization file parsed once per revision, however many objects its generators make (read only). */
const kustomizationDocuments = new WeakMap<RevisionTree, Map<string, YamlDocument | undefined>>();

function kustomizationDocument(tree: RevisionTree, file: string): YamlDocument | undefined {
  const parsed = kustomizationDocuments.get(tree) ?? kustomizationDocuments.set(tree, new Map()).get(tree)!;
  if (!parsed.has(file)) {
    const text = tree.text(file);
    parsed.set(file, text === undefined ? undefined : parseYamlFile(text, file).documents[0]);
  }
  return parsed.get(file);
}

/**
 * Positions for a ConfigMap or Secret made by a generator: the object at its generator entry, and
 * each `files:` key at the file it was read from, line for line, so values read from it are
 * reported where they are written.
 */
function generatorDocument(tree: RevisionTree, kustomizationFile: string, generator: string | undefined, builtName: string, value: Record<string, unknown>): YamlDocument | undefined {
  const field = generator === 'ConfigMapGenerator' ? 'configMapGenerator' : generator === 'SecretGenerator' ? 'secretGenerator' : undefined;
  if (!field) return undefined;
  const document = kustomizationDocument(tree, kustomizationFile);
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
