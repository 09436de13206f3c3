import { cobraVerdict, goDifferentialSuite } from '../support/go-differential.js';

/** cobra with its own template (NAME / OPTIONS / GLOBAL OPTIONS): Debian's etcdctl 3.4.23 run with `version`. */
goDifferentialSuite({
  name: 'etcdctl 3.4.23 version',
  framework: 'pflag',
  command: 'etcdctl',
  fixture: 'help/etcdctl/3.4.23/version.txt',
  help: [['version', '--help']],
  prefix: ['version'],
  excluded: ['help'],
  values: { 'write-out': 'json', endpoints: '127.0.0.1:2379' },
  oddities: [['--debug=false'], ['--hex', 'x'], ['-w', 'yaml'], ['--insecure-transport=false']],
  verdict: cobraVerdict,
});
