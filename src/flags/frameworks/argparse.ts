import type { Arity, FlagCatalog, FlagFramework, FlagSpec, PositionalSpec } from '../catalog.js';
import { joinHelp } from './help-text.js';
import { validateArgparseArgs } from './argparse-args.js';

/**
 * Python argparse help (3.10+ says "options:", older "optional arguments:"):
 *
 *   usage: calendar.py [-h] [-w WIDTH] [-t {text,html}] [--indent INDENT | --tab] [year] [month]
 *
 *   positional arguments:
 *     year                  year number (1-9999)
 *
 *   options:
 *     -h, --help            show this help message and exit
 *     -t {text,html}, --type {text,html}
 *                           output type (text or html)
 *
 * The usage line carries what the option list does not: which options are required (outside
 * brackets), mutually exclusive groups (`[a | b]`, `(a | b)` when one is required) and how many
 * values each positional takes (`[x]`, `[x ...]`, `x [x ...]`).
 */
const SECTION = /^(\S.*):$/;
// `  -  read from standard input`: a lone dash is an option too (yamllint's).
const OPTION_LINE = /^ {2}(-\S.*?|-(?= {2,}))(?: {2,}(\S.*))?$/;
const POSITIONAL_LINE = /^ {2}([^\s-]\S*)(?: {2,}(\S.*))?$/;
const CONTINUATION = /^ {4,}(\S.*)$/;

/** argparse prints `usage:` first; a program's own banner on the other stream may come before it in a capture. */
const USAGE = /^usage: \S/;

export function looksLikeArgparse(text: string): boolean {
  const lines = text.split('\n');
  return lines.some((l) => USAGE.test(l)) && lines.some((l) => /^(options|optional arguments|positional arguments):$/.test(l));
}

export function parseArgparseHelp(text: string): FlagCatalog {
  const lines = text.replace(/\r\n/g, '\n').split('\n');
  const usage = usageText(lines.slice(Math.max(0, lines.findIndex((l) => USAGE.test(l)))));
  const flags: FlagSpec[] = [];
  const candidates: Array<{ name: string; help: string }> = [];
  let inSection = false;
  let current: { help: string } | undefined;
  lines.forEach((line, index) => {
    if (SECTION.test(line)) {
      inSection = !line.startsWith('usage:');
      current = undefined;
      return;
    }
    if (!inSection) return;
    const option = OPTION_LINE.exec(line);
    if (option) {
      current = optionSpec(option[1]!, option[2] ?? '', index + 1);
      flags.push(current as FlagSpec);
      return;
    }
    const positional = POSITIONAL_LINE.exec(line);
    if (positional) {
      const candidate = { name: positional[1]!, help: positional[2] ?? '' };
      candidates.push(candidate);
      current = candidate;
      return;
    }
    const more = CONTINUATION.exec(line);
    if (more && current) current.help = joinHelp(current.help, more[1]!.trim());
    else current = undefined;
  });
  const program = programName(usage, flags);
  const withoutProgram = program && usage.startsWith(program) ? usage.slice(program.length) : usage;
  const topLevel = new Set(usageLevels(withoutProgram).filter(({ depth }) => depth === 0).map(({ token }) => token));
  for (const spec of flags) finishOption(spec, topLevel);
  const operands = withoutOptions(withoutProgram, flags);
  const positionals = positionalSpecs(candidates, operands);
  // A usage line the program wrote itself (`prog [OPTIONS] [APP]`) names operands the help does not
  // describe: which plain arguments it takes is then not known, and none is refused.
  const custom = unaccounted(operands, positionals).length > 0;
  return {
    framework: 'argparse',
    program,
    flags,
    positionals: custom ? undefined : positionals,
    acceptsPositionals: custom || positionals.length > 0,
    commands: positionals.find((p) => p.command)?.enumValues,
    exclusiveGroups: exclusiveGroups(usage, flags),
  };
}

/** The usage line with its wrapped continuation lines joined, without "usage: ". */
function usageText(lines: string[]): string {
  const parts = [lines[0]!.replace(/^usage:\s*/, '')];
  for (const line of lines.slice(1)) {
    if (!/^\s+\S/.test(line)) break;
    parts.push(line.trim());
  }
  return parts.join(' ');
}

