import { parse } from 'yaml';

/**
 * `yaml.parse(text)` for callers that only read the result: the base and the head, the Flux
 * Kustomization graph, the skip plan and the kustomize cache keys read the same kustomization
 * files, and each text is parsed once per process. The value is shared: never change it.
 */
const parsed = new Map<string, { value: unknown } | { error: unknown }>();
let heldChars = 0;
/** Past this many characters of text held as keys, the oldest entries go. */
const MAX_HELD_CHARS = 64 * 1024 * 1024;

export function parseShared(text: string): unknown {
  let entry = parsed.get(text);
  if (!entry) {
    try {
      entry = { value: parse(text) };
    } catch (error) {
      entry = { error };
    }
    parsed.set(text, entry);
    heldChars += text.length;
    for (const [oldest] of parsed) {
      if (heldChars <= MAX_HELD_CHARS) break;
      parsed.delete(oldest);
      heldChars -= oldest.length;
    }
  }
  if ('error' in entry) throw entry.error;
  return entry.value;
}

/** The same parse, as a copy the caller owns (built objects: the base and head of a check build the same output). */
export function parseOwned(text: string): unknown {
  const value = parseShared(text);
  return value !== null && typeof value === 'object' ? structuredClone(value) : value;
}
