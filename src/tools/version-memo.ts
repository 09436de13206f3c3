import { createHash } from 'node:crypto';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { userCache } from './bundled-layer.js';
import { readCacheFile, writeCacheFile } from './cache-file.js';

/**
 * `kubectl version --client` and `helm version --short` cost 150-200 ms each, on every run, for an
 * answer that only changes when the binary does. The answer is kept with a stamp of the binary's
 * inode, size and change time: an upgrade, copy, chmod or restore over it changes the ctime, and
 * then the binary is asked again. A binary that did not answer is never kept.
 */
export async function rememberedVersion(binary: string, probe: () => Promise<string | undefined>, env: NodeJS.ProcessEnv = process.env): Promise<string | undefined> {
  const stamp = await stampOf(binary);
  if (stamp === undefined) return probe();
  const file = path.join(versionsDir(env), createHash('sha256').update(binary).digest('hex').slice(0, 32));
  const kept = await readCacheFile(file, 64 * 1024);
  if (kept !== undefined) {
    const newline = kept.indexOf('\n');
    if (newline > 0 && kept.slice(0, newline) === stamp) return kept.slice(newline + 1);
  }
  const version = await probe();
  if (version !== undefined && !version.includes('\0')) await writeCacheFile(file, `${stamp}\n${version}`);
  return version;
}

async function stampOf(binary: string): Promise<string | undefined> {
  try {
    const stat = await fs.stat(binary, { bigint: true });
    if (!stat.isFile()) return undefined;
    return `v1 ${binary} ${stat.dev} ${stat.ino} ${stat.size} ${stat.mtimeNs} ${stat.ctimeNs}`;
  } catch {
    return undefined;
  }
}

function versionsDir(env: NodeJS.ProcessEnv): string {
  return path.join(userCache(env), 'gitops-guard', 'tool-versions');
}
