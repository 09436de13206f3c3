import type { FlagCatalog, FlagFramework, FlagSpec } from '../catalog.js';
import { joinHelp } from './help-text.js';
import { validateGoflagArgs } from './goflag-args.js';

/**
 * Go's standard `flag` package, in the layout flag.PrintDefaults prints:
 *
 *   Usage of snowflake-client:
 *     -max int
 *       	capacity for number of multiplexed WebRTC peers (default 1)
 *     -v	verbose (one-letter names keep the help on their line)
 *
 * and in etcd's hand-written help, which documents flags parsed by the same package:
 *
 *   Member:
 *     --name 'default'
 *       Human-readable name for this member.
 *
 * Booleans print no type (PrintDefaults) or a 'true'/'false' default (etcd); other types come
 * from the type word or, for etcd, from the default. Many programs print their own header before
 * PrintDefaults' lines ("mtail version ...", "Usage:", "Options:"), some on stdout while the
 * defaults go to stderr: the flag lines are read wherever they stand.
 */
const DEFAULTS_FLAG = /^ {2}-([A-Za-z0-9][\w.-]*)(?: (\S+))?(?:\t(.*))?$/;
const ETCD_FLAG = /^ {2}--([A-Za-z0-9][\w.-]*)(?: ('[^']*'|\S+))?$/;
const GO_TYPES = new Set(['string', 'int', 'int64', 'uint', 'uint64', 'float', 'float64', 'duration', 'value']);

export function looksLikeGoflag(text: string): boolean {
  const lines = text.split('\n');
  return isPrintDefaults(lines) || isEtcdLayout(lines);
}

/**
 * flag.PrintDefaults' own shape: `  -name type` lines, each followed by its help indented with
 * four spaces and a tab, under "Usage of X:" or a header of the program's own.
 */
function isPrintDefaults(lines: string[]): boolean {
  let declared = 0;
  lines.forEach((line, i) => {
    if (DEFAULTS_FLAG.test(line) && (/\t/.test(line) || /^ {4}\t/.test(lines[i + 1] ?? ''))) declared++;
  });
  const usageOf = lines.some((l) => /^Usage of \S+:$/.test(l));
  return declared >= (usageOf ? 1 : 2) && lines.some((l) => /^ {4}\t/.test(l)) && !lines.some((l) => /^(Global )?Flags:$/.test(l));
}

function isEtcdLayout(lines: string[]): boolean {
  return lines.some((l) => /^Usage:$/.test(l)) && lines.filter((l) => ETCD_FLAG.test(l)).length >= 3 && !lines.some((l) => /^(Global )?Flags:$/.test(l));
}

export function parseGoflagHelp(text: string): FlagCatalog {
  const lines = text.replace(/\r\n/g, '\n').split('\n');
  const etcd = !isPrintDefaults(lines) && isEtcdLayout(lines);
  const program = etcd
    ? /^\s+(\S+) \[flags\]/.exec(lines.find((l) => /^\s+\S+ \[flags\]/.test(l)) ?? '')?.[1]
    : (/^Usage of (\S+):$/.exec(lines.find((l) => /^Usage of \S+:$/.test(l)) ?? '')?.[1] ?? /^(\S+) version \S/.exec(lines[0] ?? '')?.[1])?.replace(/^.*\//, '');
  const flags: FlagSpec[] = [];
  let current: FlagSpec | undefined;
  const finish = () => {
    if (current) flags.push(complete(current));
    current = undefined;
  };
  lines.forEach((line, index) => {
    const match = etcd ? ETCD_FLAG.exec(line) : DEFAULTS_FLAG.exec(line);
    if (match) {
      finish();
      current = etcd ? fromEtcd(match[1]!, match[2], index + 1, line) : fromDefaults(match[1]!, match[2], match[3], index + 1, line);
      return;
    }
    if (current && /^ {4}/.test(line) && line.trim() !== '') current.help = joinHelp(current.help, line.trim());
    else finish();
  });
  finish();
  if (etcd) flags.push(...usageFlags(lines, program ?? '', flags));
  for (const name of ['h', 'help']) {
    if (!flags.some((f) => f.name === name)) {
      // flag.Parse answers -h/-help with the usage (exit 0 for ExitOnError programs) when the program does not define them.
      flags.push({ name, takesValue: false, isBoolean: true, negatable: false, boolAcceptsValue: true, repeatable: true, required: false, hidden: true, help: 'implicit: prints the usage', line: 0, declaration: `-${name}` });
    }
  }
  // etcd refuses stray arguments ("'x' is not a valid flag"); plain flag.Parse leaves them to the program.
  return { framework: 'goflag', program, flags, acceptsPositionals: !etcd };
}

/** etcd's usage block documents some flags only there: `etcd --version` (a switch), `etcd --config-file` (a path). */
function usageFlags(lines: string[], program: string, known: FlagSpec[]): FlagSpec[] {
  const found: FlagSpec[] = [];
  lines.forEach((line, index) => {
    const match = new RegExp(`^ {2}${program.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} --([\\w-]+)$`).exec(line);
    const name = match?.[1];
    if (!name || known.some((f) => f.name === name) || found.some((f) => f.name === name)) return;
    const help = lines[index + 1]?.trim() ?? '';
    const takesValue = /^Path\b/.test(help);
    found.push({ ...base(name, index + 1, line), takesValue, isBoolean: !takesValue, valueType: takesValue ? undefined : 'bool', help });
  });
  return found;
}

function base(name: string, line: number, raw: string): FlagSpec {
  return { name, takesValue: true, isBoolean: false, negatable: false, boolAcceptsValue: true, repeatable: true, required: false, hidden: false, help: '', line, declaration: raw.trim() };
}

function fromDefaults(name: string, typeWord: string | undefined, inlineHelp: string | undefined, line: number, raw: string): FlagSpec {
  const spec = base(name, line, raw.replace(/\t.*$/, ''));
  if (typeWord === undefined) return { ...spec, takesValue: false, isBoolean: true, valueType: 'bool', help: inlineHelp ?? '' };
  return { ...spec, placeholder: typeWord, valueType: GO_TYPES.has(typeWord) && typeWord !== 'value' ? normalizeType(typeWord) : undefined, help: inlineHelp ?? '' };
}

function fromEtcd(name: string, defaultText: string | undefined, line: number, raw: string): FlagSpec {
  const value = defaultText?.replace(/^'(.*)'$/, '$1');
  const spec = base(name, line, raw);
  if (value === 'true' || value === 'false') return { ...spec, takesValue: false, isBoolean: true, valueType: 'bool', defaultValue: value };
  // A default written as a Go constant (math.MaxUint32) names the flag's type.
  const constant = value && /^math\.Max(U?[Ii]nt\d*)$/.exec(value)?.[1]?.toLowerCase();
  const valueType = value === undefined ? undefined : constant ? constant : /^\d+$/.test(value) ? 'uint64' : /^-?\d+(\.\d+)?(ns|us|µs|ms|s|m|h)+$/.test(value) ? 'duration' : undefined;
  return { ...spec, defaultValue: value, valueType };
}

function normalizeType(type: string): string {
  return type === 'float' ? 'float64' : type;
}

function complete(spec: FlagSpec): FlagSpec {
  const defaultValue = spec.defaultValue ?? /\(default "?([^")]*)"?\)\s*$/.exec(spec.help)?.[1];
  const valueType = spec.placeholder === 'value' ? glogType(spec) : undefined;
  return { ...spec, defaultValue, ...(valueType ? { valueType } : {}), deprecated: /\bdeprecated\b|\binstead\b/i.test(spec.help) || undefined };
}

/**
 * glog's flags (most Go flag programs that log, registered by the library with its own help
 * text) print only "value", but their Set methods check values while the flags are parsed.
 */
function glogType(spec: FlagSpec): string | undefined {
  if (spec.name === 'vmodule' && /pattern=N|filename=N|file=N/i.test(spec.help)) return 'moduleSpec';
  if (spec.name === 'v' && /^log level for V logs/.test(spec.help)) return 'glogLevel';
  if (spec.name === 'stderrthreshold' && /^logs at or above this threshold go to stderr/.test(spec.help)) return 'glogSeverity';
  if (spec.name === 'log_backtrace_at' && /^when logging hits line file:N, emit a stack trace/.test(spec.help)) return 'glogTraceLocation';
  return undefined;
}

export const goflag: FlagFramework = { framework: 'goflag', looksLike: looksLikeGoflag, parse: parseGoflagHelp, validate: validateGoflagArgs };
