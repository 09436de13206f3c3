import { clapDifferentialSuite } from '../support/clap-differential.js';

/**
 * clap 2: sd 0.7.6 (Debian sd, clap 2.34 through structopt): `sd FIND REPLACE [FILES]...` reads
 * the empty stdin, or names a file that does not exist (never one it could rewrite).
 */
clapDifferentialSuite({
  command: 'sd',
  fixture: 'help/sd/0.7.6.txt',
  excluded: ['help', 'version'],
  values: { flags: 'i' },
  positionals: [[], ['a'], ['a', 'b'], ['a', 'b', 'missing.txt']],
  oddities: [['-pp'], ['-sp']],
});
