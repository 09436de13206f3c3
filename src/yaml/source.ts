import { isMap, isScalar, isSeq, LineCounter, parseAllDocuments, type Node } from 'yaml';
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
    collectPositions(doc.contents as Node, [], { positions, literalBlocks }, at);
    documents.push({ value, positions, literalBlocks, start: at(doc.contents.range?.[0] ?? doc.range[0]) });
  }
  return { documents, problems };
}

interface PositionSink {
  positions: Map<string, SourceLocation>;
  literalBlocks: Map<string, number>;
}

function collectPositions(
  node: Node | null | undefined,
  path: Array<string | number>,
  out: PositionSink,
  at: (offset: number) => SourceLocation,
): void {
  if (!node) return;
  const here = jsonPointer(path);
  if (node.range && !out.positions.has(here)) out.positions.set(here, at(node.range[0]));
  if (isScalar(node) && node.type === 'BLOCK_LITERAL' && node.range) {
    out.literalBlocks.set(here, at(node.range[0]).line);
  }
  if (isMap(node)) {
    for (const pair of node.items) {
      const key = isScalar(pair.key) ? String(pair.key.value) : String(pair.key);
      const childPath = [...path, key];
      const keyNode = pair.key as Node | null;
      // The key's line is the one a human edits, even when the value starts on the next line.
      if (keyNode?.range) out.positions.set(jsonPointer(childPath), at(keyNode.range[0]));
      collectPositions(pair.value as Node | null, childPath, out, at);
    }
  } else if (isSeq(node)) {
    node.items.forEach((item, index) => collectPositions(item as Node, [...path, index], out, at));
  }
}
