import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseHelp, validateArgs } from '../../src/flags/frameworks/registry.js';
import { parsePflagHelp } from '../../src/flags/frameworks/pflag.js';
import { fixtures } from '../support/paths.js';

const helm = parsePflagHelp(readFileSync(path.join(fixtures, 'help/helm/4.1.4/version.txt'), 'utf8'));
const kubectl = parsePflagHelp(readFileSync(path.join(fixtures, 'help/kubectl/1.35.2/version.txt'), 'utf8'));

describe('pflag/cobra help', () => {
  it('reads the cobra layout: command path, types, shorts, globals, allowed values', () => {
    expect(helm).toMatchObject({ framework: 'pflag', program: 'helm', subcommand: ['version'], acceptsPositionals: false });
    const byName = (name: string) => helm.flags.find((f) => f.name === name)!;
    expect(byName('short')).toMatchObject({ isBoolean: true, boolAcceptsValue: true, line: 30 });
    expect(byName('namespace')).toMatchObject({ short: 'n', isBoolean: false, valueType: 'string' });
    expect(byName('burst-limit')).toMatchObject({ valueType: 'int', defaultValue: '100' });
    expect(byName('kube-as-group')).toMatchObject({ valueType: 'stringArray', repeatable: true });
    expect(byName('color').enumValues).toEqual(['never', 'auto', 'always']);
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
    expect(problems(['version', '--short', 'true'])).toMatchObject([{ kind: 'unexpected-positional', argIndex: 2, binaryError: 'Error: "helm version" accepts no arguments' }]);
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
