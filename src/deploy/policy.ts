import type { Severity, SourceLocation } from '../findings.js';
import type { DeployPlan } from './plan.js';
import type { AlertsOutcome } from './alertmanager.js';
import type { SiteRules } from './sites.js';

export interface DeployPolicy {
  /** Flake directory in the repository; default: the root, when it holds flake.nix. */
  flake?: string;
  tool?: 'deploy-rs' | 'colmena' | 'comin';
  /** How many sites one change may redeploy at once. */
  maxSitesPerChange?: number;
  /** `staged`: the deploy tooling rolls out site by site (waves), so multi-site changes are allowed. */
  rollout?: 'all-at-once' | 'staged';
  sites?: SiteRules;
  /**
   * Commit trailer (in a commit of the change) that allows a multi-site deploy, e.g. Guard-Allow-Multi-Site.
   * Anyone can write a trailer: it counts only with an approval by one of `override.approvers`.
   */
  overrideTrailer?: string;
  override?: { approvers?: string[] };
  /** Globs of paths that cannot change what the flake evaluates; a change touching only these skips evaluation. */
  ignorePaths?: string[];
  /**
   * Hosts (picomatch patterns on host[:port]) flake inputs may be fetched from. Default: the hosts the
   * base flake.lock already uses, and network.allowedHosts.
   */
  allowedInputHosts?: string[];
  /** nix processes evaluating nodes at once (one node each); default: the CPU count (then bounded by evalMemoryMB). */
  evalConcurrency?: number;
  /**
   * Memory for node evaluations at once, in MB; default half of the machine's memory. The pool is
   * min(evalConcurrency, evalMemoryMB / the largest host's measured peak) and each nix process is
   * limited to it (src/deploy/eval-memory.ts).
   */
  evalMemoryMB?: number;
  /** Limit for each nix process, in seconds; default 300. */
  evalTimeoutSeconds?: number;
  /** First-parent commits before base searched for a node's last good evaluation when base does not evaluate it; default 3. */
  lastGoodDepth?: number;
  unsafeSettings?: Severity;
  maxConfirmTimeoutSeconds?: number;
  alertmanager?: {
    url?: string;
    matchers?: Record<string, string>;
    siteLabel?: string;
    hostLabels?: string[];
    onUnreachable?: 'warn' | 'fail' | 'ignore';
    timeoutSeconds?: number;
  };
}

/** Everything the deploy checks judge, gathered by the engine. */
export interface DeployCheckInput {
  plan: DeployPlan;
  policy: DeployPolicy;
  /** First changed line of each changed file that can affect the fleet (nix files, flake.lock). */
  changedLines: SourceLocation[];
  /** Where a node is defined in the head revision. */
  nodeLocation: (nodeName: string) => SourceLocation;
  flakeLocation: SourceLocation;
  /** A multi-site override: a trailer in the change, approved on the forge by someone the base policy names. */
  override?: { commit: string; reason: string; approvedBy: string[] };
  alerts?: AlertsOutcome;
}
