import type { FlagCatalog, FlagFramework, FlagSpec, PositionalSpec } from '../catalog.js';
import { commonEnvPrefix } from '../env-prefix.js';
import { validateClapArgs } from './clap-args.js';

/**
 * clap help (Rust): clap 2 as ripgrep 13 prints it (clap 3 alike), and clap 4's layout:
 *
 *   USAGE:                                   Usage: tool [OPTIONS] <PATH>
 *       rg [OPTIONS] PATTERN [PATH ...]      Options:
 *   OPTIONS:                                   -l, --level <LEVEL>  Log level [default: info] [possible values: debug, info]
 *       -A, --after-context <NUM>    ...            --tag <TAG>...    Tags [env: TOOL_TAG=]
 *           --color <WHEN>
 *               ... The possible values for this flag are:
 *                   never    Colors will never be used.
 *
 * `<NAME>` marks a value, `...` a repeatable one; `<NUM>` must be a non-negative integer.
 */
// A short may be any character (ripgrep's `-., --hidden`); a trailing `...` marks a counted switch
// or an option taken many times; values are ` <V>`, several ` <A> <B>`, or optional `[=<V>]`.
const OPTION = /^ {2,8}(?:-([^\s,-]),? ?)?(?:--([A-Za-z0-9][\w-]*(?:\.[\w-]+)*))?(\.\.\.)?((?:[ =]<[^>]+>)+|\[=<[^>]+>\]|[ =]\[[^\]]+\])?(\.\.\.)?(?: {2,}(.*))?$/;
/** Sections that list arguments or commands, not options; every other section (custom help headings too) lists options. */
const NOT_OPTIONS = new Set(['USAGE', 'ARGS', 'ARGUMENTS', 'COMMANDS', 'SUBCOMMANDS']);
const SECTION = /^([A-Z][A-Za-z ]*):\s*$/;

export function looksLikeClap(text: string): boolean {
  const lines = text.split('\n');
  // clap 2/3 indent options by 4 (`    -s, --long <V>`, `        --long`); etcdctl's urfave-style help has the same headings but not this.
  const clap2Option = (l: string) => /^ {4}-\S(, --[\w-]+)?(?: <[^>]+>)*(?:\.\.\.)?(?: {2,}\S|$)/.test(l) || /^ {8}--[\w-]+(?: <[^>]+>)*(?:\.\.\.)?(?: {2,}\S|$)/.test(l);
  const clap2 = lines.some((l) => l === 'USAGE:') && lines.some((l) => l === 'OPTIONS:' || l === 'FLAGS:') && lines.some(clap2Option);
  // clap 4 prints `  -s, --long <value>` or `      --long` (long-only options indented past where the short would be).
  const clap4Option = (l: string) => /^ {2}-\S, --[\w-]+(?: <[^>]+>)*(?:\.\.\.)?(?: {2,}\S|$)/.test(l) || /^ {6}--[\w-]+(?: <[^>]+>)*(?:\.\.\.)?(?: {2,}\S|$)/.test(l);
  const clap4 = lines.some((l) => /^Usage: \S+/.test(l)) && lines.some((l) => l === 'Options:') && (lines.some((l) => /^ {2,}(-\w, )?--[\w-]+ <[A-Z_]+>/.test(l) || /\[possible values: /.test(l)) || lines.some(clap4Option));
  return clap2 || clap4;
}

export function parseClapHelp(text: string): FlagCatalog {
  const lines = text.replace(/\r\n/g, '\n').split('\n');
  const usageIndex = lines.findIndex((l) => l === 'USAGE:' || /^Usage: /.test(l));
  const usage = (lines[usageIndex]?.startsWith('Usage: ') ? lines[usageIndex]!.slice(7) : lines[usageIndex + 1] ?? '').trim();
  const program = usage.split(/\s+/)[0];
  // clap 3 kept clap 2's upper-case headings; its default help texts say "Print", clap 2's "Prints".
  const variant = !lines.includes('USAGE:') ? 'clap4' : !lines.includes('FLAGS:') && lines.some((l) => /\bPrint (help|version) information\b/.test(l)) ? 'clap3' : 'clap2';
  const clap2 = variant === 'clap2';
  const flags: FlagSpec[] = [];
  let section = '';
  let current: FlagSpec | undefined;
  const finish = () => {
    if (current) flags.push(complete(current));
    current = undefined;
  };
  lines.forEach((line, index) => {
    const heading = SECTION.exec(line);
    if (heading) {
      finish();
      section = heading[1]!.toUpperCase();
      return;
    }
    if (section === '' || NOT_OPTIONS.has(section)) return;
    const option = OPTION.exec(line);
    if (option && (option[1] || option[2]) && /^ {2,8}-/.test(line)) {
      finish();
      const [, short, long, counted, value, many, help] = option;
      const placeholders = [...(value ?? '').matchAll(/<([^>]+)>|\[([^\]<>]+)\]/g)].map((m) => m[1] ?? m[2]!);
      current = {
        name: long ?? short!,
        short: long ? short : undefined,
        takesValue: value !== undefined,
        isBoolean: value === undefined,
        negatable: false,
        boolAcceptsValue: clap2,
        // `...`: the option may come again (clap 2 then keeps each value apart), or the switch counts.
        repeatable: (many ?? counted) !== undefined || (clap2 && value === undefined),
        required: false,
        placeholder: placeholders[0],
        optionalValue: value?.trimStart().startsWith('[') || undefined,
        arity: placeholders.length > 1 ? placeholders.length : undefined,
        hidden: false,
        help: help?.trim() ?? '',
        line: index + 1,
        declaration: line.trim().replace(/\s{2,}.*$/, ''),
      };
      return;
    }
    if (current && (line.trim() === '' || /^ {9,}/.test(line))) current.help = `${current.help}\n${line.trim()}`;
    else finish();
  });
  finish();
  pairNegations(flags);
  for (const spec of flags) if (spec.name === 'help' || spec.name === 'version') spec.exitsWhenGiven = true;
  flags.push(...namedInProse(text, flags));
  const envPrefix = commonEnvPrefix(flags.map((f) => f.envVar).filter((v): v is string => v !== undefined));
  const usageLines = usageBlock(lines, usageIndex);
  const positionals = usageLines.length === 1 ? usagePositionals(usageLines[0]!) : undefined;
  const rest = usage.split(/\s+/).slice(1).join(' ').replace(/\[(OPTIONS|FLAGS)\]/g, '');
  return { framework: 'clap', variant, program, flags, envPrefix, positionals, acceptsPositionals: positionals ? positionals.length > 0 : /<[^>]+>|\[[^\]]+\]|\b[A-Z_]{2,}\b/.test(rest) };
}