function optionSpec(invocation: string, help: string, line: number): FlagSpec {
  // "-w WIDTH, --width WIDTH" (Python up to 3.12) or "-w, --width WIDTH" (3.13+): the value part follows a spelling.
  const forms = invocation.split(/, (?=-)/);
  const spellings = forms.map((form) => form.split(' ')[0]!);
  const valuePart = forms.map((form, i) => form.slice(spellings[i]!.length).trim()).find((part) => part !== '') ?? '';
  const arity = arityOfValue(valuePart);
  const longs = spellings.filter((s) => s.startsWith('--'));
  const negations = longs.filter((s) => s.startsWith('--no-') && longs.includes(`--${s.slice(5)}`));
  const primary = longs.filter((s) => !negations.includes(s)).sort((a, b) => b.length - a.length)[0] ?? spellings.find((s) => s.length > 2) ?? spellings[0]!;
  const short = spellings.find((s) => /^-[^-]$/.test(s));
  const choices = /\{([^}]*)\}/.exec(valuePart)?.[1]?.split(',');
  const takesValue = arity !== 0;
  return {
    name: primary === '-' ? '-' : primary.replace(/^-+/, ''),
    short: short && short !== primary ? short.slice(1) : undefined,
    spellings,
    takesValue,
    isBoolean: !takesValue,
    negatable: negations.length > 0,
    boolAcceptsValue: false,
    optionalValue: arity === '?' || undefined,
    arity: arity === 0 || arity === 1 ? undefined : arity,
    repeatable: true,
    required: false,
    enumValues: choices,
    placeholder: valuePart.split(' ')[0] || undefined,
    hidden: false,
    help: help.trim(),
    line,
    declaration: invocation,
  };
}

/** "X" one value, "[X]" optional, "[X ...]" any number, "X [X ...]" at least one, "X Y" two, "..." the rest. */
function arityOfValue(value: string): Arity | 0 {
  if (value === '') return 0;
  if (value === '...') return '...';
  if (/^\[[^\s\]]+ \.\.\.\]$/.test(value)) return '*';
  if (/^\[[^\s\]]+\]$/.test(value)) return '?';
  if (/^\S+ \[\S+ \.\.\.\]$/.test(value)) return '+';
  const words = value.split(' ').length;
  return words === 1 ? 1 : words;
}

/**
 * Positionals in help order, with how many values each takes from the usage line. A two-space
 * line the usage does not name is a group's description, not a positional; a usage `...` of its
 * own is an argparse.REMAINDER positional.
 */
function positionalSpecs(candidates: Array<{ name: string; help: string }>, usage: string): PositionalSpec[] {
  // `...` after `{a,b}` is a subcommand's; any other `...` on its own is a REMAINDER positional (its name is not printed).
  const tokens = usage.split(' ');
  let remainder = tokens.some((token, k) => token === '...' && !tokens[k - 1]?.endsWith('}'));
  const specs: PositionalSpec[] = [];
  for (const { name } of candidates) {
    const quoted = escape(name);
    const choices = /^\{([^}]*)\}$/.exec(name)?.[1]?.split(',');
    const bare = usage.match(new RegExp(`(^|\\s)${quoted}(?=\\s|$)`, 'g'))?.length ?? 0;
    let arity: Arity | undefined;
    let command = false;
    if (choices && new RegExp(`(^|\\s)${quoted} \\.\\.\\.(\\s|$)`).test(usage)) [arity, command] = ['...', true];
    else if (new RegExp(`(^|\\s)${quoted} \\[${quoted} \\.\\.\\.\\]`).test(usage)) arity = '+';
    else if (new RegExp(`\\[${quoted} \\.\\.\\.\\]`).test(usage)) arity = '*';
    else if (new RegExp(`\\[${quoted}\\]`).test(usage)) arity = '?';
    else if (bare > 0) arity = bare;
    else if (remainder) [arity, remainder] = ['...', false];
    if (arity === undefined) continue;
    specs.push({ name, arity, ...(choices ? { enumValues: choices } : {}), ...(command ? { command: true } : {}) });
  }
  return specs;
}

