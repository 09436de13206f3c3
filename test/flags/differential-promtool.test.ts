import { goDifferentialSuite, kingpinVerdict } from '../support/go-differential.js';

/**
 * kingpin with commands: Debian's promtool 2.42.0 (package prometheus). The top-level help lists
 * the commands (the first argument must name one; what follows belongs to the command); the help
 * of `promtool check config` lists every flag and the required <config-files>.
 */
goDifferentialSuite({
  name: 'promtool 2.42.0',
  framework: 'kingpin',
  command: 'promtool',
  fixture: 'help/promtool/2.42.0/top.txt',
  help: [['--help']],
  // `check metrics` lints stdin (empty: exit 0); `help` prints; the others are not commands. A
  // command's own flags are not in this help (`check metrics --bogus` passes): capture its help.
  suffix: [['check', 'metrics'], ['help'], ['chek', 'config'], ['check', 'metrcs'], ['query']],
  excluded: ['help', 'version'],
  values: { 'enable-feature': 'promql-at-modifier' },
  verdict: kingpinVerdict('promtool'),
});

goDifferentialSuite({
  name: 'promtool 2.42.0 check config',
  framework: 'kingpin',
  command: 'promtool',
  fixture: 'help/promtool/2.42.0/check-config.txt',
  help: [['check', 'config', '--help']],
  prefix: ['check', 'config'],
  suffix: [['/dev/null'], [], ['/dev/null', '/dev/null']],
  excluded: ['help', 'version'],
  values: { 'enable-feature': 'promql-at-modifier', lint: 'none' },
  verdict: kingpinVerdict('promtool'),
});
