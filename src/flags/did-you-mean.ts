import { distance } from 'fastest-levenshtein';
import type { FlagSpec } from './catalog.js';

const ANTONYMS: Array<[string, string]> = [
  ['disable', 'enable'],
  ['exclude', 'include'],
  ['deny', 'allow'],
  ['no', 'with'],
];

/**
 * The flag a user most likely meant: a known rename (disable <-> enable, as external-dns did
 * with --traefik-disable-legacy in v0.19.0), else the closest name within a third of its length.
 */
export function suggestFlag(name: string, flags: FlagSpec[]): FlagSpec | undefined {
  const visible = flags.filter((f) => !f.hidden);
  for (const [a, b] of ANTONYMS) {
    for (const [from, to] of [[a, b], [b, a]] as const) {
      const pattern = new RegExp(`(^|-)${from}(-|$)`);
      if (!pattern.test(name)) continue;
      const candidate = name.replace(pattern, `$1${to}$2`);
      const found = visible.find((f) => f.name === candidate);
      if (found) return found;
    }
  }
  let best: FlagSpec | undefined;
  let bestDistance = Infinity;
  const limit = Math.max(2, Math.floor(name.length / 3));
  for (const flag of visible) {
    // The distance is at least the difference in length: skip what cannot be close (keeps a 100 KB argument cheap).
    if (Math.abs(flag.name.length - name.length) > limit) continue;
    const d = distance(name, flag.name);
    if (d < bestDistance) {
      best = flag;
      bestDistance = d;
    }
  }
  return best && bestDistance <= limit ? best : undefined;
}

export function suggestValue(value: string, options: string[]): string | undefined {
  let best: string | undefined;
  let bestDistance = Infinity;
  const limit = Math.max(2, Math.floor(value.length / 3));
  for (const option of options.filter((o) => o !== '')) {
    if (Math.abs(option.length - value.length) > limit) continue;
    const d = distance(value.toLowerCase(), option.toLowerCase());
    if (d < bestDistance) {
      best = option;
      bestDistance = d;
    }
  }
  return best !== undefined && bestDistance <= limit ? best : undefined;
}
