import type { ArgProblem, Arity, FlagCatalog, FlagSpec, PositionalSpec, ValidateOptions } from '../catalog.js';
import { suggestFlag } from '../did-you-mean.js';

/**
 * Parse args the way Python 3.11's argparse does. Every argument is first classified as an option
 * ('O'), a plain argument ('A') or the `--` separator ('-'); then options take their values and
 * positionals take runs of plain arguments by regular expressions over that pattern, which is what
 * makes argparse's quirks (an optional positional used up early, `-w3`, `--wid` for `--width`,
 * `-1` as a value) come out as the real parser has them.
 */
export function validateArgparseArgs(catalog: FlagCatalog, args: string[], options: ValidateOptions = {}): ArgProblem[] {
  try {
    return new ArgparseRun(catalog, args, options.label ?? catalog.program ?? 'the program').parse();
  } catch (error) {
    if (error instanceof Refusal) return [error.problem];
    throw error;
  }
}

type Action = { option: FlagSpec; positional?: undefined } | { option?: undefined; positional: PositionalSpec };
interface OptionUse {
  spec?: FlagSpec;
  spelling: string;
  explicit?: string;
}

class Refusal extends Error {
  constructor(readonly problem: ArgProblem) {
    super(problem.message);
  }
}

/** Printing help or a version ends the program before anything after it is read. */
class EarlyExit extends Error {}

const NEGATIVE_NUMBER = /^-\d+$|^-\d*\.\d+$/;

class ArgparseRun {
  private readonly spellings = new Map<string, FlagSpec>();
  private readonly negativeNumbersAreOptions: boolean;
  private readonly seen = new Set<string>();
  private readonly seenNonDefault = new Set<string>();
  private readonly extras: Array<{ index: number; arg: string; option: boolean }> = [];

  constructor(
    private readonly catalog: FlagCatalog,
    private readonly args: string[],
    private readonly program: string,
  ) {
    for (const spec of catalog.flags) {
      for (const spelling of spec.spellings ?? [`--${spec.name}`, ...(spec.short ? [`-${spec.short}`] : [])]) this.spellings.set(spelling, spec);
    }
    this.negativeNumbersAreOptions = [...this.spellings.keys()].some((s) => NEGATIVE_NUMBER.test(s));
  }

  parse(): ArgProblem[] {
    try {
      this.parseArgs();
    } catch (error) {
      if (error instanceof EarlyExit) return [];
      throw error;
    }
    return [];
  }

  private parseArgs(): void {
    const { args } = this;
    const optionAt = new Map<number, OptionUse>();
    let pattern = '';
    for (let i = 0; i < args.length; i++) {
      if (args[i] === '--') {
        pattern += '-' + 'A'.repeat(args.length - i - 1);
        break;
      }
      const use = this.classify(args[i]!, i);
      if (use) optionAt.set(i, use);
      pattern += use ? 'O' : 'A';
    }
    const positionals = [...(this.catalog.positionals ?? [])];

    const consumePositionals = (start: number): number => {
      const counts = matchPartial(positionals, pattern.slice(start));
      let index = start;
      positionals.splice(0, counts.length).forEach((positional, n) => {
        this.take({ positional }, args.slice(index, index + counts[n]!), index);
        index += counts[n]!;
      });
      return index;
    };

    const consumeOptional = (start: number): number => {
      let { spec, spelling, explicit } = optionAt.get(start)!;
      const uses: Array<{ spec: FlagSpec; values: string[] }> = [];
      let stop: number;
      for (;;) {
        if (!spec) {
          this.extras.push({ index: start, arg: args[start]!, option: true });
          return start + 1;
        }
        if (explicit !== undefined) {
          const count = this.matchArgument(spec, 'A', start);
          if (count === 0 && spelling[1] !== '-' && explicit !== '') {
            // -xyz: a switch followed by more single-letter options.
            uses.push({ spec, values: [] });
            const next = `-${explicit[0]}`;
            const nextSpec = this.spellings.get(next);
            if (!nextSpec) throw this.ignoredExplicit(spec, explicit, start);
            spec = nextSpec;
            spelling = next;
            explicit = explicit.slice(1) || undefined;
            continue;
          }
          if (count === 1) {
            stop = start + 1;
            uses.push({ spec, values: [explicit] });
            break;
          }
          throw this.ignoredExplicit(spec, explicit, start);
        }
        const count = this.matchArgument(spec, pattern.slice(start + 1), start);
        stop = start + 1 + count;
        uses.push({ spec, values: args.slice(start + 1, stop) });
        break;
      }
      for (const use of uses) this.take({ option: use.spec }, use.values, start);
      return stop;
    };

    const optionIndices = [...optionAt.keys()];
    const lastOption = optionIndices.length > 0 ? Math.max(...optionIndices) : -1;
    let start = 0;
    while (start <= lastOption) {
      const nextOption = Math.min(...optionIndices.filter((i) => i >= start));
      if (start !== nextOption) {
        const end = consumePositionals(start);
        if (end > start) {
          start = end;
          continue;
        }
      }
      if (!optionAt.has(start)) {
        for (let i = start; i < nextOption; i++) this.extras.push({ index: i, arg: args[i]!, option: false });
        start = nextOption;
      }
      start = consumeOptional(start);
    }
    const stop = consumePositionals(start);
    for (let i = stop; i < args.length; i++) this.extras.push({ index: i, arg: args[i]!, option: false });

    this.checkRequired(positionals);
    this.checkExtras();
  }

