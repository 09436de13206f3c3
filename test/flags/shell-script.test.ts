import { execa } from 'execa';
import fc from 'fast-check';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { shellInvocation, splitPlainCommand } from '../../src/flags/shell-script.js';

describe('sh -c scripts the guard reads word by word', () => {
  it('reads `exec BIN args` and `BIN args` with quotes and backslashes', () => {
    expect(splitPlainCommand('exec external-dns --source=service --provider="cloud flare"')).toEqual({ program: 'external-dns', args: ['--source=service', '--provider=cloud flare'] });
    expect(splitPlainCommand("  /usr/bin/external-dns '--a=b c' --d\\ e\n")).toEqual({ program: '/usr/bin/external-dns', args: ['--a=b c', '--d e'] });
    expect(splitPlainCommand('x "a\\"b" \'\' ""')).toEqual({ program: 'x', args: ['a"b', '', ''] });
    expect(splitPlainCommand('x a\\\nb')).toEqual({ program: 'x', args: ['ab'] });
  });

  it('reads the last command of a plain sequence: set -e, cd, comments, continuation lines', () => {
    expect(splitPlainCommand('set -eu; exec x --a')).toEqual({ program: 'x', args: ['--a'] });
    expect(splitPlainCommand('cd /data && x --a # start it')).toEqual({ program: 'x', args: ['--a'] });
    expect(splitPlainCommand('# run\nset -ex\nexec x \\\n  --a \\\n  --b\n')).toEqual({ program: 'x', args: ['--a', '--b'] });
    expect(splitPlainCommand('set -o pipefail; x')).toMatchObject({ reason: expect.stringMatching(/set/) });
    expect(splitPlainCommand('x --a\r')).toEqual({ program: 'x', args: ['--a\r'] });
  });

  it.each([
    ['x --a=$VALUE', /shell syntax "\$"/],
    ['x "--a=${VALUE}"', /expansion/],
    ['x `id`', /shell syntax/],
    ['x || y', /shell syntax "\|"/],
    ['x & y', /shell syntax "&"/],
    ['; x', /shell syntax ";"/],
    ['export EXTERNAL_DNS_SOURCE=service; exec x', /export/],
    ['. /env; exec x', /builtin \./],
    ['set -a; exec x', /set -a/],
    ['set -- a b; exec x', /set` with arguments/],
    ['exec y; x', /builtin exec/],
    ['exit 0\nx', /builtin exit/],
    ['x | y', /shell syntax "\|"/],
    ['x > /tmp/log', /shell syntax ">"/],
    ['x *.yaml', /shell syntax "\*"/],
    ['FOO=bar x', /assignment/],
    ['x ~/conf', /~ expansion/],
    ['echo hello', /builtin echo/],
    ['exec -a name x', /exec option/],
    ['x "unterminated', /unterminated/],
    ['', /no command/],
  ])('refuses %j as complex', (script, reason) => {
    expect(splitPlainCommand(script)).toMatchObject({ reason: expect.stringMatching(reason) });
  });

  it('joins command and args as the kubelet does and finds the script after -c, -ec, busybox sh', () => {
    expect(shellInvocation(['/bin/sh', '-c'], ['exec x --a'])).toMatchObject({ kind: 'simple', program: 'x', args: ['--a'] });
    expect(shellInvocation(['bash', '-ec', 'x --a', 'ignored-$0'], undefined)).toMatchObject({ kind: 'simple', args: ['--a'] });
    expect(shellInvocation(['busybox', 'sh', '-c', 'x'], undefined)).toMatchObject({ kind: 'simple', program: 'x', args: [] });
    expect(shellInvocation(['sh', '/entrypoint.sh'], undefined)).toMatchObject({ kind: 'complex', reason: expect.stringMatching(/script file/) });
    expect(shellInvocation(['bash', '-o', 'pipefail', '-c', 'x'], undefined)).toMatchObject({ kind: 'complex' });
    expect(shellInvocation(['sh'], undefined)).toMatchObject({ kind: 'complex', reason: expect.stringMatching(/standard input/) });
    expect(shellInvocation(['external-dns'], ['--a'])).toBeUndefined();
    expect(shellInvocation(undefined, ['sh', '-c', 'x'])).toBeUndefined();
  });
});

describe('the splitter against real shells', () => {
  let bin: string;
  beforeAll(async () => {
    bin = await fs.mkdtemp(path.join(os.tmpdir(), 'guard-shell-'));
    // A stand-in binary that prints the words it received, NUL-separated.
    await fs.writeFile(path.join(bin, 'probe'), '#!/bin/sh\nfor word in "$@"; do printf \'%s\\0\' "$word"; done\n', { mode: 0o755 });
  });
  afterAll(async () => fs.rm(bin, { recursive: true, force: true }));

  const piece = fc.oneof(
    fc.constantFrom('--a=b', '-x', 'plain', '"double quoted"', "'single quoted'", '"a\\"b"', '"back\\\\slash"', '"keep\\n"', "'\\'", 'a\\ b', '\\"', "''", '""', 'c"d"e', "f'g'h", '--opt="x y"', '"tab\there"'),
    fc.stringMatching(/^[A-Za-z0-9_=.,:\/+@%-]{1,8}$/),
  );
  const before = fc.array(fc.tuple(fc.constantFrom('set -e', 'cd /', 'true', ': noop "x y"', '# a comment', 'set -eu', ''), fc.constantFrom('; ', ' && ', '\n', ' ;\n')), { maxLength: 3 })
    .map((parts) => parts.map(([command, separator]) => (command.startsWith('#') ? `${command}\n` : command === '' ? '' : `${command}${separator}`)).join(''));
  const script = fc.tuple(before, fc.boolean(), fc.array(piece, { maxLength: 6 }), fc.constantFrom(' ', '  ', '\t', ' \\\n  ')).map(([prefix, exec, words, gap]) => `${prefix}${exec ? 'exec ' : ''}probe${gap}${words.join(gap)}`);

  it.each(['/bin/sh', '/bin/bash'])('splits every generated plain script into the words %s passes to its last program', async (shell) => {
    const samples = fc.sample(script, { numRuns: 200, seed: 20261129 });
    const disagreements: string[] = [];
    for (let i = 0; i < samples.length; i += 5) {
      const batch = samples.slice(i, i + 5);
      const outputs = await Promise.all(batch.map((text) => execa(shell, ['-c', text], { reject: false, env: { PATH: `${bin}:/usr/bin:/bin` }, extendEnv: false, stripFinalNewline: false })));
      batch.forEach((text, j) => {
        const split = splitPlainCommand(text);
        const words = outputs[j]!.stdout === '' ? [] : outputs[j]!.stdout.split('\0').slice(0, -1);
        if (!('program' in split) || split.program !== 'probe' || JSON.stringify(split.args) !== JSON.stringify(words)) {
          disagreements.push(`${JSON.stringify(text)}: ${shell} ${JSON.stringify(words)}, guard ${JSON.stringify(split)}`);
        }
      });
    }
    console.log(`shell splitter: ${samples.length - disagreements.length}/${samples.length} agree with ${shell}`);
    expect(disagreements).toEqual([]);
  }, 120_000);
});