/** The usage lines: clap 2/3 indent them under `USAGE:`, clap 4 starts on `Usage: ` and indents the others. */
function usageBlock(lines: string[], usageIndex: number): string[] {
  if (usageIndex < 0) return [];
  const first = lines[usageIndex]!;
  const block = first.startsWith('Usage: ') ? [first.slice(7).trim()] : [];
  for (const line of lines.slice(usageIndex + 1)) {
    if (!/^\s+\S/.test(line)) break;
    block.push(line.trim());
  }
  return block;
}

/**
 * Positionals from a usage line clap wrote itself (`tool [OPTIONS] <find> [files]...`): `<X>` is
 * required, `[X]` optional, `...` takes many. Anything else on the line (a required option, a
 * subcommand, `[-- <ARGS>...]`, a hand-written usage like ripgrep's) leaves them unknown, and
 * then their count is not checked.
 */
function usagePositionals(usage: string): PositionalSpec[] | undefined {
  const tokens = usage.split(/\s+/).slice(1);
  const specs: PositionalSpec[] = [];
  for (const token of tokens) {
    if (/^\[(OPTIONS|FLAGS)\]$/.test(token)) continue;
    const match = /^(?:<([^<>\s]+)>|\[([^[\]<>\s]+)\]|\[<([^<>\s]+)>\])(\.\.\.)?$/.exec(token);
    if (!match) return undefined;
    const required = match[1] !== undefined;
    const many = match[4] !== undefined;
    specs.push({ name: match[1] ?? match[2] ?? match[3]!, arity: required ? (many ? '+' : 1) : many ? '*' : '?' });
  }
  return specs;
}

/**
 * Flags that another flag's help names (`--no-hidden`, `'-P'`) but that are not listed: clap's
 * hidden arguments. They are accepted, with or without a value; what they take is not known.
 */
function namedInProse(text: string, flags: FlagSpec[]): FlagSpec[] {
  const known = new Set(flags.flatMap((f) => [`--${f.name}`, ...(f.short ? [`-${f.short}`] : f.name.length === 1 ? [`-${f.name}`] : [])]));
  const named = new Set([...text.matchAll(/(?<![\w-])--([a-z][a-z0-9]*(?:-[a-z0-9]+)*)\b/g)].map((m) => `--${m[1]}`));
  for (const m of text.matchAll(/'(-[A-Za-z0-9])'/g)) named.add(m[1]!);
  return [...named]
    .filter((spelling) => !known.has(spelling))
    .map((spelling) => ({
      name: spelling.replace(/^-+/, ''),
      takesValue: false,
      isBoolean: true,
      negatable: false,
      boolAcceptsValue: true,
      repeatable: true,
      required: false,
      hidden: true,
      help: 'named in the help of another flag, not listed itself (a hidden argument)',
      line: 0,
      declaration: spelling,
    }));
}

