import type { FlagCatalog, Framework } from './catalog.js';
import { parseHelp } from './frameworks/registry.js';

/**
 * Which help to capture for a container, and capturing it: the help of the command that will
 * parse the container's args. A program run with a subcommand (`kubectl proxy --port=8001`) gets
 * the subcommand's help (`kubectl proxy --help`), with the global flags it inherits where the
 * subcommand help leaves them out (`kubectl options`, `rclone help flags`). The programs are run
 * through an injected runner (the sandbox, in production).
 */

export interface RunOutput {
  stdout: string;
  stderr: string;
  exitCode: number | null;
  timedOut: boolean;
  truncated?: boolean;
}

/** Runs argv (argv[0]: the program's path in the image) and returns what it printed. */
export type HelpRunner = (argv: string[]) => Promise<RunOutput>;

export interface CapturePlanInput {
  /** The program's path in the image (resolveProgram). */
  program: string;
  /** The args the container gives it. */
  args: string[];
  run: HelpRunner;
  /** The framework named in .guard.yaml, when detection is not to be trusted. */
  framework?: Framework;
}

export type HelpCapture =
  | {
      ok: true;
      program: string;
      /** The help command that was run, e.g. [program, 'proxy', '--help']. */
      helpArgv: string[];
      /** The global-flags command merged in, e.g. [program, 'options']. */
      globalFlagsArgv?: string[];
      /** Subcommand path the help describes, as the container's args name it (possibly after parent flags). */
      subcommand: string[];
      /**
       * The args after the last subcommand word: what the subcommand's own parser reads. pflag
       * catalogs know their subcommand (validate all args); argparse, kingpin, urfave and clap
       * catalogs of a subcommand's help read only these.
       */
      argsAfterSubcommand: string[];
      /** The help as the parsers read it. */
      text: string;
      framework: Framework;
    }
  | { ok: false; error: string; helpArgv?: string[] };

/** Nested subcommands followed at most (kubectl config set-context is two). */
const MAX_DEPTH = 4;

export async function captureHelp(input: CapturePlanInput): Promise<HelpCapture> {
  const { program, run, framework } = input;
  const chain: string[] = [];
  let helpArgv = [program, '--help'];
  const output = await run(helpArgv);
  let failure = runFailure(helpArgv, output);
  if (failure) return { ok: false, error: failure, helpArgv };
  let reading = readHelp(output, framework);
  let rest = input.args;
  for (let depth = 0; depth < MAX_DEPTH; depth++) {
    const commands = listedCommands(reading.text, reading.catalog);
    const next = commandNamed(rest, commands, reading.catalog);
    if (!next) break;
    const argv = [program, ...chain, next.command, '--help'];
    const subOutput = await run(argv);
    failure = runFailure(argv, subOutput);
    if (failure) return { ok: false, error: failure, helpArgv: argv };
    const subReading = readHelp(subOutput, framework);
    if (!subReading.catalog && listedCommands(subReading.text, undefined).length === 0) {
      return { ok: false, error: `\`${describe(argv)}\` printed no help that a parser reads (${subReading.reason}): ${firstLine(subReading.text)}`, helpArgv: argv };
    }
    chain.push(next.command);
    helpArgv = argv;
    reading = subReading;
    rest = next.rest;
  }
  const global = await globalFlags(program, reading.text, run);
  if (global && 'error' in global) return { ok: false, error: global.error, helpArgv };
  const text = global ? `${reading.text.trimEnd()}\n\n${global.text}` : reading.text;
  // Without global flags the text is the reading's own, already parsed.
  const parsed = global || !reading.catalog ? parseHelp(text, framework) : { ok: true as const, catalog: reading.catalog };
  if (!parsed.ok) return { ok: false, error: `\`${describe(helpArgv)}\` printed no help that a parser reads (${parsed.reason}): ${firstLine(text)}`, helpArgv };
  // The global flags must be read with the rest, or every use of one would be refused as unknown.
  if (global && parsed.catalog.flags.length <= (reading.catalog?.flags.length ?? 0)) {
    return { ok: false, error: `the global flags printed by \`${describe(global.argv)}\` are not read together with \`${describe(helpArgv)}\``, helpArgv };
  }
  return { ok: true, program, helpArgv, ...(global ? { globalFlagsArgv: global.argv } : {}), subcommand: chain, argsAfterSubcommand: rest, text, framework: parsed.catalog.framework };
}

/** Why a run gives no help at all: it did not start, ran too long, printed nothing or too much. */
function runFailure(argv: string[], output: RunOutput): string | undefined {
  const command = describe(argv);
  if (output.timedOut) return `\`${command}\` did not finish in time`;
  if (output.truncated) return `\`${command}\` printed more output than a help text`;
  if (output.exitCode === 126 || output.exitCode === 127) return `\`${command}\` could not be started (exit ${output.exitCode}): ${firstLine(output.stderr || output.stdout)}`;
  if (output.stdout.trim() === '' && output.stderr.trim() === '') return `\`${command}\` printed nothing (exit ${output.exitCode ?? 'killed'})`;
  return undefined;
}

interface Reading {
  text: string;
  catalog?: FlagCatalog;
  reason?: string;
}

/**
 * Help printed partly on stdout and partly on stderr (kingpin prints on stderr, some programs
 * their header on one and the flags on the other): both, stdout first, else whichever one alone
 * a parser reads.
 */
