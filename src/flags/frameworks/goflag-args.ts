import type { ArgProblem, FlagCatalog, ValidateOptions } from '../catalog.js';
import { suggestFlag } from '../did-you-mean.js';
import { isGoBool, isValidGoValue } from '../value-types.js';

/**
 * Parse args the way Go's flag.FlagSet.Parse does: one or two dashes alike, `-name=value` or
 * `-name value` (the next argument is taken whatever it looks like), booleans only as `-name` or
 * `-name=value`, and parsing stops at the first argument that is not a flag (or after `--`):
 * everything from there on is left to the program as arguments.
 */
export function validateGoflagArgs(catalog: FlagCatalog, args: string[], options: ValidateOptions = {}): ArgProblem[] {
  const parsed = parseGoFlags(catalog, args, options);
  if (parsed.problem) return [parsed.problem];
  const i = parsed.stoppedAt;
  if (i < args.length && !catalog.acceptsPositionals) {
    const program = options.label ?? catalog.program ?? 'the binary';
    return [{ kind: 'unexpected-positional', argIndex: i, message: `"${args[i]}" is not a flag, and ${program} takes no arguments (Go's flag parsing stops there, the program refuses the rest)`, binaryError: `'${args[i]}' is not a valid flag` }];
  }
  return [];
}

/** flag.Parse over args: the first problem (it stops there), or the index of the first argument left to the program. */
export function parseGoFlags(catalog: FlagCatalog, args: string[], options: ValidateOptions = {}, how: { implicitHelpStops?: boolean } = {}): { problem?: ArgProblem; stoppedAt: number; set: Array<{ name: string; index: number }> } {
  const implicitHelpStops = how.implicitHelpStops ?? true;
  const set: Array<{ name: string; index: number }> = [];
  const byName = new Map(catalog.flags.map((f) => [f.name, f]));
  const program = options.label ?? catalog.program ?? 'the binary';
  const stop = (problem: ArgProblem) => ({ problem, stoppedAt: problem.argIndex, set });
  let i = 0;
  for (; i < args.length; i++) {
    const raw = args[i]!;
    if (raw.length < 2 || !raw.startsWith('-')) break;
    if (raw === '--') {
      i++;
      break;
    }
    const dashes = raw.startsWith('--') ? 2 : 1;
    const body = raw.slice(dashes);
    if (body === '' || body.startsWith('-') || body.startsWith('=')) {
      return stop({ kind: 'unknown-flag', argIndex: i, message: `${raw} is not valid flag syntax`, binaryError: `bad flag syntax: ${raw}` });
    }
    const equals = body.indexOf('=');
    const name = equals >= 0 ? body.slice(0, equals) : body;
    const spec = byName.get(name);
    if (!spec) {
      const suggestion = suggestFlag(name, catalog.flags);
      return stop({ kind: 'unknown-flag', argIndex: i, flag: name, message: `-${name} is not a flag of ${program}${suggestion ? `; did you mean -${suggestion.name}?` : ''}`, binaryError: `flag provided but not defined: -${name}`, suggestion: suggestion ? `-${suggestion.name}` : undefined });
    }
    // Undefined -h/-help: flag.Parse prints the usage and stops (ErrHelp).
    if (implicitHelpStops && spec.line === 0 && (name === 'h' || name === 'help')) return { stoppedAt: args.length, set };
    set.push({ name, index: i });
    if (spec.isBoolean) {
      if (equals >= 0 && !isGoBool(body.slice(equals + 1))) {
        const value = body.slice(equals + 1);
        return stop({ kind: 'bad-value', argIndex: i, flag: name, spec, message: `-${name} is a boolean; "${value}" is not true or false`, binaryError: `invalid boolean value ${JSON.stringify(value)} for -${name}: parse error`, suggestion: `-${name}` });
      }
      continue;
    }
    let value: string;
    if (equals >= 0) value = body.slice(equals + 1);
    else if (i + 1 < args.length) value = args[++i]!;
    else return stop({ kind: 'missing-value', argIndex: i, flag: name, spec, message: `-${name} needs a value${spec.placeholder ? ` (${spec.placeholder})` : ''}`, binaryError: `flag needs an argument: -${name}` });
    if (spec.valueType && !isValidGoValue(spec.valueType, value)) {
      return stop({ kind: 'bad-value', argIndex: i, flag: name, spec, message: `-${name}=${value} is not a valid ${spec.valueType}`, binaryError: `invalid value ${JSON.stringify(value)} for flag -${name}: parse error` });
    }
  }
  return { stoppedAt: i, set };
}
