import { describe, expect, it, afterEach } from 'vitest';
import { checkMultiSite } from '../../src/checks/deploy-multi-site.js';
import { checkUnsafeSettings } from '../../src/checks/deploy-unsafe-settings.js';
import { evaluateDeploy } from '../../src/deploy/evaluate.js';
import type { DeployPolicy } from '../../src/deploy/policy.js';
import { CommitSnapshot, WorktreeSnapshot } from '../../src/git/repo.js';
import { TestRepo } from '../support/git-repo.js';
import { FLEET_HOSTS, fleetFiles, fleetFlake, fleetFlakeWithInput, storeSource, tarballLock } from '../support/fleet.js';

const policy: DeployPolicy = { tool: 'deploy-rs', maxSitesPerChange: 1, sites: { hostPattern: '^cc-[a-z]{2}-(?<site>[a-z]{3})-' } };
let repo: TestRepo | undefined;
afterEach(async () => {
  await repo?.remove();
  repo = undefined;
});

async function planFor(change: Record<string, string | null>, deployPolicy = policy, message = 'change') {
  repo = await TestRepo.create();
  const base = await repo.commit('fleet', fleetFiles());
  await repo.branch('change');
  const head = await repo.commit(message, change);
  const evaluation = await evaluateDeploy(
    { root: repo.dir, baseSha: base, headRev: head, base: new CommitSnapshot(repo.dir, base, 'base'), head: new CommitSnapshot(repo.dir, head, 'head') },
    deployPolicy,
  );
  return evaluation;
}

