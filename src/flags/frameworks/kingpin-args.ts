import type { ArgProblem, FlagCatalog, FlagSpec, ValidateOptions } from '../catalog.js';
import { suggestFlag, suggestValue } from '../did-you-mean.js';
import { goTypeError, isGoBool, isKingpinValue } from '../value-types.js';

type Token =
  | { kind: 'long'; name: string; index: number; raw: string; inlineValue?: string }
  | { kind: 'short'; name: string; index: number; raw: string; inlineValue?: string }
  | { kind: 'arg'; value: string; index: number; fromInline?: boolean };

/**
 * Parse the args the way kingpin's lexer and parser do and report what would make the binary
 * exit at start: `--x=v` splits into a flag and a value token (so `--bool=true` leaves a stray
 * `true`), a value flag takes the next token only if it is not itself a flag, `--` ends flags,
 * `--no-x` negates booleans only.
 */
export function validateKingpinArgs(catalog: FlagCatalog, args: string[], options: ValidateOptions = {}): ArgProblem[] {
  const problems: ArgProblem[] = [];
  const byLong = new Map(catalog.flags.map((f) => [f.name, f]));
  const byShort = new Map(catalog.flags.filter((f) => f.short).map((f) => [f.short!, f]));
  const tokens = tokenize(args, byShort);
  const seen = new Map<string, number>();
  const fail = (problem: ArgProblem) => problems.push(problem);
  const binary = options.label ?? catalog.program ?? 'the binary';

  const path = catalog.subcommand ?? [];
  let pathSeen = 0;
  let argsAfterPath = 0;
  // Top-level help of an app with commands: the first argument names a command, whose own flags and arguments this help does not list.
  let inCommand = false;
  let parent: { word: string; index: number; subcommands: string[] } | undefined;

  for (let i = 0; i < tokens.length; i++) {
    const token = tokens[i]!;
    if (token.kind === 'arg') {
      if (parent) {
        // A command with subcommands: the next argument names one of them.
        if (!parent.subcommands.includes(token.value)) {
          const close = suggestValue(token.value, parent.subcommands);
          fail({ kind: 'unexpected-positional', argIndex: token.index, message: `"${token.value}" is not a subcommand of ${binary} ${parent.word} (${parent.subcommands.join(', ')})${close ? `; did you mean ${close}?` : ''}`, binaryError: kingpinError(catalog, `expected command but got "${token.value}"`), suggestion: close });
        }
        parent = undefined;
        continue;
      }
      if (inCommand) continue;
      if (catalog.commands) {
        inCommand = true;
        const topLevel = catalog.commands.filter((c) => !c.includes(' '));
        if (!topLevel.includes(token.value)) {
          const close = suggestValue(token.value, topLevel);
          fail({ kind: 'unexpected-positional', argIndex: token.index, message: `"${token.value}" is not a command of ${binary} (${topLevel.join(', ')})${close ? `; did you mean ${close}?` : ''}`, binaryError: kingpinError(catalog, `expected command but got "${token.value}"`), suggestion: close });
          continue;
        }
        const subcommands = catalog.commands.filter((c) => c.startsWith(`${token.value} `)).map((c) => c.split(' ')[1]!);
        if (subcommands.length > 0) parent = { word: token.value, index: token.index, subcommands: [...new Set(subcommands)] };
        continue;
      }
      if (pathSeen < path.length) {
        if (token.value !== path[pathSeen]) {
          fail({ kind: 'unexpected-positional', argIndex: token.index, message: `the args run "${[catalog.program, ...path.slice(0, pathSeen), token.value].join(' ')}", but the help output describes "${[catalog.program, ...path].join(' ')}"; capture the help of the command the container runs`, binaryError: `(not checked: a different command than ${[catalog.program, ...path].join(' ')})` });
          return problems;
        }
        pathSeen++;
        continue;
      }
      argsAfterPath++;
      if (!catalog.acceptsPositionals) {
        const stray = token.fromInline ? strayInlineValue(catalog, tokens, i, byLong) : undefined;
        if (stray) fail(stray);
        else fail({ kind: 'unexpected-positional', argIndex: token.index, message: `unexpected argument "${token.value}": ${binary} takes no positional arguments`, binaryError: kingpinError(catalog, `unexpected ${token.value}`) });
      }
      continue;
    }
    const display = token.kind === 'long' ? `--${token.name}` : `-${token.name}`;
    let spec: FlagSpec | undefined;
    let inverted = false;
    if (token.kind === 'long') {
      spec = byLong.get(token.name);
      if (!spec && token.name.startsWith('no-')) {
        const positive = byLong.get(token.name.slice(3));
        if (positive?.isBoolean) {
          spec = positive;
          inverted = true;
        }
      }
    } else {
      spec = byShort.get(token.name);
    }
    if (!spec && inCommand) {
      if (token.inlineValue !== undefined && tokens[i + 1]?.kind === 'arg') i++;
      continue;
    }
    if (!spec) {
      const suggestion = token.kind === 'long' ? suggestFlag(token.name, catalog.flags) : undefined;
      fail({
        kind: 'unknown-flag',
        argIndex: token.index,
        flag: token.name,
        message: `${display} is not a flag of ${binary}${suggestion ? `; did you mean --${suggestion.name}?` : ''}`,
        binaryError: kingpinError(catalog, token.kind === 'long' ? `unknown long flag '${display}'` : `unknown short flag '${display}'`),
        suggestion: suggestion ? `--${suggestion.name}` : undefined,
      });
      if (token.inlineValue !== undefined && tokens[i + 1]?.kind === 'arg') i++;
      continue;
    }
    const count = (seen.get(spec.name) ?? 0) + 1;
    seen.set(spec.name, count);
    // kingpin refuses a second occurrence of any non-cumulative flag, booleans included (checked against the real parser).
    if (count > 1 && !spec.repeatable) {
      fail({
        kind: 'repeated',
        argIndex: token.index,
        flag: spec.name,
        message: `--${spec.name} is given more than once, but it may appear only once`,
        binaryError: kingpinError(catalog, `flag '${spec.name}' cannot be repeated`),
        spec,
      });
    }
    if (spec.isBoolean) continue;
    const next = tokens[i + 1];
    if (!next || next.kind !== 'arg') {
      fail({
        kind: 'missing-value',
        argIndex: token.index,
        flag: spec.name,
        message: `--${spec.name} needs a value${spec.placeholder ? ` (${spec.placeholder})` : ''}`,
        binaryError: kingpinError(catalog, `expected argument for flag '${display}'`),
        spec,
      });
      continue;
    }
    i++;
    if (inverted) continue;
    if (spec.enumValues && !spec.enumValues.includes(next.value)) {
      const close = suggestValue(next.value, spec.enumValues);
      const listed = spec.enumValues.filter((v) => v !== '');
      fail({
        kind: 'bad-enum',
        argIndex: next.index,
        flag: spec.name,
        message: `--${spec.name}=${next.value} is not one of its options (${listed.join(', ')})${close ? `; did you mean ${close}?` : ''}`,
        binaryError: kingpinError(catalog, `enum value must be one of ${spec.enumValues.join(',')}, got '${next.value}'`),
        suggestion: close ? `--${spec.name}=${close}` : undefined,
        spec,
      });
    } else if (!spec.enumValues && spec.valueType && !isKingpinValue(spec.valueType, next.value)) {
      const suggestion = unitSuggestion(spec, next.value);
      fail({
        kind: 'bad-value',
        argIndex: next.index,
        flag: spec.name,
        message: `--${spec.name}=${next.value} is not a valid ${spec.valueType}${spec.valueType === 'duration' ? ' (kingpin reads it with Go\'s time.ParseDuration: a number needs a unit such as s, m or h)' : ''}${suggestion ? `; did you mean ${suggestion}?` : ''}`,
        binaryError: kingpinError(catalog, goTypeError(spec.valueType, next.value)),
        suggestion: suggestion ? `--${spec.name}=${suggestion}` : undefined,
        spec,
      });
    }
  }

  // kingpin runs the pre-actions of --help, --version and the like (their --no- forms too) once
  // the args tokenize, before it reports a repeated flag, a refused value or a missing required one.
  if (printsAndExits(seen) && problems.every((p) => VALUE_LEVEL.has(p.kind))) return environmentProblems(catalog, seen, options.env ?? {});
  problems.push(...environmentProblems(catalog, seen, options.env ?? {}));

  if (parent) {
    fail({ kind: 'missing-required', argIndex: parent.index, message: `${binary} ${parent.word} needs one of its subcommands (${parent.subcommands.join(', ')})`, binaryError: kingpinError(catalog, `must select a subcommand of '${parent.word}'`) });
  }
  if (path.length > 0 && pathSeen === path.length) {
    const required = catalog.positionals ?? [];
    if (argsAfterPath < required.length) {
      const missing = required[argsAfterPath]!;
      fail({ kind: 'missing-required', argIndex: -1, message: `${[catalog.program, ...path].join(' ')} needs its argument <${missing.name}>`, binaryError: kingpinError(catalog, `required argument '${missing.name}' not provided`) });
    }
  }

  for (const spec of catalog.flags) {
    if (!spec.required || seen.has(spec.name)) continue;
    if (spec.envVar && options.env?.[spec.envVar] !== undefined) continue;
    fail({
      kind: 'missing-required',
      argIndex: -1,
      flag: spec.name,
      message: `required flag --${spec.name} is not given${spec.envVar ? ` (nor ${spec.envVar} in the environment)` : ''}`,
      binaryError: kingpinError(catalog, `required flag --${spec.name} not provided`),
      spec,
    });
  }
  return problems;
}

