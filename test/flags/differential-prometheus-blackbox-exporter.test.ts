import { goDifferentialSuite, kingpinVerdict } from '../support/go-differential.js';

/** kingpin: Debian's prometheus-blackbox-exporter 0.23.0, stopped at once by a configuration file that does not exist. */
goDifferentialSuite({
  name: 'prometheus-blackbox-exporter 0.23.0',
  framework: 'kingpin',
  command: 'prometheus-blackbox-exporter',
  fixture: 'help/prometheus-blackbox-exporter/0.23.0.txt',
  help: [['--help']],
  prefix: ['--config.file=/nonexistent/blackbox.yml'],
  excluded: ['help', 'version', 'config.file', 'config.check'],
  values: { 'log.level': 'debug', 'log.format': 'json' },
  oddities: [['--timeout-offset=abc'], ['--timeout-offset', '-1'], ['-h']],
  verdict: kingpinVerdict('prometheus-blackbox-exporter'),
  startedAfter: 5_000,
});
