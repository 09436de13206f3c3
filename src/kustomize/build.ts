import { runProcess } from '../tools/run-process.js';
import { resolveKubectl } from './binary.js';

const CLOSED_PROXY = 'http://127.0.0.1:9';

export type KustomizeResult = { ok: true; output: string } | { ok: false; error: string };

/** `kubectl kustomize DIR`: the built objects as one YAML stream. */
export async function kustomizeBuild(dir: string, timeoutMs: number): Promise<KustomizeResult> {
  const kubectl = await resolveKubectl();
  const result = await runProcess(kubectl.path, ['kustomize', dir], {
    timeoutMs,
    maxBuffer: 256 * 1024 * 1024,
    // No kubeconfig, no plugins and no network: remote bases would be fetched from hosts the base
    // revision never allowed, so every HTTP(S) request goes to a closed local port and git may
    // only use local repositories.
    env: {
      PATH: process.env.PATH ?? '',
      HOME: dir,
      KUBECONFIG: '/dev/null',
      HTTP_PROXY: CLOSED_PROXY, HTTPS_PROXY: CLOSED_PROXY, http_proxy: CLOSED_PROXY, https_proxy: CLOSED_PROXY,
      NO_PROXY: '', no_proxy: '',
      GIT_ALLOW_PROTOCOL: 'file',
      GIT_TERMINAL_PROMPT: '0',
    },
  });
  if (result.timedOut) return { ok: false, error: `kubectl kustomize did not finish within ${Math.round(timeoutMs / 1000)} s` };
  if (result.exitCode !== 0) return { ok: false, error: result.stderr.trim().replace(/^error:\s*/i, '') || `kubectl kustomize exited with ${result.exitCode}` };
  return { ok: true, output: result.stdout };
}
