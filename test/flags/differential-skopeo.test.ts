import { cobraVerdict, goDifferentialSuite, PFLAG_REFUSAL } from '../support/go-differential.js';

/**
 * cobra: Debian's skopeo 1.9.3 `list-tags` on an archive that does not exist (it stops right after
 * parsing). A wrong number of image arguments makes skopeo print its usage (its own check): not compared.
 */
goDifferentialSuite({
  name: 'skopeo 1.9.3 list-tags',
  framework: 'pflag',
  command: 'skopeo',
  fixture: 'help/skopeo/1.9.3/list-tags.txt',
  help: [['list-tags', '--help']],
  prefix: ['list-tags'],
  suffix: [['docker-archive:/nonexistent/image.tar']],
  excluded: ['help'],
  values: { creds: 'user:secret', 'retry-times': '2' },
  oddities: [['--creds', 'user'], ['--creds=user:pw'], ['--tls-verify=false']],
  // skopeo logs cobra's refusals at level=fatal too; any other fatal message comes after parsing.
  verdict: (r, catalog) => (r.exitCode === 0 && /^Usage:/m.test(r.output) ? undefined : PFLAG_REFUSAL.test(r.output) ? false : r.exitCode === 0 || /level=fatal/.test(r.output) ? true : cobraVerdict(r, catalog)),
});
