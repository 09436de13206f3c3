import { clapDifferentialSuite } from '../support/clap-differential.js';

/** clap 3: tealdeer 1.5 (Debian tealdeer, clap 3.2), with an empty HOME: no cache, so it exits at once. */
clapDifferentialSuite({
  command: 'tldr',
  fixture: 'help/tealdeer/1.5.0.txt',
  // -v is --version here; --update downloads; --pager waits for a pager.
  excluded: ['help', 'version', 'update', 'pager'],
  values: { render: '/dev/null', platform: 'linux', language: 'en', color: 'never' },
  // `-l`/`-r`... require one another in ways the help does not print.
  unknowable: [/required arguments were not provided/],
  positionals: [[], ['tar'], ['git', 'log']],
  oddities: [['--platform', 'bogus'], ['-o']],
});