function complete(spec: FlagSpec): FlagSpec {
  const help = spec.help.replace(/\n+/g, '\n').trim();
  const flat = help.replace(/\s*\n\s*/g, ' ');
  const possible = /\[possible values: ([^\]]+)\]/.exec(flat)?.[1]?.split(', ') ?? possibleValuesList(help) ?? possibleValuesSentence(flat) ?? proseValues(help);
  const defaultValue = /\[default: ([^\]]+)\]/.exec(flat)?.[1];
  const envVar = /\[env: ([A-Z][A-Z0-9_]*)=/.exec(flat)?.[1];
  return {
    ...spec,
    help: flat,
    enumValues: spec.takesValue ? possible : undefined,
    defaultValue,
    envVar,
    deprecated: /^DEPRECATED\b/.test(flat) || undefined,
    overrides: overridden(flat),
    // ripgrep (clap 2) parses <NUM> values itself and refuses anything but a non-negative integer;
    // a switch whose help counts its uses ("Two -u flags ...") is a counter.
    valueType: spec.placeholder === 'NUM' ? 'usize' : !spec.takesValue && (/\.\.\.$/.test(spec.declaration) || /\b(two|three) -\w flags\b|\b(provided|used) multiple times\b|\bcan be repeated\b/i.test(flat)) ? 'count' : undefined,
  };
}

/** `--no-X` and `--X` override each other (ripgrep's pairs; the help does not say so). */
function pairNegations(flags: FlagSpec[]): void {
  const byName = new Map(flags.map((f) => [f.name, f]));
  for (const negation of flags) {
    const positive = negation.name.startsWith('no-') ? byName.get(negation.name.slice(3)) : undefined;
    if (!positive || positive.takesValue || negation.takesValue) continue;
    negation.overrides = [...new Set([...(negation.overrides ?? []), positive.name])];
    positive.overrides = [...new Set([...(positive.overrides ?? []), negation.name])];
  }
}

/** "This overrides the --context and --passthru flags.": the long names a flag's sentences say it overrides. */
function overridden(help: string): string[] | undefined {
  const names = help
    .split(/(?<=\.)\s+/)
    .filter((sentence) => /\boverrides\b/.test(sentence))
    .flatMap((sentence) => [...sentence.matchAll(/--([a-z][\w-]*)/g)].map((m) => m[1]!));
  return names.length > 0 ? [...new Set(names)] : undefined;
}

/** clap 3/4 long help: "Possible values:" then one `- name: what it does` line each. */
function possibleValuesList(help: string): string[] | undefined {
  const lines = help.split('\n');
  const start = lines.findIndex((l) => l === 'Possible values:');
  if (start < 0) return undefined;
  const values: string[] = [];
  for (const line of lines.slice(start + 1)) {
    const match = /^- ([^\s:]+)(?::|$)/.exec(line);
    if (!match) break;
    values.push(match[1]!);
  }
  return values.length > 0 ? values : undefined;
}

/** A sentence of the help: "Possible values: *auto*, never, always." (bat; the starred one is the default). */
function possibleValuesSentence(help: string): string[] | undefined {
  const list = /\bPossible values: ((?:\*?[\w-]+\*?, )+\*?[\w-]+\*?)\./.exec(help)?.[1];
  return list?.split(', ').map((v) => v.replace(/^\*|\*$/g, ''));
}

/** ripgrep's long help lists choices as prose: "The possible values for this flag are:" then one indented line each. */
function proseValues(help: string): string[] | undefined {
  const lines = help.split('\n');
  const start = lines.findIndex((l) => /possible values\s*(for this flag )?(are|is):?\s*$/i.test(l) || /^for this flag are:$/.test(l));
  if (start < 0) return undefined;
  const values: string[] = [];
  for (const line of lines.slice(start + 1)) {
    if (line === '') {
      if (values.length > 0) break;
      continue;
    }
    const match = /^([a-z][\w-]*)\s{2,}/.exec(line);
    if (!match) break;
    values.push(match[1]!);
  }
  return values.length > 1 ? values : undefined;
}

export const clap: FlagFramework = { framework: 'clap', looksLike: looksLikeClap, parse: parseClapHelp, validate: validateClapArgs };
