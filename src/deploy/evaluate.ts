import path from 'node:path';
import picomatch from 'picomatch';
import { NIX_NOT_AVAILABLE_RULE, type DraftFinding, type SourceLocation } from '../findings.js';
import { CommitSnapshot, firstChangedLines, normalizeDir, runGit, trailersBetween, type Snapshot } from '../git/repo.js';
import { GuardError } from '../errors.js';
import { findNix, localInputError, NIX_INSTALL_HINT, nixCandidate, nixVersion, type DeployNode, type FlakeFailure, type NodeFailure } from '../nix/eval-deploy.js';
import { localInputs } from '../nix/flake-inputs.js';
import { inputHostPolicy, lockedInputs, refusedInputs, type InputHostPolicy, type LockedInput } from '../nix/input-fetch.js';
import { EvalCache } from './eval-cache.js';
import { evalConcurrency } from './eval-memory.js';
import { headMustEvaluate, headReusesBase } from './head-reuse.js';
import pLimit from 'p-limit';
import { MINIMUM_NIX, supportedNix } from '../nix/nix-version.js';
import { readTracer } from '../nix/trace-reads.js';
import { ancestors, evaluateRevision, type FleetContext, type RevisionResult, type RevisionSpec } from './fleet-eval.js';
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
  /** Where evaluation results of commits are kept (reused by later runs and `guard targets`); none: not cached. */
  cacheDir?: string;
  /** network.allowedHosts of the base policy: flake inputs may also come from these hosts. */
  networkAllowedHosts?: string[];
  /** Called for every nix evaluation started (tests count them). */
  onEvaluate?: (label: string, node: string | undefined) => void;
}

export type DeployEvaluation = (
  | { kind: 'none' }
  /** `baseFindings`: what the base revision had, so an evaluation error the base shares is not "introduced". */
  | { kind: 'failed'; findings: DraftFinding[]; baseFindings: DraftFinding[] }
  | { kind: 'planned'; input: DeployCheckInput; findings: DraftFinding[]; baseFindings: DraftFinding[] }
) & {
  /** For the run's log: the nix version, how many nix processes at once and why, whether the head was evaluated and why. */
  log?: string[];
};

/**
 * Evaluate the fleet at base and head with real nix and build the deploy plan the checks judge.
 * Returns `none` when the head has no flake, or when every changed path is one the base policy
 * declares unable to change the evaluation (deploy.ignorePaths). Anything else may change what the
 * flake evaluates (a .nix file, flake.lock, any file the flake reads), so the fleet is evaluated:
 * both locks judged (no machine path; head inputs only from hosts the base allows, else a finding),
 * inputs fetched into the store (the only network step; a failure is exit 2), then base and head
 * each evaluated one nix process per node (src/deploy/fleet-eval.ts), results cached by commit.
 */
