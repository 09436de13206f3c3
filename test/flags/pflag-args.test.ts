import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseHelp, validateArgs } from '../../src/flags/frameworks/registry.js';
import { parsePflagHelp } from '../../src/flags/frameworks/pflag.js';
import { doubtfulPflagArgs } from '../../src/flags/frameworks/pflag-args.js';
import { fixtures } from '../support/paths.js';

const helm = parsePflagHelp(readFileSync(path.join(fixtures, 'help/helm/4.1.4/version.txt'), 'utf8'));
const kubectl = parsePflagHelp(readFileSync(path.join(fixtures, 'help/kubectl/1.35.2/version.txt'), 'utf8'));

describe('pflag/cobra help', () => {
  it('reads the cobra layout: command path, types, shorts, globals, allowed values', () => {
    // cobra accepts arguments unless the command sets an Args check, which the help never shows.
    expect(helm).toMatchObject({ framework: 'pflag', program: 'helm', subcommand: ['version'], acceptsPositionals: true });
    const byName = (name: string) => helm.flags.find((f) => f.name === name)!;
    expect(byName('short')).toMatchObject({ isBoolean: true, boolAcceptsValue: true, line: 30 });
    expect(byName('namespace')).toMatchObject({ short: 'n', isBoolean: false, valueType: 'string' });
    expect(byName('burst-limit')).toMatchObject({ valueType: 'int', defaultValue: '100' });
    expect(byName('kube-as-group')).toMatchObject({ valueType: 'stringArray', repeatable: true });
    // A global flag's allowed values are checked by the commands that use it, which the help cannot tell.
    expect(byName('color').enumValues).toBeUndefined();
    expect(helm.flags.filter((f) => !f.hidden)).toHaveLength(22);
  });

  it('reads kubectl\'s own layout, with its global options, typing flags by their defaults', () => {
    expect(kubectl).toMatchObject({ program: 'kubectl', subcommand: ['version'], acceptsPositionals: true });
    const byName = (name: string) => kubectl.flags.find((f) => f.name === name)!;
    expect(byName('client')).toMatchObject({ isBoolean: true });
    expect(byName('output')).toMatchObject({ short: 'o', enumValues: ['', 'yaml', 'json'] });
    expect(byName('v')).toMatchObject({ short: 'v', valueType: 'int' });
    expect(byName('log-flush-frequency')).toMatchObject({ valueType: 'duration' });
    expect(byName('as-group')).toMatchObject({ valueType: 'stringArray' });
    expect(byName('vmodule')).toMatchObject({ valueType: 'moduleSpec' });
  });

  it('is detected as pflag, and the kingpin help is not', () => {
    expect(parseHelp(readFileSync(path.join(fixtures, 'help/helm/4.1.4/version.txt'), 'utf8'))).toMatchObject({ ok: true, catalog: { framework: 'pflag' } });
    expect(parseHelp(readFileSync(path.join(fixtures, 'help/prometheus-alertmanager/0.25.0.txt'), 'utf8'))).toMatchObject({ ok: true, catalog: { framework: 'kingpin' } });
    expect(parseHelp(readFileSync(path.join(fixtures, 'external-dns/help-v0.19.0.txt'), 'utf8'))).toMatchObject({ ok: true, catalog: { framework: 'kingpin' } });
  });
});

