import { clapDifferentialSuite } from '../support/clap-differential.js';

/** clap 4: rsass 0.27 (Debian rsass, clap 4.0), compiling the empty /dev/null; <INPUT>... is required. */
clapDifferentialSuite({
  command: 'rsass',
  fixture: 'help/rsass/0.27.0.txt',
  excluded: ['help', 'version'],
  values: { precision: '3', style: 'compressed', 'load-path': '.' },
  positionals: [[], ['/dev/null'], ['/dev/null', '/dev/null']],
  oddities: [['--style', 'bogus'], ['-t', 'nested'], ['--precision', 'x']],
});
