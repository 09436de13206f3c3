import type { ArgProblem, FlagCatalog, FlagSpec, ValidateOptions } from '../catalog.js';
import { suggestFlag, suggestValue } from '../did-you-mean.js';

/**
 * Parse args the way clap does: `--name value`, `--name=value`, `-n value`, `-nvalue`,
 * `-n=value`, clusters of short switches, `--` ends options. A value may not start with a dash
 * (clap then says it was not supplied), except for patterns (`-e -foo`, which ripgrep allows).
 * Possible values and <NUM> values are checked before the program starts.
 */
export function validateClapArgs(catalog: FlagCatalog, args: string[], options: ValidateOptions = {}): ArgProblem[] {
  const byLong = new Map(catalog.flags.map((f) => [f.name, f]));
  const byShort = new Map(catalog.flags.filter((f) => f.short || f.name.length === 1).map((f) => [f.short ?? f.name, f]));
  const program = options.label ?? catalog.program ?? 'the binary';
  const label = (spec: FlagSpec) => `'--${spec.name}${spec.placeholder ? ` <${spec.placeholder}>` : ''}'`;

  const checkValue = (spec: FlagSpec, value: string, index: number): ArgProblem | undefined => {
    if (spec.enumValues && !spec.enumValues.includes(value)) {
      const close = suggestValue(value, spec.enumValues);
      return { kind: 'bad-enum', argIndex: index, flag: spec.name, spec, message: `--${spec.name}=${value} is not one of its possible values (${spec.enumValues.join(', ')})${close ? `; did you mean ${close}?` : ''}`, binaryError: `error: '${value}' isn't a valid value for ${label(spec)}`, suggestion: close ? `--${spec.name}=${close}` : undefined };
    }
    if (spec.valueType === 'usize' && !/^\+?\d+$/.test(value)) {
      return { kind: 'bad-value', argIndex: index, flag: spec.name, spec, message: `--${spec.name}=${value} is not a non-negative whole number`, binaryError: `error: Invalid value for ${label(spec)}: invalid digit found in string` };
    }
    return undefined;
  };
  const acceptsHyphen = (spec: FlagSpec) => /PATTERN/.test(spec.placeholder ?? '');
  // clap 3/4 check a value against its possible values when it is parsed, even one a later use replaces; clap 2 (ripgrep) the value kept.
  const eachValueChecked = catalog.variant === 'clap3' || catalog.variant === 'clap4';
  const maxPositionals = catalog.positionals?.some((p) => p.arity === '*' || p.arity === '+') ? Infinity : catalog.positionals?.length ?? Infinity;
  const occurrences = new Map<string, number>();
  // clap 2 counts each use of a switch and refuses two at the end, but before each new argument (and
  // at the end) it lets the last one parsed override itself back to one use: `-n -n` and `-n -nln`
  // pass, `-n -nl` does not (n was not last). Counted switches (-uuu) may repeat.
  const switchUses = new Map<string, number>();
  let lastParsed: FlagSpec | undefined;
  const overrideSelf = () => {
    if (lastParsed && (switchUses.get(lastParsed.name) ?? 0) > 1) switchUses.set(lastParsed.name, 1);
  };
  const repeated = (spec: FlagSpec, index: number): ArgProblem | undefined => {
    const uses = (occurrences.get(spec.name) ?? 0) + 1;
    occurrences.set(spec.name, uses);
    if (!spec.takesValue) switchUses.set(spec.name, (switchUses.get(spec.name) ?? 0) + 1);
    lastParsed = spec;
    // Whether clap 3/4 refuses an option given twice or keeps the last one depends on a setting
    // (args_override_self: bat and fd keep the last, tealdeer and rsass refuse) that the help does
    // not print, so a repeat is not blocked. clap 2: see extraValues and the end of the loop.
    void uses;
    return undefined;
  };

  // The program reads the last value of a flag, and a flag that overrides others drops theirs: values are judged at the end.
  const pending = new Map<string, { spec: FlagSpec; value: string | undefined; index: number; message?: string }>();
  const drop = (spec: FlagSpec) => {
    for (const name of spec.overrides ?? []) {
      if (name === spec.name) continue;
      pending.delete(name);
      pending.delete(`${name}#missing`);
      switchUses.delete(name);
    }
  };
  const set = (spec: FlagSpec, value: string | undefined, index: number) => {
    drop(spec);
    if (value === undefined) pending.delete(spec.name);
    else pending.set(spec.name, { spec, value, index });
  };

  const missing = (spec: FlagSpec, index: number, message: string) => {
    drop(spec);
    // Unlike a value, a missing one stays an error when the same flag comes again; only another flag that overrides it clears it.
    pending.set(`${spec.name}#missing`, { spec, value: undefined, index, message });
  };
  // clap 2: an option not marked `...` given again as `--opt VALUE` takes the plain arguments after it as more values.
  const extraValues = (spec: FlagSpec, valueIndex: number): ArgProblem | undefined => {
    if (catalog.variant !== 'clap2' || spec.repeatable || (occurrences.get(spec.name) ?? 0) < 2) return undefined;
    let count = 1;
    for (let j = valueIndex + 1; j < args.length && (!args[j]!.startsWith('-') || args[j] === '-'); j++) count++;
    if (count === 1) return undefined;
    return { kind: 'repeated', argIndex: valueIndex - 1, flag: spec.name, spec, message: `--${spec.name} is given again with its value after a space, so clap 2 takes the ${count - 1} argument(s) after it as more values`, binaryError: `error: The argument ${label(spec)} requires 1 values, but ${count} were provided` };
  };

  // Plain arguments, and everything after `--`: what the positionals take.
  let plain = 0;
  let hiddenUsed = false;
  let firstExtra = -1;
  const positional = (index: number) => {
    plain++;
    if (plain === maxPositionals + 1) firstExtra = index;
  };
  for (let i = 0; i < args.length; i++) {
    const raw = args[i]!;
    overrideSelf();
    if (raw === '--') {
      for (let j = i + 1; j < args.length; j++) positional(j);
      break;
    }
    if (!raw.startsWith('-') || raw === '-') {
      positional(i);
      continue;
    }
    if (raw.startsWith('--')) {
      const equals = raw.indexOf('=');
      const name = equals >= 0 ? raw.slice(2, equals) : raw.slice(2);
      const spec = byLong.get(name);
      if (!spec) {
        const suggestion = suggestFlag(name, catalog.flags);
        return [{ kind: 'unknown-flag', argIndex: i, flag: name, message: `--${name} is not an option of ${program}${suggestion ? `; did you mean --${suggestion.name}?` : ''}`, binaryError: `error: Found argument '--${name}' which wasn't expected, or isn't valid in this context`, suggestion: suggestion ? `--${suggestion.name}` : undefined }];
      }
      if (spec.exitsWhenGiven) return [];
      if (spec.hidden) {
        hiddenUsed = true;
        continue;
      }
      const again = repeated(spec, i);
      if (again) return [again];
      if (!spec.takesValue && equals >= 0 && catalog.variant !== 'clap2') {
        const value = raw.slice(equals + 1);
        return [{ kind: 'bool-with-value', argIndex: i, flag: spec.name, spec, message: `--${spec.name} is a switch and takes no value, but is given ${JSON.stringify(value)}`, binaryError: `error: The value '${value}' was provided to '--${spec.name}' but it wasn't expecting any more values` }];
      }
      if (!spec.takesValue || (spec.optionalValue && equals < 0)) {
        set(spec, undefined, i);
        continue;
      }
      let value: string | undefined;
      const count = typeof spec.arity === 'number' ? spec.arity : 1;
      if (count > 1 && equals < 0) {
        // `--pair <A> <B>`: the next `count` arguments, none of them an option.
        const taken = args.slice(i + 1, i + 1 + count);
        if (taken.length < count || taken.some((a) => a.startsWith('-') && a !== '-')) {
          missing(spec, i, `--${name} needs ${count} values`);
          continue;
        }
        i += count;
        set(spec, undefined, i);
        continue;
      }
      if (equals >= 0) value = raw.slice(equals + 1);
      else if (i + 1 < args.length && (!args[i + 1]!.startsWith('-') || acceptsHyphen(spec) || args[i + 1] === '-')) {
        value = args[++i]!;
        const extra = extraValues(spec, i);
        if (extra) return [extra];
      }
      if (value === undefined) {
        missing(spec, i, `--${name} needs a value${spec.placeholder ? ` (<${spec.placeholder}>)` : ''}`);
        continue;
      }
      set(spec, value, i);
      const invalid = eachValueChecked ? checkValue(spec, value, i) : undefined;
      if (invalid) return [invalid];
      continue;
    }
    let rest = raw.slice(1);
    while (rest.length > 0) {
      const letter = rest[0]!;
      const spec = byShort.get(letter);
      if (spec?.exitsWhenGiven) return [];
      if (spec?.hidden) {
        hiddenUsed = true;
        break;
      }
      if (!spec) {
        return [{ kind: 'unknown-flag', argIndex: i, flag: letter, message: `-${letter} (in ${raw}) is not an option of ${program}`, binaryError: `error: Found argument '-${letter}' which wasn't expected, or isn't valid in this context` }];
      }
      const again = repeated(spec, i);
      if (again) return [again];
      if (!spec.takesValue) {
        set(spec, undefined, i);
        rest = rest.slice(1);
        continue;
      }
      // `-m3` and `-m=3` attach the value; `-m=` attaches an empty one.
      let value: string | undefined = rest[1] === '=' ? rest.slice(2) : rest.slice(1);
      if (value === '' && rest[1] !== '=') {
        value = i + 1 < args.length && (!args[i + 1]!.startsWith('-') || acceptsHyphen(spec) || args[i + 1] === '-') ? args[++i] : undefined;
        const extra = value !== undefined ? extraValues(spec, i) : undefined;
        if (extra) return [extra];
      }
      if (value === undefined) {
        missing(spec, i, `-${letter} (--${spec.name}) needs a value`);
        break;
      }
      set(spec, value, i);
      const invalid = eachValueChecked ? checkValue(spec, value, i) : undefined;
      if (invalid) return [invalid];
      break;
    }
  }
  overrideSelf();
  if (catalog.variant === 'clap2') {
    for (const [name, uses] of switchUses) {
      const spec = byLong.get(name)!;
      if (uses > 1 && spec.valueType !== 'count') {
        return [{ kind: 'repeated', argIndex: -1, flag: name, spec, message: `--${name} is given ${uses} times, and clap 2 counts the uses it does not let override themselves (it refuses \`-n -nl\`, not \`-n -n\`)`, binaryError: `error: The argument '--${name}' was provided more than once, but cannot be used multiple times` }];
      }
    }
  }
  for (const { spec, value, index, message } of pending.values()) {
    if (value === undefined) {
      return [{ kind: 'missing-value', argIndex: index, flag: spec.name, spec, message: message ?? `--${spec.name} needs a value`, binaryError: catalog.variant === 'clap2' ? `error: The argument ${label(spec)} requires 1 values, but 0 were provided` : `error: a value is required for ${label(spec)} but none was supplied` }];
    }
    const problem = checkValue(spec, value, index);
    if (problem) return [problem];
  }
  // A hidden argument may take the next argument as its value: positionals are then not counted.
  if (catalog.positionals && !hiddenUsed) {
    const needed = catalog.positionals.filter((p) => p.arity === 1 || p.arity === '+').map((p) => `<${p.name}>`);
    if (plain < needed.length) {
      return [{ kind: 'missing-required', argIndex: -1, message: `${program} needs ${needed.join(' ')}, and the args give ${plain === 0 ? 'none' : `only ${plain}`}`, binaryError: `error: The following required arguments were not provided:\n    ${needed.slice(plain).join('\n    ')}` }];
    }
    if (firstExtra >= 0) {
      return [{ kind: 'unexpected-positional', argIndex: firstExtra, message: `${program} takes at most ${maxPositionals} positional argument(s) (${catalog.positionals.map((p) => p.name).join(', ')}), but gets ${JSON.stringify(args[firstExtra])} too`, binaryError: `error: Found argument '${args[firstExtra]}' which wasn't expected, or isn't valid in this context` }];
    }
  }
  return [];
}

