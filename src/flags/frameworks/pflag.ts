import type { FlagCatalog, FlagFramework, FlagSpec } from '../catalog.js';
import { joinHelp } from './help-text.js';
import { validatePflagArgs } from './pflag-args.js';

/**
 * pflag/cobra help, in the two layouts Kubernetes tools print:
 *
 *   cobra (helm, controllers):        kubectl's own templates:
 *   Usage:                            Options:
 *     helm version [flags]                -o, --output='':
 *   Flags:                                	One of 'yaml' or 'json'.
 *     -h, --help              help
 *         --template string   template for version string format (default "x")
 *   Global Flags:
 *         --burst-limit int   client-side default throttling limit (default 100)
 *
 * Booleans print no type; `type[="x"]` marks an optional value (NoOptDefVal); `count` a counter
 * (`-v`, `-vvv`, `--verbose=3`). pflag lets any flag repeat (the last wins; slices accumulate).
 * kubectl prints defaults instead of types, so the type is read off the default ('' string,
 * true/false bool, [] slice, 0 number, 5s duration). Programs with their own templates keep
 * pflag's flag lines under other headings: gh (`USAGE` / `FLAGS` / `INHERITED FLAGS`), etcdctl
 * (`OPTIONS:` / `GLOBAL OPTIONS:`, old pflag lines `--name="default"<tab>help`), rclone's
 * `Backend Flags:`.
 */