const PRE_ACTION_FLAGS = ['help', 'help-long', 'help-man', 'version', 'completion-script-bash', 'completion-script-zsh'];
const VALUE_LEVEL = new Set<ArgProblem['kind']>(['repeated', 'bad-enum', 'bad-value']);

function printsAndExits(seen: ReadonlyMap<string, number>): boolean {
  return PRE_ACTION_FLAGS.some((name) => seen.has(name));
}

/**
 * kingpin reads a flag's $ENVAR when the flag is not on the command line and parses the value with
 * the flag's own type (strconv.ParseBool for booleans, the enum's options, time.ParseDuration); a
 * value it refuses stops the binary at start just like a bad argument. An empty value is ignored,
 * a cumulative flag's value is split on newlines.
 */
function environmentProblems(catalog: FlagCatalog, given: ReadonlyMap<string, number>, env: Record<string, string>): ArgProblem[] {
  const problems: ArgProblem[] = [];
  for (const spec of catalog.flags) {
    if (!spec.envVar || given.has(spec.name)) continue;
    const raw = env[spec.envVar];
    if (raw === undefined || raw === '') continue;
    const values = spec.repeatable ? raw.split(/\r?\n/).filter((v) => v !== '') : [raw];
    for (const value of values) {
      const refusal = envRefusal(spec, value);
      if (!refusal) continue;
      problems.push({
        kind: 'bad-env-value',
        argIndex: -1,
        flag: spec.name,
        envVar: spec.envVar,
        value,
        message: `environment variable ${spec.envVar}=${JSON.stringify(value)} sets --${spec.name}, which refuses it: ${refusal.why}`,
        binaryError: kingpinError(catalog, refusal.error),
        suggestion: refusal.suggestion,
        spec,
      });
      break;
    }
  }
  return problems;
}

