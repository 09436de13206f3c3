import type { ArgProblem, FlagCatalog, ValidateOptions } from '../catalog.js';
import { suggestValue } from '../did-you-mean.js';
import { parseGoFlags } from './goflag-args.js';

/**
 * urfave/cli parses an app's global options with Go's flag package (one or two dashes, stops at
 * the first argument); that argument must then be one of the commands the help lists. What
 * follows belongs to the command, whose own options this help does not describe: not checked.
 */
export function validateUrfaveArgs(catalog: FlagCatalog, args: string[], options: ValidateOptions = {}): ArgProblem[] {
  if (catalog.subcommand) return validateCommandArgs(catalog, catalog.subcommand, args, options);
  const parsed = parseGoFlags(catalog, args, options);
  if (parsed.problem) return [parsed.problem];
  const twice = twoForms(catalog, parsed.set);
  if (twice) return [twice];
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

/**
 * A command's help (`ctr images list --help`): the global options before the command's path are
 * not in it (not checked); after the path, the command's options as Go's flag package parses
 * them, up to the first argument (urfave/cli v1 reorders later flags, v2 leaves them as arguments:
 * neither is checked).
 */
function validateCommandArgs(catalog: FlagCatalog, path: string[], args: string[], options: ValidateOptions): ArgProblem[] {
  const start = args.findIndex((_, i) => path.every((word, j) => args[i + j] === word));
  const command = [catalog.program ?? 'app', ...path].join(' ');
  if (start < 0) {
    const first = args.findIndex((a) => !a.startsWith('-'));
    return [{ kind: 'unexpected-positional', argIndex: first, message: `the args do not run "${command}", which the help output describes; capture the help of the command the container runs`, binaryError: `(not checked: a different command than ${command})` }];
  }
  const offset = start + path.length;
  const rest = args.slice(offset);
  const label = { ...options, label: options.label ?? command };
  // v2 parses up to the first argument; v1 first moves the command's known flags (and their
  // values) ahead of everything else. Only v2 prints booleans' defaults; where the help does not
  // tell, the args are refused only if both would refuse them.
  const refusal = (list: string[]) => {
    const parsed = parseGoFlags(catalog, list, label, { implicitHelpStops: false });
    return parsed.problem ?? twoForms(catalog, parsed.set);
  };
  const v2 = refusal(rest);
  if (!v2 || (catalog.variant !== 'urfave2' && !refusal(reorderV1(catalog, rest)))) return [];
  return [{ ...v2, argIndex: v2.argIndex + offset }];
}

/** urfave/cli refuses one flag set under two of its names ("Cannot use two forms of the same flag"). */
function twoForms(catalog: FlagCatalog, set: Array<{ name: string; index: number }>): ArgProblem | undefined {
  const byLine = new Map<number, string>();
  for (const { name, index } of set) {
    const line = catalog.flags.find((f) => f.name === name)?.line ?? 0;
    const other = byLine.get(line);
    if (line > 0 && other !== undefined && other !== name) {
      return { kind: 'repeated', argIndex: index, flag: name, message: `--${other} and --${name} are two names of one flag; urfave/cli refuses both at once`, binaryError: `Cannot use two forms of the same flag: ${other} ${name}` };
    }
    byLine.set(line, name);
  }
  return undefined;
}

/** urfave/cli v1's reorderArgs: the command's own flags (each with a value that may follow) first, the rest after. */
function reorderV1(catalog: FlagCatalog, args: string[]): string[] {
  const known = (arg: string) => arg !== '-' && arg !== '--' && arg.startsWith('-') && catalog.flags.some((f) => f.name === arg.replace(/^--?/, '').split('=')[0]);
  const reordered: string[] = [];
  const remaining: string[] = [];
  let mayBeValue = false;
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!;
    if (mayBeValue && !known(arg)) {
      mayBeValue = false;
      reordered.push(arg);
    } else if (arg === '--') {
      // The delimiter moves to the front of the rest: everything not reordered becomes an argument.
      remaining.unshift('--');
      remaining.push(...args.slice(i + 1));
      break;
    } else if (known(arg)) {
      reordered.push(arg);
      mayBeValue = !arg.includes('=');
    } else {
      remaining.push(arg);
    }
  }
  return [...reordered, ...remaining];
}
