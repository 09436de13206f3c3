import type { DraftFinding } from '../findings.js';
import type { Snapshot } from '../git/repo.js';
import type { NetworkFence } from '../tools/sandbox.js';

/**
 * Symbolic links in the checked revision are never followed (they could point at the runner's
 * files). What a link would have brought in is therefore not checked, and the report says so: a
 * manifest behind a link is a warning, any other link a notice.
 */
export async function unfollowedLinks(snapshot: Snapshot): Promise<DraftFinding[]> {
  return (await snapshot.symlinks()).map((file) => {
    const manifest = /\.ya?ml$/i.test(file);
    return {
      rule: 'repo/symlink-not-followed',
      severity: manifest ? 'warning' : 'notice',
      message: `${file} is a symbolic link; the guard never follows links, so ${manifest ? 'the manifest it points at is not checked' : 'what it points at is not read'} (commit the file itself to have it checked)`,
      location: { path: file, line: 1 },
      subject: { kind: 'Config', name: file },
      identity: file,
    };
  });
}

/** Without a network namespace, tools are held back only by the guard's own checks of what they will read: said in every report. */
export function fenceWarning(fence: NetworkFence): DraftFinding[] {
  if (fence.kind === 'namespace') return [];
  return [{
    rule: 'guard/network-fence-off',
    severity: 'warning',
    message: `tools run without a network namespace here (${fence.reason}): helm and kustomize are held back only by the guard's checks of what they read, and nix deploy targets are not evaluated unless GUARD_NETWORK_FENCE=off`,
    location: { path: '.guard.yaml', line: 1 },
    subject: { kind: 'Config', name: 'runner' },
    suggestion: 'run the guard as root, or allow unprivileged user namespaces (Ubuntu 24.04: sudo sysctl -w kernel.apparmor_restrict_unprivileged_userns=0)',
    identity: 'network-fence',
  }];
}
