import { goDifferentialSuite, urfaveVerdict } from '../support/go-differential.js';

/** urfave/cli v1 with command categories: Debian's umoci 0.4.7; each list of global options ends with a command. */
goDifferentialSuite({
  name: 'umoci 0.4.7',
  framework: 'urfave',
  command: 'umoci',
  fixture: 'help/umoci/0.4.7.txt',
  help: [['--help']],
  suffix: [['help'], ['list', '--help'], ['lsit'], ['config', '--help']],
  excluded: ['help', 'h', 'version', 'v'],
  values: { log: 'info' },
  oddities: [['--help'], ['--log', 'bogus']],
  verdict: urfaveVerdict,
});
