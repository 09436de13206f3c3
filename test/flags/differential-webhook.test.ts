import { goDifferentialSuite, goflagVerdict } from '../support/go-differential.js';

/** Go flag: Debian's webhook 2.8.0 given -version first, which prints and exits 0 once the flags parse. */
goDifferentialSuite({
  name: 'webhook 2.8.0',
  framework: 'goflag',
  command: 'webhook',
  fixture: 'help/webhook/2.8.0.txt',
  help: [['-h']],
  prefix: ['-version'],
  excluded: ['version', 'h', 'help', 'list-cipher-suites'],
  values: { header: 'a=b' },
  oddities: [['-port=http'], ['-setuid', '-1'], ['-max-multipart-mem=1e6']],
  verdict: goflagVerdict,
});
