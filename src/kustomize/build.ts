import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { runTool, toolEnvironment } from '../tools/sandbox.js';
import { resolveKubectl } from './binary.js';
import { confinementProblem, type ConfinementProblem } from './confine.js';

/** `refused`: the guard would not start kustomize (a remote source, a path outside the revision, a limit); else kustomize itself failed. */
export type KustomizeResult = { ok: true; output: string } | { ok: false; error: string; refused?: ConfinementProblem['kind'] };

export interface KustomizeBuildOptions {
  /**
   * Folders the build may read from (the copied revision; a checkout the base's config maps).
   * Default: `dir` alone. A kustomization that names a path outside them, an absolute path or
   * a remote source is refused before kustomize starts.
   */
  roots?: string[];
}

/**
 * `kubectl kustomize DIR`: the built objects as one YAML stream. kustomize runs behind the
 * network fence, with an empty PATH (no git to clone with, no plugins to start), no git protocol
 * allowed, no kubeconfig, and the load restrictor at its strict default (files only from inside
 * each kustomization's own folder).
 */
export async function kustomizeBuild(dir: string, timeoutMs: number, options: KustomizeBuildOptions = {}): Promise<KustomizeResult> {
  const refused = await confinementProblem(dir, options.roots ?? [dir]);
  if (refused) return { ok: false, error: refused.message, refused: refused.kind };
  const kubectl = await resolveKubectl();
  const home = await fs.mkdtemp(path.join(os.tmpdir(), 'guard-kustomize-home-'));
  try {
    const result = await runTool(kubectl.path, ['kustomize', '--load-restrictor=LoadRestrictionsRootOnly', '--', dir], {
      timeoutMs,
      maxBuffer: 256 * 1024 * 1024,
      network: 'none',
      env: toolEnvironment(home, {
        PATH: '',
        KUBECONFIG: '/dev/null',
        // Should kustomize find a git anyway: no protocol at all, no system or user git config.
        GIT_ALLOW_PROTOCOL: 'none-allowed',
        GIT_PROTOCOL_FROM_USER: '0',
        GIT_CONFIG_NOSYSTEM: '1',
        GIT_CONFIG_GLOBAL: '/dev/null',
        GIT_TERMINAL_PROMPT: '0',
      }),
    });
    if (result.timedOut) return { ok: false, error: `kubectl kustomize did not finish within ${Math.round(timeoutMs / 1000)} s` };
    if (result.exitCode !== 0) return { ok: false, error: result.stderr.trim().replace(/^error:\s*/i, '') || `kubectl kustomize exited with ${result.exitCode}` };
    return { ok: true, output: result.stdout };
  } finally {
    await fs.rm(home, { recursive: true, force: true });
  }
}
