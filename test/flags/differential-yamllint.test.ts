import { argparseDifferentialSuite } from '../support/argparse-differential.js';

/**
 * argparse: yamllint 1.29 (Debian yamllint, Python 3.11), linting /dev/null or the empty stdin.
 * Its `-` option and FILE_OR_DIR form a required group that argparse prints as two optional items.
 */
// yamllint starts in about half a second: 40 lists by default (GUARD_DIFFERENTIAL_SAMPLES for more).
argparseDifferentialSuite({
  command: ['yamllint'],
  fixture: 'help/yamllint/1.29.0.txt',
  excluded: ['help', 'version'],
  values: { 'config-data': 'relaxed', 'config-file': '/dev/null', format: 'parsable' },
  positionals: [[], ['/dev/null'], ['/dev/null', '/dev/null'], ['-']],
  oddities: [['-', '/dev/null'], ['-s', '-', '-s'], ['--list-files', '/dev/null']],
  // The required group [-] | FILE_OR_DIR: the usage prints both as optional.
  unknowable: [/one of the arguments FILE_OR_DIR - is required/, /not allowed with argument (-|FILE_OR_DIR)$/m],
}, 40);
