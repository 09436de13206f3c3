import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseUrfaveHelp } from '../../src/flags/frameworks/urfave.js';
import { parseHelp, validateArgs } from '../../src/flags/frameworks/registry.js';
import { fixtures } from '../support/paths.js';

const text = readFileSync(path.join(fixtures, 'help/runc/1.1.5.txt'), 'utf8');
const runc = parseUrfaveHelp(text);

describe('urfave/cli help', () => {
  it('reads global options, aliases and commands', () => {
    expect(parseHelp(text)).toMatchObject({ ok: true, catalog: { framework: 'urfave' } });
    expect(runc.program).toBe('runc');
    expect(runc.commands).toEqual(expect.arrayContaining(['list', 'run', 'help', 'h']));
    expect(runc.flags.find((f) => f.name === 'root')).toMatchObject({ takesValue: true, defaultValue: '/run/runc' });
    expect(runc.flags.find((f) => f.name === 'debug')).toMatchObject({ isBoolean: true });
    expect(runc.flags.find((f) => f.name === 'version')).toMatchObject({ short: 'v' });
    expect(runc.flags.find((f) => f.name === 'v')).toMatchObject({ hidden: true });
  });

  it('reads env vars and slices of the v2 layout', () => {
    const v2 = parseUrfaveHelp([
      'NAME:', '   tool - does things', '', 'USAGE:', '   tool [global options] command [command options] [arguments...]', '',
      'GLOBAL OPTIONS:',
      '   --listen value, -l value  address to listen on (default: ":8080") [$TOOL_LISTEN]',
      '   --tag value               tags to add  (accepts multiple inputs) [$TOOL_TAG]',
      '   --verbose                 log more (default: false) [$TOOL_VERBOSE]',
      '',
    ].join('\n'));
    expect(v2.flags.find((f) => f.name === 'listen')).toMatchObject({ short: 'l', envVar: 'TOOL_LISTEN', defaultValue: ':8080' });
    expect(v2.flags.find((f) => f.name === 'tag')).toMatchObject({ valueType: 'stringSlice', envVar: 'TOOL_TAG' });
    expect(v2.envPrefix).toBe('TOOL_');
  });
});

describe('args as urfave/cli parses them', () => {
  it('checks global options, then needs a known command', () => {
    expect(validateArgs(runc, ['--root', '/run/runc', 'list'])).toEqual([]);
    expect(validateArgs(runc, ['--debgu', 'list'])).toMatchObject([{ kind: 'unknown-flag', suggestion: '-debug', binaryError: 'flag provided but not defined: -debgu' }]);
    expect(validateArgs(runc, ['--debug', 'lsit'])).toMatchObject([{ kind: 'unexpected-positional', argIndex: 1, suggestion: 'list', binaryError: "No help topic for 'lsit'" }]);
  });

  it('does not check the options of the command that follows', () => {
    expect(validateArgs(runc, ['list', '--format', 'json', '--anything'])).toEqual([]);
  });

  it('refuses one flag under two of its names', () => {
    expect(validateArgs(runc, ['-v', '--version', 'list'])).toMatchObject([{ kind: 'repeated', binaryError: 'Cannot use two forms of the same flag: v version' }]);
  });
});

