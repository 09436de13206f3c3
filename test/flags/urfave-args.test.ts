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