describe('deploy targets evaluated with real nix', () => {
  it('sees that a shared module change redeploys every host, in lau, hel and sto, and blocks it', async () => {
    const evaluation = await planFor({ 'modules/common.nix': '{\n  motd = "new kernel";\n}\n' });
    expect(evaluation.kind).toBe('planned');
    if (evaluation.kind !== 'planned') return;
    const changed = evaluation.input.plan.targets.filter((t) => t.change === 'changed');
    expect(changed.map((t) => t.node.name).sort()).toEqual(['cc-fi-hel-core-01', 'cc-fi-hel-k3s-02', 'cc-fr-lau-store-01', 'cc-se-sto-core-01']);
    const [finding] = checkMultiSite(evaluation.input);
    expect(finding).toMatchObject({ rule: 'deploy/multi-site', severity: 'error', location: { path: 'modules/common.nix', line: 2 } });
    expect(finding!.message).toContain('hel: cc-fi-hel-core-01, cc-fi-hel-k3s-02');
    expect(finding!.message).toContain('lau: cc-fr-lau-store-01');
    expect(finding!.message).toContain('sto: cc-se-sto-core-01');
  });

  it('lets a change to one host through, and deploy-rs still contacts the others', async () => {
    const evaluation = await planFor({ 'hosts/cc-se-sto-core-01.nix': '{\n  role = "storage";\n}\n' });
    if (evaluation.kind !== 'planned') throw new Error(evaluation.kind);
    const targets = evaluation.input.plan.targets;
    expect(targets.filter((t) => t.change === 'changed').map((t) => t.node.name)).toEqual(['cc-se-sto-core-01']);
    expect(targets.every((t) => t.contacted)).toBe(true);
    expect(checkMultiSite(evaluation.input)).toEqual([]);
  });

  it('with colmena or comin, only changed hosts are contacted', async () => {
    const evaluation = await planFor({ 'hosts/cc-se-sto-core-01.nix': '{\n  role = "storage";\n}\n' }, { ...policy, tool: 'colmena' });
    if (evaluation.kind !== 'planned') throw new Error(evaluation.kind);
    expect(evaluation.input.plan.targets.filter((t) => t.contacted).map((t) => t.node.name)).toEqual(['cc-se-sto-core-01']);
  });

  it('reports an evaluation error as nix/eval-failed at the line nix names, never a pass', async () => {
    const evaluation = await planFor({ 'modules/common.nix': '{\n  motd = ;\n}\n' });
    // Each node is its own nix process: every node that imports the module is named, at the module's line.
    if (evaluation.kind !== 'planned') throw new Error(evaluation.kind);
    const failed = evaluation.findings.filter((f) => f.rule === 'nix/eval-failed');
    expect(failed.map((f) => f.subject.name).sort()).toEqual([...FLEET_HOSTS].sort());
    for (const finding of failed) expect(finding).toMatchObject({ severity: 'error', location: { path: 'modules/common.nix', line: 2 } });
    expect(failed[0]!.message).toContain("syntax error, unexpected ';'");
    expect(evaluation.baseFindings).toEqual([]);
    expect(failed[0]!.evidence?.[0]).toMatch(/error/);
    expect(failed[0]!.evidence?.[0]).not.toMatch(/\/nix\/store\/[a-z0-9]{32}-source\/modules/);
    expect(evaluation.input.plan.targets).toEqual([]);
  });

  it('reports hosts without a known site, and unsafe rollback settings of redeployed hosts', async () => {
    const flake = fleetFlake({ extraNodeAttributes: { 'cc-se-sto-core-01': 'magicRollback = false; confirmTimeout = 3600;' } });
    const evaluation = await planFor({ 'flake.nix': flake, 'modules/common.nix': '{\n  motd = "x";\n}\n' }, { ...policy, sites: {} });
    if (evaluation.kind !== 'planned') throw new Error(evaluation.kind);
    expect(checkMultiSite(evaluation.input).filter((f) => f.rule === 'deploy/unknown-site')).toHaveLength(4);
    const unsafe = checkUnsafeSettings(evaluation.input);
    expect(unsafe).toHaveLength(1);
    expect(unsafe[0]!.message).toContain('magicRollback = false');
    expect(unsafe[0]!.message).toContain('confirmTimeout = 3600');
    expect(unsafe[0]!.location.path).toBe('flake.nix');
  });

  it('shows an override loudly instead of blocking, when an approver the base policy names approved the head commit', async () => {
    const asked: string[][] = [];
    repo = await TestRepo.create();
    const base = await repo.commit('fleet', fleetFiles());
    const head = await repo.commit('Roll out the CVE fix everywhere\n\nGuard-Allow-Multi-Site: CVE-2026-1234', { 'modules/common.nix': '{\n  motd = "urgent fix";\n}\n' });
    const evaluation = await evaluateDeploy(
      { root: repo.dir, baseSha: base, headRev: head, base: new CommitSnapshot(repo.dir, base, 'base'), head: new CommitSnapshot(repo.dir, head, 'head') },
      { ...policy, overrideTrailer: 'Guard-Allow-Multi-Site', override: { approvers: ['oncall-lead'] } },
      { approvals: async (approvers) => (asked.push(approvers), { ok: true, approvedBy: ['oncall-lead'] }) },
    );
    if (evaluation.kind !== 'planned') throw new Error(evaluation.kind);
    expect(asked).toEqual([['oncall-lead']]);
    const [finding] = checkMultiSite(evaluation.input);
    expect(finding).toMatchObject({ rule: 'deploy/override-used', severity: 'warning' });
    expect(finding!.message).toContain('CVE-2026-1234');
    expect(finding!.message).toContain('approved by oncall-lead');
  });

  it('sees a flake.lock-only change (an input bump) as redeploying the hosts that use the input, with the inputs taken from the store', async () => {
    const url = 'https://inputs.example.invalid/shared.tar.gz';
    const [one, two] = await Promise.all([storeSource({ 'common.nix': '{ motd = "one"; }\n' }), storeSource({ 'common.nix': '{ motd = "two"; }\n' })]);
    repo = await TestRepo.create();
    const base = await repo.commit('fleet with a pinned input', { ...fleetFiles(), 'flake.nix': fleetFlakeWithInput(url), 'flake.lock': tarballLock({ shared: { url, narHash: one.narHash } }) });
    const head = await repo.commit('bump shared', { 'flake.lock': tarballLock({ shared: { url, narHash: two.narHash } }) });
    expect(await repo.git('diff', '--name-only', base, head)).toBe('flake.lock');
    const evaluation = await evaluateDeploy(
      { root: repo.dir, baseSha: base, headRev: head, base: new CommitSnapshot(repo.dir, base, 'base'), head: new CommitSnapshot(repo.dir, head, 'head') },
      policy,
    );
    if (evaluation.kind !== 'planned') throw new Error(JSON.stringify(evaluation));
    expect(evaluation.input.plan.targets.filter((t) => t.change === 'changed')).toHaveLength(4);
    expect(checkMultiSite(evaluation.input)[0]?.location.path).toBe('flake.lock');
  });

  it('evaluates the working tree when there is no head commit', async () => {
    repo = await TestRepo.create();
    const base = await repo.commit('fleet', fleetFiles());
    await repo.write({ 'hosts/cc-fi-hel-k3s-02.nix': '{\n  role = "k3s";\n}\n' });
    const evaluation = await evaluateDeploy(
      { root: repo.dir, baseSha: base, base: new CommitSnapshot(repo.dir, base, 'base'), head: new WorktreeSnapshot(repo.dir) },
      policy,
    );
    if (evaluation.kind !== 'planned') throw new Error(evaluation.kind);
    expect(evaluation.input.plan.targets.filter((t) => t.change === 'changed').map((t) => t.node.name)).toEqual(['cc-fi-hel-k3s-02']);
  });
});
