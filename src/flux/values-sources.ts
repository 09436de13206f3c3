import { parseDocument, visit } from 'yaml';
import type { SourceLocation } from '../findings.js';
import { jsonPointer, parseYamlFile, rebasePointers } from '../yaml/source.js';
import type { HelmRelease, ValuesReference } from './helmrelease.js';
import { asRecord, locationOf, objectId, objectsNamed, type RepoObject } from './objects.js';
import type { RepoInventory } from './discover.js';
import type { Positions, ValuesLayer } from './values-merge.js';

export interface ValuesProblem {
  rule: 'render/values-from-missing' | 'render/values-invalid';
  message: string;
  location: SourceLocation;
}

export interface CollectedLayers {
  layers: ValuesLayer[];
  problems: ValuesProblem[];
  /** Values the guard cannot know (SOPS-encrypted Secrets): rendered without them, said aloud. */
  unknown: Array<{ message: string; location: SourceLocation }>;
  /**
   * Objects not in the repository that the cluster is assumed to provide (created at bootstrap, by
   * external-secrets, ...): rendered without them; a notice that names the assumption.
   */
  assumed: Array<{ message: string; location: SourceLocation }>;
  /** Strings that came from Secrets: redacted in every output. */
  secrets: string[];
  /** Objects the values were read from (for change detection). */
  inputs: RepoObject[];
}

export interface ValuesSourceOptions {
  /** `.guard.yaml` `cluster.objects` of the base policy: "Kind/namespace/name" the cluster provides. */
  clusterObjects?: readonly string[];
  /** The base revision's objects, when rendering the head: an object the base had and the head lacks was removed. */
  baseInventory?: RepoInventory;
}

/** Flux order: valuesFrom entries in order, then spec.values on top. */
export function collectValuesLayers(release: HelmRelease, inventory: RepoInventory, options: ValuesSourceOptions = {}): CollectedLayers {
  const result: CollectedLayers = { layers: [], problems: [], unknown: [], assumed: [], secrets: [], inputs: [] };
  for (const reference of release.valuesFrom) {
    const source = findReferenced(inventory, reference.kind, release.namespace, reference.name, release.object.file, release.object.cluster);
    if (!source) {
      const missing = missingObject(reference, release, options);
      if (missing?.severity === 'error') result.problems.push({ rule: 'render/values-from-missing', message: missing.message, location: reference.location });
      else if (missing) result.assumed.push({ message: missing.message, location: reference.location });
      continue;
    }
    result.inputs.push(source);
    if (source.body.sops !== undefined) {
      result.secrets.push(...encryptedFragments(source.body));
      result.unknown.push({
        message: `${reference.kind} ${release.namespace}/${reference.name} is SOPS-encrypted; its values are unknown to the guard and were left out of the render`,
        location: reference.location,
      });
      continue;
    }
    const entry = readDataKey(source, reference.valuesKey);
    if (!entry) {
      if (!reference.optional) {
        result.problems.push({
          rule: 'render/values-from-missing',
          message: `${reference.kind} ${release.namespace}/${reference.name} has no key "${reference.valuesKey}" (valuesKey)`,
          location: reference.location,
        });
      }
      continue;
    }
    const fromSecret = reference.kind === 'Secret';
    if (fromSecret) result.secrets.push(...secretFragments(entry.text), ...(entry.encoded ? [entry.raw] : []));
    const layer = layerFromEntry(reference, entry);
    if ('message' in layer) result.problems.push({ rule: 'render/values-invalid', ...layer });
    else result.layers.push(fromSecret ? { ...layer, secret: true } : layer);
  }
  if (release.values) {
    result.layers.push({
      kind: 'document',
      values: release.values,
      positions: rebasePointers(release.object.document.positions, '/spec/values'),
      origin: locationOf(release.object, ['spec', 'values']),
    });
  }
  return result;
}

/**
 * A valuesFrom object that is not in the repository. What the repository cannot show is no error by
 * itself: declared in `cluster.objects`, nothing to say; optional, Flux tolerates it; had by the base
 * revision and gone in this one, the change removes it (error); else assumed to be created in the
 * cluster (a notice naming the assumption and how to declare it).
 */
function missingObject(reference: ValuesReference, release: HelmRelease, options: ValuesSourceOptions): { severity: 'error' | 'notice'; message: string } | undefined {
  const id = `${reference.kind} ${release.namespace}/${reference.name}`;
  if (reference.optional || declaredInCluster(options.clusterObjects, reference.kind, release.namespace, reference.name)) return undefined;
  if (options.baseInventory && findReferenced(options.baseInventory, reference.kind, release.namespace, reference.name, release.object.file)) {
    return { severity: 'error', message: `${id} named in valuesFrom was in the base revision and this change removes it; Flux would fail to reconcile this release (prune deletes the object from the cluster)` };
  }
  return {
    severity: 'notice',
    message: `${id} named in valuesFrom is not in the repository; assumed to be created in the cluster (bootstrap, external-secrets, SOPS decryption), so its values were left out of the render. Declare it under cluster.objects in .guard.yaml as "${reference.kind}/${release.namespace}/${reference.name}" to silence this`,
  };
}

/** `cluster.objects` entries: "Kind/namespace/name", or "Kind/name" for any namespace (as for postBuild.substituteFrom). */
export function declaredInCluster(objects: readonly string[] | undefined, kind: string, namespace: string, name: string): boolean {
  return (objects ?? []).some((entry) => entry === `${kind}/${namespace}/${name}` || entry === `${kind}/${name}`);
}

interface DataEntry {
  text: string;
  location: SourceLocation;
  /** Line before the first content line when the value is a literal block, so inner lines map 1:1. */
  literalBlockLine?: number;
  encoded: boolean;
  /** The value as written in the file (base64 for Secret data). */
  raw: string;
}

