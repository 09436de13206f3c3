import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
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

  it('tells clap 3 from clap 2 by its help texts: clap 3 refuses a repeated switch', () => {
    const clap3 = parseClapHelp(['tool 1.0', '', 'USAGE:', '    tool [OPTIONS]', '', 'OPTIONS:', '    -h, --help       Print help information', '    -q, --quiet      Print less', '    -V, --version    Print version information', ''].join('\n'));
    expect(clap3.variant).toBe('clap3');
    expect(validateArgs(clap3, ['-q', '-q'])).toMatchObject([{ kind: 'repeated', binaryError: "error: The argument '--quiet' was provided more than once, but cannot be used multiple times" }]);
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

  it('allows a clap 4 option once unless it takes many values', () => {
    const scan = parseClapHelp(clap4Help);
    expect(validateArgs(scan, ['--level', 'debug', '--tag', 'a', '--tag', 'b', 'src'])).toEqual([]);
    expect(validateArgs(scan, ['--level', 'debug', '--level', 'warn'])).toMatchObject([{ kind: 'repeated', flag: 'level' }]);
    expect(validateArgs(scan, ['--level', 'loud'])).toMatchObject([{ kind: 'bad-enum' }]);
    expect(validateArgs(scan, ['-q', '-q'])).toMatchObject([{ kind: 'repeated', binaryError: "error: the argument '--quiet' cannot be used multiple times" }]);
    expect(validateArgs(scan, ['-ddd', '--pair', 'a', 'b', '--threads', '4', 'src'])).toEqual([]);
    expect(validateArgs(scan, ['--pair', 'a'])).toMatchObject([{ kind: 'missing-value', flag: 'pair' }]);
  });
});
