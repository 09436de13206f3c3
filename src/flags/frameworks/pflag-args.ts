import type { ArgProblem, FlagCatalog, FlagSpec, ValidateOptions } from '../catalog.js';
import { suggestFlag, suggestValue } from '../did-you-mean.js';
import { goTypeError, isGoBool, isValidGoValue } from '../value-types.js';

/**
 * Parse args the way pflag's FlagSet.Parse (under cobra) does: `--name=value`, `--name value`
 * (the next argument is taken even when it starts with a dash), booleans only as `--name` or
 * `--name=value`, short clusters `-abc` with the value of the last one attached (`-ojson`,
 * `-o=json`), `--` ends flags, and positionals may appear anywhere. Every flag may repeat.
 * For a subcommand's help (`helm version --help`), the args must name that subcommand first.
 */
export function validatePflagArgs(catalog: FlagCatalog, args: string[], options: ValidateOptions = {}): ArgProblem[] {
  const problems: ArgProblem[] = [];
  const byLong = new Map(catalog.flags.map((f) => [f.name, f]));
  const byShort = new Map(catalog.flags.filter((f) => f.short).map((f) => [f.short!, f]));
  const command = [catalog.program ?? 'app', ...(catalog.subcommand ?? [])].join(' ');
  const fail = (problem: Omit<ArgProblem, 'binaryError'> & { error: string }) => {
    const { error, ...rest } = problem;
    problems.push({ ...rest, binaryError: `Error: ${error}` });
  };
  const positionals: Array<{ value: string; index: number }> = [];
  // Allowed values are the command's own check of the final value (the last occurrence wins), after parsing.
  const finalValues = new Map<string, { spec: FlagSpec; value: string; index: number }>();
  const checkValue = (spec: FlagSpec, value: string, index: number, display: string) => {
    if (spec.enumValues && spec.valueType === 'enum') {
      if (!spec.enumValues.includes(value)) {
        const close = suggestValue(value, spec.enumValues);
        fail({ kind: 'bad-enum', argIndex: index, flag: spec.name, spec, message: `${display}=${value} is not one of its options (${spec.enumValues.join(', ')})${close ? `; did you mean ${close}?` : ''}`, error: `invalid argument ${JSON.stringify(value)} for "${spec.short ? `-${spec.short}, ` : ''}--${spec.name}" flag: valid values are {${spec.enumValues.join('|')}}`, suggestion: close ? `--${spec.name}=${close}` : undefined });
      }
      return;
    }
    if (spec.enumValues) {
      finalValues.set(spec.name, { spec, value, index });
      return;
    }
    if (spec.valueType && !isValidGoValue(spec.valueType, value)) {
      fail({ kind: 'bad-value', argIndex: index, flag: spec.name, spec, message: `${display}=${value} is not a valid ${spec.valueType}`, error: `invalid argument ${JSON.stringify(value)} for "${spec.short ? `-${spec.short}, ` : ''}--${spec.name}" flag: ${goTypeError(spec.valueType, value)}` });
    }
  };

  for (let i = 0; i < args.length; i++) {
    const raw = args[i]!;
    if (raw === '--') {
      args.slice(i + 1).forEach((value, offset) => positionals.push({ value, index: i + 1 + offset }));
      break;
    }
    if (!raw.startsWith('-') || raw === '-') {
      positionals.push({ value: raw, index: i });
      continue;
    }
    if (raw.startsWith('--')) {
      const body = raw.slice(2);
      const equals = body.indexOf('=');
      const name = equals >= 0 ? body.slice(0, equals) : body;
      if (name === '' || name.startsWith('-') || name.startsWith('=')) {
        fail({ kind: 'unknown-flag', argIndex: i, message: `${raw} is not valid flag syntax`, error: `bad flag syntax: ${raw}` });
        continue;
      }
      const spec = byLong.get(name);
      if (!spec) {
        const suggestion = suggestFlag(name, catalog.flags);
        fail({ kind: 'unknown-flag', argIndex: i, flag: name, message: `--${name} is not a flag of ${options.label ?? command}${suggestion ? `; did you mean --${suggestion.name}?` : ''}`, error: `unknown flag: --${name}`, suggestion: suggestion ? `--${suggestion.name}` : undefined });
        continue;
      }
      if (equals >= 0) {
        const value = body.slice(equals + 1);
        if (spec.isBoolean && !isGoBool(value)) {
          fail({ kind: 'bad-value', argIndex: i, flag: name, spec, message: `--${name} is a boolean; "${value}" is not true or false`, error: `invalid argument ${JSON.stringify(value)} for "${spec.short ? `-${spec.short}, ` : ''}--${name}" flag: ${goTypeError('bool', value)}`, suggestion: `--${name}` });
        } else if (!spec.isBoolean) checkValue(spec, value, i, `--${name}`);
        continue;
      }
      if (spec.isBoolean || spec.optionalValue) continue;
      if (i + 1 >= args.length) {
        fail({ kind: 'missing-value', argIndex: i, flag: name, spec, message: `--${name} needs a value${spec.placeholder ? ` (${spec.placeholder})` : ''}`, error: `flag needs an argument: --${name}` });
        continue;
      }
      checkValue(spec, args[++i]!, i, `--${name}`);
      continue;
    }
    // Short flags: -abc, -ovalue, -o=value, -o value.
    let rest = raw.slice(1);
    while (rest.length > 0) {
      const letter = rest[0]!;
      const spec = byShort.get(letter);
      if (!spec) {
        fail({ kind: 'unknown-flag', argIndex: i, flag: letter, message: `-${letter} (in ${raw}) is not a flag of ${options.label ?? command}`, error: `unknown shorthand flag: '${letter}' in -${rest}` });
        break;
      }
      if (rest.length > 1 && rest[1] === '=') {
        const value = rest.slice(2);
        if (spec.isBoolean && !isGoBool(value)) {
          fail({ kind: 'bad-value', argIndex: i, flag: spec.name, spec, message: `-${letter} is a boolean; "${value}" is not true or false`, error: `invalid argument ${JSON.stringify(value)} for "-${letter}, --${spec.name}" flag: ${goTypeError('bool', value)}` });
        } else if (!spec.isBoolean) checkValue(spec, value, i, `-${letter}`);
        break;
      }
      if (spec.isBoolean || spec.optionalValue) {
        rest = rest.slice(1);
        continue;
      }
      if (rest.length > 1) {
        checkValue(spec, rest.slice(1), i, `-${letter}`);
        break;
      }
      if (i + 1 >= args.length) {
        fail({ kind: 'missing-value', argIndex: i, flag: spec.name, spec, message: `-${letter} (--${spec.name}) needs a value`, error: `flag needs an argument: '${letter}' in -${letter}` });
        break;
      }
      checkValue(spec, args[++i]!, i, `-${letter}`);
      break;
    }
  }

  for (const { spec, value, index } of finalValues.values()) {
    if (spec.enumValues!.includes(value)) continue;
    const close = suggestValue(value, spec.enumValues!);
    fail({ kind: 'bad-enum', argIndex: index, flag: spec.name, spec, message: `--${spec.name}=${value} is not one of its options (${spec.enumValues!.filter((v) => v !== '').join(', ')})${close ? `; did you mean ${close}?` : ''}`, error: `--${spec.name} must be one of ${spec.enumValues!.map((v) => `'${v}'`).join(', ')}`, suggestion: close ? `--${spec.name}=${close}` : undefined });
  }
  // cobra answers --help once the flags parse, before it validates arguments or the command checks values.
  const helpAsked = args.some((a, i) => (a === '--help' || a === '-h' || /^--help=(1|t|T|true|TRUE|True)$/.test(a)) && !args.slice(0, i).includes('--'));
  if (helpAsked) return problems.filter((p) => p.kind !== 'bad-enum' || p.spec?.valueType === 'enum');
  const path = catalog.subcommand ?? [];
  const words = positionals.slice(0, path.length).map((p) => p.value);
  if (path.length > 0 && words.join(' ') !== path.join(' ')) {
    const first = positionals[0];
    fail({ kind: 'unexpected-positional', argIndex: first?.index ?? -1, message: `the args run "${[catalog.program, ...words].join(' ')}", but the help output describes "${command}"; capture the help of the command the container runs`, error: `(not checked: a different command than ${command})` });
    return problems;
  }
  const extra = positionals.slice(path.length);
  if (!catalog.acceptsPositionals && extra.length > 0) {
    fail({ kind: 'unexpected-positional', argIndex: extra[0]!.index, message: `unexpected argument "${extra[0]!.value}": ${options.label ?? command} takes no arguments`, error: `"${command}" accepts no arguments` });
  }
  return problems;
}

