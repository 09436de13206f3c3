import type { Report } from '../engine.js';
import { findingKey, type Finding, type Severity } from '../findings.js';
import { assembleReport } from './assemble.js';

/**
 * One verdict from the reports of `guard check --shard I/N`: every finding once, every release,
 * the deploy plan of the shard that evaluated it, and the summary recomputed.
 */
export function mergeReports(reports: Report[], failOn?: Severity): Report {
  if (reports.length === 0) throw new Error('no reports to merge');
  const [first] = reports as [Report, ...Report[]];
  for (const report of reports) {
    if (report.base.sha !== first.base.sha || report.head.sha !== first.head.sha) {
      throw new Error(`reports of different revisions cannot be merged (${report.base.sha.slice(0, 12)}..${report.head.sha.slice(0, 12)} vs ${first.base.sha.slice(0, 12)}..${first.head.sha.slice(0, 12)})`);
    }
  }
  const total = first.shard?.total;
  if (total !== undefined) {
    const seen = new Set(reports.map((r) => r.shard?.index));
    const missing = Array.from({ length: total }, (_, i) => i + 1).filter((i) => !seen.has(i));
    if (missing.length > 0) throw new Error(`shard report(s) ${missing.join(', ')} of ${total} are missing; a partial merge would pass unchecked work`);
  }
  const findings = new Map<string, Finding>();
  for (const finding of reports.flatMap((r) => r.findings)) findings.set(`${findingKey(finding)}\0${finding.message}\0${finding.location.line}`, finding);
  const releases = new Map(reports.flatMap((r) => r.releases).map((r) => [`${r.cluster ?? ''}\0${r.namespace}/${r.name}`, r]));
  const deploy = reports.find((r) => r.deploy)?.deploy;
  return assembleReport({
    tool: first.tool,
    base: first.base,
    head: first.head,
    policy: first.policy,
    failOn: failOn ?? first.failOn,
    findings: [...findings.values()],
    releases: [...releases.values()],
    ...(deploy ? { deploy } : {}),
  });
}
