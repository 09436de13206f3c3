import os from 'node:os';
import { filesystemFence, findExecutable, runTool, toolEnvironment } from '../tools/sandbox.js';

/**
 * strace around a nix process, to learn which files of the repository an evaluation reads (nix 2.8
 * cannot say). Only calls that take a file name are traced, filtered in the kernel (--seccomp-bpf),
 * so the rest of nix's work runs untraced.
 */
export type ReadTracer = { kind: 'strace'; bin: string } | { kind: 'none'; reason: string };

let probed: Promise<ReadTracer> | undefined;

export function straceArguments(tracer: Extract<ReadTracer, { kind: 'strace' }>, logFile: string): string[] {
  return ['-f', '-qq', '--seccomp-bpf', '-e', 'trace=%file,dup,dup2,dup3,fcntl', '-e', 'signal=none', '-o', logFile];
}

/** Probed once per process, the way nix is run (behind the same fences): does strace work here? */
export function readTracer(): Promise<ReadTracer> {
  if (process.env.GUARD_TRACE_READS === 'off') return Promise.resolve({ kind: 'none', reason: 'GUARD_TRACE_READS=off' });
  probed ??= (async (): Promise<ReadTracer> => {
    const bin = findExecutable('strace');
    if (!bin) return { kind: 'none', reason: 'strace is not installed (Debian/Ubuntu: apt-get install strace)' };
    // Behind the file-system fence only: its pid namespace ends a traced nix when a timeout kills strace.
    const fence = filesystemFence();
    if (fence.kind === 'none') return { kind: 'none', reason: `reads are traced only behind the file-system fence (${fence.reason})` };
    const result = await runTool(bin, [...straceArguments({ kind: 'strace', bin }, '/dev/null'), '/bin/sh', '-c', 'test -d /'], {
      env: toolEnvironment(os.tmpdir()),
      timeoutMs: 20_000,
      maxBuffer: 1024 * 1024,
      network: 'none',
      filesystem: {},
    }).catch((error: Error) => ({ exitCode: null, stderr: error.message, stdout: '', timedOut: false }));
    if (result.exitCode === 0) return { kind: 'strace', bin };
    return { kind: 'none', reason: `strace does not work here (${result.stderr.trim().split('\n')[0] || `exit ${result.exitCode}`}; ptrace may be forbidden)` };
  })();
  return probed;
}
