import os from 'node:os';
import type { DeployPolicy } from './policy.js';

/**
 * How many nix processes evaluate nodes at once, and how much address space each may take:
 *   concurrency = min(deploy.evalConcurrency or the CPU count, floor(deploy.evalMemoryMB / per-host peak))
 * The per-host peak is the largest resident memory one node's evaluation took in the last run (GNU
 * time, kept with the evaluation cache) with a quarter added for hosts that grew, or, before any
 * measurement, an estimate: a real NixOS host from nixpkgs took 0.53 GB on nix 2.8.
 * deploy.evalMemoryMB defaults to half of the machine's memory.
 */
export const ESTIMATED_HOST_PEAK_MB = 1024;

export interface EvalPool {
  concurrency: number;
  /** Address space one nix process may use (prlimit): the budget, never less than 3x a host's resident peak (nix reserves more than it touches). */
  limitMB: number;
  why: string;
}

export function defaultEvalMemoryMB(): number {
  return Math.floor(os.totalmem() / (1024 * 1024) / 2);
}

export function evalConcurrency(policy: Pick<DeployPolicy, 'evalConcurrency' | 'evalMemoryMB'>, measuredPeakMB: number | undefined): EvalPool {
  const cpus = policy.evalConcurrency ?? os.availableParallelism();
  const budget = policy.evalMemoryMB ?? defaultEvalMemoryMB();
  const perHost = measuredPeakMB ? Math.ceil(measuredPeakMB * 1.25) : ESTIMATED_HOST_PEAK_MB;
  const byMemory = Math.max(1, Math.floor(budget / perHost));
  const concurrency = Math.max(1, Math.min(cpus, byMemory));
  const cpuWhy = policy.evalConcurrency ? `deploy.evalConcurrency ${policy.evalConcurrency}` : `${cpus} CPUs`;
  const memoryWhy = `${policy.evalMemoryMB ? 'deploy.evalMemoryMB' : 'half the memory'} ${budget} MB / ${perHost} MB per host (${measuredPeakMB ? `measured ${measuredPeakMB} MB last run` : 'estimated'})`;
  return {
    concurrency,
    limitMB: Math.max(budget, perHost * 3),
    why: byMemory < cpus ? `${memoryWhy}; ${cpuWhy}` : `${cpuWhy}; ${memoryWhy} allows ${byMemory}`,
  };
}
