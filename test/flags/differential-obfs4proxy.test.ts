import { goDifferentialSuite, goflagVerdict } from '../support/go-differential.js';

/** Go flag: Debian's obfs4proxy 0.0.14 given -version first, which prints and exits 0 once the flags parse. */
goDifferentialSuite({
  name: 'obfs4proxy 0.0.14',
  framework: 'goflag',
  command: 'obfs4proxy',
  fixture: 'help/obfs4proxy/0.0.14.txt',
  help: [['-h']],
  prefix: ['-version'],
  excluded: ['version', 'h', 'help'],
  oddities: [['-logLevel'], ['-enableLogging=1'], ['-h'], ['-help']],
  verdict: goflagVerdict,
});
