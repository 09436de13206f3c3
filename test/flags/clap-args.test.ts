import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { doubtfulClapArgs } from '../../src/flags/frameworks/clap-args.js';
import { parseClapHelp } from '../../src/flags/frameworks/clap.js';
import { parseHelp, validateArgs } from '../../src/flags/frameworks/registry.js';
import { fixtures } from '../support/paths.js';

const text = readFileSync(path.join(fixtures, 'help/ripgrep/13.0.0.txt'), 'utf8');
const rg = parseClapHelp(text);

const clap4Help = [
  'Scans a tree.',
  '',
  'Usage: scan [OPTIONS] <PATH>',
  '',
  'Arguments:',
  '  <PATH>  Where to start',
  '',
  'Options:',
  '  -l, --level <LEVEL>  Log level [default: info] [possible values: debug, info, warn]',
  '      --tag <TAG>...   Tags to add [env: SCAN_TAG=]',
  '      --root <DIR>     Where to start [env: SCAN_ROOT=]',
  '  -q, --quiet          Print less',
  '  -d, --debug...       More output per use',
  '      --pair <A> <B>   Two values',
  '  -h, --help           Print help',
  '',
  'Advanced:',
  '      --threads <N>    Worker threads',
  '',
].join('\n');

describe('clap help', () => {
  it('reads ripgrep 13 (clap 2): shorts, <NUM> values, prose possible values, overrides, counters', () => {
    expect(parseHelp(text)).toMatchObject({ ok: true, catalog: { framework: 'clap', variant: 'clap2', program: 'rg' } });
    expect(rg.flags.find((f) => f.name === 'after-context')).toMatchObject({ short: 'A', takesValue: true, valueType: 'usize', overrides: ['context', 'passthru'] });
    expect(rg.flags.find((f) => f.name === 'color')?.enumValues).toEqual(['never', 'auto', 'always', 'ansi']);
    expect(rg.flags.find((f) => f.name === 'unrestricted')).toMatchObject({ short: 'u', isBoolean: true, valueType: 'count' });
  });

  it('tells clap 3 from clap 2 by its help texts; a repeat in clap 3 is not blocked (it depends on args_override_self, which the help does not print)', () => {
    const clap3 = parseClapHelp(['tool 1.0', '', 'USAGE:', '    tool [OPTIONS]', '', 'OPTIONS:', '    -h, --help       Print help information', '    -q, --quiet      Print less', '    -V, --version    Print version information', ''].join('\n'));
    expect(clap3.variant).toBe('clap3');
    // tealdeer 1.5 refuses `-l -l`, bat 0.22 accepts `-n -n`: both clap 3.2.
    expect(validateArgs(clap3, ['-q', '-q'])).toEqual([]);
    expect(validateArgs(clap3, ['--quiet=yes'])).toMatchObject([{ kind: 'bool-with-value', binaryError: "error: The value 'yes' was provided to '--quiet' but it wasn't expecting any more values" }]);
    expect(validateArgs(clap3, ['stray'])).toMatchObject([{ kind: 'unexpected-positional' }]);
    expect(validateArgs(clap3, ['-q', '--help', '--bogus'])).toEqual([]);
  });

  it('reads the clap 3/4 layout: [possible values], [default], [env]', () => {
    const scan = parseClapHelp(clap4Help);
    expect(parseHelp(clap4Help)).toMatchObject({ ok: true, catalog: { framework: 'clap', variant: 'clap4' } });
    expect(scan.flags.find((f) => f.name === 'level')).toMatchObject({ short: 'l', enumValues: ['debug', 'info', 'warn'], defaultValue: 'info' });
    expect(scan.flags.find((f) => f.name === 'tag')).toMatchObject({ repeatable: true, envVar: 'SCAN_TAG' });
    expect(scan.flags.find((f) => f.name === 'quiet')).toMatchObject({ short: 'q', isBoolean: true });
    expect(scan.flags.find((f) => f.name === 'debug')).toMatchObject({ short: 'd', isBoolean: true, valueType: 'count', repeatable: true });
    expect(scan.flags.find((f) => f.name === 'pair')).toMatchObject({ takesValue: true, arity: 2 });
    // Options under a custom help heading are options too.
    expect(scan.flags.find((f) => f.name === 'threads')).toMatchObject({ takesValue: true, placeholder: 'N' });
    // Env vars that name no option (SCAN_TAGS) are warned about like kingpin's.
    expect(scan.envPrefix).toBe('SCAN_');
  });
});

