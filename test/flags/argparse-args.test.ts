import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseArgparseHelp } from '../../src/flags/frameworks/argparse.js';
import { parseHelp, validateArgs } from '../../src/flags/frameworks/registry.js';
import { fixtures } from '../support/paths.js';

const calendar = parseArgparseHelp(readFileSync(path.join(fixtures, 'help/python3-calendar/3.11.2.txt'), 'utf8'));
const jsonTool = parseArgparseHelp(readFileSync(path.join(fixtures, 'help/python3-json-tool/3.11.2.txt'), 'utf8'));

/** What Python 3.11's argparse prints for a parser with a required option, a required group, nargs='+' and BooleanOptionalAction. */
const syncHelp = `usage: sync-tool [-h] --target TARGET [-v] [-q] [--color {auto,never}]
                 [--tag TAG [TAG ...]] [--cache | --no-cache]
                 (--dry-run | --apply)
                 sources [sources ...]

Syncs things.

positional arguments:
  sources               what to sync

options:
  -h, --help            show this help message and exit
  --target TARGET       where to sync to
  -v, --verbose         say more
  -q                    say less
  --color {auto,never}, --colour {auto,never}
                        when to colour (default: auto)
  --tag TAG [TAG ...]   tags
  --cache, --no-cache   use the cache
  --dry-run             only show
  --apply               do it
`;
const sync = parseArgparseHelp(syncHelp);

/** Group descriptions, an epilog, a single-dash long option, nargs=2, a REMAINDER and an option whose metavar is a positional's name. */
const edgeHelp = `usage: edge [-h] [--input [PATH]] [-name NAME] [--mode [{x,y} ...]] [-a] [-b]
            pair pair PATH ...

positional arguments:
  pair                two things
  PATH                a path
  rest                the rest

options:
  -h, --help          show this help message and exit
  --mode [{x,y} ...]  modes
  -a
  -b

Advanced:
  Experimental.

  --input [PATH]      input
  -name NAME          single-dash long

see docs
`;
const edge = parseArgparseHelp(edgeHelp);

/** Subparsers under a titled group with a description. */
const subHelp = `usage: sub [-h] [-v] {run,stop} ...

options:
  -h, --help  show this help message and exit
  -v

commands:
  Subcommands

  {run,stop}
    run       run it
    stop      stop it
`;
const sub = parseArgparseHelp(subHelp);

describe('argparse help', () => {
  it('reads options, choices and positionals of python3 -m calendar', () => {
    expect(parseHelp(readFileSync(path.join(fixtures, 'help/python3-calendar/3.11.2.txt'), 'utf8'))).toMatchObject({ ok: true, catalog: { framework: 'argparse', program: 'calendar.py' } });
    expect(calendar.flags.find((f) => f.name === 'type')).toMatchObject({ short: 't', spellings: ['-t', '--type'], enumValues: ['text', 'html'] });
    expect(calendar.flags.find((f) => f.name === 'width')).toMatchObject({ short: 'w', takesValue: true, placeholder: 'WIDTH' });
    expect(calendar.flags.find((f) => f.name === 'help')).toMatchObject({ isBoolean: true, exitsWhenGiven: true });
    expect(calendar.positionals).toEqual([{ name: 'year', arity: '?' }, { name: 'month', arity: '?' }]);
  });

  it('reads a mutually exclusive group and a program name with spaces from the usage line', () => {
    expect(jsonTool.program).toBe('python -m json.tool');
    expect(jsonTool.exclusiveGroups).toEqual([{ flags: ['indent', 'tab', 'no-indent', 'compact'], required: false }]);
  });

  it('reads the Python 3.13 layout, which prints the value once after the last spelling', () => {
    const help = ['usage: tool [-h] [-w WIDTH]', '', 'options:', '  -h, --help         show this help message and exit', '  -w, --width WIDTH  width of a column', ''].join('\n');
    expect(parseArgparseHelp(help).flags.find((f) => f.name === 'width')).toMatchObject({ short: 'w', takesValue: true, placeholder: 'WIDTH' });
  });

  it('reads required options and groups, nargs, aliases and --no- forms', () => {
    expect(sync.flags.find((f) => f.name === 'target')).toMatchObject({ required: true });
    expect(sync.flags.find((f) => f.name === 'colour')).toMatchObject({ spellings: ['--color', '--colour'], enumValues: ['auto', 'never'], defaultValue: 'auto' });
    expect(sync.flags.find((f) => f.name === 'tag')).toMatchObject({ arity: '+' });
    expect(sync.flags.find((f) => f.name === 'cache')).toMatchObject({ negatable: true, spellings: ['--cache', '--no-cache'] });
    expect(sync.flags.find((f) => f.name === 'q')).toMatchObject({ isBoolean: true, short: undefined });
    expect(sync.exclusiveGroups).toEqual([{ flags: ['dry-run', 'apply'], required: true }]);
    expect(sync.positionals).toEqual([{ name: 'sources', arity: '+' }]);
  });
});

