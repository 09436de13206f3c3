import { goDifferentialSuite, goflagVerdict } from '../support/go-differential.js';

/**
 * Go flag with a custom usage header ("mtail version ...", then "Usage:" and flag.PrintDefaults'
 * output): Debian's mtail 3.0.0~rc50 given -version first, which prints and exits 0 once the flags parse.
 */
goDifferentialSuite({
  name: 'mtail 3.0.0~rc50',
  framework: 'goflag',
  command: 'mtail',
  fixture: 'help/mtail/3.0.0-rc50.txt',
  help: [['-h']],
  prefix: ['-version'],
  excluded: ['version', 'h', 'help'],
  values: { vmodule: 'main=2', log_backtrace_at: 'main.go:10', logs: '/dev/null', stderrthreshold: 'ERROR' },
  oddities: [['-port=http'], ['-v=2'], ['-v'], ['-vmodule=x'], ['-log_backtrace_at=bad'], ['-stderrthreshold=LOUD']],
  verdict: goflagVerdict,
});
