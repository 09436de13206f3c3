import { cobraVerdict, goDifferentialSuite } from '../support/go-differential.js';

/**
 * cobra: Debian's rclone 1.60.1 `version`, its help together with the global flags of `rclone help
 * flags` (what a container running a subcommand parses). rclone refuses arguments to `version` in
 * its own code (the help cannot show it): not compared.
 */
goDifferentialSuite({
  name: 'rclone 1.60.1 version',
  framework: 'pflag',
  command: 'rclone',
  fixture: 'help/rclone/1.60.1/version.txt',
  help: [['version', '--help'], ['help', 'flags']],
  prefix: ['version'],
  // --check goes online; these read or run what their value names, or open a server.
  excluded: ['help', 'check', 'config', 'password-command', 'rc', 'rc-web-gui', 'rc-serve', 'cpuprofile', 'memprofile', 'log-file', 'dump', 'client-cert', 'client-key', 'ca-cert', 'rc-files', 'rc-htpasswd', 'rc-cert', 'rc-key', 'rc-client-ca', 'rc-web-gui-update', 'rc-web-fetch-url', 'progress-terminal-title', 'backup-dir', 'compare-dest', 'copy-dest', 'files-from', 'files-from-raw', 'exclude-from', 'include-from', 'filter-from', 'stats-log-level', 'use-json-log', 'log-level', 'syslog', 'syslog-facility'],
  valuesByType: { SizeSuffix: '16Mi', BwTimetable: '10M', Duration: '5m', CutoffMode: 'HARD', Tristate: 'true', DumpFlags: 'headers', LogLevel: 'INFO', stringArray: 'x', int: '3', float: '1.5', duration: '5s', 'stringArray ': 'x' },
  oddities: [['-vv'], ['-v'], ['--verbose=2'], ['-q'], ['--bwlimit=bogus'], ['--buffer-size=huge']],
  samples: 80,
  verdict: (r, catalog) => (/needs \d+ arguments? maximum/.test(r.output) ? undefined : cobraVerdict(r, catalog)),
});
