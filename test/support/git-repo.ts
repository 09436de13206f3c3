import { execa } from 'execa';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

const IDENTITY = {
  GIT_AUTHOR_NAME: 'Test',
  GIT_AUTHOR_EMAIL: 'test@example.net',
  GIT_COMMITTER_NAME: 'Test',
  GIT_COMMITTER_EMAIL: 'test@example.net',
};

/** A real git repository in a temp dir, for tests. */
export class TestRepo {
  private constructor(readonly dir: string) {}

  static async create(): Promise<TestRepo> {
    const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'guard-test-repo-'));
    const repo = new TestRepo(dir);
    await repo.git('init', '--quiet', '--initial-branch=main');
    await repo.git('config', 'commit.gpgsign', 'false');
    return repo;
  }

  async git(...args: string[]): Promise<string> {
    const result = await execa('git', args, { cwd: this.dir, env: IDENTITY });
    return result.stdout.trim();
  }

  /** Write files (null deletes), relative to the repo root. */
  async write(files: Record<string, string | null>): Promise<void> {
    for (const [file, content] of Object.entries(files)) {
      const target = path.join(this.dir, file);
      if (content === null) {
        await fs.rm(target, { force: true });
        continue;
      }
      await fs.mkdir(path.dirname(target), { recursive: true });
      await fs.writeFile(target, content);
    }
  }

  /** Copy a directory tree into the repo. */
  async copy(from: string, to = '.'): Promise<void> {
    await fs.cp(from, path.join(this.dir, to), { recursive: true });
  }

  async commit(message: string, files: Record<string, string | null> = {}): Promise<string> {
    await this.write(files);
    await this.git('add', '--all');
    await this.git('commit', '--quiet', '--allow-empty', '-m', message);
    return this.git('rev-parse', 'HEAD');
  }

  async branch(name: string, from = 'main'): Promise<void> {
    await this.git('checkout', '--quiet', '-B', name, from);
  }

  async remove(): Promise<void> {
    await fs.rm(this.dir, { recursive: true, force: true });
  }
}
