#!/usr/bin/env node
// The real programs the test suite runs besides helm and kubectl, the Debian packages that bring
// them, and the test files that need each. `node scripts/test-tools.mjs --install` (run by
// `npm test` and .ci/run) installs the missing ones with apt when it runs as root on Debian;
// elsewhere it prints them and the one command that installs them, and vitest.config.ts leaves
// out the test files that need them, saying so in one line, instead of failing them.
import { accessSync, constants } from 'node:fs';
import { spawnSync } from 'node:child_process';
import path from 'node:path';

const DIFFERENTIAL = 'test/flags/exits-at-start.test.ts';
const CAPTURE_E2E = 'test/e2e/capture-from-registry.test.ts';
const CAPTURE_ATTACKS = 'test/security/capture-attacks.test.ts';
const SANDBOXED = ['test/image/sandbox-run.test.ts', 'test/image/entrypoint.test.ts', 'test/flags/capture-plan.test.ts', 'test/flags/capture-image-help.test.ts', CAPTURE_E2E, CAPTURE_ATTACKS];
const LAYERS = ['test/image/pull.test.ts', 'test/image/rootfs.test.ts', 'test/image/registry-credentials.test.ts'];

export const TEST_TOOLS = [
  { command: 'git', apt: 'git', files: [] },
  {
    command: 'nix',
    apt: 'nix-bin',
    files: [
      'test/deploy/evaluate.test.ts', 'test/deploy/fleet-scale.test.ts', 'test/deploy/site-health.test.ts', 'test/deploy/flake-inputs.test.ts',
      'test/e2e/charts-import.test.ts', 'test/e2e/cli.test.ts', 'test/e2e/flux-sites.test.ts', 'test/engine/incident.test.ts',
      'test/engine/render.test.ts', 'test/flux/chart-mirrors-offline.test.ts', 'test/flux/chart-sources.test.ts', 'test/flux/values-from.test.ts',
      'test/forge/action.test.ts', 'test/forge/publish.test.ts', 'test/forge/sarif.test.ts', 'test/security/deploy-policy.test.ts',
      'test/security/red-team.test.ts', 'test/security/source-identity.test.ts', 'test/install/install.test.ts', 'test/install/action-runner.test.ts',
      'test/install/cli-habits.test.ts',
    ],
  },
  { command: 'prometheus-alertmanager', apt: 'prometheus-alertmanager', files: ['test/deploy/site-health.test.ts', 'test/flags/differential-kingpin.test.ts', 'test/flags/differential-kingpin-values.test.ts', DIFFERENTIAL, 'test/flags/capture-plan.test.ts', CAPTURE_E2E] },
  { command: 'docker-registry', apt: 'docker-registry', files: ['test/flux/chart-mirrors-offline.test.ts', 'test/flux/chart-sources.test.ts', 'test/image/pull.test.ts', CAPTURE_E2E, CAPTURE_ATTACKS] },
  { command: 'bwrap', apt: 'bubblewrap', files: SANDBOXED },
  { command: 'strace', apt: 'strace', files: ['test/deploy/unread-change.test.ts'] },
  { command: '/usr/bin/time', apt: 'time', files: ['test/deploy/unread-change.test.ts'] },
  { command: 'zstd', apt: 'zstd', files: [...LAYERS, CAPTURE_E2E, CAPTURE_ATTACKS] },
  { command: 'gcc', apt: 'gcc', files: [CAPTURE_E2E, CAPTURE_ATTACKS] },
  { command: 'rclone', apt: 'rclone', files: ['test/flags/capture-plan.test.ts'] },
  { command: 'etcd', apt: 'etcd-server', files: ['test/flags/differential-goflag.test.ts', DIFFERENTIAL, 'test/image/sandbox-run.test.ts', 'test/flags/capture-plan.test.ts', CAPTURE_E2E] },
  { command: 'snowflake-client', apt: 'snowflake-client', files: ['test/flags/differential-goflag.test.ts', DIFFERENTIAL] },
  { command: 'runc', apt: 'runc', files: ['test/flags/differential-urfave.test.ts', DIFFERENTIAL, CAPTURE_E2E] },
  { command: 'rg', apt: 'ripgrep', files: ['test/flags/differential-clap.test.ts', DIFFERENTIAL, 'test/image/entrypoint.test.ts', 'test/flags/capture-plan.test.ts', 'test/flags/capture-image-help.test.ts', CAPTURE_E2E] },
  { command: '/usr/bin/python3', apt: 'python3', files: ['test/flags/differential-argparse.test.ts', DIFFERENTIAL, 'test/flags/differential-python3-ast.test.ts', 'test/flags/differential-python3-gzip.test.ts', 'test/flags/differential-python3-pickletools.test.ts', 'test/flags/capture-plan.test.ts', CAPTURE_E2E] },
  // Real binaries beyond the project's own, one differential test each (issue 14's accuracy run).
  ...[
    ['prometheus-node-exporter', 'prometheus-node-exporter'], ['prometheus-pushgateway', 'prometheus-pushgateway'],
    ['prometheus-blackbox-exporter', 'prometheus-blackbox-exporter'], ['prometheus', 'prometheus'], ['promtool', 'prometheus', 'promtool'],
    ['restic', 'restic'], ['etcdctl', 'etcd-client'], ['skopeo', 'skopeo'], ['gh', 'gh'], ['rclone', 'rclone'],
    ['obfs4proxy', 'obfs4proxy'], ['snowflake-proxy', 'snowflake-proxy'], ['webhook', 'webhook'], ['mtail', 'mtail'],
    ['ctr', 'containerd'], ['lego', 'lego'], ['umoci', 'umoci'],
  ].map(([command, apt, test = command]) => ({ command, apt, files: [`test/flags/differential-${test}.test.ts`] })),
  { command: 'fdfind', apt: 'fd-find', files: ['test/flags/differential-fd-find.test.ts'] },
  { command: 'rsass', apt: 'rsass', files: ['test/flags/differential-rsass.test.ts'] },
  { command: 'batcat', apt: 'bat', files: ['test/flags/differential-bat.test.ts'] },
  { command: 'tldr', apt: 'tealdeer', files: ['test/flags/differential-tealdeer.test.ts'] },
  { command: 'hexyl', apt: 'hexyl', files: ['test/flags/differential-hexyl.test.ts'] },
  { command: 'sd', apt: 'sd', files: ['test/flags/differential-sd.test.ts'] },
  { command: 'yamllint', apt: 'yamllint', files: ['test/flags/differential-yamllint.test.ts'] },
];

