import type { FlagCatalog, FlagFramework, FlagSpec, PositionalSpec } from '../catalog.js';
import { commonEnvPrefix } from '../env-prefix.js';
import { validateKingpinArgs } from './kingpin-args.js';

/**
 * kingpin's --help (v2.2 and v2.4 layouts, as printed by external-dns, prometheus, alertmanager):
 *
 *   usage: external-dns --source=source --provider=provider [<flags>]
 *   Flags:
 *     --[no-]help                    Show context-sensitive help ...
 *     -s, --source=source ...        The resource types ... (required, options: a, b)
 *                                    ($EXTERNAL_DNS_SOURCE)
 *
 * Booleans have no `=` (v2.4 prints them `--[no-]x`), ` ...` marks a cumulative flag, a
 * declaration too wide for its column puts the help on the next lines.
 */
// Flags without a short form are indented four more columns when some flag has one.
const DECLARATION = /^ {2}(?:-([A-Za-z0-9?]), | {4})?--(\[no-\])?([A-Za-z0-9][\w.-]*)(?:=("(?:[^"\\]|\\.)*"|\S*))?( \.\.\.)?(?: {2,}(.*))?$/;
const SECTION = /^([A-Z][A-Za-z ]*):\s*$/;
const ENV_SUFFIX = /\s*\(\$([A-Z][A-Z0-9_]*)\)\s*$/;

/** kingpin adds these to every app; they are accepted but not printed by --help. */
const IMPLICIT_FLAGS = ['help-long', 'help-man', 'completion-bash', 'completion-script-bash', 'completion-script-zsh'];

export function looksLikeKingpin(text: string): boolean {
  const lines = text.split('\n');
  const hasUsage = lines.some((l) => /^usage: \S+/.test(l));
  const hasFlagsSection = lines.some((l) => l === 'Flags:');
  const kingpinHelp = /--(\[no-\])?help\s+Show context-sensitive help/.test(text);
  return hasUsage && hasFlagsSection && kingpinHelp;
}

export function parseKingpinHelp(text: string): FlagCatalog {
  const lines = text.replace(/\r\n/g, '\n').split('\n');
  const usageLine = lines.find((l) => l.startsWith('usage: ')) ?? '';
  const program = usageLine.slice('usage: '.length).split(/\s+/)[0] || undefined;
  const required = requiredFromUsage(usageLine);
  const flags: FlagSpec[] = [];
  let section = '';
  let current: { spec: FlagSpec; helpLines: string[] } | undefined;
  const finish = () => {
    if (current) flags.push(completeFlag(current.spec, current.helpLines.join(' '), required));
    current = undefined;
  };
  lines.forEach((line, index) => {
    const heading = SECTION.exec(line);
    if (heading) {
      finish();
      section = heading[1] ?? '';
      return;
    }
    if (section !== 'Flags') return;
    const declaration = DECLARATION.exec(line);
    if (declaration) {
      finish();
      const [, short, negatable, name, defaultText, cumulative, help] = declaration;
      const isBoolean = defaultText === undefined;
      current = {
        spec: {
          name: name!,
          short,
          takesValue: !isBoolean,
          isBoolean,
          // kingpin accepts --no-x for every boolean, also in v2.2 where help does not show it.
          negatable: isBoolean || negatable !== undefined,
          boolAcceptsValue: false,
          repeatable: cumulative !== undefined,
          required: false,
          placeholder: defaultText !== undefined ? unquote(defaultText) : undefined,
          valueType: valueTypeOfDefault(defaultText, cumulative !== undefined),
          defaultValue: defaultText !== undefined && /^"/.test(defaultText) ? unquote(defaultText) : undefined,
          hidden: false,
          help: '',
          line: index + 1,
          declaration: line.trim().replace(/\s{2,}.*$/, ''),
        },
        helpLines: help ? [help.trim()] : [],
      };
      return;
    }
    if (current && /^\s{3,}\S/.test(line)) current.helpLines.push(line.trim());
    else finish();
  });
  finish();
  for (const name of IMPLICIT_FLAGS) {
    if (flags.some((f) => f.name === name)) continue;
    flags.push({
      name, takesValue: false, isBoolean: true, negatable: true, boolAcceptsValue: false, repeatable: false,
      required: false, hidden: true, help: 'implicit kingpin flag', line: 0, declaration: `--${name}`,
    });
  }
  const envVars = flags.map((f) => f.envVar).filter((v): v is string => v !== undefined);
  const words = usageLine.slice('usage: '.length).split(/\s+/).slice(1);
  const path = words.slice(0, Math.max(0, words.findIndex((w) => !/^[a-z][\w-]*$/.test(w)))).filter((w) => w !== '');
  const allWords = words.every((w) => /^[a-z][\w-]*$/.test(w));
  const subcommand = allWords ? words.filter((w) => w !== '') : path;
  const commands = commandsIn(lines);
  return {
    framework: 'kingpin',
    program,
    subcommand: subcommand.length > 0 ? subcommand : undefined,
    flags,
    envPrefix: commonEnvPrefix(envVars),
    acceptsPositionals: acceptsPositionals(usageLine, lines),
    commands: subcommand.length === 0 && commands.length > 0 ? commands : undefined,
    positionals: subcommand.length > 0 ? requiredArgs(usageLine) : undefined,
  };
}