/**
 * Arguments the help cannot vouch for: cobra accepts them unless the command sets an Args check
 * (helm version: "accepts no arguments"), which no help prints. Said, not blocked.
 */
export function doubtfulPflagArgs(catalog: FlagCatalog, args: string[]): string[] {
  if (!catalog.positionals || catalog.positionals.length > 0) return [];
  const command = [catalog.program ?? 'app', ...(catalog.subcommand ?? [])].join(' ');
  const path = catalog.subcommand ?? [];
  const byLong = new Map(catalog.flags.map((f) => [f.name, f]));
  const byShort = new Map(catalog.flags.filter((f) => f.short).map((f) => [f.short!, f]));
  const extra: string[] = [];
  let seenPath = 0;
  for (let i = 0; i < args.length; i++) {
    const raw = args[i]!;
    const positional = raw === '--' ? undefined : !raw.startsWith('-') || raw === '-' ? raw : undefined;
    if (raw === '--') {
      extra.push(...args.slice(i + 1));
      break;
    }
    if (positional !== undefined) {
      if (seenPath < path.length && positional === path[seenPath]) seenPath++;
      else extra.push(positional);
      continue;
    }
    const spec = raw.startsWith('--') ? byLong.get(raw.slice(2).split('=')[0]!) : byShort.get(raw[raw.length - 1]!);
    const attached = raw.includes('=') || (!raw.startsWith('--') && raw.length > 2 && !byShort.get(raw[1]!)?.isBoolean);
    if (spec?.takesValue && !spec.optionalValue && !attached) i++;
  }
  if (extra.length === 0) return [];
  return [`${extra.map((a) => JSON.stringify(a)).join(', ')} ${extra.length === 1 ? 'is an argument' : 'are arguments'} of "${command}", whose usage line shows none; cobra accepts arguments unless the command checks them itself (then it refuses to start), which its --help does not print`];
}