  /** argparse's _parse_optional: is this argument an option, and which? */
  private classify(arg: string, index: number): OptionUse | undefined {
    if (!arg.startsWith('-')) return undefined;
    const exact = this.spellings.get(arg);
    if (exact) return { spec: exact, spelling: arg };
    if (arg.length === 1) return undefined;
    const equals = arg.indexOf('=');
    if (equals >= 0) {
      const spec = this.spellings.get(arg.slice(0, equals));
      if (spec) return { spec, spelling: arg.slice(0, equals), explicit: arg.slice(equals + 1) };
    }
    const candidates = this.prefixMatches(arg);
    if (candidates.length > 1) {
      const names = candidates.map((c) => c.spelling).join(', ');
      throw new Refusal({
        kind: 'unknown-flag',
        argIndex: index,
        flag: arg.replace(/^-+/, '').split('=')[0],
        message: `${arg} is ambiguous for ${this.program}: it abbreviates ${names}; spell the option out`,
        binaryError: `error: ambiguous option: ${arg} could match ${names}`,
      });
    }
    if (candidates.length === 1) return candidates[0];
    if (NEGATIVE_NUMBER.test(arg) && !this.negativeNumbersAreOptions) return undefined;
    if (arg.includes(' ')) return undefined;
    return { spelling: arg };
  }

  /** Abbreviated long options (`--wid`) and a short option with its value attached (`-w3`). */
  private prefixMatches(arg: string): OptionUse[] {
    const matches: OptionUse[] = [];
    if (arg[1] === '-') {
      const equals = arg.indexOf('=');
      const prefix = equals >= 0 ? arg.slice(0, equals) : arg;
      const explicit = equals >= 0 ? arg.slice(equals + 1) : undefined;
      for (const [spelling, spec] of this.spellings) if (spelling.startsWith(prefix)) matches.push({ spec, spelling, explicit });
      return matches;
    }
    const short = arg.slice(0, 2);
    for (const [spelling, spec] of this.spellings) {
      if (spelling === short) matches.push({ spec, spelling, explicit: arg.slice(2) });
      else if (spelling.startsWith(arg)) matches.push({ spec, spelling });
    }
    return matches;
  }

