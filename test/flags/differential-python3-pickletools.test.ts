import { argparseDifferentialSuite } from '../support/argparse-differential.js';

/** argparse: `python3 -m pickletools` (Debian python3.11), reading the empty /dev/null (no pickle in it: exit 1). */
// Python starts in tens of milliseconds, slower on a busy runner: 80 lists by default (GUARD_DIFFERENTIAL_SAMPLES for more).
argparseDifferentialSuite({
  command: ['/usr/bin/python3', '-m', 'pickletools'],
  fixture: 'help/python3-pickletools/3.11.2.txt',
  // --test runs the module's self-test suite.
  excluded: ['help', 'test'],
  values: { output: '/dev/null', indentlevel: '2', preamble: 'x' },
  positionals: [[], ['/dev/null'], ['/dev/null', '/dev/null']],
  oddities: [['-vv'], ['/dev/null', '-m', '/dev/null'], ['-l', '-1']],
}, 80);
