import type { Report } from '../engine.js';
import { atOrAbove, compareFindings, COULD_NOT_CHECK_RULES, type Severity } from '../findings.js';

/** Everything of a report but what is computed from it. */
export type ReportParts = Omit<Report, 'version' | 'summary'>;

/** A report in its canonical order, with the summary and verdict computed from its findings. */
export function assembleReport(parts: ReportParts): Report {
  const findings = [...parts.findings].sort(compareFindings);
  const releases = [...parts.releases].sort((a, b) => a.namespace.localeCompare(b.namespace) || a.name.localeCompare(b.name) || (a.cluster ?? '').localeCompare(b.cluster ?? ''));
  const count = (severity: Severity) => findings.filter((f) => f.severity === severity).length;
  const blocking = findings.filter((f) => !COULD_NOT_CHECK_RULES.has(f.rule) && atOrAbove(f.severity, parts.failOn)).length;
  const incomplete = findings.some((f) => COULD_NOT_CHECK_RULES.has(f.rule));
  return {
    version: 1,
    tool: parts.tool,
    base: parts.base,
    head: parts.head,
    policy: parts.policy,
    failOn: parts.failOn,
    findings,
    releases,
    ...(parts.deploy ? { deploy: parts.deploy } : {}),
    ...(parts.shard ? { shard: parts.shard } : {}),
    summary: {
      errors: count('error'),
      warnings: count('warning'),
      notices: count('notice'),
      introduced: findings.filter((f) => f.introduced).length,
      blocking,
      releasesTotal: releases.length,
      releasesChecked: releases.filter((r) => r.status === 'rendered').length,
      releasesFailed: releases.filter((r) => r.status === 'failed').length,
      releasesNotChecked: releases.filter((r) => r.status === 'not-checked').length,
      releasesUnchanged: releases.filter((r) => r.status === 'unchanged').length,
      verdict: blocking > 0 ? 'fail' : incomplete ? 'incomplete' : 'pass',
    },
  };
}