describe('args as clap parses them', () => {
  it('accepts the forms clap accepts', () => {
    expect(validateArgs(rg, ['-A', '3', '--color=never', '-i', '-e', 'foo', 'src'])).toEqual([]);
    expect(validateArgs(rg, ['-A3', '-inH', '--sort', 'path', '--', '--not-a-flag'])).toEqual([]);
    expect(validateArgs(rg, ['-e', '-foo'])).toEqual([]);
  });

  it('refuses unknown options with clap 2 words and a suggestion', () => {
    expect(validateArgs(rg, ['--colour=never'])).toMatchObject([{ kind: 'unknown-flag', flag: 'colour', suggestion: '--color', binaryError: "error: Found argument '--colour' which wasn't expected, or isn't valid in this context" }]);
    expect(validateArgs(rg, ['-iZ'])).toMatchObject([{ kind: 'unknown-flag', flag: 'Z' }]);
  });

  it('checks possible values and <NUM> values on the last value given', () => {
    expect(validateArgs(rg, ['--color', 'nevr'])).toMatchObject([{ kind: 'bad-enum', suggestion: '--color=never' }]);
    expect(validateArgs(rg, ['--color', 'nevr', '--color', 'never'])).toEqual([]);
    expect(validateArgs(rg, ['-A', 'three'])).toMatchObject([{ kind: 'bad-value', flag: 'after-context' }]);
  });

  it('needs values that do not start with a dash, unless a later flag overrides the one missing it', () => {
    expect(validateArgs(rg, ['-A', '-i'])).toMatchObject([{ kind: 'missing-value', flag: 'after-context' }]);
    expect(validateArgs(rg, ['-A', '-i', '-C', '2'])).toEqual([]);
  });

  it('reproduces clap 2 repeats: an option again after a space takes the plain args after it, unless marked ...', () => {
    expect(validateArgs(rg, ['--sort', 'path', '--sort', 'path', 'src'])).toMatchObject([{ kind: 'repeated', flag: 'sort' }]);
    expect(validateArgs(rg, ['-g', 'a', '-g', 'b', 'src'])).toEqual([]);
  });

  it('reproduces clap 2 repeated switches: only the last one parsed overrides itself', () => {
    expect(validateArgs(rg, ['-n', '-nl'])).toMatchObject([{ kind: 'repeated', flag: 'line-number' }]);
    expect(validateArgs(rg, ['-i', '-inn', '-l'])).toMatchObject([{ kind: 'repeated', flag: 'ignore-case' }]);
    expect(validateArgs(rg, ['-n', '-n'])).toEqual([]);
    expect(validateArgs(rg, ['-n', '-nln'])).toEqual([]);
    expect(validateArgs(rg, ['-n', '-nl', '--no-line-number'])).toEqual([]);
    expect(validateArgs(rg, ['-u', '-uu'])).toEqual([]);
  });

  it('reads a short option of any character and an empty attached value', () => {
    expect(validateArgs(rg, ['-.', '--hidden'])).toEqual([]);
    expect(validateArgs(rg, ['-m='])).toMatchObject([{ kind: 'bad-value', flag: 'max-count' }]);
  });

  it('does not block a repeated clap 4 option; checks every value given', () => {
    const scan = parseClapHelp(clap4Help);
    expect(validateArgs(scan, ['--level', 'debug', '--tag', 'a', '--tag', 'b', 'src'])).toEqual([]);
    // fd 8.6 keeps the last value, rsass 0.27 refuses the repeat: both clap 4.0, and the help does not say which.
    expect(validateArgs(scan, ['--level', 'debug', '--level', 'warn', 'src'])).toEqual([]);
    expect(validateArgs(scan, ['-q', '-q', 'src'])).toEqual([]);
    expect(validateArgs(scan, ['--level', 'loud', 'src'])).toMatchObject([{ kind: 'bad-enum' }]);
    // clap 4 checks each value when it is parsed, also one a later use replaces.
    expect(validateArgs(scan, ['--level', 'loud', '--level', 'info', 'src'])).toMatchObject([{ kind: 'bad-enum' }]);
    expect(validateArgs(scan, ['-ddd', '--pair', 'a', 'b', '--threads', '4', 'src'])).toEqual([]);
    expect(validateArgs(scan, ['--pair', 'a'])).toMatchObject([{ kind: 'missing-value', flag: 'pair' }]);
  });

  it('counts positionals against a usage line clap wrote: required <PATH> missing, one too many', () => {
    const scan = parseClapHelp(clap4Help);
    expect(scan.positionals).toEqual([{ name: 'PATH', arity: 1 }]);
    expect(validateArgs(scan, ['-q'])).toMatchObject([{ kind: 'missing-required', binaryError: 'error: The following required arguments were not provided:\n    <PATH>' }]);
    expect(validateArgs(scan, ['-q', 'a', 'b'])).toMatchObject([{ kind: 'unexpected-positional', argIndex: 2 }]);
    expect(validateArgs(scan, ['-q', '--', '-a'])).toEqual([]);
    expect(validateArgs(scan, ['--help'])).toEqual([]);
    // A usage line written by hand (ripgrep's, several forms) leaves the count unchecked.
    expect(rg.positionals).toBeUndefined();
  });

  it('accepts hidden arguments that another flag\'s help names (fd: "overridden with --no-hidden"), with or without a value', () => {
    const fd = parseClapHelp(readFileSync(path.join(fixtures, 'help/fd-find/8.6.0.txt'), 'utf8'));
    expect(validateArgs(fd, ['--hidden', '--no-hidden', 'x'])).toEqual([]);
    expect(validateArgs(fd, ['--no-hidden=1', 'x', '.', 'y'])).toEqual([]);
    expect(validateArgs(fd, ['--hiden'])).toMatchObject([{ kind: 'unknown-flag', suggestion: '--hidden' }]);
  });

  it('reads clap 4 long help: lower-case placeholders, "Possible values:" lists, counters', () => {
    const fdText = readFileSync(path.join(fixtures, 'help/fd-find/8.6.0.txt'), 'utf8');
    expect(parseHelp(fdText)).toMatchObject({ ok: true, catalog: { framework: 'clap', variant: 'clap4', program: 'fdfind' } });
    const rsass = parseClapHelp(readFileSync(path.join(fixtures, 'help/rsass/0.27.0.txt'), 'utf8'));
    expect(rsass.flags.find((f) => f.name === 'style')?.enumValues).toEqual(['expanded', 'compressed']);
    expect(validateArgs(rsass, ['-t', 'nested', 'in.scss'])).toMatchObject([{ kind: 'bad-enum' }]);
    expect(validateArgs(rsass, ['-t', 'compressed'])).toMatchObject([{ kind: 'missing-required' }]);
    const fd = parseClapHelp(fdText);
    expect(validateArgs(fd, ['-uu', '-u', 'x'])).toEqual([]);
    const bat = parseClapHelp(readFileSync(path.join(fixtures, 'help/bat/0.22.1.txt'), 'utf8'));
    expect(bat.flags.find((f) => f.name === 'paging')?.enumValues).toEqual(['auto', 'never', 'always']);
  });

  it('names the repeats it does not block, for a warning', () => {
    const scan = parseClapHelp(clap4Help);
    expect(doubtfulClapArgs(scan, ['--level', 'debug', '-l', 'info', '--tag', 'a', '--tag', 'b', '-qq', 'src'])).toEqual([
      '--level is given 2 times: scan (clap 4) either keeps the last or refuses the repeat, depending on a setting its help does not print',
      '--quiet is given 2 times: scan (clap 4) either keeps the last or refuses the repeat, depending on a setting its help does not print',
    ]);
    expect(doubtfulClapArgs(scan, ['--level', 'debug', '--', '--level'])).toEqual([]);
    expect(doubtfulClapArgs(rg, ['-n', '-n'])).toEqual([]);
  });
});
