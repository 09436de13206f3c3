import { execa } from 'execa';
import path from 'node:path';
import picomatch from 'picomatch';
import type { DraftFinding, SourceLocation } from '../findings.js';
import { firstChangedLines, normalizeDir, trailersBetween, type Snapshot } from '../git/repo.js';
import { evaluateDeployNodes, resolveNix, type DeployNode, type EvalOutcome } from '../nix/eval-deploy.js';
import { fetchFiringAlerts } from './alertmanager.js';
import type { ApprovalsLookup } from './approvals.js';
import { planDeploy, type DeployPlan } from './plan.js';
import type { DeployCheckInput, DeployPolicy } from './policy.js';

export interface DeployRevisions {
  root: string;
  baseSha: string;
  /** undefined: the working tree. */
  headRev?: string;
  base: Snapshot;
  head: Snapshot;
}

export interface DeployOptions {
  /** Who approved the head commit on the forge; without it an override trailer is refused. */
  approvals?: ApprovalsLookup;
}

export type DeployEvaluation =
  | { kind: 'none' }
  /** `baseFindings`: what the base revision had, so an evaluation error the base shares is not "introduced". */
  | { kind: 'failed'; findings: DraftFinding[]; baseFindings: DraftFinding[] }
  | { kind: 'planned'; input: DeployCheckInput; findings: DraftFinding[] };

/**
 * Evaluate the fleet at base and head with real nix and build the deploy plan the checks judge.
 * Returns `none` when the head has no flake, or when every changed path is one the base policy
 * declares unable to change the evaluation (deploy.ignorePaths). Anything else may change what the
 * flake evaluates (a .nix file, flake.lock, any file the flake reads), so the fleet is evaluated.
 */
export async function evaluateDeploy(revisions: DeployRevisions, policy: DeployPolicy, options: DeployOptions = {}): Promise<DeployEvaluation> {
  const flakeDir = normalizeDir(policy.flake ?? '');
  const flakeFile = path.posix.join(flakeDir, 'flake.nix');
  const [baseFlake, headFlake] = await Promise.all([revisions.base.readFile(flakeFile), revisions.head.readFile(flakeFile)]);
  if (!headFlake) return { kind: 'none' };
  if (!(await mayChangeEvaluation(revisions, policy.ignorePaths ?? []))) return { kind: 'none' };
  const nixBin = await resolveNix();
  const flakeLocation: SourceLocation = { path: flakeFile, line: 1 };
  const timeoutMs = 300_000;
  const [baseEval, headEval] = await Promise.all([
    baseFlake
      ? evaluateDeployNodes({ nixBin, repoRoot: revisions.root, rev: revisions.baseSha, flakeDir, timeoutMs, label: revisions.base.label })
      : Promise.resolve<EvalOutcome>({ ok: true, nodes: [] }),
    evaluateDeployNodes({ nixBin, repoRoot: revisions.root, rev: revisions.headRev, flakeDir, timeoutMs, label: revisions.head.label }),
  ]);
  if (!headEval.ok) {
    const headFiles = new Set(await revisions.head.listFiles());
    const failed = (outcome: Extract<EvalOutcome, { ok: false }>): DraftFinding => ({
      rule: 'nix/eval-failed',
      severity: 'error',
      message: `evaluating the deploy targets (${flakeFile}#deploy.nodes) failed, so which hosts this change redeploys is unknown: ${outcome.identity}`,
      // The line nix names, when it is a file of this repository; else the flake.
      location: outcome.position && headFiles.has(outcome.position.path) ? outcome.position : flakeLocation,
      subject: { kind: 'DeployNode', name: 'deploy.nodes' },
      evidence: [outcome.error],
      identity: outcome.identity,
    });
    return { kind: 'failed', findings: [failed(headEval)], baseFindings: baseEval.ok ? [] : [failed(baseEval)] };
  }
  const findings: DraftFinding[] = [];
  let baseNodes: DeployNode[] = [];
  if (baseEval.ok) baseNodes = baseEval.nodes;
  else {
    findings.push({
      rule: 'nix/base-eval-failed',
      severity: 'warning',
      message: `the deploy targets could not be evaluated at the base revision; every head target is treated as redeployed`,
      location: flakeLocation,
      subject: { kind: 'DeployNode', name: 'deploy.nodes' },
      evidence: [baseEval.error],
    });
  }
  const plan: DeployPlan = planDeploy(baseNodes, headEval.nodes, policy.sites ?? {}, policy.tool ?? 'deploy-rs');
  const changedLines = await fleetChangedLines(revisions, flakeDir);
  const nodeLocation = await nodeLocator(revisions.head, flakeDir, flakeLocation);
  const input: DeployCheckInput = { plan, policy, changedLines, nodeLocation, flakeLocation };
  if (policy.overrideTrailer) {
    const override = await overrideOf(revisions, policy, options.approvals, flakeLocation);
    if (override.kind === 'approved') input.override = override.override;
    if (override.kind === 'refused') findings.push(override.finding);
  }
  if (policy.alertmanager && plan.targets.some((t) => t.contacted)) {
    const url = process.env.GUARD_ALERTMANAGER_URL ?? policy.alertmanager.url;
    input.alerts = url
      ? await fetchFiringAlerts({ url, matchers: policy.alertmanager.matchers ?? { severity: 'critical' }, timeoutMs: (policy.alertmanager.timeoutSeconds ?? 10) * 1000 })
      : { ok: false, error: 'no Alertmanager URL (deploy.alertmanager.url or GUARD_ALERTMANAGER_URL)' };
  }
  return { kind: 'planned', input, findings };
}

