export const REDACTED = '***REDACTED***';

/** Replace every secret string anywhere in a JSON-like value. Longest secrets first, so parts never leak. */
export function redactFindings<T>(value: T, secrets: string[]): T {
  const ordered = [...new Set(secrets)].filter((s) => s.length > 0).sort((a, b) => b.length - a.length);
  if (ordered.length === 0) return value;
  const redactString = (text: string) => ordered.reduce((acc, secret) => acc.split(secret).join(REDACTED), text);
  const walk = (node: unknown): unknown => {
    if (typeof node === 'string') return redactString(node);
    if (Array.isArray(node)) return node.map(walk);
    if (node !== null && typeof node === 'object') {
      return Object.fromEntries(Object.entries(node).map(([k, v]) => [k, walk(v)]));
    }
    return node;
  };
  return walk(value) as T;
}
