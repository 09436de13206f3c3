import os from 'node:os';
import { findExecutable, runTool, toolEnvironment } from '../tools/sandbox.js';

let probed: Promise<string | undefined> | undefined;

/**
 * GNU time, which reports the largest resident memory of the process it runs (%M): the per-host
 * peak that sizes the evaluation pool. Probed once, behind the same fence nix runs in: another
 * `time` (BusyBox) that does not take these options must never stand between the guard and nix.
 */
export function gnuTime(): Promise<string | undefined> {
  probed ??= (async () => {
    const bin = findExecutable('time');
    if (!bin) return undefined;
    const result = await runTool(bin, ['-f', '%M', '-o', '/dev/null', '/bin/sh', '-c', 'true'], {
      env: toolEnvironment(os.tmpdir()),
      timeoutMs: 20_000,
      maxBuffer: 1024 * 1024,
      network: 'none',
      filesystem: {},
    }).catch(() => undefined);
    return result?.exitCode === 0 ? bin : undefined;
  })();
  return probed;
}
