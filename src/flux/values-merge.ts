import type { SourceLocation } from '../findings.js';
import { jsonPointer as pointer } from '../yaml/source.js';
import { parseSetInto } from './strvals.js';

/** JSON pointer (RFC 6901, '' = root) -> where that node was written. */
export type Positions = Map<string, SourceLocation>;

export interface PositionedValues {
  values: Record<string, unknown>;
  positions: Positions;
}

export type ValuesLayer =
  | { kind: 'document'; values: Record<string, unknown>; positions: Positions; origin: SourceLocation }
  | { kind: 'targetPath'; targetPath: string; rawValue: string; origin: SourceLocation };

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
  for (const layer of layers) {
    if (layer.kind === 'document') {
      values = mergeInto(values, layer.values, [], positions, layer.positions);
    } else {
      // strvals writes into the existing values in place (siblings and other list items stay).
      const { text, typed } = unquote(layer.rawValue);
      const expression = `${layer.targetPath}=${text}`;
      const patch: Record<string, unknown> = {};
      parseSetInto(expression, patch, typed);
      values = structuredClone(values);
      parseSetInto(expression, values, typed);
      for (const written of allPointers(patch, [], [], true)) {
        dropBelow(positions, written);
        positions.set(written, layer.origin);
      }
    }
  }
  return { values, positions };
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
