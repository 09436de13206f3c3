import type { Framework } from './catalog.js';
import { captureHelp, type HelpCapture, type RunOutput } from './capture-plan.js';
import { resolveProgram, type ContainerCommand, type ImageConfig } from '../image/entrypoint.js';
import { DEFAULT_TIMEOUT_MS, detectSandbox, noSandboxError, sandboxRunner, type SandboxMethod } from '../image/sandbox-run.js';

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
  const run = budgeted(sandboxRunner({ rootfs: request.rootfs, env: request.config.Env ?? [], workingDir: request.config.WorkingDir ?? '/', image: request.image, memoryMB: request.memoryMB, method }), request.timeoutMs ?? DEFAULT_TIMEOUT_MS);
  const captured = await captureHelp({ program: resolved.program, args: resolved.args, run, framework: request.framework });
  if (!captured.ok) return captured;
  return { ...captured, args: resolved.args, steps: resolved.steps, method };
}

/** All the runs of one capture together (its help, subcommands', global flags'): the time of two runs at most. */
const RUNS_IN_BUDGET = 2;

/**
 * Each run gets the time limit, and all of them together RUNS_IN_BUDGET times it: an image whose
 * every --help answers just before the limit cannot make one capture cost six limits.
 */
function budgeted(run: (argv: string[], timeoutMs: number) => Promise<RunOutput>, timeoutMs: number): (argv: string[]) => Promise<RunOutput> {
  const until = Date.now() + RUNS_IN_BUDGET * timeoutMs;
  return (argv) => {
    const remaining = until - Date.now();
    if (remaining <= 0) return Promise.resolve({ stdout: '', stderr: '', exitCode: null, timedOut: true, truncated: false });
    return run(argv, Math.min(timeoutMs, remaining));
  };
}
