import { goDifferentialSuite, kingpinVerdict } from '../support/go-differential.js';

/** kingpin: Debian's prometheus-pushgateway 1.5.1, made to stop at once by a listen address with no valid port. */
goDifferentialSuite({
  name: 'prometheus-pushgateway 1.5.1',
  framework: 'kingpin',
  command: 'prometheus-pushgateway',
  fixture: 'help/prometheus-pushgateway/1.5.1.txt',
  help: [['--help']],
  prefix: ['--web.listen-address=127.0.0.1:99999'],
  excluded: ['help', 'version', 'web.listen-address', 'web.systemd-socket'],
  values: { 'log.level': 'debug', 'log.format': 'json' },
  oddities: [['--log.level=verbose'], ['--persistence.interval=5'], ['-h']],
  verdict: kingpinVerdict('prometheus-pushgateway'),
  startedAfter: 5_000,
});
