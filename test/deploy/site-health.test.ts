import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { checkSiteHealth } from '../../src/checks/deploy-site-unhealthy.js';
import { evaluateDeploy } from '../../src/deploy/evaluate.js';
import type { DeployPolicy } from '../../src/deploy/policy.js';
import { CommitSnapshot } from '../../src/git/repo.js';
import { AlertmanagerServer } from '../support/alertmanager.js';
import { TestRepo } from '../support/git-repo.js';
import { fleetFiles } from '../support/fleet.js';

let alertmanager: AlertmanagerServer;
let repo: TestRepo | undefined;

beforeAll(async () => {
  alertmanager = await AlertmanagerServer.start();
  await alertmanager.postAlert({ alertname: 'NodeUnreachable', severity: 'critical', site: 'sto', instance: 'cc-se-sto-core-01.example.net:9100' }, 'sto uplink down');
  await alertmanager.postAlert({ alertname: 'DiskAlmostFull', severity: 'warning', site: 'hel' }, 'not critical');
});
afterAll(async () => alertmanager.stop());
afterEach(async () => {
  await repo?.remove();
  repo = undefined;
});

async function evaluate(change: Record<string, string>, policy: DeployPolicy) {
  repo = await TestRepo.create();
  const base = await repo.commit('fleet', fleetFiles());
  await repo.branch('change');
  const head = await repo.commit('change', change);
  const evaluation = await evaluateDeploy(
    { root: repo.dir, baseSha: base, headRev: head, base: new CommitSnapshot(repo.dir, base, 'base'), head: new CommitSnapshot(repo.dir, head, 'head') },
    policy,
  );
  if (evaluation.kind !== 'planned') throw new Error(evaluation.kind);
  return checkSiteHealth(evaluation.input);
}

const sites = { hostPattern: '^cc-[a-z]{2}-(?<site>[a-z]{3})-' };

describe('live alerts from a real Alertmanager', () => {
  it('blocks a deploy to the site with a firing critical alert, and only that site', async () => {
    const policy: DeployPolicy = { tool: 'colmena', sites, alertmanager: { url: alertmanager.url } };
    const toSto = await evaluate({ 'hosts/cc-se-sto-core-01.nix': '{\n  role = "x";\n}\n' }, policy);
    expect(toSto).toHaveLength(1);
    expect(toSto[0]).toMatchObject({ rule: 'deploy/site-unhealthy', severity: 'error', subject: { name: 'cc-se-sto-core-01' } });
    expect(toSto[0]!.message).toContain('NodeUnreachable');
    expect(toSto[0]!.evidence?.join('\n')).toContain('sto uplink down');
    const toHel = await evaluate({ 'hosts/cc-fi-hel-core-01.nix': '{\n  role = "x";\n}\n' }, policy);
    expect(toHel).toEqual([]);
  });

  it('with deploy-rs, which contacts every node, a change elsewhere is still blocked by the partitioned site', async () => {
    const findings = await evaluate({ 'hosts/cc-fi-hel-core-01.nix': '{\n  role = "x";\n}\n' }, { tool: 'deploy-rs', sites, alertmanager: { url: alertmanager.url } });
    expect(findings).toHaveLength(1);
    expect(findings[0]!.message).toContain('contacted by deploy-rs');
  });

  it('reports an unreachable Alertmanager as the policy says: warn by default, fail when fail-closed', async () => {
    const down = 'http://127.0.0.1:9';
    const warn = await evaluate({ 'hosts/cc-fi-hel-core-01.nix': '{\n  role = "x";\n}\n' }, { tool: 'colmena', sites, alertmanager: { url: down, timeoutSeconds: 2 } });
    expect(warn[0]).toMatchObject({ rule: 'deploy/alerts-unavailable', severity: 'warning' });
    const fail = await evaluate({ 'hosts/cc-fi-hel-core-01.nix': '{\n  role = "x";\n}\n' }, { tool: 'colmena', sites, alertmanager: { url: down, onUnreachable: 'fail', timeoutSeconds: 2 } });
    expect(fail[0]).toMatchObject({ rule: 'deploy/alerts-unavailable', severity: 'error' });
  });
});
