import type { Log, ReportingDescriptor, Result } from 'sarif';
import type { Report } from '../engine.js';
import { createHash } from 'node:crypto';
import { findingKey, type Finding, type Severity } from '../findings.js';

const LEVEL: Record<Severity, Result.level> = { error: 'error', warning: 'warning', notice: 'note' };

const RULE_HELP: Record<string, string> = {
  'container-flags/unknown-flag': 'A container argument names a flag that the image binary\'s --help does not list; the binary exits at start and the pod crash-loops.',
  'container-flags/removed-in-upgrade': 'An image upgrade dropped a flag the container is still given; the new binary exits at start.',
  'container-flags/bool-with-value': 'A boolean flag is given =true/=false, which kingpin rejects ("unexpected true").',
  'container-flags/repeated': 'A single-value flag is given more than once.',
  'container-flags/bad-enum': 'A flag value is outside the options the help lists.',
  'container-flags/unknown-env': 'An environment variable with the binary\'s flag prefix names no flag, so it does nothing.',
  'container-flags/bad-value': 'A flag value does not parse as the flag\'s type (int, duration, bool, ...).',
  'container-flags/conflicting-flags': 'Two flags the binary refuses together (an argparse mutually exclusive group) are both given.',
  'container-flags/missing-required': 'A required flag is neither in the args nor in the environment.',
  'container-flags/unverified': 'No help output is known for the image, so its flags could not be verified.',
  'render/failed': 'helm template failed for the HelmRelease.',
  'deploy/multi-site': 'The change redeploys hosts in more sites at once than the policy allows.',
};

/** SARIF 2.1.0 for GitHub code scanning: one result per finding, located at the line to edit. */
export function renderSarif(report: Report): Log {
  const ruleIds = [...new Set(report.findings.map((f) => f.rule))].sort();
  const rules: ReportingDescriptor[] = ruleIds.map((id) => ({
    id,
    name: id.replace(/[/-](\w)/g, (_, c: string) => c.toUpperCase()).replace(/^\w/, (c) => c.toUpperCase()),
    shortDescription: { text: RULE_HELP[id] ?? id },
    helpUri: `https://github.com/gitops-guard/gitops-guard#findings`,
  }));
  return {
    version: '2.1.0',
    $schema: 'https://json.schemastore.org/sarif-2.1.0.json',
    runs: [{
      tool: { driver: { name: 'gitops-guard', version: report.tool.version, informationUri: 'https://github.com/gitops-guard/gitops-guard', rules } },
      automationDetails: { id: `gitops-guard/${report.head.sha}` },
      results: report.findings.map((finding) => toResult(finding, ruleIds.indexOf(finding.rule))),
    }],
  };
}

function toResult(finding: Finding, ruleIndex: number): Result {
  const text = [finding.message, ...(finding.evidence ?? []).map((e) => `evidence: ${e}`), ...(finding.suggestion ? [`suggestion: ${finding.suggestion}`] : [])].join('\n');
  return {
    ruleId: finding.rule,
    ruleIndex,
    level: LEVEL[finding.severity],
    message: { text },
    locations: [{
      physicalLocation: {
        artifactLocation: { uri: finding.location.path, uriBaseId: '%SRCROOT%' },
        region: { startLine: finding.location.line, ...(finding.location.column ? { startColumn: finding.location.column } : {}), ...(finding.location.endLine ? { endLine: finding.location.endLine } : {}) },
      },
    }],
    relatedLocations: finding.related?.map((r, id) => ({
      id,
      physicalLocation: { artifactLocation: { uri: r.path, uriBaseId: '%SRCROOT%' }, region: { startLine: r.line } },
      message: r.message ? { text: r.message } : undefined,
    })),
    // Stable across line moves, so code scanning tracks a finding from one push to the next.
    partialFingerprints: { 'gitopsGuard/v1': createHash('sha256').update(findingKey(finding)).digest('hex').slice(0, 32) },
    properties: { introduced: finding.introduced, subject: finding.subject },
  };
}
