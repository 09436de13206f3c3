import { cobraVerdict, goDifferentialSuite } from '../support/go-differential.js';

/** cobra: Debian's restic 0.14.0 run with `version`, which prints and exits 0 once its flags parse (a counter, -v). */
goDifferentialSuite({
  name: 'restic 0.14.0 version',
  framework: 'pflag',
  command: 'restic',
  fixture: 'help/restic/0.14.0/version.txt',
  help: [['version', '--help']],
  prefix: ['version'],
  excluded: ['help'],
  values: { verbose: '2', compression: 'max', option: 'a=b' },
  oddities: [['-v'], ['-vvv'], ['--verbose'], ['--verbose=3'], ['-v=2'], ['-v', '3'], ['-vq'], ['--compression=bogus']],
  verdict: cobraVerdict,
});
