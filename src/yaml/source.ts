import { isAlias, isMap, isScalar, isSeq, LineCounter, parseAllDocuments, type Document, type Node } from 'yaml';
import type { SourceLocation } from '../findings.js';
import { KUBERNETES_YAML } from './kubernetes-schema.js';

/** JSON pointer (RFC 6901) of a path inside a document. */
export function jsonPointer(path: ReadonlyArray<string | number>): string {
  return path.map((p) => '/' + String(p).replace(/~/g, '~0').replace(/\//g, '~1')).join('');
}

/** Entries below the pointer `prefix`, re-rooted so that `prefix` becomes ''. */
export function rebasePointers<T>(map: ReadonlyMap<string, T>, prefix: string): Map<string, T> {
  const result = new Map<string, T>();
  for (const [pointer, value] of map) {
    if (pointer === prefix) result.set('', value);
    else if (pointer.startsWith(prefix + '/')) result.set(pointer.slice(prefix.length), value);
  }
  return result;
}

/** The location of the deepest recorded node on `path`. */
export function locatePath(positions: ReadonlyMap<string, SourceLocation>, path: ReadonlyArray<string | number>): SourceLocation | undefined {
  for (let depth = path.length; depth >= 0; depth--) {
    const found = positions.get(jsonPointer(path.slice(0, depth)));
    if (found) return found;
  }
  return undefined;
}

export interface YamlDocument {
  /** Plain JS value of the document, typed as YAML 1.1 like Kubernetes and Helm do. */
  value: unknown;
  /** Every node of the document: JSON pointer -> where it is written. */
  positions: Map<string, SourceLocation>;
  /** Location of the document's first line. */
  start: SourceLocation;
  /** Literal block scalars (`key: |`): JSON pointer -> the line before their first content line. */
  literalBlocks: Map<string, number>;
}

export interface YamlProblem {
  location: SourceLocation;
  message: string;
}

export interface ParsedYamlFile {
  documents: YamlDocument[];
  problems: YamlProblem[];
}

/** Bounds that keep a hostile file from exhausting memory (alias bombs). */
const MAX_ALIAS_COUNT = 1000;

/**
 * Parse a multi-document YAML file keeping, for every node, the line it starts on.
 * `lineOffset` shifts all lines, for YAML embedded in a block scalar of another file.
 */
export function parseYamlFile(text: string, path: string, lineOffset = 0): ParsedYamlFile {
  const lineCounter = new LineCounter();
  const docs = parseAllDocuments(text, { ...KUBERNETES_YAML, lineCounter, uniqueKeys: true, merge: true });
  const documents: YamlDocument[] = [];
  const problems: YamlProblem[] = [];
  const at = (offset: number): SourceLocation => {
    const { line, col } = lineCounter.linePos(offset);
    return { path, line: line + lineOffset, column: col };
  };
  const list = Array.isArray(docs) ? docs : [docs];
  for (const doc of list) {
    if (doc.errors.length > 0) {
      for (const err of doc.errors) {
        problems.push({ location: at(err.pos[0]), message: err.message.split('\n')[0] ?? err.message });
      }
      continue;
    }
    if (doc.contents === null) continue;
    let value: unknown;
    try {
      value = doc.toJS({ maxAliasCount: MAX_ALIAS_COUNT });
    } catch (error) {
      problems.push({ location: at(doc.range[0]), message: (error as Error).message });
      continue;
    }
    if (value === null || value === undefined) continue;
    const positions = new Map<string, SourceLocation>();
    const literalBlocks = new Map<string, number>();
    collectPositions(doc.contents as Node, [], { positions, literalBlocks, doc, budget: MAX_POSITIONS }, at);
    documents.push({ value, positions, literalBlocks, start: at(doc.contents.range?.[0] ?? doc.range[0]) });
  }
  return { documents, problems };
}

interface PositionSink {
  positions: Map<string, SourceLocation>;
  literalBlocks: Map<string, number>;
  doc: Document;
  /** Nodes still to visit through aliases and merge keys, which can show more paths than the document has nodes. */
  budget: number;
}

/** Paths recorded per document at most (aliases already bounded by MAX_ALIAS_COUNT in toJS). */
const MAX_POSITIONS = 200_000;
/** Maps one merge key may bring in, nested merges included. */
const MAX_MERGE_SOURCES = 1000;

/**
 * Every path of the document with the line where its value is written. A value that comes through
 * an alias (`args: *args`) or a merge key (`<<: *container`) points at the anchor's line, where a
 * human changes it; keys written in the map itself win over merged ones, the first merge source
 * over later ones, as YAML merge does.
 */
function collectPositions(
  node: Node | null | undefined,
  path: Array<string | number>,
  out: PositionSink,
  at: (offset: number) => SourceLocation,
  depth = 0,
  viaAlias = false,
): void {
  if (!node || depth > 200) return;
  // What an alias or merge key brings in is bounded; what the document itself writes is always recorded.
  if (viaAlias && --out.budget < 0) return;
  if (isAlias(node)) {
    collectPositions(node.resolve(out.doc) as Node | undefined, path, out, at, depth + 1, true);
    return;
  }
  const here = jsonPointer(path);
  if (node.range && !out.positions.has(here)) out.positions.set(here, at(node.range[0]));
  if (isScalar(node) && node.type === 'BLOCK_LITERAL' && node.range) {
    out.literalBlocks.set(here, at(node.range[0]).line);
  }
  if (isMap(node)) {
    const explicit = new Set<string>();
    const merged: Node[] = [];
    for (const pair of node.items) {
      const key = keyText(pair.key);
      if (isMergeKey(pair.key)) {
        merged.push(pair.value as Node);
        continue;
      }
      explicit.add(key);
      const childPath = [...path, key];
      const keyNode = pair.key as Node | null;
      // The key's line is the one a human edits, even when the value starts on the next line.
      if (keyNode?.range) out.positions.set(jsonPointer(childPath), at(keyNode.range[0]));
      collectPositions(pair.value as Node | null, childPath, out, at, depth + 1, viaAlias);
    }
    for (const source of merged.length > 0 && out.budget > 0 ? mergeSources(merged, out.doc) : []) {
      for (const pair of source.items) {
        const key = keyText(pair.key);
        if (isMergeKey(pair.key) || explicit.has(key)) continue;
        explicit.add(key);
        const childPath = [...path, key];
        const keyNode = pair.key as Node | null;
        if (keyNode?.range) out.positions.set(jsonPointer(childPath), at(keyNode.range[0]));
        collectPositions(pair.value as Node | null, childPath, out, at, depth + 1, true);
      }
    }
  } else if (isSeq(node)) {
    node.items.forEach((item, index) => collectPositions(item as Node, [...path, index], out, at, depth + 1, viaAlias));
  }
}

/** A plain `<<` key, which the parser (merge: true) marks with a symbol value; a quoted "<<" is an ordinary key. */
function isMergeKey(key: unknown): boolean {
  return isScalar(key) && typeof key.value === 'symbol';
}

function keyText(key: unknown): string {
  return isScalar(key) ? String(key.value) : String(key);
}

/** The maps a merge key brings in, in precedence order: `<<: *a` or `<<: [*a, *b]` (nested merges flattened). */
function mergeSources(values: Node[], doc: Document): Array<Extract<Node, { items: unknown[] }> & { items: Array<{ key: unknown; value: unknown }> }> {
  const sources: ReturnType<typeof mergeSources> = [];
  const add = (node: unknown): void => {
    if (sources.length >= MAX_MERGE_SOURCES) return;
    const resolved = isAlias(node) ? node.resolve(doc) : node;
    if (isMap(resolved)) {
      const own = resolved.items.filter((pair) => !isMergeKey(pair.key));
      sources.push({ ...resolved, items: own } as never);
      const nested = resolved.items.filter((pair) => isMergeKey(pair.key)).map((pair) => pair.value);
      for (const inner of nested) {
        if (isSeq(inner)) inner.items.forEach(add);
        else add(inner);
      }
    }
  };
  for (const value of values) {
    if (isSeq(value)) value.items.forEach(add);
    else add(value);
  }
  return sources;
}
