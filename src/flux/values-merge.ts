import type { SourceLocation } from '../findings.js';
import { jsonPointer as pointer } from '../yaml/source.js';
import { parseSetInto } from './strvals.js';

/** JSON pointer (RFC 6901, '' = root) -> where that node was written. */
export type Positions = Map<string, SourceLocation>;

export interface PositionedValues {
  values: Record<string, unknown>;
  positions: Positions;
  /**
   * Pointers of the nodes whose value came from a Secret (a node is secret when it or an ancestor is
   * listed): a check prints such a value masked (see `isSecretValue`, report/redact.ts).
   */
  secretPointers?: ReadonlySet<string>;
}

/** `secret`: the layer's values came from a Secret (valuesFrom kind: Secret). */
export type ValuesLayer =
  | { kind: 'document'; values: Record<string, unknown>; positions: Positions; origin: SourceLocation; secret?: boolean }
  | { kind: 'targetPath'; targetPath: string; rawValue: string; origin: SourceLocation; secret?: boolean };

export { jsonPointer as pointer, locatePath as locate } from '../yaml/source.js';

/**
 * Merge values in helm-controller's order (valuesFrom entries, then spec.values), with Flux's
 * MergeMaps semantics: maps merge key by key, anything else (lists, scalars, null) replaces.
 * Nulls stay in the result: Helm then deletes the chart default they name.
 * Every node of the result keeps the location of the layer that set it.
 */
export function mergeFluxValues(layers: ValuesLayer[]): PositionedValues {
  let values: Record<string, unknown> = {};
  const positions: Positions = new Map();
  const secretPointers = new Set<string>();
  for (const layer of layers) {
    if (layer.kind === 'document') {
      const roots = replacedRoots(values, layer.values, []);
      values = mergeInto(values, layer.values, [], positions, layer.positions);
      trackSecrets(secretPointers, roots, values, layer.secret === true);
    } else {
      // strvals writes into the existing values in place (siblings and other list items stay).
      const { text, typed } = unquote(layer.rawValue);
      const expression = `${layer.targetPath}=${text}`;
      const patch: Record<string, unknown> = {};
      parseSetInto(expression, patch, typed);
      values = structuredClone(values);
      parseSetInto(expression, values, typed);
      const written = allPointers(patch, [], [], true);
      for (const pointerWritten of written) {
        dropBelow(positions, pointerWritten);
        positions.set(pointerWritten, layer.origin);
      }
      trackSecrets(secretPointers, written.map(splitPointer), values, layer.secret === true);
    }
  }
  return { values, positions, secretPointers };
}

/** Whether the value at this path came from a Secret. */
export function isSecretValue(values: PositionedValues, path: ReadonlyArray<string | number>): boolean {
  const marks = values.secretPointers;
  if (!marks || marks.size === 0) return false;
  for (let depth = path.length; depth >= 0; depth--) if (marks.has(pointer(path.slice(0, depth)))) return true;
  return false;
}

/**
 * Whether a location that a check points at (from `locate`) is where a Secret set a value: the line of
 * a secret node in the Secret's file. For a check that has a location but not the values path.
 */
export function isSecretOrigin(values: PositionedValues, location: SourceLocation | undefined): boolean {
  if (!location || !values.secretPointers || values.secretPointers.size === 0) return false;
  for (const [p, at] of values.positions) {
    if (at.path !== location.path || at.line !== location.line) continue;
    if (isSecretValue(values, splitPointer(p))) return true;
  }
  return false;
}

/**
 * The subtrees a document layer replaces: a map merges into a map key by key, anything else
 * (scalar, list, null, a map over a non-map) replaces the whole key.
 */
function replacedRoots(base: unknown, overlay: Record<string, unknown>, path: Array<string | number>): Array<Array<string | number>> {
  const roots: Array<Array<string | number>> = [];
  for (const [key, value] of Object.entries(overlay)) {
    const existing = isMap(base) && Object.hasOwn(base, key) ? base[key] : undefined;
    if (isMap(value) && isMap(existing)) roots.push(...replacedRoots(existing, value, [...path, key]));
    else roots.push([...path, key]);
  }
  return roots;
}

