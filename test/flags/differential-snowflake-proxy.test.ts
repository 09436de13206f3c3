import { goDifferentialSuite, goflagVerdict } from '../support/go-differential.js';

/** Go flag: Debian's snowflake-proxy 2.5.1 given -version first, which prints and exits 0 once the flags parse. */
goDifferentialSuite({
  name: 'snowflake-proxy 2.5.1',
  framework: 'goflag',
  command: 'snowflake-proxy',
  fixture: 'help/snowflake-proxy/2.5.1.txt',
  help: [['-h']],
  prefix: ['-version'],
  excluded: ['version', 'h', 'help'],
  oddities: [['-capacity=-1'], ['-capacity', '0x10'], ['-summary-interval=5'], ['-nat-retest-interval', '1h30m']],
  verdict: goflagVerdict,
});
