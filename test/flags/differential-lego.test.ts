import { goDifferentialSuite, urfaveVerdict } from '../support/go-differential.js';

/** urfave/cli v2: Debian's lego 4.9.1; each list of global options ends with a command (`dnshelp` prints and exits 0). */
goDifferentialSuite({
  name: 'lego 4.9.1',
  framework: 'urfave',
  command: 'lego',
  fixture: 'help/lego/4.9.1.txt',
  help: [['--help']],
  suffix: [['dnshelp'], ['help'], ['lsit']],
  excluded: ['help', 'h', 'version', 'v'],
  values: { 'http-timeout': '10', 'dns-timeout': '10', 'cert.timeout': '30', 'key-type': 'rsa2048' },
  oddities: [['--help'], ['-v'], ['--http-timeout=abc'], ['-d', 'a', '-d', 'b']],
  verdict: urfaveVerdict,
});

/** urfave/cli v2 command help: `lego list` (an empty --path: "No certificates found.", exit 0). */
goDifferentialSuite({
  name: 'lego 4.9.1 list',
  framework: 'urfave',
  command: 'lego',
  fixture: 'help/lego/4.9.1/list.txt',
  help: [['list', '--help']],
  prefix: ['--path', 'certs', 'list'],
  excluded: ['help', 'h'],
  oddities: [['-a', '-n'], ['--accounts=maybe'], ['-an'], ['--help'], ['--names', 'x']],
  verdict: urfaveVerdict,
});
