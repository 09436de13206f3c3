import { execa } from 'execa';
import { readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { printAndExitFlag } from '../../src/flags/exits-at-start.js';
import { parseHelp } from '../../src/flags/frameworks/registry.js';
import { externalDnsData, fixtures } from '../support/paths.js';

function catalogOf(file: string) {
  const parsed = parseHelp(readFileSync(file, 'utf8'));
  if (!parsed.ok) throw new Error(parsed.reason);
  return parsed.catalog;
}

const externalDns = catalogOf(path.join(externalDnsData, 'help-v0.19.0.txt'));

describe('flags that print and exit 0 at start', () => {
  it('finds --version, --help and kingpin\'s hidden help flags, not their negations or =false', () => {
    expect(printAndExitFlag(externalDns, ['--source=service', '--version'])).toMatchObject({ index: 1, what: 'version' });
    expect(printAndExitFlag(externalDns, ['--help'])).toMatchObject({ what: 'help' });
    expect(printAndExitFlag(externalDns, ['--help-man'])).toMatchObject({ what: 'help' });
    expect(printAndExitFlag(externalDns, ['--completion-script-bash'])).toMatchObject({ what: 'completion' });
    expect(printAndExitFlag(externalDns, ['--no-version', '--no-help'])).toBeUndefined();
    expect(printAndExitFlag(externalDns, ['--', '--version'])).toBeUndefined();
    expect(printAndExitFlag(externalDns, ['--source=service', '--provider=aws'])).toBeUndefined();
  });

  it('does not take a value that happens to read --help for the flag', () => {
    expect(printAndExitFlag(externalDns, ['--txt-owner-id', '--help'])).toBeUndefined();
  });

  it('ignores a value flag merely named version (an API version, not a switch)', () => {
    const catalog = { ...externalDns, flags: [...externalDns.flags.filter((f) => f.name !== 'version'), { ...externalDns.flags.find((f) => f.name === 'server')!, name: 'version' }] };
    expect(printAndExitFlag(catalog, ['--version=v2'])).toBeUndefined();
  });

  /** Each real binary, given the flag, prints and exits 0, and the guard says so from its help alone. */
  const REAL: Array<[string, string, string[], string[]]> = [
    ['clap (ripgrep)', 'help/ripgrep/13.0.0.txt', ['rg'], ['-V']],
    ['clap (ripgrep)', 'help/ripgrep/13.0.0.txt', ['rg'], ['--help']],
    ['goflag (etcd)', 'help/etcd/3.4.23.txt', ['etcd'], ['--version']],
    ['goflag (snowflake-client)', 'help/snowflake-client/2.5.1.txt', ['snowflake-client'], ['-h']],
    ['urfave (runc)', 'help/runc/1.1.5.txt', ['runc'], ['-v']],
    ['kingpin (alertmanager)', 'help/prometheus-alertmanager/0.25.0.txt', ['prometheus-alertmanager'], ['--version']],
    ['argparse (calendar)', 'help/python3-calendar/3.11.2.txt', ['python3', '-m', 'calendar'], ['-h']],
    ['pflag (kubectl version)', 'help/kubectl/1.35.2/version.txt', ['kubectl', 'version'], ['--help']],
  ];
  it.each(REAL)('%s: %s %j exits 0 and is found', async (_name, help, command, args) => {
    const catalog = catalogOf(path.join(fixtures, help));
    expect(printAndExitFlag(catalog, args)).toMatchObject({ index: 0, flag: args[0] });
    const result = await execa(command[0]!, [...command.slice(1), ...args], { reject: false, timeout: 20_000, cwd: os.tmpdir(), env: { HOME: os.tmpdir(), PATH: process.env.PATH ?? '', KUBECONFIG: '/dev/null' }, extendEnv: false, stdin: 'ignore' });
    expect(result.exitCode).toBe(0);
  }, 30_000);
});
