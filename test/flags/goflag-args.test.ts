import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseGoflagHelp } from '../../src/flags/frameworks/goflag.js';
import { parseHelp, validateArgs } from '../../src/flags/frameworks/registry.js';
import { fixtures } from '../support/paths.js';

const read = (file: string) => readFileSync(path.join(fixtures, 'help', file), 'utf8');
const snowflake = parseGoflagHelp(read('snowflake-client/2.5.1.txt'));
const etcd = parseGoflagHelp(read('etcd/3.4.23.txt'));

describe("Go's flag package help", () => {
  it('reads flag.PrintDefaults: types, booleans, defaults', () => {
    expect(snowflake).toMatchObject({ framework: 'goflag', program: 'snowflake-client', acceptsPositionals: true });
    expect(snowflake.flags.find((f) => f.name === 'max')).toMatchObject({ valueType: 'int', defaultValue: '1', line: 18 });
    expect(snowflake.flags.find((f) => f.name === 'unsafe-logging')).toMatchObject({ isBoolean: true });
    expect(snowflake.flags.find((f) => f.name === 'keepLocalAddresses')).toMatchObject({ deprecated: true });
  });

  it("reads etcd's own layout, with types from its defaults and the flags only its usage block names", () => {
    expect(etcd).toMatchObject({ program: 'etcd', acceptsPositionals: false });
    const byName = (name: string) => etcd.flags.find((f) => f.name === name)!;
    expect(byName('snapshot-count')).toMatchObject({ valueType: 'uint64', defaultValue: '100000' });
    expect(byName('enable-v2')).toMatchObject({ isBoolean: true });
    expect(byName('grpc-keepalive-min-time')).toMatchObject({ valueType: 'duration' });
    expect(byName('max-concurrent-streams')).toMatchObject({ valueType: 'uint32' });
    expect(byName('version')).toMatchObject({ isBoolean: true });
    expect(byName('config-file')).toMatchObject({ takesValue: true });
  });

  it('is detected as goflag', () => {
    expect(parseHelp(read('etcd/3.4.23.txt'))).toMatchObject({ ok: true, catalog: { framework: 'goflag' } });
    expect(parseHelp(read('snowflake-client/2.5.1.txt'))).toMatchObject({ ok: true, catalog: { framework: 'goflag' } });
  });
});

describe('args as flag.Parse reads them', () => {
  it('takes one or two dashes, =value or the next argument', () => {
    expect(validateArgs(etcd, ['-name', 'a', '--snapshot-count=5', '--data-dir', '/var/lib/etcd'])).toEqual([]);
  });

  it('reports an unknown flag as flag does, with did-you-mean', () => {
    expect(validateArgs(etcd, ['--snapshot-cout=5'])).toMatchObject([{ kind: 'unknown-flag', argIndex: 0, suggestion: '-snapshot-count', binaryError: 'flag provided but not defined: -snapshot-cout' }]);
  });

  it('stops at the first argument that is not a flag: the rest is the program\'s', () => {
    expect(validateArgs(snowflake, ['stray', '--not-a-flag'])).toEqual([]);
    expect(validateArgs(etcd, ['stray'])).toMatchObject([{ kind: 'unexpected-positional', binaryError: "'stray' is not a valid flag" }]);
    expect(validateArgs(etcd, ['--enable-v2', 'true'])).toMatchObject([{ kind: 'unexpected-positional', argIndex: 1 }]);
  });

  it('checks boolean and typed values', () => {
    expect(validateArgs(etcd, ['--enable-v2=maybe'])).toMatchObject([{ kind: 'bad-value', binaryError: 'invalid boolean value "maybe" for -enable-v2: parse error' }]);
    expect(validateArgs(etcd, ['--snapshot-count=-1'])).toMatchObject([{ kind: 'bad-value', binaryError: 'invalid value "-1" for flag -snapshot-count: parse error' }]);
    expect(validateArgs(etcd, ['--grpc-keepalive-min-time=5'])).toMatchObject([{ kind: 'bad-value' }]);
    expect(validateArgs(etcd, ['--name'])).toMatchObject([{ kind: 'missing-value', binaryError: 'flag needs an argument: -name' }]);
  });
});

describe("Go's flag package behind a header of the program's own", () => {
  const mtailText = read('mtail/3.0.0-rc50.txt');

  it("reads flag.PrintDefaults' lines under a custom header (mtail: a version line, then \"Usage:\")", () => {
    const outcome = parseHelp(mtailText);
    expect(outcome).toMatchObject({ ok: true, catalog: { framework: 'goflag', program: 'mtail', acceptsPositionals: true } });
    if (!outcome.ok) return;
    const byName = (name: string) => outcome.catalog.flags.find((f) => f.name === name)!;
    expect(byName('port')).toMatchObject({ valueType: 'string', defaultValue: '3903' });
    expect(byName('poll_interval')).toMatchObject({ valueType: 'duration' });
    expect(byName('one_shot')).toMatchObject({ isBoolean: true });
    expect(validateArgs(outcome.catalog, ['-poll_interval=5'])).toMatchObject([{ kind: 'bad-value', flag: 'poll_interval' }]);
  });

  it('types the flags glog registers, whose values it checks while parsing (-v, -vmodule, -stderrthreshold, -log_backtrace_at)', () => {
    const mtail = parseGoflagHelp(mtailText);
    expect(validateArgs(mtail, ['-v=2', '-vmodule=main=2', '-stderrthreshold=error', '-log_backtrace_at=main.go:10'])).toEqual([]);
    expect(validateArgs(mtail, ['-log_backtrace_at='])).toEqual([]);
    for (const bad of [['-v=loud'], ['-vmodule=main'], ['-stderrthreshold=LOUD'], ['-log_backtrace_at=main.go']]) {
      expect(validateArgs(mtail, bad)).toMatchObject([{ kind: 'bad-value' }]);
    }
  });

  it('reads a header printed on stdout and the defaults on stderr, in either order of capture', () => {
    const header = 'Usage:\n  proxy [options] <upstream>\n\nOptions:\n';
    const defaults = '  -listen string\n    \tlisten address (default ":8080")\n  -verbose\n    \tlog more\n';
    for (const text of [header + defaults, defaults + header]) {
      const outcome = parseHelp(text);
      expect(outcome).toMatchObject({ ok: true, catalog: { framework: 'goflag', acceptsPositionals: true } });
      if (!outcome.ok) return;
      expect(outcome.catalog.flags.filter((f) => !f.hidden).map((f) => f.name)).toEqual(['listen', 'verbose']);
      expect(validateArgs(outcome.catalog, ['-listen', ':9090', '-verbose', 'upstream:80'])).toEqual([]);
      expect(validateArgs(outcome.catalog, ['-lsten=:9090'])).toMatchObject([{ kind: 'unknown-flag', suggestion: '-listen' }]);
    }
  });
});
