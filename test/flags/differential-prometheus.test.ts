import { goDifferentialSuite, kingpinVerdict } from '../support/go-differential.js';

/** kingpin: Debian's prometheus 2.42.0 server, stopped at once by a configuration file that does not exist. */
goDifferentialSuite({
  name: 'prometheus 2.42.0',
  framework: 'kingpin',
  command: 'prometheus',
  fixture: 'help/prometheus/2.42.0.txt',
  help: [['--help']],
  prefix: ['--config.file=/nonexistent/prometheus.yml', '--storage.tsdb.path=data', '--storage.agent.path=agent'],
  excluded: ['help', 'version', 'config.file', 'storage.tsdb.path', 'storage.agent.path', 'web.listen-address', 'enable-feature'],
  values: { 'log.level': 'debug', 'log.format': 'json', 'query.lookback-delta': '5m', 'storage.tsdb.retention.time': '15d', 'storage.tsdb.retention.size': '512MB', 'storage.tsdb.retention': '15d', 'storage.agent.retention.min-time': '1h', 'storage.agent.retention.max-time': '2h' },
  // Flags printed with a placeholder instead of a default: their type is not in the help.
  valuesByType: { '<duration>': '1m', '<path>': 'p', '<URL>': 'http://localhost/' },
  oddities: [['--log.level=verbose'], ['--query.timeout=2'], ['-h']],
  verdict: kingpinVerdict('prometheus'),
  startedAfter: 5_000,
});