/**
 * What the args do that a clap 3/4 program may refuse or accept depending on settings its help
 * does not print (args_override_self: fd and bat keep the last use, tealdeer and rsass refuse a
 * second): not a block, a warning to show. One message per option given more than once.
 */
export function doubtfulClapArgs(catalog: FlagCatalog, args: string[]): string[] {
  if (catalog.variant !== 'clap3' && catalog.variant !== 'clap4') return [];
  const byLong = new Map(catalog.flags.map((f) => [f.name, f]));
  const byShort = new Map(catalog.flags.filter((f) => f.short || f.name.length === 1).map((f) => [f.short ?? f.name, f]));
  const uses = new Map<string, number>();
  const count = (spec: FlagSpec | undefined) => {
    if (spec && !spec.hidden && !spec.repeatable) uses.set(spec.name, (uses.get(spec.name) ?? 0) + 1);
  };
  for (let i = 0; i < args.length; i++) {
    const raw = args[i]!;
    if (raw === '--') break;
    if (!raw.startsWith('-') || raw === '-') continue;
    if (raw.startsWith('--')) {
      const spec = byLong.get(raw.slice(2).split('=')[0]!);
      count(spec);
      if (spec?.takesValue && !raw.includes('=') && !spec.optionalValue) i += typeof spec.arity === 'number' ? spec.arity : 1;
      continue;
    }
    for (const [k, letter] of [...raw.slice(1)].entries()) {
      const spec = byShort.get(letter);
      count(spec);
      if (!spec || spec.takesValue) {
        if (spec && k === raw.length - 2) i++;
        break;
      }
    }
  }
  return [...uses].filter(([, n]) => n > 1).map(([name, n]) => `--${name} is given ${n} times: ${catalog.program ?? 'the program'} (clap ${(catalog.variant ?? '').slice(4)}) either keeps the last or refuses the repeat, depending on a setting its help does not print`);
}
