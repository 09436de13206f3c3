import type { FlagCatalog, FlagSpec } from './catalog.js';

/** Flags every framework answers by printing something and exiting 0, before the program does its work. */
const PRINT_AND_EXIT = new Map<string, 'help' | 'version' | 'completion'>([
  ['help', 'help'],
  ['help-long', 'help'],
  ['help-man', 'help'],
  ['version', 'version'],
  ['completion-script-bash', 'completion'],
  ['completion-script-zsh', 'completion'],
]);
const TRUE = new Set(['1', 't', 'T', 'true', 'TRUE', 'True']);

export interface PrintAndExit {
  /** Index of the argument in the args given to the binary. */
  index: number;
  flag: string;
  what: 'help' | 'version' | 'completion';
}

/**
 * The first argument that makes the binary print its help, version or a completion script and
 * exit with status 0 at start (kingpin and cobra `--help`/`--version`, Go flag `-h`, clap `-V`,
 * argparse actions): a long-running container then restarts for ever. Only flags the help itself
 * shows (or the framework always adds) count; `--version=false` and `--no-help` do not.
 */
export function printAndExitFlag(catalog: FlagCatalog, args: string[]): PrintAndExit | undefined {
  const singleDash = catalog.framework === 'goflag';
  const byLong = new Map(catalog.flags.map((f) => [f.name, f]));
  const byShort = new Map(catalog.flags.filter((f) => f.short).map((f) => [f.short!, f]));
  for (let index = 0; index < args.length; index++) {
    const arg = args[index]!;
    if (arg === '--') return undefined;
    const match = /^(--?)([^=]+)(?:=(.*))?$/s.exec(arg);
    if (!match) {
      // Go's flag package stops at the first argument that is not a flag.
      if (singleDash) return undefined;
      continue;
    }
    const [, dashes, name, value] = match;
    const spec = dashes === '--' || singleDash ? byLong.get(name!) ?? (name!.length === 1 ? byShort.get(name!) : undefined) : name!.length === 1 ? byShort.get(name!) : undefined;
    if (!spec) continue;
    const what = kindOf(spec);
    if (what) {
      if (value !== undefined && !TRUE.has(value)) continue;
      return { index, flag: arg, what };
    }
    if (spec.takesValue && !spec.optionalValue && value === undefined) index++;
  }
  return undefined;
}

function kindOf(spec: FlagSpec): PrintAndExit['what'] | undefined {
  const named = PRINT_AND_EXIT.get(spec.name) ?? (spec.name === 'h' ? 'help' : undefined);
  if (named && (spec.isBoolean || spec.optionalValue || spec.exitsWhenGiven)) return named;
  if (spec.exitsWhenGiven) return /version/i.test(spec.name) ? 'version' : 'help';
  return undefined;
}
