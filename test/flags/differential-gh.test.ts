import { cobraVerdict, goDifferentialSuite } from '../support/go-differential.js';

/** cobra with gh's own template (USAGE / FLAGS / INHERITED FLAGS): Debian's gh 2.23.0 `completion`, which prints a script and exits 0. */
goDifferentialSuite({
  name: 'gh 2.23.0 completion',
  framework: 'pflag',
  command: 'gh',
  fixture: 'help/gh/2.23.0/completion.txt',
  help: [['completion', '--help']],
  prefix: ['completion'],
  excluded: ['help'],
  values: { shell: 'bash' },
  oddities: [['-s', 'zsh'], ['--shell=bogus'], ['-sfish'], ['--shell', 'fish', 'extra']],
  // gh takes ~0.2 s to start: fewer lists keep the test fast.
  samples: 80,
  verdict: cobraVerdict,
});
