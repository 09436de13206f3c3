import fc from 'fast-check';
import type { FlagCatalog, FlagSpec } from '../../src/flags/catalog.js';
import { validateArgs } from '../../src/flags/frameworks/registry.js';

/**
 * Differential testing of a flag validator against the real binary whose parser it reproduces:
 * generated argument lists, the binary's verdict (accepted or refused at start) against the
 * guard's. Agreement is the metric; every disagreement is listed.
 */
export interface DifferentialResult {
  total: number;
  accepted: number;
  /** Lists the binary refused for a reason the help cannot show (a value's type), so not compared. */
  skipped: number;
  disagreements: string[];
}

export async function compareVerdicts(
  catalog: FlagCatalog,
  samples: string[][],
  /** true/false: the binary's verdict; undefined: a refusal the guard cannot be expected to see. */
  binaryAccepts: (args: string[]) => Promise<boolean | undefined>,
  options: { prefix?: string[]; parallel?: number } = {},
): Promise<DifferentialResult> {
  const prefix = options.prefix ?? [];
  const parallel = options.parallel ?? 4;
  const disagreements: string[] = [];
  let accepted = 0;
  let skipped = 0;
  for (let i = 0; i < samples.length; i += parallel) {
    const batch = samples.slice(i, i + parallel);
    const verdicts = await Promise.all(batch.map((args) => binaryAccepts(args)));
    batch.forEach((args, j) => {
      if (verdicts[j] === undefined) {
        skipped++;
        return;
      }
      const problems = validateArgs(catalog, [...prefix, ...args]);
      const guard = problems.length === 0;
      if (verdicts[j]) accepted++;
      if (guard !== verdicts[j]) {
        disagreements.push(`${JSON.stringify(args)}: binary ${verdicts[j] ? 'accepts' : 'refuses'}, guard ${guard ? 'accepts' : `refuses (${problems.map((p) => p.kind).join(', ')})`}`);
      }
    });
  }
  return { total: samples.length - skipped, accepted, skipped, disagreements };
}

/** A value the flag's type accepts, for generating valid argument lists. */
export function goodValue(flag: FlagSpec): string {
  if (flag.enumValues) return flag.enumValues.find((v) => v !== '') ?? '';
  switch (flag.valueType) {
    case 'int': case 'int32': case 'int64': case 'uint': case 'uint16': case 'uint32': return '7';
    case 'float32': case 'float64': return '2.5';
    case 'duration': return '90s';
    case 'bool': return 'true';
    case 'moduleSpec': return 'server=2';
    // A flag without a known type may still check its value (URLs, lists): its default passes.
    default: return flag.defaultValue !== undefined && !/[$]|^math\./.test(flag.defaultValue) ? flag.defaultValue : 'value';
  }
}

/** A value the flag's type refuses, or undefined when any string is accepted. */
export function badValue(flag: FlagSpec): string | undefined {
  if (flag.enumValues) return 'not-an-option';
  switch (flag.valueType) {
    case 'int': case 'int32': case 'int64': case 'uint': case 'uint16': case 'uint32': return 'seven';
    case 'float32': case 'float64': return '2,5';
    case 'duration': return '90';
    case 'bool': return 'maybe';
    case 'moduleSpec': return 'server';
    default: return undefined;
  }
}

export function sample<T>(arbitrary: fc.Arbitrary<T>, numRuns: number, seed = 20261125): T[] {
  return fc.sample(arbitrary, { numRuns, seed });
}