function envRefusal(spec: FlagSpec, value: string): { why: string; error: string; suggestion?: string } | undefined {
  if (spec.isBoolean) {
    if (isGoBool(value)) return undefined;
    return { why: 'a boolean takes 1, t, true, 0, f or false (strconv.ParseBool)', error: goTypeError('bool', value), suggestion: /^(yes|on|y|enabled?)$/i.test(value) ? 'true' : /^(no|off|n|disabled?)$/i.test(value) ? 'false' : undefined };
  }
  if (spec.enumValues) {
    if (spec.enumValues.includes(value)) return undefined;
    const close = suggestValue(value, spec.enumValues);
    return { why: `not one of its options (${spec.enumValues.filter((v) => v !== '').join(', ')})`, error: `enum value must be one of ${spec.enumValues.join(',')}, got '${value}'`, suggestion: close };
  }
  if (spec.valueType && !isKingpinValue(spec.valueType, value)) {
    return { why: `not a valid ${spec.valueType}`, error: goTypeError(spec.valueType, value), suggestion: unitSuggestion(spec, value) };
  }
  return undefined;
}

/** `5` for a duration flag: the same number in the unit of the flag's default (`5s` when the default is `5s`). */
function unitSuggestion(spec: FlagSpec, value: string): string | undefined {
  if (spec.valueType !== 'duration' || !/^\d+$/.test(value)) return undefined;
  const unit = /(ns|us|µs|ms|s|m|h)$/.exec(spec.placeholder ?? '')?.[1] ?? 's';
  return `${value}${unit}`;
}