describe('argparse help that is easy to misread', () => {
  it('reads only what the usage line names as positionals: not descriptions or epilogs', () => {
    expect(edge.positionals).toEqual([{ name: 'pair', arity: 2 }, { name: 'PATH', arity: 1 }, { name: 'rest', arity: '...' }]);
    expect(edge.flags.find((f) => f.name === 'name')).toMatchObject({ spellings: ['-name'], takesValue: true });
    expect(edge.flags.find((f) => f.name === 'mode')).toMatchObject({ arity: '*', enumValues: ['x', 'y'] });
    expect(sub.positionals).toEqual([{ name: '{run,stop}', arity: '...', enumValues: ['run', 'stop'], command: true }]);
    expect(sub.commands).toEqual(['run', 'stop']);
  });

  it('parses them as Python does', () => {
    expect(validateArgs(edge, ['x', 'y', 'p'])).toEqual([]);
    expect(validateArgs(edge, ['x', 'y', 'p', 'a', 'b', '-x'])).toEqual([]);
    expect(validateArgs(edge, ['--input', 't', 'x', 'y', 'p'])).toEqual([]);
    expect(validateArgs(edge, ['-nam', 'n', 'x', 'y', 'p'])).toEqual([]);
    expect(validateArgs(edge, ['x', 'y']).map((p) => p.binaryError)).toEqual(['error: the following arguments are required: PATH, rest']);
    expect(validateArgs(edge, ['--mode', 'z', 'x', 'y', 'p']).map((p) => p.binaryError)).toEqual(["error: argument --mode: invalid choice: 'z' (choose from 'x', 'y')"]);
    expect(validateArgs(edge, ['--nam', 'n', 'x', 'y', 'p']).map((p) => p.binaryError)).toEqual(['error: unrecognized arguments: --nam']);
    expect(validateArgs(sub, [])).toEqual([]);
    expect(validateArgs(sub, ['-v', 'run'])).toEqual([]);
    // Python names the argument by its dest ("argument cmd: invalid choice: 'walk'"), which the help does not print.
    expect(validateArgs(sub, ['walk'])).toMatchObject([{ kind: 'bad-enum' }]);
  });
});

// Each refusal below is what Python 3.11.2 prints for the same args (checked by running the programs).
describe('args as argparse parses them', () => {
  const refusal = (catalog: typeof sync, args: string[]) => validateArgs(catalog, args).map((p) => [p.kind, p.binaryError]);

  it('accepts what argparse accepts: abbreviations, attached values, clusters, -- and negative numbers as values', () => {
    expect(validateArgs(sync, ['--target', 'x', '--apply', 'a', 'b'])).toEqual([]);
    expect(validateArgs(sync, ['--target', 'x', '--apply', '-vvq', 'a'])).toEqual([]);
    expect(validateArgs(sync, ['--target', 'x', '--apply', '--no-cache', '--tag', 'a', 'b', '--', 'c'])).toEqual([]);
    expect(validateArgs(calendar, ['-w3', '--lin', '2', '-w', '-1', '2024'])).toEqual([]);
  });

  it('refuses a missing required option or group member, and two of one group', () => {
    expect(refusal(sync, ['--apply', 'a'])).toEqual([['missing-required', 'error: the following arguments are required: --target']]);
    expect(refusal(sync, ['--target', 'x', 'a'])).toEqual([['missing-required', 'error: one of the arguments --dry-run --apply is required']]);
    expect(refusal(sync, ['--target', 'x', '--apply', '--dry-run', 'a'])).toEqual([['conflict', 'error: argument --dry-run: not allowed with argument --apply']]);
    expect(refusal(sync, ['--target', 'x', '--apply', '--tag', 'a'])).toEqual([['missing-required', 'error: the following arguments are required: sources']]);
  });

  it('refuses ambiguous abbreviations, values for switches and missing values', () => {
    expect(refusal(sync, ['--target', 'x', '--apply', '--col', 'never', 'a'])).toEqual([['unknown-flag', 'error: ambiguous option: --col could match --color, --colour']]);
    expect(refusal(sync, ['--target', 'x', '--apply', '-vqx', 'a'])).toEqual([['bool-with-value', "error: argument -q: ignored explicit argument 'x'"]]);
    expect(refusal(sync, ['--target', 'x', '--apply', '--tag'])).toEqual([['missing-value', 'error: argument --tag: expected at least one argument']]);
    expect(refusal(jsonTool, ['--sort-keys=1'])).toEqual([['bool-with-value', "error: argument --sort-keys: ignored explicit argument '1'"]]);
  });

  it('checks choices and reports unknown options with a suggestion', () => {
    expect(refusal(calendar, ['-tx'])).toEqual([['bad-enum', "error: argument -t/--type: invalid choice: 'x' (choose from 'text', 'html')"]]);
    expect(validateArgs(jsonTool, ['--sort-key'])).toEqual([]);
    expect(validateArgs(jsonTool, ['--sort-kyes'])).toMatchObject([{ kind: 'unknown-flag', suggestion: '--sort-keys', binaryError: 'error: unrecognized arguments: --sort-kyes' }]);
  });

  it('uses up optional positionals at the first plain argument, as argparse does', () => {
    expect(validateArgs(calendar, ['-w', '3', '2024', '5'])).toEqual([]);
    expect(refusal(calendar, ['2024', '-w', '3', '5'])).toEqual([['unexpected-positional', 'error: unrecognized arguments: 5']]);
  });

  it('stops at -h: nothing after it is read', () => {
    expect(validateArgs(calendar, ['-Z', '-h'])).toEqual([]);
    expect(refusal(calendar, ['-t', 'x', '-h'])).toHaveLength(1);
  });
});

