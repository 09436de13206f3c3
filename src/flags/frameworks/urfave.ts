import type { FlagCatalog, FlagFramework, FlagSpec } from '../catalog.js';
import { commonEnvPrefix } from '../env-prefix.js';
import { validateUrfaveArgs } from './urfave-args.js';

/**
 * urfave/cli help (v1 as printed by runc, v2 alike):
 *
 *   NAME:
 *      runc - Open Container Initiative runtime
 *   COMMANDS:
 *      list        lists containers started by runc with the given root
 *      help, h     Shows a list of commands or help for one command
 *   GLOBAL OPTIONS:
 *      --log value         set the log file ... (default: "x") [$RUNC_LOG]
 *      --debug             enable debug logging
 *      --help, -h          show help
 *
 * A flag with " value" takes one; "(accepts multiple inputs)" marks a slice; `[$ENV]` names the
 * variables that set it.
 */
const OPTION = /^ {3,5}(-{1,2}[A-Za-z0-9][\w.-]*(?: value)?(?:, -{1,2}[A-Za-z0-9][\w.-]*(?: value)?)*)(?: {2,}(.*))?$/;
const COMMAND = /^ {3,5}([a-z][\w-]*(?:, [a-z][\w-]*)*)(?: {2,}.*)?$/;
const SECTION = /^([A-Z][A-Z ]*):$/;

export function looksLikeUrfave(text: string): boolean {
  const lines = text.split('\n');
  // etcdctl's cobra template borrows these headings, but its flag lines are pflag's, with tabs.
  return lines.includes('NAME:') && lines.some((l) => /^(GLOBAL )?OPTIONS:$/.test(l)) && lines.some((l) => OPTION.test(l) && !l.includes('\t'));
}

export function parseUrfaveHelp(text: string): FlagCatalog {
  const lines = text.replace(/\r\n/g, '\n').split('\n');
  const nameLine = lines[lines.findIndex((l) => l === 'NAME:') + 1] ?? '';
  // A command's help names its path: "ctr images list - list images known to containerd".
  const path = nameLine.trim().split(/ - |\s+-$/)[0]!.split(/\s+/).filter((w) => w !== '');
  const program = path[0];
  const subcommand = path.length > 1 && path.slice(1).every((w) => /^[a-z][\w-]*$/.test(w)) ? path.slice(1) : undefined;
  const flags: FlagSpec[] = [];
  const commands: string[] = [];
  let section = '';
  let current: FlagSpec[] | undefined;
  lines.forEach((line, index) => {
    const heading = SECTION.exec(line);
    if (heading) {
      section = heading[1]!;
      current = undefined;
      return;
    }
    if (section === 'COMMANDS') {
      const command = COMMAND.exec(line);
      if (command) commands.push(...command[1]!.split(', '));
      return;
    }
    if (section !== 'GLOBAL OPTIONS' && section !== 'OPTIONS') return;
    const option = OPTION.exec(line);
    if (option) {
      current = fromOption(option[1]!, option[2] ?? '', index + 1, line);
      flags.push(...current);
      return;
    }
    // A long help wraps onto indented lines.
    if (current && /^ {6,}\S/.test(line)) for (const spec of current) spec.help = `${spec.help} ${line.trim()}`;
  });
  for (const spec of flags) finish(spec);
  // urfave/cli gives every command --help/-h unless it hides them, printed or not.
  if (subcommand) for (const name of ['help', 'h']) if (!flags.some((f) => f.name === name)) flags.push({ ...fromOption(`--${name}`, 'implicit: shows the command help', 0, `--${name}`)[0]!, hidden: true });
  const envVars = flags.map((f) => f.envVar).filter((v): v is string => v !== undefined);
  // urfave/cli v2 prints every boolean's default, v1 none.
  const variant = flags.some((f) => f.isBoolean && /\(default: (?:true|false)\)/.test(f.help)) ? 'urfave2' : undefined;
  return { framework: 'urfave', program, subcommand, variant, flags, commands: commands.length > 0 ? commands : undefined, envPrefix: commonEnvPrefix(envVars), acceptsPositionals: true };
}

/** `--log value, -l value` declares one flag under several names; each name is accepted on its own. */
function fromOption(declaration: string, help: string, line: number, raw: string): FlagSpec[] {
  const names = declaration.split(', ').map((n) => n.replace(/ value$/, '').replace(/^-+/, ''));
  const takesValue = / value\b/.test(declaration);
  const [primary, ...aliases] = names;
  const short = aliases.find((a) => a.length === 1);
  const spec = (name: string, hidden: boolean): FlagSpec => ({
    name,
    short: name === primary ? short : undefined,
    takesValue,
    isBoolean: !takesValue,
    negatable: false,
    boolAcceptsValue: true,
    repeatable: true,
    required: false,
    valueType: takesValue ? undefined : 'bool',
    hidden,
    help: help.trim(),
    line,
    declaration: raw.trim().replace(/\s{2,}.*$/, ''),
  });
  return [spec(primary!, false), ...aliases.map((alias) => spec(alias, true))];
}

function finish(spec: FlagSpec): void {
  const env = /\[\$([A-Z][A-Z0-9_]*)(?:, \$[A-Z0-9_]+)*\]\s*$/.exec(spec.help);
  if (env) {
    spec.envVar = env[1];
    spec.help = spec.help.slice(0, env.index).trim();
  }
  spec.defaultValue = /\(default: "?([^")]*)"?\)\s*$/.exec(spec.help)?.[1];
  // urfave/cli prints a string's default quoted, a number's or a duration's bare: Go's flag parses those values.
  const bare = /\(default: ([^")\s][^")]*)\)\s*$/.exec(spec.help)?.[1];
  if (spec.takesValue && bare !== undefined) spec.valueType = typeOfDefault(bare);
  if (/\(accepts multiple inputs\)/.test(spec.help)) spec.valueType = 'stringSlice';
  if (/\bdeprecated\b/i.test(spec.help)) spec.deprecated = true;
}

function typeOfDefault(text: string): string | undefined {
  if (/^-?(?:\d+(?:\.\d+)?(?:ns|us|µs|ms|s|m|h))+$/.test(text)) return 'duration';
  if (/^-?\d+(?:\.\d+)?$/.test(text)) return 'number';
  return undefined;
}

export const urfave: FlagFramework = { framework: 'urfave', looksLike: looksLikeUrfave, parse: parseUrfaveHelp, validate: validateUrfaveArgs };
