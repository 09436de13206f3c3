import path from 'node:path';
import type { DraftFinding, SourceLocation } from '../findings.js';
import { firstChangedLines, normalizeDir, trailersBetween, type Snapshot } from '../git/repo.js';
import { evaluateDeployNodes, resolveNix, type DeployNode } from '../nix/eval-deploy.js';
import { fetchFiringAlerts } from './alertmanager.js';
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

export type DeployEvaluation =
  | { kind: 'none' }
  | { kind: 'failed'; findings: DraftFinding[] }
  | { kind: 'planned'; input: DeployCheckInput; findings: DraftFinding[] };

/**
 * Evaluate the fleet at base and head with real nix and build the deploy plan the checks judge.
 * Returns `none` when neither revision has a flake.
 */
export async function evaluateDeploy(revisions: DeployRevisions, policy: DeployPolicy): Promise<DeployEvaluation> {
  const flakeDir = normalizeDir(policy.flake ?? '');
  const flakeFile = path.posix.join(flakeDir, 'flake.nix');
  const [baseFlake, headFlake] = await Promise.all([revisions.base.readFile(flakeFile), revisions.head.readFile(flakeFile)]);
  if (!headFlake) return { kind: 'none' };
  if (!(await mentionsDeployNodes(headFlake.toString('utf8'), revisions.head, flakeDir))) return { kind: 'none' };
  const nixBin = await resolveNix();
  const flakeLocation: SourceLocation = { path: flakeFile, line: 1 };
  const timeoutMs = 300_000;
  const [baseEval, headEval] = await Promise.all([
    baseFlake ? evaluateDeployNodes({ nixBin, repoRoot: revisions.root, rev: revisions.baseSha, flakeDir, timeoutMs }) : Promise.resolve({ ok: true as const, nodes: [] as DeployNode[] }),
    evaluateDeployNodes({ nixBin, repoRoot: revisions.root, rev: revisions.headRev, flakeDir, timeoutMs }),
  ]);
  if (!headEval.ok) {
    return {
      kind: 'failed',
      findings: [{
        rule: 'nix/eval-failed',
        severity: 'error',
        message: `evaluating the deploy targets (${flakeFile}#deploy.nodes) failed at ${revisions.head.label}, so which hosts this change redeploys is unknown`,
        location: flakeLocation,
        subject: { kind: 'DeployNode', name: 'deploy.nodes' },
        evidence: [headEval.error],
      }],
    };
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
    const headRef = revisions.headRev ?? 'HEAD';
    const trailers = await trailersBetween(revisions.root, revisions.baseSha, headRef, policy.overrideTrailer);
    const first = trailers[0];
    if (first) input.override = { commit: first.commit, reason: `${policy.overrideTrailer}: ${first.value}` };
  }
  if (policy.alertmanager && plan.targets.some((t) => t.contacted)) {
    const url = process.env.GUARD_ALERTMANAGER_URL ?? policy.alertmanager.url;
    input.alerts = url
      ? await fetchFiringAlerts({ url, matchers: policy.alertmanager.matchers ?? { severity: 'critical' }, timeoutMs: (policy.alertmanager.timeoutSeconds ?? 10) * 1000 })
      : { ok: false, error: 'no Alertmanager URL (deploy.alertmanager.url or GUARD_ALERTMANAGER_URL)' };
  }
  return { kind: 'planned', input, findings };
}

async function mentionsDeployNodes(flakeText: string, head: Snapshot, flakeDir: string): Promise<boolean> {
  if (/\bdeploy\b/.test(flakeText)) return true;
  const nixFiles = (await head.listFiles()).filter((f) => f.endsWith('.nix') && (flakeDir === '' || f.startsWith(flakeDir + '/')));
  const contents = await head.readFiles(nixFiles);
  return [...contents.values()].some((data) => /\bdeploy\.nodes\b|\bnodes\s*=/.test(data.toString('utf8')));
}

/** Changed lines of the files that can change what nix evaluates: nix files and flake.lock. */
async function fleetChangedLines(revisions: DeployRevisions, flakeDir: string): Promise<SourceLocation[]> {
  const changes = await firstChangedLines(revisions.root, revisions.baseSha, revisions.headRev);
  const inFlake = changes.filter((c) => flakeDir === '' || c.path.startsWith(flakeDir + '/'));
  const nix = inFlake.filter((c) => c.path.endsWith('.nix') || c.path.endsWith('flake.lock'));
  return (nix.length > 0 ? nix : inFlake).map((c) => ({ path: c.path, line: c.line }));
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
      const index = lines.findIndex((l) => definition.test(l));
      if (index >= 0) return { path: file, line: index + 1 };
    }
    return fallback;
  };
}