  /** How many of the following arguments an option takes, or the refusal argparse gives. */
  private matchArgument(spec: FlagSpec, pattern: string, index: number): number {
    const arity = optionArity(spec);
    const match = new RegExp(`^${nargsPattern(arity, true)}`).exec(pattern);
    if (match) return match[1]!.length;
    const expected = arity === '?' ? 'expected at most one argument' : arity === '+' ? 'expected at least one argument' : arity === 1 ? 'expected one argument' : `expected ${arity} arguments`;
    throw new Refusal({
      kind: 'missing-value',
      argIndex: index,
      flag: spec.name,
      spec,
      message: `${actionName({ option: spec })} needs ${expected.replace('expected ', '').replace('one argument', 'a value')}, and the next argument is not one`,
      binaryError: `error: argument ${actionName({ option: spec })}: ${expected}`,
    });
  }

  private take(action: Action, values: string[], index: number): void {
    const key = actionKey(action);
    this.seen.add(key);
    const given = action.positional && action.positional.arity !== '...' ? withoutSeparator(values) : values;
    this.checkChoices(action, given, index);
    // An optional positional that got nothing keeps its default, and only non-defaults count for conflicts.
    const isDefault = action.positional !== undefined && given.length === 0;
    if (!isDefault && action.option) {
      this.seenNonDefault.add(action.option.name);
      for (const group of this.catalog.exclusiveGroups ?? []) {
        if (!group.flags.includes(action.option.name)) continue;
        const other = group.flags.find((name) => name !== action.option.name && this.seenNonDefault.has(name));
        if (other) {
          const otherSpec = this.catalog.flags.find((f) => f.name === other)!;
          throw new Refusal({
            kind: 'conflict',
            argIndex: index,
            flag: action.option.name,
            spec: action.option,
            message: `${actionName(action)} and ${actionName({ option: otherSpec })} may not be given together (${this.program} takes only one of ${group.flags.map((f) => actionName({ option: this.catalog.flags.find((spec) => spec.name === f)! })).join(', ')})`,
            binaryError: `error: argument ${actionName(action)}: not allowed with argument ${actionName({ option: otherSpec })}`,
          });
        }
      }
    }
    if (action.option?.exitsWhenGiven) throw new EarlyExit();
  }

  private checkChoices(action: Action, values: string[], index: number): void {
    const choices = action.option?.enumValues ?? action.positional?.enumValues;
    if (!choices) return;
    const checked = action.positional?.arity === '...' ? values.slice(0, 1) : values;
    const bad = checked.find((value) => !choices.includes(value));
    if (bad === undefined) return;
    const name = actionName(action);
    throw new Refusal({
      kind: 'bad-enum',
      argIndex: index,
      flag: action.option?.name,
      spec: action.option,
      message: `${name} is ${bad}, which is not one of its choices (${choices.join(', ')})`,
      binaryError: `error: argument ${name}: invalid choice: '${bad}' (choose from ${choices.map((c) => `'${c}'`).join(', ')})`,
    });
  }

  private checkRequired(unmatched: PositionalSpec[]): void {
    const missing = [
      ...this.catalog.flags.filter((f) => f.required && !this.seen.has(actionKey({ option: f }))).map((f) => actionName({ option: f })),
      // Every positional but nargs ? and * is required (REMAINDER too); subcommands are optional unless
      // add_subparsers(required=True), which the help does not show: not required here.
      ...unmatched.filter((p) => p.arity !== '?' && p.arity !== '*' && !p.command).map((p) => p.name),
    ];
    if (missing.length > 0) {
      throw new Refusal({
        kind: 'missing-required',
        argIndex: -1,
        flag: this.catalog.flags.find((f) => actionName({ option: f }) === missing[0])?.name,
        message: `${this.program} requires ${missing.join(', ')}, which the args do not give`,
        binaryError: `error: the following arguments are required: ${missing.join(', ')}`,
      });
    }
    for (const group of this.catalog.exclusiveGroups ?? []) {
      if (!group.required || group.flags.some((name) => this.seenNonDefault.has(name))) continue;
      const names = group.flags.map((name) => actionName({ option: this.catalog.flags.find((f) => f.name === name)! }));
      throw new Refusal({
        kind: 'missing-required',
        argIndex: -1,
        message: `${this.program} needs one of ${names.join(', ')}`,
        binaryError: `error: one of the arguments ${names.join(' ')} is required`,
      });
    }
  }

