import type { DraftFinding } from '../findings.js';
import { redeployed } from '../deploy/plan.js';
import type { DeployCheckInput } from '../deploy/policy.js';

/** Redeployed targets that cannot roll themselves back when the new generation breaks them. */
export function checkUnsafeSettings(input: DeployCheckInput): DraftFinding[] {
  const severity = input.policy.unsafeSettings ?? 'warning';
  const maxConfirm = input.policy.maxConfirmTimeoutSeconds ?? 300;
  const findings: DraftFinding[] = [];
  for (const target of redeployed(input.plan)) {
    const { node } = target;
    const problems: string[] = [];
    if (node.magicRollback === false) problems.push('magicRollback = false (a deploy that cuts the connection is not rolled back)');
    if (node.autoRollback === false) problems.push('autoRollback = false (a failed activation is not rolled back)');
    if (node.confirmTimeout !== undefined && node.confirmTimeout > maxConfirm) problems.push(`confirmTimeout = ${node.confirmTimeout} s (over ${maxConfirm} s)`);
    if (problems.length === 0) continue;
    findings.push({
      rule: 'deploy/unsafe-settings',
      severity,
      message: `deploy node ${node.name} (${target.site ?? 'unknown site'}) is redeployed with ${problems.join('; ')}`,
      location: input.nodeLocation(node.name),
      subject: { kind: 'DeployNode', name: node.name },
      suggestion: 'keep magicRollback and autoRollback on (deploy-rs defaults) for hosts a change redeploys',
    });
  }
  return findings;
}
