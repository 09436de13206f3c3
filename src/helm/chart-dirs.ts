import { promises as fs } from 'node:fs';
import path from 'node:path';

/** Whether a chart directory is complete (has its Chart.yaml). */
export async function isChartDir(dir: string): Promise<boolean> {
  return fs.access(path.join(dir, 'Chart.yaml')).then(
    () => true,
    () => false,
  );
}

/**
 * Move a complete chart from a private staging folder to its place in the content-addressed
 * cache. A concurrent run may have put the same chart there first; both copies are identical.
 */
export async function publishChartDir(staged: string, finalDir: string): Promise<void> {
  await fs.rename(staged, finalDir).catch(async (error: NodeJS.ErrnoException) => {
    if (!(await isChartDir(finalDir))) throw error;
  });
}
