import { argparseDifferentialSuite } from '../support/argparse-differential.js';

/** argparse: `python3 -m gzip` (Debian python3.11): `[--fast | --best | -d] [file ...]`, over files that do not exist. */
// Python starts in tens of milliseconds, slower on a busy runner: 80 lists by default (GUARD_DIFFERENTIAL_SAMPLES for more).
argparseDifferentialSuite({
  command: ['/usr/bin/python3', '-m', 'gzip'],
  fixture: 'help/python3-gzip/3.11.2.txt',
  excluded: ['help'],
  positionals: [[], ['missing-a'], ['missing-a', 'missing-b']],
  oddities: [['missing-a', '--bogus'], ['missing-a', '--fast', 'missing-b'], ['--fast', '--best'], ['-d', '--dec']],
}, 80);
