import type { Framework } from '../flags/catalog.js';
import { captureHelp, type HelpCapture } from '../flags/capture-plan.js';
import { resolveProgram, type ContainerCommand, type ImageConfig } from './entrypoint.js';
import { detectSandbox, noSandboxError, sandboxRunner, type SandboxMethod } from './sandbox-run.js';

export interface ImageHelpRequest {
  /** The image's extracted root file system. */
  rootfs: string;
  config: ImageConfig;
  /** The container's command and args (Kubernetes). */
  container: ContainerCommand;
  /** IMAGE@digest, for Docker/Podman. */
  image?: string;
  framework?: Framework;
  timeoutMs?: number;
  memoryMB?: number;
}

export type ImageHelp =
  | (Extract<HelpCapture, { ok: true }> & {
      /** What the program gets after its name, wrappers followed: validate these against the help. */
      args: string[];
      /** How the program was found (init wrappers, wrapper scripts, symlinks). */
      steps: string[];
      method: SandboxMethod;
    })
  | { ok: false; error: string; helpArgv?: string[] };

/**
 * The help of the command a container runs, captured from its image: the program found as
 * Kubernetes would start it, its (sub)command's help run in the sandbox. Throws a GuardError
 * (exit 2) when there is no sandbox to run it in.
 */
export async function captureImageHelp(request: ImageHelpRequest): Promise<ImageHelp> {
  const method = detectSandbox();
  if (!method) throw noSandboxError();
  const resolved = await resolveProgram(request.rootfs, request.config, request.container);
  if (!resolved.ok) return { ok: false, error: resolved.error };
  const run = sandboxRunner({ rootfs: request.rootfs, env: request.config.Env ?? [], workingDir: request.config.WorkingDir ?? '/', image: request.image, timeoutMs: request.timeoutMs, memoryMB: request.memoryMB, method });
  const captured = await captureHelp({ program: resolved.program, args: resolved.args, run, framework: request.framework });
  if (!captured.ok) return captured;
  return { ...captured, args: resolved.args, steps: resolved.steps, method };
}