export async function evaluateDeploy(revisions: DeployRevisions, policy: DeployPolicy, options: DeployOptions = {}): Promise<DeployEvaluation> {
  const flakeDir = normalizeDir(policy.flake ?? '');
  const flakeFile = path.posix.join(flakeDir, 'flake.nix');
  const [baseFlake, headFlake] = await Promise.all([revisions.base.readFile(flakeFile), revisions.head.readFile(flakeFile)]);
  if (!headFlake) return { kind: 'none' };
  const changed = await changedPaths(revisions);
  if (!mayChangeEvaluation(changed, policy.ignorePaths ?? [])) return { kind: 'none', log: ['deploy: every changed path is under deploy.ignorePaths; nothing evaluated'] };
  const flakeLocation: SourceLocation = { path: flakeFile, line: 1 };
  const lockFile = path.posix.join(flakeDir, 'flake.lock');
  const [baseLockText, headLockText] = (await Promise.all([revisions.base.readFile(lockFile), revisions.head.readFile(lockFile)])).map((b) => b?.toString('utf8'));
  const baseLock = lockedInputs(baseLockText, lockFile, revisions.base.label);
  const headLock = lockedInputs(headLockText, lockFile, revisions.head.label);
  // Judged from the lock as committed, before nix reads anything of the flake.
  for (const [lock, label] of [[headLock, revisions.head.label], [baseLock, revisions.base.label]] as const) {
    const local = localInputs(lock.locks);
    if (local.length > 0) throw localInputError(local, label);
  }
  const hosts = inputHostPolicy(baseLock.inputs, policy.allowedInputHosts, options.networkAllowedHosts);
  const refusedAtBase = refusedInputs(baseLock.inputs, hosts);
  if (refusedAtBase.length > 0) {
    throw new GuardError(
      `could not check the deploy targets at ${revisions.base.label}: the base flake.lock fetches ${refusedAtBase.map((i) => `"${i.input}" from ${i.host || '(unknown host)'}`).join(', ')}, which ${hosts.source} does not allow`,
      refusedAtBase[0]!.location,
      'add the host to deploy.allowedInputHosts in .guard.yaml',
    );
  }
  const refusedAtHead = refusedInputs(headLock.inputs, hosts);
  if (refusedAtHead.length > 0) return { kind: 'failed', findings: refusedAtHead.map((input) => inputRefused(input, hosts)), baseFindings: [] };
  const nixBin = await findNix();
  // Without nix the deploy targets are not checked (never passed): the HelmReleases still are, and the verdict is incomplete.
  if (!nixBin) return { kind: 'failed', findings: [nixNotAvailable(flakeLocation)], baseFindings: [] };
  const versionText = await nixVersion(nixBin);
  const version = supportedNix(versionText);
  const log: string[] = [`deploy: ${version.ok ? `nix ${version.version}` : versionText}`];
  if (!version.ok) return { kind: 'failed', findings: [nixTooOld(flakeLocation, version.reason)], baseFindings: [], log };
  const tracer = await readTracer();
  if (tracer.kind === 'none') log.push(`deploy: what the flake reads is not recorded (${tracer.reason}): a change that touches no file the flake reads is still evaluated`);
  const cache = new EvalCache(options.cacheDir);
  const pool = evalConcurrency(policy, await cache.peakMB(flakeDir));
  log.push(`deploy: ${pool.concurrency} nix process${pool.concurrency === 1 ? '' : 'es'} at once (${pool.why})`);

  const context: FleetContext = {
    nixBin,
    nixVersion: versionText,
    repoRoot: revisions.root,
    flakeDir,
    timeoutMs: (policy.evalTimeoutSeconds ?? 300) * 1000,
    concurrency: pool.concurrency,
    pool: pLimit(pool.concurrency),
    memoryLimitMB: pool.limitMB,
    cache,
    tracer,
    ...(options.onEvaluate ? { onEvaluate: options.onEvaluate } : {}),
  };
  const baseSpec: RevisionSpec = { rev: revisions.baseSha, label: revisions.base.label, lockText: baseLockText, inputs: baseLock.inputs, hosts };
  const headSpec: RevisionSpec = { rev: revisions.headRev, label: revisions.head.label, lockText: headLockText, inputs: headLock.inputs, hosts };
  // Base and head share one pool of `concurrency` nix processes: memory is bounded by the pool. The head
  // waits for the base only when what the base read decides whether the head needs evaluating at all.
  const headFileList = await revisions.head.listFiles();
  const evaluateBase = (): Promise<RevisionResult> => (baseFlake ? evaluateRevision(context, baseSpec) : Promise.resolve({ ok: true, names: [], nodes: new Map(), reads: { ok: false, reason: 'the base has no flake' } }));
  const certain = headMustEvaluate(changed);
  let baseEval: RevisionResult;
  let headEval: RevisionResult;
  if (certain) {
    log.push(`deploy: head evaluated: ${certain}`);
    [baseEval, headEval] = await both(evaluateBase(), evaluateRevision(context, headSpec));
  } else {
    baseEval = await evaluateBase();
    const reuse = await headReusesBase(baseEval, changed, new Set(headFileList));
    log.push(reuse.reuse ? `deploy: head not evaluated, the base's result holds for it: ${reuse.why}` : `deploy: head evaluated: ${reuse.why}`);
    headEval = reuse.reuse ? baseEval : await evaluateRevision(context, headSpec);
  }
  const headFiles = new Set(headFileList);
  const baseFiles = new Set(await revisions.base.listFiles());
  const flakeFailed = (failure: FlakeFailure, files: Set<string>): DraftFinding => ({
    rule: 'nix/eval-failed',
    severity: 'error',
    message: `evaluating the deploy targets (${flakeFile}#deploy.nodes) failed, so which hosts this change redeploys is unknown: ${failure.identity}`,
    // The line nix names, when it is a file of this repository; else the flake.
    location: failure.position && files.has(failure.position.path) ? failure.position : flakeLocation,
    subject: { kind: 'DeployNode', name: 'deploy.nodes' },
    evidence: [failure.error],
    identity: failure.identity,
  });
  const nodeFailed = (failure: NodeFailure, files: Set<string>): DraftFinding => ({
    rule: 'nix/eval-failed',
    severity: 'error',
    message: `deploy node ${failure.name} does not evaluate, so what this change deploys to it is unknown (the other nodes are compared): ${failure.timedOut ? `timeout: ${failure.error}` : failure.identity}`,
    location: failure.position && files.has(failure.position.path) ? failure.position : flakeLocation,
    subject: { kind: 'DeployNode', name: failure.name },
    evidence: [failure.error],
    identity: failure.identity,
  });
  const baseFindings: DraftFinding[] = !baseEval.ok
    ? [flakeFailed(baseEval.flake, baseFiles)]
    : [...baseEval.nodes.values()].flatMap((o) => (o.ok ? [] : [nodeFailed(o.failure, baseFiles)]));
  if (!headEval.ok) return { kind: 'failed', findings: [flakeFailed(headEval.flake, headFiles)], baseFindings, log };

  const findings: DraftFinding[] = [];
  const headNodes: DeployNode[] = [];
  for (const outcome of headEval.nodes.values()) {
    if (outcome.ok) headNodes.push(outcome.node);
    else findings.push(nodeFailed(outcome.failure, headFiles));
  }
  const failedAtHead = new Set([...headEval.nodes.values()].flatMap((o) => (o.ok ? [] : [o.failure.name])));
  // What each head node is compared with: its base result, or where base did not evaluate it, its last good result before base.
  const baseline = await baselineOf(context, revisions, baseSpec, baseEval, headNodes.map((n) => n.name), policy.lastGoodDepth ?? 3);
  const baseNodes = [...baseline.nodes.values()].filter((n) => !failedAtHead.has(n.name));
  for (const [name, commit] of baseline.lastGood) {
    findings.push({
      rule: 'nix/base-eval-failed',
      severity: 'notice',
      message: `deploy node ${name} does not evaluate at the base revision; it is compared with its last good evaluation, at ${commit.slice(0, 12)}`,
      location: flakeLocation,
      subject: { kind: 'DeployNode', name },
    });
  }
  const unknown = headNodes.filter((n) => !baseline.nodes.has(n.name) && baseline.unknown.has(n.name));
  if (unknown.length > 0) {
    // Neither blocked as new nor silently passed: counted as not redeployed, and said so.
    for (const node of unknown) baseNodes.push(node);
    findings.push({
      rule: 'nix/base-eval-failed',
      severity: 'warning',
      message: `${unknown.length} deploy node${unknown.length === 1 ? '' : 's'} (${unknown.map((n) => n.name).join(', ')}) could not be evaluated at the base revision nor in the ${policy.lastGoodDepth ?? 3} commits before it, so whether this change redeploys ${unknown.length === 1 ? 'it' : 'them'} is unknown; they are counted as not redeployed`,
      location: flakeLocation,
      subject: { kind: 'DeployNode', name: 'deploy.nodes' },
      identity: unknown.map((n) => n.name).join(','),
      suggestion: 'fix the base revision (or evaluate it once with the guard so its result is cached), then the change is compared host by host',
    });
  }
  const plan: DeployPlan = planDeploy(baseNodes, headNodes, policy.sites ?? {}, policy.tool ?? 'deploy-rs');
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
  return { kind: 'planned', input, findings, baseFindings, log };
}