describe('argparse help beyond the layouts argparse writes itself', () => {
  const appHelp = [
    'usage: serve [OPTIONS] [APP]',
    '',
    'options:',
    '  -h, --help            show this help message and exit',
    '  -b, --bind ADDRESS    where to listen',
    '  -v, --verbose         more output (repeat for more)',
    '',
  ].join('\n');

  it('takes plain arguments it cannot place (a usage line written by hand) without refusing them, and still checks the options after them', () => {
    const app = parseArgparseHelp(appHelp);
    expect(app.positionals).toBeUndefined();
    expect(app.acceptsPositionals).toBe(true);
    expect(validateArgs(app, ['-b', '0.0.0.0', 'main:app'])).toEqual([]);
    expect(validateArgs(app, ['main:app', 'extra', '-vv'])).toEqual([]);
    expect(validateArgs(app, ['main:app', '--bnd', 'x'])).toMatchObject([{ kind: 'unknown-flag', suggestion: '--bind' }]);
    expect(validateArgs(app, ['main:app', '-v3'])).toMatchObject([{ kind: 'bool-with-value' }]);
  });

  it('checks options after a `file ...` positional (python3 -m gzip)', () => {
    const gzip = parseArgparseHelp(readFileSync(path.join(fixtures, 'help/python3-gzip/3.11.2.txt'), 'utf8'));
    expect(validateArgs(gzip, ['a', 'b', '--fast'])).toEqual([]);
    expect(validateArgs(gzip, ['a', '--bogus'])).toMatchObject([{ kind: 'unknown-flag' }]);
    expect(validateArgs(gzip, ['a', '--fast', 'b', '--best'])).toMatchObject([{ kind: 'conflict' }]);
  });

  it('names the program by what comes before [-h], even "python -m ast" whose -m is also an option', () => {
    const ast = parseArgparseHelp(readFileSync(path.join(fixtures, 'help/python3-ast/3.11.2.txt'), 'utf8'));
    expect(ast.program).toBe('python -m ast');
    expect(ast.flags.find((f) => f.name === 'mode')).toMatchObject({ required: false, enumValues: ['exec', 'single', 'eval', 'func_type'] });
    expect(validateArgs(ast, [])).toEqual([]);
  });

  it("reads yamllint's lone `-` option, and does not require the group it forms with FILE_OR_DIR (printed as two optional items)", () => {
    const yamllint = parseArgparseHelp(readFileSync(path.join(fixtures, 'help/yamllint/1.29.0.txt'), 'utf8'));
    expect(yamllint.flags.find((f) => f.name === '-')).toMatchObject({ isBoolean: true, spellings: ['-'] });
    expect(validateArgs(yamllint, ['-s', '-', '-s', '-'])).toEqual([]);
    expect(validateArgs(yamllint, [])).toEqual([]);
    expect(validateArgs(yamllint, ['-f', 'json', 'x.yaml'])).toMatchObject([{ kind: 'bad-enum' }]);
  });

  it('finds the usage after a banner the program printed on its other stream (the capture joins stdout and stderr)', () => {
    const text = ['serve 2.1 starting', '', ...appHelp.split('\n')].join('\n');
    expect(parseHelp(text)).toMatchObject({ ok: true, catalog: { framework: 'argparse', program: 'serve' } });
  });
});
