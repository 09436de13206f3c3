import { goDifferentialSuite, kingpinVerdict } from '../support/go-differential.js';

/** kingpin: Debian's prometheus-node-exporter 1.5.0, made to stop at once by a listen address with no valid port. */
goDifferentialSuite({
  name: 'prometheus-node-exporter 1.5.0',
  framework: 'kingpin',
  command: 'prometheus-node-exporter',
  fixture: 'help/prometheus-node-exporter/1.5.0.txt',
  help: [['--help']],
  prefix: ['--web.listen-address=127.0.0.1:99999'],
  excluded: ['help', 'version', 'web.listen-address'],
  values: { 'log.level': 'debug', 'log.format': 'json' },
  oddities: [['--log.level=verbose'], ['--collector.cpu'], ['--no-collector.cpu'], ['-h'], ['--collector.cpu=false']],
  verdict: kingpinVerdict('prometheus-node-exporter'),
  startedAfter: 5_000,
});