/**
 * The commands a top-level help lists under "Commands:" (kingpin prints each as `check config
 * [<flags>] <config-files>...`, at the margin or indented two, its help below): each first word,
 * then each full path of a nested command ("check config").
 */
function commandsIn(lines: string[]): string[] {
  const start = lines.indexOf('Commands:');
  if (start < 0) return [];
  const names = new Set<string>();
  const paths = new Set<string>();
  for (const line of lines.slice(start + 1)) {
    if (SECTION.test(line)) break;
    const entry = /^ {0,2}([a-z][\w-]*(?: [a-z][\w-]*)*)(?: [[<-]|$)/.exec(line);
    if (!entry) continue;
    const words = entry[1]!.split(' ');
    names.add(words[0]!);
    if (words.length > 1) paths.add(words.join(' '));
  }
  return [...names, ...paths];
}

/** A subcommand's required arguments: `<config-files>...` outside brackets in its usage line. */
function requiredArgs(usageLine: string): PositionalSpec[] {
  return [...outsideBrackets(usageLine).matchAll(/<([^>]+)>(\.\.\.)?/g)].map((m) => ({ name: m[1]!, arity: m[2] ? '+' : 1 }));
}

function completeFlag(spec: FlagSpec, rawHelp: string, required: Set<string>): FlagSpec {
  const env = ENV_SUFFIX.exec(rawHelp);
  const help = env ? rawHelp.slice(0, env.index).trim() : rawHelp.trim();
  // external-dns writes "options: a, b)"; Prometheus projects write "One of: [a, b]".
  const options = /\boptions:\s*([^)]*)\)/.exec(help) ?? /\bOne of:\s*\[([^\]]*)\]/i.exec(help);
  let enumValues = options?.[1]?.split(',').map((o) => o.trim()).filter((o) => o !== '');
  if (enumValues && enumValues.length === 0) enumValues = undefined;
  const defaultFromHelp = /\(default: ([^,)]*)/.exec(help)?.[1];
  // "(optional, options: ...)" and an empty declared default both mean "" is accepted too.
  const acceptsEmpty = /\boptional\b/.test(help) || spec.placeholder === '' || spec.defaultValue === '';
  if (enumValues && acceptsEmpty) enumValues = ['', ...enumValues];
  return {
    ...spec,
    help,
    envVar: env?.[1],
    enumValues,
    required: required.has(spec.name),
    defaultValue: spec.defaultValue ?? (spec.isBoolean ? undefined : defaultFromHelp ?? (isPlaceholderName(spec) ? undefined : spec.placeholder)),
  };
}

/**
 * kingpin prints no types, but it prints a default of a non-string flag unquoted, as the program
 * declared it, and kingpin parses that default with the flag's own type at every start: `=5s` or
 * `=1m0s` is a duration flag, `=1000` or `=0.5` a number. Checked against kingpin's own flag model for every
 * external-dns version in the ground truth (no flag typed wrongly).
 */
function valueTypeOfDefault(defaultText: string | undefined, cumulative: boolean): string | undefined {
  if (defaultText === undefined || cumulative || defaultText.startsWith('"')) return undefined;
  if (/^[+-]?\d+$/.test(defaultText) || /^[+-]?(?:\d+\.\d*|\.\d+)$/.test(defaultText)) return 'number';
  if (/^(?:(?:\d+\.?\d*|\.\d+)(?:ns|us|µs|ms|s|m|h))+$/.test(defaultText)) return 'duration';
  return undefined;
}

/** kingpin prints the flag's name upper-cased, or the name itself, when a flag has no default. */
function isPlaceholderName(spec: FlagSpec): boolean {
  const p = spec.placeholder ?? '';
  return p === spec.name.toUpperCase() || p === spec.name || /^[A-Z0-9_-]+$/.test(p);
}

/** Flags named in the usage line outside `[...]` are required: `usage: app --source=source [<flags>]`. */
function requiredFromUsage(usageLine: string): Set<string> {
  const withoutOptional = outsideBrackets(usageLine);
  return new Set([...withoutOptional.matchAll(/--([A-Za-z0-9][\w.-]*)/g)].map((m) => m[1]!));
}

/** The text outside `[...]` (nested too), in one pass: a regex over `[[[[...` would be quadratic. */
function outsideBrackets(text: string): string {
  let depth = 0;
  let kept = '';
  for (const char of text) {
    if (char === '[') depth++;
    else if (char === ']' && depth > 0) depth--;
    else if (depth === 0) kept += char;
    if (depth > 0 && char === '[') kept += ' ';
  }
  return kept;
}

function acceptsPositionals(usageLine: string, lines: string[]): boolean {
  const rest = usageLine.replace(/\[<flags>\]/, '');
  return /<[^>]+>/.test(rest) || lines.some((l) => l === 'Args:' || l === 'Commands:');
}

function unquote(text: string): string {
  return /^".*"$/.test(text) ? text.slice(1, -1).replace(/\\(.)/g, '$1') : text;
}

export const kingpin: FlagFramework = { framework: 'kingpin', looksLike: looksLikeKingpin, parse: parseKingpinHelp, validate: validateKingpinArgs };