describe('urfave/cli layouts beyond runc', () => {
  const read = (file: string) => {
    const outcome = parseHelp(readFileSync(path.join(fixtures, 'help', file), 'utf8'));
    if (!outcome.ok) throw new Error(outcome.reason);
    return outcome.catalog;
  };

  it('types a value by its printed default: bare numbers and durations are parsed by Go, quoted strings are not', () => {
    const ctr = read('ctr/1.6.20.txt');
    expect(ctr.flags.find((f) => f.name === 'timeout')).toMatchObject({ valueType: 'duration', defaultValue: '0s' });
    expect(ctr.flags.find((f) => f.name === 'address')).toMatchObject({ valueType: undefined, envVar: 'CONTAINERD_ADDRESS' });
    expect(validateArgs(ctr, ['--timeout', '5s', 'oci', 'spec'])).toEqual([]);
    expect(validateArgs(ctr, ['--timeout', 'help'])).toMatchObject([{ kind: 'bad-value', flag: 'timeout' }]);
    expect(validateArgs(ctr, ['--connect-timeout', '-', 'oci'])).toMatchObject([{ kind: 'bad-value' }]);
    const lego = read('lego/4.9.1.txt');
    expect(lego.flags.find((f) => f.name === 'http-timeout')).toMatchObject({ valueType: 'number' });
    expect(validateArgs(lego, ['--http-timeout=abc', 'dnshelp'])).toMatchObject([{ kind: 'bad-value' }]);
    expect(validateArgs(lego, ['--accept-tos', '-d', 'a.example', '-d', 'b.example', 'run'])).toEqual([]);
  });

  it('reads commands listed under categories (umoci) and the ASCII-art name of ctr', () => {
    const umoci = read('umoci/0.4.7.txt');
    expect(umoci.commands).toEqual(expect.arrayContaining(['raw', 'config', 'unpack', 'remove', 'rm', 'gc', 'ls', 'help', 'h']));
    expect(validateArgs(umoci, ['--log', 'info', 'unpack'])).toEqual([]);
    expect(validateArgs(umoci, ['lsit'])).toMatchObject([{ kind: 'unexpected-positional', binaryError: "No help topic for 'lsit'" }]);
    expect(read('ctr/1.6.20.txt').program).toBe('ctr');
  });
});

describe("urfave/cli command help (BIN CMD --help)", () => {
  const read = (file: string) => {
    const outcome = parseHelp(readFileSync(path.join(fixtures, 'help', file), 'utf8'));
    if (!outcome.ok) throw new Error(outcome.reason);
    return outcome.catalog;
  };
  const imagesList = read('ctr/1.6.20/images-list.txt');
  const legoList = read('lego/4.9.1/list.txt');

  it('reads the command path from NAME and the command options, with the --help urfave/cli adds', () => {
    expect(imagesList).toMatchObject({ program: 'ctr', subcommand: ['images', 'list'], variant: undefined });
    expect(legoList).toMatchObject({ program: 'lego', subcommand: ['list'], variant: 'urfave2' });
    expect(imagesList.flags.map((f) => f.name)).toEqual(['quiet', 'q', 'help', 'h']);
  });

  it('leaves the global options before the path unchecked and checks the command options after it', () => {
    expect(validateArgs(imagesList, ['--namespace', 'k8s.io', 'images', 'list', '-q', 'name==x'])).toEqual([]);
    expect(validateArgs(imagesList, ['images', 'list', '--quite'])).toMatchObject([{ kind: 'unknown-flag', argIndex: 2, suggestion: '-quiet' }]);
    expect(validateArgs(imagesList, ['images', 'list', '-q', '--quiet'])).toMatchObject([{ kind: 'repeated', binaryError: 'Cannot use two forms of the same flag: q quiet' }]);
    expect(validateArgs(imagesList, ['images', 'rm', 'x'])).toMatchObject([{ kind: 'unexpected-positional' }]);
  });

  it('passes a flag after an argument unless the help proves urfave/cli v2 (which leaves it an argument)', () => {
    // v1 reorders `name==x --quiet=maybe` and refuses it; v2 takes `--quiet=maybe` as an argument.
    expect(validateArgs(imagesList, ['images', 'list', 'name==x', '--quiet=maybe'])).toEqual([]);
    expect(validateArgs(legoList, ['list', 'x', '--names=maybe'])).toEqual([]);
    expect(validateArgs(legoList, ['list', '--names=maybe', 'x'])).toMatchObject([{ kind: 'bad-value' }]);
    // v1 moves `--` to the front of the rest: after it everything is an argument.
    expect(validateArgs(imagesList, ['images', 'list', '--=x', '--', 'y'])).toEqual([]);
  });
});