describe('args as pflag and cobra parse them', () => {
  const problems = (args: string[], catalog = helm) => validateArgs(catalog, args);

  it('needs the subcommand the help describes', () => {
    expect(problems(['version', '--short'])).toEqual([]);
    expect(problems(['install', '--short'])[0]).toMatchObject({ kind: 'unexpected-positional', argIndex: 0 });
  });

  it('reports an unknown flag the way cobra does, with did-you-mean', () => {
    expect(problems(['version', '--shrot'])).toMatchObject([{ kind: 'unknown-flag', argIndex: 1, suggestion: '--short', binaryError: 'Error: unknown flag: --shrot' }]);
    expect(problems(['version', '-nkube-system', '-n=default'])).toEqual([]);
    expect(problems(['version', '-x'])).toMatchObject([{ kind: 'unknown-flag', binaryError: "Error: unknown shorthand flag: 'x' in -x" }]);
  });

  it('accepts =true/=false on booleans and refuses other values; a bare word after a boolean is an argument', () => {
    expect(problems(['version', '--short=false', '--debug=T'])).toEqual([]);
    expect(problems(['version', '--short=yes'])).toMatchObject([{ kind: 'bad-value', binaryError: 'Error: invalid argument "yes" for "--short" flag: strconv.ParseBool: parsing "yes": invalid syntax' }]);
    // `true` is an argument; only the command's own Args check (not in the help) could refuse it.
    expect(problems(['version', '--short', 'true'])).toEqual([]);
  });

  it('checks typed values and takes the next argument as a value even when it looks like a flag', () => {
    expect(problems(['version', '--burst-limit=ten'])).toMatchObject([{ kind: 'bad-value', flag: 'burst-limit' }]);
    expect(problems(['version', '--template', '--short'])).toEqual([]);
    expect(problems(['version', '--template'])).toMatchObject([{ kind: 'missing-value', binaryError: 'Error: flag needs an argument: --template' }]);
    expect(problems(['version', '-n'])).toMatchObject([{ kind: 'missing-value', binaryError: "Error: flag needs an argument: 'n' in -n" }]);
  });

  it('lets any flag repeat, and checks only the last value against the allowed ones', () => {
    expect(problems(['version', '--client', '-o', 'xml', '-o', 'json'], kubectl)).toEqual([]);
    expect(problems(['version', '--client', '-ojson', '--output=xml'], kubectl)).toMatchObject([{ kind: 'bad-enum', argIndex: 3, flag: 'output' }]);
  });

  it('reports bad flag syntax', () => {
    expect(problems(['version', '---x'])).toMatchObject([{ kind: 'unknown-flag', binaryError: 'Error: bad flag syntax: ---x' }]);
  });
});