function readDataKey(source: RepoObject, key: string): DataEntry | undefined {
  const stringData = asRecord(source.body.stringData);
  const data = asRecord(source.body.data);
  const fromField = (field: 'data' | 'stringData', raw: unknown, encoded: boolean): DataEntry | undefined => {
    if (typeof raw !== 'string') return undefined;
    const pointer = jsonPointer([field, key]);
    const text = encoded ? Buffer.from(raw, 'base64').toString('utf8') : raw;
    return {
      text,
      location: locationOf(source, [field, key]),
      literalBlockLine: encoded ? undefined : source.document.literalBlocks.get(pointer),
      encoded,
      raw,
    };
  };
  if (source.kind === 'Secret') {
    return fromField('stringData', stringData?.[key], false) ?? fromField('data', data?.[key], true);
  }
  return fromField('data', data?.[key], false);
}

function layerFromEntry(reference: ValuesReference, entry: DataEntry): ValuesLayer | { message: string; location: SourceLocation } {
  if (reference.targetPath) {
    return { kind: 'targetPath', targetPath: reference.targetPath, rawValue: entry.text, origin: entry.location };
  }
  const mapsLineForLine = entry.literalBlockLine !== undefined;
  const parsed = parseYamlFile(entry.text, entry.location.path, entry.literalBlockLine ?? 0);
  const problem = parsed.problems[0];
  if (problem) {
    return {
      message: `values in ${reference.kind} ${reference.name} key "${reference.valuesKey}" are not valid YAML: ${problem.message}`,
      location: mapsLineForLine ? problem.location : entry.location,
    };
  }
  const document = parsed.documents[0];
  const values = asRecord(document?.value) ?? {};
  if (document && document.value !== null && !asRecord(document.value)) {
    return { message: `values in ${reference.kind} ${reference.name} key "${reference.valuesKey}" must be a YAML map`, location: entry.location };
  }
  const positions: Positions = new Map();
  for (const [pointer, location] of document?.positions ?? []) {
    positions.set(pointer, mapsLineForLine ? { ...location, column: undefined } : entry.location);
  }
  return { kind: 'document', values, positions, origin: entry.location };
}

/**
 * valuesFrom names an object in the HelmRelease's namespace. Objects written without a namespace
 * (set later by kustomize) match too, preferring the one closest to the HelmRelease's file.
 */
export function findReferenced(inventory: RepoInventory, kind: string, namespace: string, name: string, nearFile: string, cluster?: string): RepoObject | undefined {
  // The same object applied in two clusters: the one of the asking object's cluster.
  const named = objectsNamed(inventory.objects, kind, name);
  const own = cluster === undefined ? undefined : named.find((o) => o.cluster === cluster && o.namespace === namespace);
  if (own) return own;
  const exact = inventory.byId.get(objectId(kind, namespace, name));
  if (exact && exact.namespace !== undefined) return exact;
  const candidates = named.filter((o) => o.namespace === undefined || o.namespace === namespace);
  const dir = nearFile.includes('/') ? nearFile.slice(0, nearFile.lastIndexOf('/')) : '';
  return candidates.sort((a, b) => sharedPrefix(b.file, dir) - sharedPrefix(a.file, dir))[0];
}

function sharedPrefix(a: string, b: string): number {
  let i = 0;
  while (i < a.length && i < b.length && a[i] === b[i]) i++;
  return i;
}

/**
 * The values inside a Secret's data, as the safety net searches for them: every scalar of the YAML
 * (comments, quotes, flow lists and block scalars read the way YAML reads them), and the same again
 * line by line as written (a Secret too broken to parse still leaks nothing). For `--flag=value`
 * items the value alone, so that flag names stay readable in findings.
 */
export function secretFragments(text: string): string[] {
  const fragments = new Set<string>();
  const add = (raw: string) => {
    for (const line of raw.split(/\r?\n/)) {
      const value = line.trim().replace(/^["']|["']$/g, '');
      const flagValue = /^--?[\w.-]+=(.+)$/s.exec(value)?.[1];
      const kept = flagValue ?? value;
      if (kept.length >= 4 && !/^(true|false|null|yes|no|on|off|~)$/i.test(kept) && !/^[|>][-+0-9]*$/.test(kept)) fragments.add(kept);
    }
  };
  try {
    const document = parseDocument(text, { uniqueKeys: false, strict: false, prettyErrors: false });
    visit(document, {
      Scalar(key, node) {
        if (key !== 'key' && node.value !== null && node.value !== undefined) add(String(node.value));
      },
    });
  } catch {
    // The line reading below still covers it.
  }
  for (const line of text.split('\n')) {
    let item = line.trim().replace(/^(-\s+)+/, '');
    const keyValue = /^[^\s#'"{[][^:#]*?:\s+(.*)$/.exec(item);
    if (keyValue) item = keyValue[1] ?? '';
    add(item);
    const uncommented = item.replace(/\s+#.*$/, '');
    add(uncommented);
    const flow = /^[[{](.*)[\]}]$/.exec(uncommented);
    for (const part of flow ? (flow[1] ?? '').split(',') : []) add(part.replace(/^[^:]*:\s+/, ''));
  }
  if (!text.includes('\n')) add(text);
  return [...fragments];
}

/** Every ENC[...] blob of a SOPS file, so not even ciphertext reaches a report. */
function encryptedFragments(value: unknown, out: string[] = []): string[] {
  if (typeof value === 'string') out.push(...(value.match(/ENC\[[^\]]*\]/g) ?? []));
  else if (Array.isArray(value)) value.forEach((item) => encryptedFragments(item, out));
  else if (value !== null && typeof value === 'object') Object.values(value).forEach((item) => encryptedFragments(item, out));
  return out;
}