/** Both results; when one fails, the other is still awaited (no nix process outlives the check), then the failure thrown. */
async function both<A, B>(a: Promise<A>, b: Promise<B>): Promise<[A, B]> {
  const [first, second] = await Promise.allSettled([a, b]);
  if (first.status === 'rejected') throw first.reason;
  if (second.status === 'rejected') throw second.reason;
  return [first.value, second.value];
}

/** Every path the change touches (deleted ones too); the working tree's tracked files when there is no head commit. */
async function changedPaths(revisions: DeployRevisions): Promise<string[]> {
  const args = ['diff', '--name-only', '-z', '--no-renames', '--no-ext-diff', revisions.baseSha, ...(revisions.headRev ? [revisions.headRev] : []), '--'];
  const { stdout } = await runGit(args, { cwd: revisions.root, maxBuffer: 64 * 1024 * 1024 });
  return stdout.split('\0').filter(Boolean);
}

function mayChangeEvaluation(changed: string[], ignorePaths: string[]): boolean {
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

function inputRefused(input: LockedInput, hosts: InputHostPolicy): DraftFinding {
  return {
    rule: 'nix/input-host-not-allowed',
    severity: 'error',
    message: `flake input "${input.input}" (${input.type}) is fetched from ${input.host || 'a host the guard cannot tell'}, which is not allowed (${hosts.source}); the guard did not contact it, so the deploy targets of this change were not evaluated`,
    location: input.location,
    subject: { kind: 'DeployNode', name: `input ${input.input}` },
    identity: `${input.input}@${input.host}`,
    suggestion: 'use an input from an allowed host, or allow the host in deploy.allowedInputHosts of .guard.yaml in a change of its own (the policy is read from the base)',
  };
}

interface Baseline {
  nodes: Map<string, DeployNode>;
  /** Nodes compared with an earlier commit than base, and that commit. */
  lastGood: Map<string, string>;
  /** Nodes that did not evaluate at base nor in the commits searched. */
  unknown: Set<string>;
}

/**
 * What each head node is compared with. A node that does not evaluate at base was not deployed by
 * base either: what runs is its last good result, so the nearest first-parent ancestor where it
 * evaluated is the baseline (a fix-forward then counts only hosts it really changes). A node absent
 * from a base that evaluated is new (added), not unknown.
 */
async function baselineOf(context: FleetContext, revisions: DeployRevisions, baseSpec: RevisionSpec, baseEval: RevisionResult, headNames: string[], depth: number): Promise<Baseline> {
  const nodes = new Map<string, DeployNode>();
  const unknown = new Set<string>();
  if (baseEval.ok) {
    for (const [name, outcome] of baseEval.nodes) {
      if (outcome.ok) nodes.set(name, outcome.node);
      else unknown.add(name);
    }
  } else {
    for (const name of headNames) unknown.add(name);
  }
  const lastGood = new Map<string, string>();
  const wanted = () => headNames.filter((n) => unknown.has(n));
  if (wanted().length === 0) return { nodes, lastGood, unknown };
  for (const commit of await ancestors(revisions.root, revisions.baseSha, depth)) {
    const lockText = (await new CommitSnapshot(revisions.root, commit, `ancestor ${commit.slice(0, 12)}`).readFile(path.posix.join(context.flakeDir, 'flake.lock')))?.toString('utf8');
    let result: RevisionResult;
    try {
      const lock = lockedInputs(lockText, path.posix.join(context.flakeDir, 'flake.lock'), `ancestor ${commit.slice(0, 12)}`);
      if (localInputs(lock.locks).length > 0) break;
      // History already merged: its own lock's hosts are as trusted as the base's.
      const hosts = inputHostPolicy(lock.inputs, undefined, []);
      const allowed = { isAllowed: (h: string) => hosts.isAllowed(h) || baseSpec.hosts.isAllowed(h), source: baseSpec.hosts.source };
      result = await evaluateRevision(context, { rev: commit, label: `ancestor ${commit.slice(0, 12)}`, lockText, inputs: lock.inputs, hosts: allowed }, wanted());
    } catch (error) {
      if (error instanceof GuardError) break; // inputs of older history may be gone: stop searching, the rest stays unknown
      throw error;
    }
    if (!result.ok) continue;
    for (const name of wanted()) {
      const outcome = result.nodes.get(name);
      if (outcome?.ok) {
        nodes.set(name, outcome.node);
        lastGood.set(name, commit);
        unknown.delete(name);
      }
    }
    if (wanted().length === 0) break;
  }
  return { nodes, lastGood, unknown };
}

/** A nix too old (or unrecognised) for the interfaces the guard uses: not checked, like no nix at all. */
function nixTooOld(location: SourceLocation, reason: string): DraftFinding {
  return {
    rule: NIX_NOT_AVAILABLE_RULE,
    severity: 'warning',
    message: `could not check the deploy targets (${location.path}#deploy.nodes): ${reason}; everything else is checked`,
    location,
    subject: { kind: 'DeployNode', name: 'deploy.nodes' },
    suggestion: `install nix ${MINIMUM_NIX} or newer (Debian/Ubuntu: apt-get install nix-bin; elsewhere https://nixos.org/download) or set NIX_BIN`,
    identity: 'nix-version',
  };
}

function nixNotAvailable(location: SourceLocation): DraftFinding {
  return {
    rule: NIX_NOT_AVAILABLE_RULE,
    severity: 'warning',
    message: `nix is not available on this runner (${nixCandidate()} does not run), so the deploy targets (${location.path}#deploy.nodes) are not checked; everything else is: ${NIX_INSTALL_HINT}`,
    location,
    subject: { kind: 'DeployNode', name: 'deploy.nodes' },
    suggestion: NIX_INSTALL_HINT,
    identity: 'nix',
  };
}