describe('pflag/cobra layouts beyond helm and kubectl', () => {
  const read = (file: string) => {
    const outcome = parseHelp(readFileSync(path.join(fixtures, 'help', file), 'utf8'));
    if (!outcome.ok) throw new Error(outcome.reason);
    return outcome.catalog;
  };
  const restic = read('restic/0.14.0/version.txt');
  const gh = read('gh/2.23.0/completion.txt');
  const etcdctl = read('etcdctl/3.4.23/version.txt');
  const skopeo = read('skopeo/1.9.3/list-tags.txt');
  const rclone = read('rclone/1.60.1/version.txt');

  it('keeps a flag whose placeholder has brackets of its own (skopeo --creds USERNAME[:PASSWORD])', () => {
    expect(skopeo.flags.find((f) => f.name === 'creds')).toMatchObject({ takesValue: true, placeholder: 'USERNAME[:PASSWORD]' });
    expect(validateArgs(skopeo, ['list-tags', '--creds', 'me:pw', 'docker://x'])).toEqual([]);
  });

  it('reads counters: bare -v, -vvv, --verbose, -v=2 and --verbose=3 count; a word is refused', () => {
    const counter = rclone.flags.find((f) => f.name === 'verbose')!;
    expect(counter).toMatchObject({ short: 'v', optionalValue: true, valueType: 'count' });
    for (const args of [['-v'], ['-vvv'], ['--verbose'], ['-v=2'], ['--verbose=3'], ['-v', '--checkers=4'], ['-vq']]) expect(validateArgs(rclone, ['version', ...args])).toEqual([]);
    expect(validateArgs(rclone, ['version', '--verbose=x'])).toMatchObject([{ kind: 'bad-value', flag: 'verbose' }]);
    // restic names its counter's placeholder `n`; the help's "specify multiple times" tells it apart.
    expect(validateArgs(restic, ['version', '-v'])).toEqual([]);
    expect(validateArgs(restic, ['version', '-vvv', '--json'])).toEqual([]);
  });

  it('reads the global flags of rclone help flags, including its Backend Flags section', () => {
    expect(rclone.flags.some((f) => f.name === 's3-chunk-size')).toBe(true);
    expect(validateArgs(rclone, ['version', '--s3-chunk-size=16Mi', '--bwlimit', '10M'])).toEqual([]);
  });

  it("reads gh's template (USAGE / FLAGS / INHERITED FLAGS), whose enum flags refuse other values as they are set", () => {
    expect(gh).toMatchObject({ framework: 'pflag', program: 'gh', subcommand: ['completion'] });
    expect(gh.flags.find((f) => f.name === 'shell')).toMatchObject({ short: 's', enumValues: ['bash', 'zsh', 'fish', 'powershell'] });
    expect(validateArgs(gh, ['completion', '-s', 'fish', '--shell=bash'])).toEqual([]);
    expect(validateArgs(gh, ['completion', '--shell=bogus', '--shell=bash'])).toMatchObject([{ kind: 'bad-enum', argIndex: 1, binaryError: 'Error: invalid argument "bogus" for "-s, --shell" flag: valid values are {bash|zsh|fish|powershell}' }]);
    expect(validateArgs(gh, ['completion', '--shell=bogus', '--help'])).toMatchObject([{ kind: 'bad-enum' }]);
  });

  it("reads etcdctl's template (OPTIONS: / GLOBAL OPTIONS:, old pflag lines with tabs)", () => {
    expect(etcdctl).toMatchObject({ framework: 'pflag', program: 'etcdctl', subcommand: ['version'] });
    const byName = (name: string) => etcdctl.flags.find((f) => f.name === name)!;
    expect(byName('debug')).toMatchObject({ isBoolean: true, defaultValue: 'false' });
    expect(byName('insecure-transport')).toMatchObject({ isBoolean: true, defaultValue: 'true' });
    expect(byName('command-timeout')).toMatchObject({ valueType: 'duration' });
    expect(byName('write-out')).toMatchObject({ short: 'w', valueType: 'string', defaultValue: 'simple' });
    expect(validateArgs(etcdctl, ['version', '--dial-timeout=5'])).toMatchObject([{ kind: 'bad-value', flag: 'dial-timeout' }]);
    expect(validateArgs(etcdctl, ['version', '--debg'])).toMatchObject([{ kind: 'unknown-flag', suggestion: '--debug' }]);
  });

  it('leaves the allowed values of inherited flags to the commands that use them (etcdctl version ignores -w)', () => {
    expect(etcdctl.flags.find((f) => f.name === 'write-out')!.enumValues).toBeUndefined();
    expect(validateArgs(etcdctl, ['version', '-w', 'yaml'])).toEqual([]);
  });

  it('accepts positionals where the usage line shows none: cobra refuses them only through an Args check the help does not print', () => {
    expect(validateArgs(restic, ['version', 'extra'])).toEqual([]);
    expect(validateArgs(gh, ['completion', '-s', 'bash', 'extra'])).toEqual([]);
    expect(validateArgs(restic, ['backup', '--json'])).toMatchObject([{ kind: 'unexpected-positional' }]);
  });

  it('says (for a warning) which arguments only a check the help does not print could refuse', () => {
    expect(doubtfulPflagArgs(helm, ['version', '--short', 'true'])).toEqual(['"true" is an argument of "helm version", whose usage line shows none; cobra accepts arguments unless the command checks them itself (then it refuses to start), which its --help does not print']);
    expect(doubtfulPflagArgs(helm, ['version', '--template', 'x', '-n', 'ns', '--short'])).toEqual([]);
    expect(doubtfulPflagArgs(restic, ['version', '-v', '--', 'a', 'b'])).toHaveLength(1);
    // skopeo's usage line names its argument: nothing to say.
    expect(doubtfulPflagArgs(skopeo, ['list-tags', 'docker://x'])).toEqual([]);
  });
});