function readHelp(output: RunOutput, framework: Framework | undefined): Reading {
  const stdout = output.stdout.replace(/\r\n/g, '\n');
  const stderr = output.stderr.replace(/\r\n/g, '\n');
  const candidates = stdout.trim() && stderr.trim() ? [`${stdout.trimEnd()}\n${stderr}`, stdout, stderr] : [stdout.trim() ? stdout : stderr];
  let reason: string | undefined;
  for (const text of candidates) {
    const parsed = parseHelp(text, framework);
    if (parsed.ok) return { text, catalog: parsed.catalog };
    reason ??= parsed.reason;
  }
  return { text: candidates[0]!, reason };
}

/** The first of the args that names a listed command, past the flags before it; with the args after it. */
function commandNamed(args: string[], commands: string[], catalog: FlagCatalog | undefined): { command: string; rest: string[] } | undefined {
  if (commands.length === 0) return undefined;
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!;
    if (arg === '--') return undefined;
    if (arg.startsWith('-') && arg !== '-') {
      // A flag that takes its value as the next argument: skip that value too.
      const name = arg.replace(/^--?/, '');
      const spec = catalog?.flags.find((f) => (arg.startsWith('--') ? f.name === name : f.short === name));
      if (arg.includes('=')) continue;
      if (spec) {
        if (spec.takesValue && !spec.optionalValue) i++;
        continue;
      }
      // A flag the help does not list: the next word is its value unless it names a command.
      const next = args[i + 1];
      if (next !== undefined && !next.startsWith('-') && !commands.includes(next)) i++;
      continue;
    }
    return commands.includes(arg) ? { command: arg, rest: args.slice(i + 1) } : undefined;
  }
  return undefined;
}

const COMMAND_SECTION = /^(?:Available Commands|Commands|COMMANDS|SUBCOMMANDS|Subcommands|[A-Z][A-Za-z -]* Commands(?: \([^)]*\))?):\s*$/;
/** Commands a program would refuse to run as a container's subcommand, or that are not subcommands. */
const NOT_SUBCOMMANDS = new Set(['help']);

/**
 * Command names (and aliases) a help lists: cobra "Available Commands:" and kubectl's grouped
 * "Basic Commands (Beginner):", kingpin "Commands:", urfave "COMMANDS:" (`serve, s`), clap
 * "SUBCOMMANDS:"/"Commands:", argparse subparsers (`{a,b}`, read by its parser).
 */
export function listedCommands(text: string, catalog: FlagCatalog | undefined): string[] {
  const names = new Set<string>(catalog?.commands ?? []);
  const lines = text.split('\n');
  let inSection = false;
  let indent = -1;
  for (const line of lines) {
    if (COMMAND_SECTION.test(line)) {
      inSection = true;
      indent = -1;
      continue;
    }
    if (!inSection || line.trim() === '') continue;
    const lead = line.length - line.trimStart().length;
    if (lead === 0) {
      inSection = false;
      continue;
    }
    if (indent < 0) indent = lead;
    if (lead !== indent) continue; // a description under the entry (kingpin, argparse)
    const entry = /^\s+([a-z][\w.:-]*(?:, ?[a-z][\w.:-]*)*)(?:\s|$)/.exec(line);
    const aliases = entry?.[1]!.split(/, ?/) ?? [];
    if (!aliases.some((name) => NOT_SUBCOMMANDS.has(name))) for (const name of aliases) names.add(name);
  }
  for (const name of NOT_SUBCOMMANDS) names.delete(name);
  return [...names];
}

/**
 * The global flags a subcommand's help points to instead of listing them: kubectl's
 * `Use "kubectl options" for a list of global command-line options` (its output is read by the
 * pflag parser as more Options), rclone's `Use "rclone help flags" ...` (flag groups, retitled as
 * Global Flags so the cobra parser reads them).
 */
async function globalFlags(program: string, text: string, run: HelpRunner): Promise<{ argv: string[]; text: string } | { error: string } | undefined> {
  const kubectlStyle = /^Use "\S+ ((?:[a-z][\w-]* )*options)" for a list of global command-line options/m.exec(text);
  const rcloneStyle = /^Use "\S+ (help flags)" /m.exec(text);
  const words = (kubectlStyle ?? rcloneStyle)?.[1]?.split(' ');
  if (!words) return undefined;
  const argv = [program, ...words];
  const output = await run(argv);
  const failure = runFailure(argv, output);
  if (failure) return { error: `the global flags could not be read: ${failure}` };
  const extra = (output.stdout.trim() ? output.stdout : output.stderr).replace(/\r\n/g, '\n');
  return { argv, text: kubectlStyle ? extra : flagGroupsAsGlobal(extra) };
}

/**
 * `rclone help flags` is a cobra command's help of its own: its Usage and Flags (-h) are left out,
 * and every flag group ("Global Flags:", "Backend Flags:", ...) is kept as Global Flags.
 */
function flagGroupsAsGlobal(text: string): string {
  const kept: string[] = [];
  let keep = false;
  for (const line of text.split('\n')) {
    const heading = /^([A-Z][\w -]*):\s*$/.exec(line);
    if (heading) {
      keep = heading[1] !== 'Flags' && heading[1]!.endsWith('Flags');
      if (keep) kept.push('Global Flags:');
      continue;
    }
    if (line !== '' && !/^\s/.test(line)) keep = false;
    if (keep) kept.push(line);
  }
  return kept.join('\n');
}

function describe(argv: string[]): string {
  return argv.join(' ');
}

/** What a failed run printed, cut short: enough to recognise the error, no more. */
function firstLine(text: string): string {
  // The image's output: no terminal control characters into the guard's messages.
  const line = (text.split('\n').find((l) => l.trim() !== '')?.trim() ?? '(nothing)').replace(/[\u0000-\u001f\u007f-\u009f]/g, '?');
  return line.length > 200 ? `${line.slice(0, 200)}…` : line;
}