/** The usage line without its options (`[-w WIDTH]`, `[--a | --b]`, a required `--name NAME`): what is left names positionals. */
function withoutOptions(usage: string, flags: FlagSpec[]): string {
  const kept: string[] = [];
  let depth = 0;
  let dropping = false;
  let skipValues = 0;
  for (const match of usage.matchAll(/[[\]()]|[^\s[\]()]+/g)) {
    const token = match[0];
    if (token === '[' || token === '(') {
      if (depth === 0) dropping = /^[[(]\s*-/.test(usage.slice(match.index));
      depth++;
      if (!dropping) kept.push(token);
      continue;
    }
    if (token === ']' || token === ')') {
      depth--;
      if (!dropping) kept.push(token);
      if (depth === 0) dropping = false;
      continue;
    }
    if (dropping) continue;
    if (skipValues > 0) {
      skipValues--;
      continue;
    }
    const flag = depth === 0 && token.startsWith('-') ? flags.find((f) => f.spellings?.includes(token)) : undefined;
    if (flag) {
      skipValues = flag.takesValue ? (typeof flag.arity === 'number' ? flag.arity : 1) : 0;
      continue;
    }
    kept.push(token);
  }
  return kept.join(' ').replace(/\[ /g, '[').replace(/ \]/g, ']');
}

/** `topLevel`: the usage tokens outside every bracket, where argparse prints required options. */
function finishOption(spec: FlagSpec, topLevel: Set<string>): void {
  spec.defaultValue = /\(default: ([^)]*)\)/.exec(spec.help)?.[1];
  spec.deprecated = /\bdeprecated\b/i.test(spec.help) || undefined;
  spec.exitsWhenGiven = /(show this help message|show program's version number) and exit/.test(spec.help) || undefined;
  spec.required = spec.spellings!.some((spelling) => topLevel.has(spelling));
}

/** Tokens of the usage line with how deep in brackets each sits: only depth 0 is required on its own (`(a | b)` is a required group). */
function usageLevels(usage: string): Array<{ token: string; depth: number }> {
  const tokens: Array<{ token: string; depth: number }> = [];
  let depth = 0;
  for (const match of usage.matchAll(/[[\]()|]|[^\s[\]()|]+/g)) {
    const token = match[0];
    if (token === '[' || token === '(') depth++;
    else if (token === ']' || token === ')') depth--;
    else if (token !== '|') tokens.push({ token, depth });
  }
  return tokens;
}

/** `[--indent INDENT | --tab]` and `(--a | --b)`: argparse prints a mutually exclusive group with bars between its options. */
function exclusiveGroups(usage: string, flags: FlagSpec[]): FlagCatalog['exclusiveGroups'] {
  const groups: NonNullable<FlagCatalog['exclusiveGroups']> = [];
  const open: number[] = [];
  [...usage].forEach((char, index) => {
    if (char === '[' || char === '(') open.push(index);
    if (char !== ']' && char !== ')') return;
    const start = open.pop();
    if (start === undefined || open.length > 0) return;
    const alternatives = splitTopLevel(usage.slice(start + 1, index));
    if (alternatives.length < 2) return;
    const names = alternatives
      .map((alternative) => alternative.replace(/^[[(]/, '').split(' ')[0]!)
      .map((spelling) => flags.find((f) => f.spellings?.includes(spelling))?.name)
      .filter((name): name is string => name !== undefined);
    // `[--cache | --no-cache]` is one BooleanOptionalAction, not a group.
    const distinct = [...new Set(names)];
    if (distinct.length > 1) groups.push({ flags: distinct, required: usage[start] === '(' });
  });
  return groups.length > 0 ? groups : undefined;
}

/** "a | [b] | c" → ["a", "[b]", "c"], leaving bars inside nested brackets alone. */
function splitTopLevel(content: string): string[] {
  const parts: string[] = [];
  let depth = 0;
  let current = '';
  for (const char of content) {
    if (char === '[' || char === '(') depth++;
    if (char === ']' || char === ')') depth--;
    if (char === '|' && depth === 0) {
      parts.push(current.trim());
      current = '';
    } else current += char;
  }
  parts.push(current.trim());
  return parts;
}

/**
 * "python -m json.tool [-h] ..." → "python -m json.tool". argparse adds -h first, so whatever comes
 * before `[-h]` is the program (even "python -m ast", whose `-m` is also an option of ast); without
 * -h, the words before the first group or option.
 */
function programName(usage: string, flags: FlagSpec[]): string | undefined {
  const help = /^(.*?) \[-h[\]|, ]/.exec(usage)?.[1];
  if (help) return help.trim();
  const words: string[] = [];
  for (const word of usage.split(' ')) {
    if (/^[[({]/.test(word) || flags.some((f) => f.spellings?.includes(word))) break;
    words.push(word);
  }
  return words.length > 0 ? words.join(' ') : undefined;
}

/** Words of the usage (without program and options) that name no positional the help describes: `[OPTIONS]`, `[APP]`. */
function unaccounted(operands: string, positionals: PositionalSpec[]): string[] {
  const named = new Set(positionals.map((p) => p.name));
  return operands
    .split(/[\s[\]()|]+/)
    .filter((word) => word !== '' && word !== '...' && !named.has(word));
}

function escape(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

export const argparse: FlagFramework = { framework: 'argparse', looksLike: looksLikeArgparse, parse: parseArgparseHelp, validate: validateArgparseArgs };
