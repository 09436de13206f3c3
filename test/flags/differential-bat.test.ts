import { clapDifferentialSuite } from '../support/clap-differential.js';

/** clap 3: bat 0.22 (Debian bat, clap 3.2), printing the empty /dev/null or stdin. */
clapDifferentialSuite({
  command: 'batcat',
  fixture: 'help/bat/0.22.1.txt',
  excluded: ['help', 'version', 'list-themes', 'list-languages', 'diagnostic', 'acknowledgements'],
  values: { language: 'rs', 'highlight-line': '3', 'file-name': 'x', 'diff-context': '3', tabs: '4', wrap: 'never', 'terminal-width': '80', color: 'never', 'italic-text': 'never', decorations: 'never', paging: 'never', pager: 'cat', 'map-syntax': '*.x:Rust', 'ignored-suffix': '.bak', theme: 'ansi', style: 'plain', 'line-range': '1:2' },
  // --wrap's values are printed in parentheses, not as a list.
  unknowable: [/isn't a valid value for '--wrap/],
  positionals: [[], ['/dev/null']],
  oddities: [['-pp'], ['--paging', 'bogus'], ['--wrap=bogus'], ['-P']],
});
