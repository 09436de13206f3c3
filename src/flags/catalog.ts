/** Framework-independent model of what a binary's command line accepts, parsed from its --help. */

/** Command-line frameworks whose --help the guard reads and whose parsing it reproduces. */
export const FRAMEWORKS = ['kingpin', 'pflag', 'goflag', 'urfave', 'clap', 'argparse'] as const;
export type Framework = (typeof FRAMEWORKS)[number];

export interface FlagSpec {
  /** Long name without leading dashes, e.g. "source". */
  name: string;
  /** Single-character short form without the dash, e.g. "v". */
  short?: string;
  /** Needs a value (`--name=value` or `--name value`). False for booleans. */
  takesValue: boolean;
  isBoolean: boolean;
  /** `--no-name` is accepted. */
  negatable: boolean;
  /** `--name=true` / `--name=false` is accepted (pflag yes, kingpin no). */
  boolAcceptsValue: boolean;
  /** A value flag whose value is optional: bare `--name` uses a built-in value, a value must be attached with `=` (pflag NoOptDefVal). */
  optionalValue?: boolean;
  /** May be given more than once (kingpin `...`, pflag slices). */
  repeatable: boolean;
  required: boolean;
  /** Allowed values when the help lists them. */
  enumValues?: string[];
  placeholder?: string;
  defaultValue?: string;
  envVar?: string;
  /** Accepted by the parser but not printed by --help (kingpin's --help-long etc.). */
  hidden: boolean;
  /** The help marks it deprecated; still accepted, reported as a warning. */
  deprecated?: boolean;
  /** Flags whose earlier values this one discards when given after them (ripgrep: "-C overrides -A"). */
  overrides?: string[];
  /** Every spelling the parser accepts, with dashes, where that is more than `--name` and `-short` (argparse: `-name`, `--no-name`, several long names). */
  spellings?: string[];
  /** Values one use takes when not exactly one: argparse nargs `?`, `*`, `+`, a count, or `...` (the rest). */
  arity?: Arity;
  /** Prints and exits while the args are being parsed (argparse -h, --version): nothing after it is read. */
  exitsWhenGiven?: boolean;
  /** Value type as the help prints it (`int`, `duration`, `stringArray`, ...), checked with value-types.ts. */
  valueType?: string;
  /** Help text of the flag, unwrapped to one line. */
  help: string;
  /** 1-based line in the help file where the flag is declared; 0 for implicit flags. */
  line: number;
  /** The declaration as printed, e.g. `--source=source ...`. */
  declaration: string;
}

export type Arity = 1 | '?' | '*' | '+' | '...' | number;

/** A positional argument the help names (argparse). */
export interface PositionalSpec {
  name: string;
  arity: Arity;
  /** Choices (`{start,stop}`). */
  enumValues?: string[];
  /** A subcommand: the args after it belong to that command's own parser. */
  command?: boolean;
}

export interface FlagCatalog {
  framework: Framework;
  /** Program name from the usage line, e.g. "external-dns". */
  program?: string;
  flags: FlagSpec[];
  /** Prefix of environment variables that replace flags, e.g. "EXTERNAL_DNS_". */
  envPrefix?: string;
  /** Whether the binary accepts positional arguments at all. */
  acceptsPositionals: boolean;
  /** Subcommand path this help describes, e.g. ["version"] for `helm version --help`. */
  subcommand?: string[];
  /** Parser generation where behaviour differs between them, e.g. "clap2" or "clap4". */
  variant?: string;
  /** Commands the help lists (names and aliases): the first argument must be one of them. */
  commands?: string[];
  /** Positional arguments in order, where the help describes them one by one (argparse). */
  positionals?: PositionalSpec[];
  /** Flags of which at most one may be given (`[--a | --b]` in an argparse usage line); `required`: exactly one. */
  exclusiveGroups?: Array<{ flags: string[]; required: boolean }>;
}

export interface ValidateOptions {
  /** Container environment: some frameworks read a flag's env var when the flag is not given. */
  env?: Record<string, string>;
  /** How to name the binary in messages, e.g. "external-dns v0.19.0". */
  label?: string;
}

/** One command-line framework: recognise its help, read it into a catalog, parse args like it does. */
export interface FlagFramework {
  framework: Framework;
  looksLike(text: string): boolean;
  parse(text: string): FlagCatalog;
  /** Every reason the binary would refuse these args (after its own name) at start; [] when it accepts them. */
  validate(catalog: FlagCatalog, args: string[], options?: ValidateOptions): ArgProblem[];
}

export type ArgProblemKind =
  | 'unknown-flag'
  | 'bool-with-value'
  | 'repeated'
  | 'bad-enum'
  | 'bad-value'
  | 'missing-required'
  | 'missing-value'
  | 'unexpected-positional'
  | 'conflict'
  | 'bad-env-value';

export interface ArgProblem {
  kind: ArgProblemKind;
  /** Index into the args array that causes it; -1 for missing-required. */
  argIndex: number;
  /** The environment variable whose value is refused (kingpin reads a flag's $ENVAR when the flag is not given). */
  envVar?: string;
  /** The refused value, when it came from the environment (so a finding can mask it when it came from a Secret). */
  value?: string;
  /** Long flag name concerned (without dashes), when known. */
  flag?: string;
  /** Human explanation. */
  message: string;
  /** What the binary itself would print before exiting, e.g. "flag parsing error: unknown long flag '--x'". */
  binaryError: string;
  /** Did-you-mean or replacement, e.g. "--traefik-enable-legacy". */
  suggestion?: string;
  /** The catalog entry involved, for evidence. */
  spec?: FlagSpec;
}