  private checkExtras(): void {
    // Positionals that a hand-written usage line names but the help does not describe: plain arguments are not judged.
    const unknownPositionals = this.catalog.positionals === undefined && this.catalog.acceptsPositionals;
    const first = this.extras.find((extra) => extra.option || !unknownPositionals);
    if (!first) return;
    const binaryError = `error: unrecognized arguments: ${this.extras.map((e) => e.arg).join(' ')}`;
    if (first.option) {
      const name = first.arg.replace(/^-+/, '').split('=')[0]!;
      const suggestion = name.length > 1 ? suggestFlag(name, this.catalog.flags) : undefined;
      const spelled = suggestion ? (suggestion.spellings ?? [`--${suggestion.name}`]).find((s) => s.replace(/^-+/, '') === suggestion.name) ?? `--${suggestion.name}` : undefined;
      throw new Refusal({
        kind: 'unknown-flag',
        argIndex: first.index,
        flag: name,
        message: `${first.arg.split('=')[0]} is not an option of ${this.program}${spelled ? `; did you mean ${spelled}?` : ''}`,
        binaryError,
        suggestion: spelled,
      });
    }
    throw new Refusal({
      kind: 'unexpected-positional',
      argIndex: first.index,
      message: `${this.program} takes no further positional argument here, but gets ${JSON.stringify(first.arg)}`,
      binaryError,
    });
  }

  private ignoredExplicit(spec: FlagSpec, explicit: string, index: number): Refusal {
    return new Refusal({
      kind: 'bool-with-value',
      argIndex: index,
      flag: spec.name,
      spec,
      message: `${actionName({ option: spec })} takes no value, but is given ${JSON.stringify(explicit)}`,
      binaryError: `error: argument ${actionName({ option: spec })}: ignored explicit argument '${explicit}'`,
    });
  }
}

/** Positionals take as many as fit, in order, of the plain arguments from here (argparse _match_arguments_partial). */
function matchPartial(positionals: PositionalSpec[], pattern: string): number[] {
  for (let count = positionals.length; count > 0; count--) {
    const match = new RegExp(`^${positionals.slice(0, count).map((p) => nargsPattern(p.command ? 'command' : p.arity, false)).join('')}`).exec(pattern);
    if (match) return match.slice(1).map((group) => group.length);
  }
  return [];
}

/** argparse's nargs patterns over 'A'/'O'/'-'; options do not take the `--` separator. */
function nargsPattern(arity: Arity | 0 | 'command', isOption: boolean): string {
  let pattern: string;
  if (arity === 0) pattern = '(-*-*)';
  else if (arity === 1) pattern = '(-*A-*)';
  else if (arity === '?') pattern = '(-*A?-*)';
  else if (arity === '*') pattern = '(-*[A-]*)';
  else if (arity === '+') pattern = '(-*A[A-]*)';
  else if (arity === '...') pattern = '([-AO]*)';
  else if (arity === 'command') pattern = '(-*A[-AO]*)';
  else pattern = `(-*${'A'.repeat(arity).split('').join('-*')}-*)`;
  return isOption ? pattern.replace(/-\*/g, '').replace(/-/g, '') : pattern;
}

function optionArity(spec: FlagSpec): Arity | 0 {
  return spec.takesValue ? spec.arity ?? 1 : 0;
}

/** "-w/--width" for options, the name for positionals, as argparse names them in errors. */
function actionName(action: Action): string {
  if (action.positional) return action.positional.name;
  return (action.option.spellings ?? [`--${action.option.name}`]).join('/');
}

function actionKey(action: Action): string {
  return action.option ? `option:${action.option.name}` : `positional:${action.positional.name}`;
}

function withoutSeparator(values: string[]): string[] {
  const at = values.indexOf('--');
  return at < 0 ? values : [...values.slice(0, at), ...values.slice(at + 1)];
}
