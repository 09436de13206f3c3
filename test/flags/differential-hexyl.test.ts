import { clapDifferentialSuite } from '../support/clap-differential.js';

/** clap 2: hexyl 0.8 (Debian hexyl, clap 2.34), dumping the empty /dev/null or stdin. */
clapDifferentialSuite({
  command: 'hexyl',
  fixture: 'help/hexyl/0.8.0.txt',
  excluded: ['help', 'version'],
  values: { length: '4', bytes: '4', skip: '0', 'block-size': '512', 'display-offset': '2', color: 'never', border: 'none' },
  // A bad value given before a good one: ripgrep (clap 2 too) drops it as the option overrides itself, hexyl refuses it.
  unknowable: [/isn't a valid value for/],
  positionals: [[], ['/dev/null']],
  oddities: [['-vv'], ['--border', 'bogus'], ['-n']],
});
