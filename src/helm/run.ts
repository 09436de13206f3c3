import { execa } from 'execa';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { resolveHelm } from './binary.js';

export interface HelmRunOptions {
  /** Isolated HELM_*_HOME root: no user plugins, repositories or registry logins leak in. */
  homeDir: string;
  timeoutMs: number;
}

export interface HelmResult {
  ok: boolean;
  stdout: string;
  /** helm's own error text, trimmed; or a timeout explanation. */
  error: string;
}

export async function runHelm(args: string[], options: HelmRunOptions): Promise<HelmResult> {
  const helm = await resolveHelm();
  await fs.mkdir(path.join(options.homeDir, 'plugins'), { recursive: true });
  const result = await execa(helm.path, args, {
    reject: false,
    timeout: options.timeoutMs,
    maxBuffer: 256 * 1024 * 1024,
    env: {
      HELM_CACHE_HOME: path.join(options.homeDir, 'cache'),
      HELM_CONFIG_HOME: path.join(options.homeDir, 'config'),
      HELM_DATA_HOME: path.join(options.homeDir, 'data'),
      HELM_PLUGINS: path.join(options.homeDir, 'plugins'),
      HELM_NO_PLUGINS: '1',
      KUBECONFIG: path.join(options.homeDir, 'no-kubeconfig'),
    },
  });
  if (result.timedOut) {
    return { ok: false, stdout: '', error: `helm ${args[0]} did not finish within ${Math.round(options.timeoutMs / 1000)} s and was stopped` };
  }
  return { ok: result.exitCode === 0, stdout: String(result.stdout), error: String(result.stderr).trim() };
}
