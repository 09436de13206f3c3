/** The value cached under `key`, made once: concurrent callers share one pending promise. */
export function memoized<K, V>(cache: Map<K, V>, key: K, make: () => V): V {
  if (cache.has(key)) return cache.get(key)!;
  const value = make();
  cache.set(key, value);
  return value;
}
