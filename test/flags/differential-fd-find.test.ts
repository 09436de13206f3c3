import { clapDifferentialSuite } from '../support/clap-differential.js';

/**
 * clap 4: fd 8.6 (Debian fd-find, clap 4.0). It runs in an empty directory, so an accepted list
 * finds nothing and exits at once. Left out: --exec/--exec-batch (they take the rest up to `;`).
 */
clapDifferentialSuite({
  command: 'fdfind',
  fixture: 'help/fd-find/8.6.0.txt',
  excluded: ['help', 'version', 'exec', 'exec-batch'],
  values: { size: '+1k', 'changed-within': '1d', 'changed-before': '1d', owner: 'root', type: 'f', extension: 'rs', exclude: '*.x', and: 'x', color: 'never', threads: '2', 'max-results': '3', 'batch-size': '2', 'ignore-file': '/dev/null', 'base-directory': '.', 'search-path': '.', 'path-separator': '/' },
  // --type's values are printed as prose ('f' or 'file'); --batch-size requires --exec-batch.
  unknowable: [/isn't a valid value for '--type/, /required arguments were not provided:\s+--exec/],
  positionals: [[], ['x'], ['x', '.']],
  oddities: [['--no-hidden'], ['--ignore'], ['-uu'], ['-1'], ['--color', 'bogus'], ['-t', 'bogus'], ['--max-depth', 'three']],
});
