import { promises as fs } from 'node:fs';
import path from 'node:path';
import { memoized } from '../tools/memo.js';
import { runTool, toolEnvironment } from '../tools/sandbox.js';
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

const preparedHomes = new Map<string, Promise<unknown>>();

/** An empty plugins folder, created once per run: helm then loads no plugin of the machine. */
function ensureHome(homeDir: string): Promise<unknown> {
  return memoized(preparedHomes, homeDir, () => fs.mkdir(path.join(homeDir, 'plugins'), { recursive: true }));
}

/** The whole environment helm gets: its own homes and nothing of the guard's (no job token, no keys, no forge variables). */
export function helmEnvironment(homeDir: string): NodeJS.ProcessEnv {
  return toolEnvironment(homeDir, {
    HELM_CACHE_HOME: path.join(homeDir, 'cache'),
    HELM_CONFIG_HOME: path.join(homeDir, 'config'),
    HELM_DATA_HOME: path.join(homeDir, 'data'),
    HELM_PLUGINS: path.join(homeDir, 'plugins'),
    HELM_NO_PLUGINS: '1',
    KUBECONFIG: path.join(homeDir, 'no-kubeconfig'),
  });
}

/**
 * Run helm behind the network fence. Callers build `args` with every value that comes from the
 * repository attached to its option (`--namespace=VALUE`) or after `--`, never as a bare word.
 */
export async function runHelm(args: string[], options: HelmRunOptions, input?: string): Promise<HelmResult> {
  const helm = await resolveHelm();
  await ensureHome(options.homeDir);
  const result = await runTool(helm.path, args, {
    input,
    timeoutMs: options.timeoutMs,
    maxBuffer: 256 * 1024 * 1024,
    env: helmEnvironment(options.homeDir),
    network: 'none',
  });
  if (result.timedOut) {
    return { ok: false, stdout: '', error: `helm ${args[0]} did not finish within ${Math.round(options.timeoutMs / 1000)} s and was stopped` };
  }
  return { ok: result.exitCode === 0, stdout: String(result.stdout), error: String(result.stderr).trim() };
}
