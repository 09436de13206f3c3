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
  /** Commit trailer (in a commit of the change) that allows a multi-site deploy, e.g. Guard-Allow-Multi-Site. */
  overrideTrailer?: string;
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
  override?: { commit: string; reason: string };
  alerts?: AlertsOutcome;
}