function onPath(command) {
  const candidates = command.includes('/') ? [command] : (process.env.PATH ?? '').split(':').filter(Boolean).map((dir) => path.join(dir, command));
  return candidates.some((file) => {
    try {
      accessSync(file, constants.X_OK);
      return true;
    } catch {
      return false;
    }
  });
}

/** The tools above that are not installed. */
export function missingTestTools() {
  return TEST_TOOLS.filter((tool) => !onPath(tool.command));
}

export function installCommand(missing) {
  return `sudo apt-get install -y --no-install-recommends ${missing.map((tool) => tool.apt).join(' ')}`;
}

/** Test files to leave out, and the one line that says why. */
export function excludedForMissingTools() {
  const missing = missingTestTools();
  if (missing.length === 0) return { files: [], line: undefined };
  const files = [...new Set(missing.flatMap((tool) => tool.files))];
  const line = `test setup: ${missing.map((tool) => tool.command).join(', ')} not installed: leaving out ${files.length} test file(s) that run ${missing.length === 1 ? 'it' : 'them'}; install with \`${installCommand(missing)}\` (Debian) or \`npm run test:setup\` as root`;
  return { files, line };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const missing = missingTestTools();
  if (missing.length === 0) process.exit(0);
  const aptGet = onPath('apt-get');
  const root = process.getuid?.() === 0;
  if (process.argv.includes('--install') && root && aptGet && process.env.GUARD_TEST_NO_INSTALL !== '1') {
    const packages = missing.map((tool) => tool.apt);
    process.stderr.write(`--- apt-get install ${packages.join(' ')}\n`);
    const run = (args) => spawnSync('apt-get', args, { stdio: ['ignore', 'ignore', 'inherit'], env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' } }).status === 0;
    if (!run(['update', '-qq']) || !run(['install', '-y', '-qq', '--no-install-recommends', ...packages])) {
      process.stderr.write(`test setup: apt-get could not install ${packages.join(' ')}; the tests that need them are left out\n`);
    }
    // Debian starts these as services where systemd runs; the tests start their own on free ports.
    for (const service of ['prometheus-alertmanager', 'etcd', 'docker-registry']) spawnSync('systemctl', ['stop', service], { stdio: 'ignore' });
    const still = missingTestTools();
    if (still.length > 0) process.stderr.write(`test setup: still missing ${still.map((tool) => tool.command).join(', ')}\n`);
    process.exit(0);
  }
  process.stderr.write(`test setup: missing ${missing.map((tool) => tool.command).join(', ')}; the tests that run them are left out. Install: ${installCommand(missing)}${root ? '' : ' (or `sudo npm run test:setup`)'}\n`);
}
