import type { FlagCatalog, FlagSpec } from './catalog.js';

const MAX_LISTED = 6;

/**
 * How a help file's flags differ from the image's own help: flags one has and the other lacks,
 * and flags that take a value in one and not in the other. Empty when they agree on what the
 * check uses; wording and defaults do not count.
 */
export function catalogDifferences(claimed: FlagCatalog, truth: FlagCatalog): string[] {
  const claimedFlags = byName(claimed);
  const trueFlags = byName(truth);
  const differences: string[] = [];
  const extra = [...claimedFlags.keys()].filter((name) => !trueFlags.has(name));
  const lacking = [...trueFlags.keys()].filter((name) => !claimedFlags.has(name));
  if (extra.length > 0) differences.push(`it lists ${list(extra)} that the image's binary does not accept`);
  if (lacking.length > 0) differences.push(`it leaves out ${list(lacking)} that the image's binary accepts`);
  const valueMismatch = [...claimedFlags].filter(([name, flag]) => trueFlags.has(name) && trueFlags.get(name)!.takesValue !== flag.takesValue).map(([name]) => name);
  if (valueMismatch.length > 0) differences.push(`${list(valueMismatch)} take${valueMismatch.length === 1 ? 's' : ''} a value in one and not in the other`);
  return differences;
}

function byName(catalog: FlagCatalog): Map<string, FlagSpec> {
  return new Map(catalog.flags.filter((flag) => !flag.hidden).map((flag) => [`--${flag.name}`, flag]));
}

function list(names: string[]): string {
  const shown = names.slice(0, MAX_LISTED).join(', ');
  return names.length > MAX_LISTED ? `${shown} and ${names.length - MAX_LISTED} more` : shown;
}
