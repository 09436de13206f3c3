import { argparseDifferentialSuite } from '../support/argparse-differential.js';

/** argparse: `python3 -m ast` (Debian python3.11), parsing the empty stdin or /dev/null. */
// Python starts in tens of milliseconds, slower on a busy runner: 80 lists by default (GUARD_DIFFERENTIAL_SAMPLES for more).
argparseDifferentialSuite({
  command: ['/usr/bin/python3', '-m', 'ast'],
  fixture: 'help/python3-ast/3.11.2.txt',
  excluded: ['help'],
  values: { mode: 'exec', indent: '2' },
  positionals: [[], ['/dev/null']],
  oddities: [['-m', 'bogus'], ['-ai2'], ['-i', '-3']],
}, 80);
