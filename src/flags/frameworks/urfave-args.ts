import type { ArgProblem, FlagCatalog, ValidateOptions } from '../catalog.js';
import { suggestValue } from '../did-you-mean.js';
import { parseGoFlags } from './goflag-args.js';

/**
 * urfave/cli parses an app's global options with Go's flag package (one or two dashes, stops at
 * the first argument); that argument must then be one of the commands the help lists. What
 * follows belongs to the command, whose own options this help does not describe: not checked.
 */
export function validateUrfaveArgs(catalog: FlagCatalog, args: string[], options: ValidateOptions = {}): ArgProblem[] {
  const parsed = parseGoFlags(catalog, args, options);
  if (parsed.problem) return [parsed.problem];
  // urfave/cli v1 refuses one flag set under two of its names ("Cannot use two forms of the same flag").
  const byLine = new Map<number, string>();
  for (const { name, index } of parsed.set) {
    const line = catalog.flags.find((f) => f.name === name)?.line ?? 0;
    const other = byLine.get(line);
    if (line > 0 && other !== undefined && other !== name) {
      return [{ kind: 'repeated', argIndex: index, flag: name, message: `--${other} and --${name} are two names of one flag; urfave/cli refuses both at once`, binaryError: `Cannot use two forms of the same flag: ${other} ${name}` }];
    }
    byLine.set(line, name);
  }
  // --help and --version answer before any command runs.
  if (parsed.set.some(({ name, index }) => ['help', 'h', 'version', 'v'].includes(name) && !/=(0|f|F|false|FALSE|False)$/.test(args[index]!))) return [];
  const first = args[parsed.stoppedAt];
  if (first === undefined || !catalog.commands || catalog.commands.includes(first)) return [];
  const close = suggestValue(first, catalog.commands);
  return [{
    kind: 'unexpected-positional',
    argIndex: parsed.stoppedAt,
    message: `"${first}" is not a command of ${options.label ?? catalog.program ?? 'the binary'} (${catalog.commands.join(', ')})${close ? `; did you mean ${close}?` : ''}`,
    binaryError: `No help topic for '${first}'`,
    suggestion: close,
  }];
}