/** `--bool=true`: kingpin sets the boolean, then trips over the leftover value. */
function strayInlineValue(catalog: FlagCatalog, tokens: Token[], index: number, byLong: Map<string, FlagSpec>): ArgProblem | undefined {
  const flagToken = tokens[index - 1];
  const valueToken = tokens[index];
  if (!flagToken || flagToken.kind === 'arg' || !valueToken || valueToken.kind !== 'arg') return undefined;
  const name = flagToken.name.replace(/^no-/, '');
  const spec = byLong.get(flagToken.name) ?? byLong.get(name);
  if (!spec?.isBoolean) return undefined;
  const value = valueToken.value;
  const meant = /^(false|0|no|off)$/i.test(value) ? `--no-${spec.name}` : `--${spec.name}`;
  return {
    kind: 'bool-with-value',
    argIndex: flagToken.index,
    flag: spec.name,
    message: `--${spec.name} is a boolean and takes no value; "${flagToken.raw}" makes the binary reject "${value}"`,
    binaryError: kingpinError(catalog, `unexpected ${value}`),
    suggestion: meant,
    spec,
  };
}

function tokenize(args: string[], byShort: Map<string, FlagSpec>): Token[] {
  const tokens: Token[] = [];
  let argsOnly = false;
  args.forEach((raw, index) => {
    if (argsOnly) return tokens.push({ kind: 'arg', value: raw, index });
    if (raw === '--') {
      argsOnly = true;
      return;
    }
    if (raw.startsWith('--')) {
      const equals = raw.indexOf('=');
      const name = equals >= 0 ? raw.slice(2, equals) : raw.slice(2);
      tokens.push({ kind: 'long', name, index, raw, inlineValue: equals >= 0 ? raw.slice(equals + 1) : undefined });
      if (equals >= 0) tokens.push({ kind: 'arg', value: raw.slice(equals + 1), index, fromInline: true });
      return;
    }
    // A lone `-` is a short flag without a name to kingpin: never a value ("expected argument").
    if (raw === '-') return tokens.push({ kind: 'short', name: '', index, raw });
    if (raw.startsWith('-') && raw.length > 1) {
      // -abc: boolean shorts cluster; a value short takes the rest of the word (-fVALUE).
      let rest = raw.slice(1);
      while (rest.length > 0) {
        const short = rest[0]!;
        const spec = byShort.get(short);
        if (spec && !spec.isBoolean) {
          tokens.push({ kind: 'short', name: short, index, raw });
          if (rest.length > 1) tokens.push({ kind: 'arg', value: rest.slice(1), index });
          return;
        }
        tokens.push({ kind: 'short', name: short, index, raw });
        rest = rest.slice(1);
      }
      return;
    }
    tokens.push({ kind: 'arg', value: raw, index });
  });
  return tokens;
}

/** external-dns prefixes kingpin's parse errors with "flag parsing error: "; other kingpin apps print "<app>: error: ". */
function kingpinError(catalog: FlagCatalog, message: string): string {
  return catalog.program === 'external-dns' ? `flag parsing error: ${message}` : `${catalog.program ?? 'app'}: error: ${message}, try --help`;
}
