import type { SourceLocation } from '../findings.js';
import { jsonPointer, parseYamlFile, rebasePointers } from '../yaml/source.js';
import type { HelmRelease, ValuesReference } from './helmrelease.js';
import { asRecord, locationOf, objectId, type RepoObject } from './objects.js';
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
  /** Strings that came from Secrets: redacted in every output. */
  secrets: string[];
  /** Objects the values were read from (for change detection). */
  inputs: RepoObject[];
}

/** Flux order: valuesFrom entries in order, then spec.values on top. */
export function collectValuesLayers(release: HelmRelease, inventory: RepoInventory): CollectedLayers {
  const result: CollectedLayers = { layers: [], problems: [], unknown: [], secrets: [], inputs: [] };
  for (const reference of release.valuesFrom) {
    const source = findReferenced(inventory, reference.kind, release.namespace, reference.name, release.object.file);
    if (!source) {
      if (!reference.optional) {
        result.problems.push({
          rule: 'render/values-from-missing',
          message: `${reference.kind} ${release.namespace}/${reference.name} named in valuesFrom is not in the repository; Flux would fail to reconcile this release`,
          location: reference.location,
        });
      }
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
    if (reference.kind === 'Secret') result.secrets.push(...secretFragments(entry.text), ...(entry.encoded ? [entry.raw] : []));
    const layer = layerFromEntry(reference, entry);
    if ('message' in layer) result.problems.push({ rule: 'render/values-invalid', ...layer });
    else result.layers.push(layer);
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
export function findReferenced(inventory: RepoInventory, kind: string, namespace: string, name: string, nearFile: string): RepoObject | undefined {
  const exact = inventory.byId.get(objectId(kind, namespace, name));
  if (exact && exact.namespace !== undefined) return exact;
  const candidates = inventory.objects.filter((o) => o.kind === kind && o.name === name && (o.namespace === undefined || o.namespace === namespace));
  const dir = nearFile.includes('/') ? nearFile.slice(0, nearFile.lastIndexOf('/')) : '';
  return candidates.sort((a, b) => sharedPrefix(b.file, dir) - sharedPrefix(a.file, dir))[0];
}

function sharedPrefix(a: string, b: string): number {
  let i = 0;
  while (i < a.length && i < b.length && a[i] === b[i]) i++;
  return i;
}

/**
 * The values inside a Secret's data: each scalar after a key, each list item, and for
 * `--flag=value` items the value alone, so that flag names stay readable in findings.
 */
export function secretFragments(text: string): string[] {
  const fragments = new Set<string>();
  const add = (raw: string) => {
    const value = raw.trim().replace(/^["']|["']$/g, '');
    if (value.length >= 4 && !/^(true|false|null|yes|no|~)$/i.test(value) && !value.endsWith(':') && value !== '|' && value !== '>') fragments.add(value);
  };
  for (const line of text.split('\n')) {
    let item = line.trim().replace(/^-\s+/, '');
    const keyValue = item.match(/^[\w.\/-]+:\s+(.*)$/);
    if (keyValue) item = keyValue[1] ?? '';
    const flagValue = item.match(/^["']?--?[\w-]+=(.*?)["']?$/);
    add(flagValue ? (flagValue[1] ?? '') : item);
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