/**
 * After a layer wrote these subtrees: what they replaced is no longer secret (nor is a scalar that
 * became a map above them), and everything they now hold is secret when the layer came from a Secret.
 */
function trackSecrets(marks: Set<string>, roots: Array<Array<string | number>>, values: Record<string, unknown>, secret: boolean): void {
  for (const root of roots) {
    const here = pointer(root);
    for (const mark of [...marks]) if (mark === here || mark.startsWith(here + '/')) marks.delete(mark);
    for (let depth = root.length - 1; depth >= 0; depth--) marks.delete(pointer(root.slice(0, depth)));
    if (!secret) continue;
    marks.add(here);
    for (const leaf of allPointers(valueAt(values, root), root, [])) marks.add(leaf);
  }
}

function valueAt(values: unknown, path: ReadonlyArray<string | number>): unknown {
  let node = values;
  for (const segment of path) {
    if (node === null || typeof node !== 'object') return undefined;
    node = (node as Record<string | number, unknown>)[segment];
  }
  return node;
}

function splitPointer(p: string): string[] {
  return p === '' ? [] : p.slice(1).split('/').map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'));
}

/**
 * Flux (fluxcd/pkg chartutil ReplacePathValue): a single- or double-quoted value is set as a
 * string (strvals.ParseIntoString), anything else is typed (strvals.ParseInto).
 */
function unquote(raw: string): { text: string; typed: boolean } {
  const quoted = (raw.startsWith("'") && raw.endsWith("'")) || (raw.startsWith('"') && raw.endsWith('"'));
  return quoted && raw.length >= 2 ? { text: raw.replace(/^['"]+|['"]+$/g, ''), typed: false } : { text: raw, typed: true };
}

function mergeInto(
  base: Record<string, unknown>,
  overlay: Record<string, unknown>,
  path: Array<string | number>,
  positions: Positions,
  overlayPositions: Positions,
): Record<string, unknown> {
  const result: Record<string, unknown> = { ...base };
  const here = pointer(path);
  const rootLocation = overlayPositions.get(here);
  if (rootLocation && !positions.has(here)) positions.set(here, rootLocation);
  for (const [key, value] of Object.entries(overlay)) {
    const childPath = [...path, key];
    const existing = Object.hasOwn(result, key) ? result[key] : undefined;
    if (isMap(existing) && isMap(value)) {
      const keyLocation = overlayPositions.get(pointer(childPath));
      if (keyLocation) positions.set(pointer(childPath), keyLocation);
      defineKey(result, key, mergeInto(existing, value, childPath, positions, overlayPositions));
      continue;
    }
    dropBelow(positions, pointer(childPath));
    for (const [p, location] of overlayPositions) {
      const child = pointer(childPath);
      if (p === child || p.startsWith(child + '/')) positions.set(p, location);
    }
    defineKey(result, key, structuredClone(value));
  }
  return result;
}

/** Own data property even for keys such as __proto__, which YAML may legally contain. */
export function defineKey(target: Record<string, unknown>, key: string, value: unknown): void {
  Object.defineProperty(target, key, { value, enumerable: true, writable: true, configurable: true });
}

function dropBelow(positions: Positions, prefix: string): void {
  for (const key of [...positions.keys()]) if (key === prefix || key.startsWith(prefix + '/')) positions.delete(key);
}

/** Pointers of the leaves a --set expression wrote (list padding left by an index is not written). */
function allPointers(value: unknown, path: Array<string | number>, out: string[], isRoot = false): string[] {
  if (Array.isArray(value)) value.forEach((item, index) => item !== null && allPointers(item, [...path, index], out));
  else if (isMap(value)) for (const [key, item] of Object.entries(value)) allPointers(item, [...path, key], out);
  else if (!isRoot) out.push(pointer(path));
  return out;
}

function isMap(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}