/** Every path the change touches (deleted ones too); the working tree's tracked files when there is no head commit. */
async function changedPaths(revisions: DeployRevisions): Promise<string[]> {
  const args = ['diff', '--name-only', '-z', '--no-renames', '--no-ext-diff', revisions.baseSha, ...(revisions.headRev ? [revisions.headRev] : []), '--'];
  const { stdout } = await execa('git', args, { cwd: revisions.root, maxBuffer: 64 * 1024 * 1024 });
  return stdout.split('\0').filter(Boolean);
}

async function mayChangeEvaluation(revisions: DeployRevisions, ignorePaths: string[]): Promise<boolean> {
  const changed = await changedPaths(revisions);
  if (changed.length === 0 || ignorePaths.length === 0) return true;
  const ignored = picomatch(ignorePaths, { dot: true });
  return changed.some((file) => !ignored(file));
}

type OverrideDecision =
  | { kind: 'absent' }
  | { kind: 'approved'; override: NonNullable<DeployCheckInput['override']> }
  | { kind: 'refused'; finding: DraftFinding };

/** The trailer counts only when someone the base policy names approved the head commit on the forge. */
async function overrideOf(revisions: DeployRevisions, policy: DeployPolicy, approvals: ApprovalsLookup | undefined, flakeLocation: SourceLocation): Promise<OverrideDecision> {
  const trailer = policy.overrideTrailer!;
  const trailers = await trailersBetween(revisions.root, revisions.baseSha, revisions.headRev ?? 'HEAD', trailer);
  const first = trailers[0];
  if (!first) return { kind: 'absent' };
  const approvers = policy.override?.approvers ?? [];
  const refuse = (why: string): OverrideDecision => ({
    kind: 'refused',
    finding: {
      rule: 'deploy/override-refused',
      severity: 'notice',
      message: `the ${trailer} trailer in commit ${first.commit.slice(0, 12)} is not counted: ${why}`,
      location: flakeLocation,
      subject: { kind: 'DeployNode', name: 'override' },
      suggestion: 'an override counts when one of deploy.override.approvers in the base .guard.yaml approves the head commit of the pull request',
    },
  });
  if (approvers.length === 0) return refuse('the base policy names no approvers (deploy.override.approvers), and anyone can write a trailer');
  if (!approvals) return refuse(`approvals cannot be checked here (no forge access); it needs an approval by ${approvers.join(', ')} in a pull request run`);
  const outcome = await approvals(approvers);
  if (!outcome.ok) return refuse(outcome.reason);
  if (outcome.approvedBy.length === 0) return refuse(`none of ${approvers.join(', ')} approved the head commit`);
  return {
    kind: 'approved',
    override: { commit: first.commit, reason: `${trailer}: ${first.value}; approved by ${outcome.approvedBy.join(', ')}`, approvedBy: outcome.approvedBy },
  };
}

/** Changed lines of the files that can change what nix evaluates: nix files and flake.lock first, else any change. */
async function fleetChangedLines(revisions: DeployRevisions, flakeDir: string): Promise<SourceLocation[]> {
  const changes = await firstChangedLines(revisions.root, revisions.baseSha, revisions.headRev);
  const inFlake = changes.filter((c) => flakeDir === '' || c.path.startsWith(flakeDir + '/'));
  const nix = inFlake.filter((c) => c.path.endsWith('.nix') || c.path.endsWith('flake.lock'));
  const chosen = nix.length > 0 ? nix : inFlake.length > 0 ? inFlake : changes;
  return chosen.map((c) => ({ path: c.path, line: c.line }));
}

/** Where `<name> = {` (or `"<name>" = {`) defines a node in the head's nix files. */
async function nodeLocator(head: Snapshot, flakeDir: string, fallback: SourceLocation): Promise<(name: string) => SourceLocation> {
  const nixFiles = (await head.listFiles()).filter((f) => f.endsWith('.nix') && (flakeDir === '' || f.startsWith(flakeDir + '/')));
  const contents = await head.readFiles(nixFiles);
  const texts = [...contents.entries()].map(([file, data]) => ({ file, lines: data.toString('utf8').split('\n') }));
  return (name: string) => {
    const escaped = name.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
    const definition = new RegExp(`(^|[\\s{;.])"?${escaped}"?\\s*=`);
    for (const { file, lines } of texts) {
      const index = lines.findIndex((l) => l.length < 10_000 && definition.test(l));
      if (index >= 0) return { path: file, line: index + 1 };
    }
    return fallback;
  };
}