// A placeholder may carry brackets of its own (`--creds USERNAME[:PASSWORD]`): any word, the shortest before `[=x]`.
const COBRA_FLAG = /^ {2,6}(?:-([A-Za-z0-9?]), )?--([A-Za-z0-9][\w.-]*)(?: (\S+?)(\[="([^"]*)"\]|\[=([^\]]*)\])?)?(?: {2,}(.*))?$/;
const KUBECTL_FLAG = /^ {4}(?:-([A-Za-z0-9?]), )?--([A-Za-z0-9][\w.-]*)=(.*):$/;
/** pflag's old FlagUsages, kept by etcdctl: `--name="default"`, `--name=5s`, `--name[=false]` (optional value), then tabs. */
const TABBED_FLAG = /^ {2,6}(?:-([A-Za-z0-9?]), )?--([A-Za-z0-9][\w.-]*)(?:=("(?:[^"\\]|\\.)*"|[^\t]*)|\[=([^\]\t]*)\])\t+(.*)$/;
/** `Flags:`, `Global Flags:`, `Options:` and gh's `FLAGS` / `INHERITED FLAGS` (no colon). */
const SECTION = /^([A-Z][A-Za-z ]*):\s*$|^([A-Z][A-Z ]*[A-Z])$/;
const FLAG_SECTION = /(?:^|\s)(?:flags|options)$/i;
const INHERITED_SECTION = /^(?:global|inherited)\b/i;
const KNOWN_TYPES = new Set([
  'string', 'int', 'int8', 'int16', 'int32', 'int64', 'uint', 'uint8', 'uint16', 'uint32', 'uint64', 'float32', 'float64', 'duration',
  'strings', 'stringArray', 'stringToString', 'stringToInt64', 'ints', 'int32Slice', 'int64Slice', 'uints', 'float32Slice', 'float64Slice',
  'durationSlice', 'bools', 'ip', 'ipSlice', 'ipMask', 'ipNet', 'bytesHex', 'bytesBase64', 'count',
]);
/** A counter printed under its own placeholder (restic's `-v, --verbose n`), told apart only by its help. */
const COUNTER_HELP = /\b(?:multiple|several|more) times\b|\brepeat(?:ed)? (?:for|to) (?:more|increase)/i;

export function looksLikePflag(text: string): boolean {
  const lines = text.split('\n');
  const cobraUsage = lines.some((l) => l === 'Usage:') && lines.some((l) => /^(Global )?Flags:$/.test(l)) && lines.some((l) => COBRA_FLAG.test(l));
  const pflagUsage = /^Usage of \S+:$/m.test(text) && lines.some((l) => /^ {2,6}(?:-\w, )?--\w/.test(l));
  const kubectlUsage = lines.some((l) => l === 'Options:' || l.startsWith('The following options can be passed to any command:')) && lines.some((l) => KUBECTL_FLAG.test(l));
  const ghUsage = lines.includes('USAGE') && lines.some((l) => l === 'FLAGS' || l === 'INHERITED FLAGS') && lines.some((l) => COBRA_FLAG.test(l));
  const tabbedUsage = lines.some((l) => /^(GLOBAL )?OPTIONS:$/.test(l)) && lines.some((l) => TABBED_FLAG.test(l));
  return cobraUsage || pflagUsage || kubectlUsage || ghUsage || tabbedUsage;
}

export function parsePflagHelp(text: string): FlagCatalog {
  const lines = text.replace(/\r\n/g, '\n').split('\n');
  const usage = usageLine(lines);
  const words = usage.split(/\s+/).filter((w) => w !== '');
  const commandWords = words.filter((w, i) => i === 0 || (/^[a-z][\w-]*$/.test(w) && words.slice(1, i + 1).every((x) => /^[a-z][\w-]*$/.test(x))));
  const flags: FlagSpec[] = [];
  let section = '';
  let current: FlagSpec | undefined;
  // Flags inherited from a parent command: a list of allowed values in their help is checked by
  // the commands that use them, which this one may not be (etcdctl version ignores --write-out).
  const inherited = new Set<FlagSpec>();
  const finish = () => {
    if (current) flags.push(complete(current, inherited.has(current)));
    current = undefined;
  };
  lines.forEach((line, index) => {
    const heading = SECTION.exec(line);
    if (heading || line.startsWith('The following options can be passed to any command:')) {
      finish();
      section = line.startsWith('The following options') ? 'Options' : heading?.[1] ?? heading?.[2] ?? '';
      return;
    }
    if (/^Usage of \S+:$/.test(line)) {
      finish();
      section = 'Flags';
      return;
    }
    if (!FLAG_SECTION.test(section)) return;
    const tabbed = TABBED_FLAG.exec(line);
    if (tabbed) {
      finish();
      const [, short, name, defaultText, optionalDefault, help] = tabbed;
      current = fromTabbed(short, name!, defaultText, optionalDefault, help ?? '', index + 1, line);
      if (INHERITED_SECTION.test(section)) inherited.add(current);
      return;
    }
    const kubectl = KUBECTL_FLAG.exec(line);
    if (kubectl) {
      finish();
      const [, short, name, defaultText] = kubectl;
      current = fromKubectl(short, name!, defaultText!, index + 1, line);
      return;
    }
    const cobra = COBRA_FLAG.exec(line);
    if (cobra && !/^\s{7,}/.test(line.replace(/^ {2}-\w, /, '      '))) {
      finish();
      const [, short, name, typeWord, optional, quotedNoOpt, plainNoOpt, help] = cobra;
      current = fromCobra(short, name!, typeWord, optional !== undefined ? quotedNoOpt ?? plainNoOpt ?? '' : undefined, help ?? '', index + 1, line);
      if (INHERITED_SECTION.test(section)) inherited.add(current);
      return;
    }
    if (current && /^\s+\S/.test(line)) current.help = joinHelp(current.help, line.trim());
    else if (line.trim() === '' && current?.declaration.endsWith(':')) return;
    else finish();
  });
  finish();
  const program = commandWords[0];
  const subcommand = commandWords.slice(1);
  if (!flags.some((f) => f.name === 'help')) {
    flags.push({ name: 'help', short: 'h', takesValue: false, isBoolean: true, negatable: false, boolAcceptsValue: true, repeatable: true, required: false, hidden: true, help: 'implicit cobra help flag', line: 0, declaration: '-h, --help' });
  }
  return {
    framework: 'pflag',
    program,
    subcommand: subcommand.length > 0 ? subcommand : undefined,
    flags,
    // cobra accepts any arguments unless the command sets an Args check, which no help shows:
    // a usage line without arguments proves nothing.
    acceptsPositionals: true,
    // A usage line that names no arguments is kept as "none described" (doubtfulPflagArgs warns).
    positionals: namesArguments(words.slice(commandWords.length)) || lines.some((l) => l === 'Available Commands:') ? undefined : [],
  };
}

/** cobra's usage line names arguments after the command; "[flags]", "[options]" and flags are not arguments. */
function namesArguments(rest: string[]): boolean {
  return rest.some((w) => !/^\[(flags|options|command options)\]$/i.test(w) && !w.startsWith('-') && !w.startsWith('[-'));
}

function usageLine(lines: string[]): string {
  const index = lines.findIndex((l) => l === 'Usage:' || l === 'USAGE' || l === 'USAGE:');
  if (index >= 0) return lines[index + 1]?.trim() ?? '';
  return /^Usage of (\S+):$/.exec(lines.find((l) => /^Usage of \S+:$/.test(l)) ?? '')?.[1] ?? '';
}

function fromCobra(short: string | undefined, name: string, typeWord: string | undefined, noOptDefault: string | undefined, help: string, line: number, raw: string): FlagSpec {
  const isBoolean = typeWord === undefined;
  const valueType = typeWord && KNOWN_TYPES.has(typeWord) ? typeWord : undefined;
  // pflag prints no `[=+1]` for a counter: bare `-v` counts, `--verbose=3` sets.
  const counter = typeWord === 'count' || (typeWord !== undefined && !valueType && /^[a-z]\w*$/i.test(typeWord) && COUNTER_HELP.test(help));
  return pflagSpec({
    name,
    short,
    isBoolean,
    optionalValue: noOptDefault !== undefined || counter ? true : undefined,
    valueType: isBoolean ? 'bool' : valueType,
    placeholder: typeWord,
    help: help.trim(),
    line,
    declaration: raw.trim().replace(/\s{2,}.*$/, ''),
  });
}

function fromTabbed(short: string | undefined, name: string, defaultText: string | undefined, optionalDefault: string | undefined, help: string, line: number, raw: string): FlagSpec {
  const text = defaultText ?? optionalDefault ?? '';
  const isBoolean = optionalDefault === 'true' || optionalDefault === 'false';
  const quoted = /^".*"$/.test(text);
  const valueType = isBoolean ? 'bool'
    : quoted ? 'string'
    : /^\[.*\]$/.test(text) ? 'stringSlice'
    : /^-?\d+(\.\d+)?(ns|us|µs|ms|s|m|h)+$/.test(text) && /[a-z]$/.test(text) ? 'duration'
    : /^-?\d+$/.test(text) ? 'number'
    : undefined;
  return pflagSpec({
    name,
    short,
    isBoolean,
    optionalValue: optionalDefault !== undefined && !isBoolean ? true : undefined,
    valueType,
    defaultValue: quoted ? text.slice(1, -1) : text,
    help: help.trim(),
    line,
    declaration: raw.trim().replace(/\t.*$/, ''),
  });
}

function fromKubectl(short: string | undefined, name: string, defaultText: string, line: number, raw: string): FlagSpec {
  const isBoolean = defaultText === 'true' || defaultText === 'false';
  const quoted = /^'.*'$/.test(defaultText);
  const valueType = isBoolean ? 'bool'
    : quoted ? 'string'
    : /^\[.*\]$/.test(defaultText) ? 'stringArray'
    : /^-?\d+$/.test(defaultText) ? 'int'
    : /^-?\d+(\.\d+)?(ns|us|µs|ms|s|m|h)+/.test(defaultText) ? 'duration'
    : /^-?\d*\.\d+$/.test(defaultText) ? 'float64'
    : undefined;
  return pflagSpec({
    name,
    short,
    isBoolean,
    valueType,
    defaultValue: quoted ? defaultText.slice(1, -1) : defaultText,
    help: '',
    line,
    declaration: raw.trim().replace(/:$/, ''),
  });
}

/** What every pflag flag shares: `--x=false` on a switch, repeats (last wins), no `--no-` forms. */
function pflagSpec(fields: Pick<FlagSpec, 'name' | 'short' | 'isBoolean' | 'help' | 'line' | 'declaration'> & Partial<FlagSpec>): FlagSpec {
  return { takesValue: !fields.isBoolean, negatable: false, boolAcceptsValue: true, repeatable: true, required: false, hidden: false, ...fields };
}

function complete(spec: FlagSpec, inherited: boolean): FlagSpec {
  const help = spec.help.trim();
  const defaultValue = spec.defaultValue ?? /\(default "?([^")]*)"?\)\s*$/.exec(help)?.[1];
  const setEnum = spec.isBoolean ? undefined : enumCheckedWhenSet(help);
  const enumValues = spec.isBoolean ? undefined : setEnum ?? (inherited ? undefined : optionsIn(help));
  return {
    ...spec,
    // gh's enum flags refuse a value outside their list as it is set, wherever they are inherited.
    ...(setEnum ? { valueType: 'enum' } : {}),
    // klog's --vmodule (every Kubernetes component has it) takes pattern=N,... and checks it while parsing.
    ...(spec.name === 'vmodule' && !spec.isBoolean ? { valueType: 'moduleSpec' } : {}),
    help,
    defaultValue,
    deprecated: /\bDEPRECATED\b|\bdeprecated\b/.test(help) || undefined,
    enumValues: enumValues && enumValues.length > 1 ? (defaultValue === '' ? ['', ...enumValues] : enumValues) : undefined,
  };
}

/**
 * Allowed values as pflag-based tools write them in help texts, which the commands then check at
 * start: "One of 'yaml' or 'json'." (kubectl), "One of (none|cpu|heap)", "(never, auto, always)" (helm).
 */
function optionsIn(help: string): string[] | undefined {
  const quoted = /\bOne of:? ((?:'[^']*'(?:, | or |,)?)+)/i.exec(help)?.[1];
  if (quoted) return [...quoted.matchAll(/'([^']*)'/g)].map((m) => m[1]!);
  const listed = /\(([a-z][\w-]*(?:(?:, |\|)[a-z][\w-]*)+)\)/.exec(help)?.[1];
  return listed ? listed.split(/, |\|/) : undefined;
}

/** gh's enum flags print "Shell type: {bash|zsh|fish|powershell}"; the flag's Set refuses any other value. */
function enumCheckedWhenSet(help: string): string[] | undefined {
  return /\{([a-z][\w-]*(?:\|[a-z][\w-]*)+)\}/.exec(help)?.[1]?.split('|');
}

export const pflag: FlagFramework = { framework: 'pflag', looksLike: looksLikePflag, parse: parsePflagHelp, validate: validatePflagArgs };
