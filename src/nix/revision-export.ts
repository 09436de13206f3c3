import { execa } from 'execa';
import { promises as fs } from 'node:fs';
import path from 'node:path';

/**
 * What nix may see of the repository when it evaluates one revision behind the file-system fence:
 * a scratch bare repository holding one branch at that commit, whose objects are the checkout's own
 * (git alternates, nothing copied). Not the checkout: its .git/config may hold the job's token, and
 * its working tree files the change never committed.
 */
export interface ExportedRevision {
  /** The flake reference nix evaluates (self.rev and self.lastModified as with the checkout). */
  flakeRef: string;
  /** Folders nix must see read-only. */
  readOnly: string[];
  /** Files to show as empty. */
  hidden: string[];
}

const BRANCH = 'guard-revision';

/** `scratch` is an empty folder the caller owns and removes. Without `rev`, the working tree (tracked files) of the checkout itself. */
export async function exportRevision(repoRoot: string, rev: string | undefined, flakeDir: string, scratch: string): Promise<ExportedRevision> {
  const query = new URLSearchParams();
  if (!rev) {
    if (flakeDir) query.set('dir', flakeDir);
    // Dirty changes must be seen: nix reads the checkout itself; its git config (credentials) is hidden.
    const gitDir = await gitPath(repoRoot, '--absolute-git-dir');
    const common = await gitPath(repoRoot, '--git-common-dir');
    return {
      flakeRef: `git+file://${repoRoot}${query.size > 0 ? `?${query.toString()}` : ''}`,
      readOnly: unique([repoRoot, gitDir, common]),
      hidden: unique([path.join(gitDir, 'config'), path.join(common, 'config')]),
    };
  }
  const commit = (await execa('git', ['rev-parse', '--verify', `${rev}^{commit}`], { cwd: repoRoot })).stdout.trim();
  const objects = path.join(await gitPath(repoRoot, '--git-common-dir'), 'objects');
  const bare = path.join(scratch, 'revision.git');
  await execa('git', ['init', '--quiet', '--bare', bare], { env: { GIT_CONFIG_NOSYSTEM: '1' } });
  await fs.writeFile(path.join(bare, 'objects', 'info', 'alternates'), `${objects}\n`);
  await execa('git', ['--git-dir', bare, 'update-ref', `refs/heads/${BRANCH}`, commit]);
  await execa('git', ['--git-dir', bare, 'symbolic-ref', 'HEAD', `refs/heads/${BRANCH}`]);
  query.set('ref', BRANCH);
  query.set('rev', commit);
  if (flakeDir) query.set('dir', flakeDir);
  return { flakeRef: `git+file://${bare}?${query.toString()}`, readOnly: [bare, objects], hidden: [] };
}

async function gitPath(repoRoot: string, flag: string): Promise<string> {
  return path.resolve(repoRoot, (await execa('git', ['rev-parse', flag], { cwd: repoRoot })).stdout.trim());
}

function unique(items: string[]): string[] {
  return [...new Set(items)];
}
