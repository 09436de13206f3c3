import { createHash } from 'node:crypto';
import type { Report } from '../engine.js';
import { findingKey, type Finding } from '../findings.js';
import { scrubUrlCredentials } from '../report/redact.js';

export const SUMMARY_MARKER = '<!-- gitops-guard:summary -->';
export const REVIEW_MARKER = '<!-- gitops-guard:review -->';
export const FINDING_MARKER_PREFIX = '<!-- gitops-guard:finding ';

/** GitHub rejects comment bodies over 65536 characters; Forgejo's limit is larger. Stay under both. */
export const MAX_COMMENT_CHARS = 60_000;

const ICON = { error: '⛔', warning: '⚠️', notice: 'ℹ️' } as const;

/** Identity of a line comment: the finding and where it sits, so a moved finding gets a new comment. */
export function commentKey(finding: Finding): string {
  return createHash('sha256').update(`${findingKey(finding)}\0${finding.location.path}\0${finding.location.line}`).digest('hex').slice(0, 16);
}

export function findingMarker(key: string): string {
  return `${FINDING_MARKER_PREFIX}${key} -->`;
}

export function markerKey(body: string | undefined | null): string | undefined {
  const start = body?.indexOf(FINDING_MARKER_PREFIX) ?? -1;
  if (!body || start < 0) return undefined;
  return body.slice(start + FINDING_MARKER_PREFIX.length).split(' ')[0];
}

export function lineCommentBody(finding: Finding): string {
  const parts = [
    findingMarker(commentKey(finding)),
    `${ICON[finding.severity]} **${finding.severity}** \`${finding.rule}\`${finding.introduced ? ' (introduced by this change)' : ''}`,
    '',
    finding.message,
  ];
  if (finding.evidence?.length) parts.push('', ...finding.evidence.map((e) => `- ${e}`));
  if (finding.suggestion) parts.push('', `**Suggestion:** \`${finding.suggestion}\``);
  return truncate(parts.join('\n'));
}

export function statusDescription(report: Report): string {
  const { summary } = report;
  const text = summary.verdict === 'fail'
    ? `Blocked: ${summary.errors} error(s), ${summary.warnings} warning(s)`
    : summary.verdict === 'incomplete'
    ? `Could not check everything: a chart source did not answer`
    : `Passed: ${summary.warnings} warning(s), ${summary.notices} notice(s)`;
  return text.slice(0, 140);
}

/** The one summary comment: the verdict, every finding with its location, and what could not be commented on a line. */
export function summaryBody(report: Report, options: { outsideDiff: Finding[]; notes: string[]; runUrl?: string }): string {
  const { summary } = report;
  const head = summary.verdict === 'fail'
    ? `## ⛔ gitops-guard: merge blocked`
    : summary.verdict === 'incomplete'
    ? `## ⚠️ gitops-guard: could not check everything (no verdict)`
    : `## ✅ gitops-guard: no blocking findings`;
  const lines = [
    SUMMARY_MARKER,
    head,
    '',
    `${summary.errors} error(s), ${summary.warnings} warning(s), ${summary.notices} notice(s); ${summary.introduced} introduced by this change. ` +
      `Checked ${summary.releasesChecked} HelmRelease(s)${report.deploy ? `, ${report.deploy.targets.filter((t) => t.change !== 'unchanged').length} deploy target(s) redeployed` : ''}. Policy: ${report.policy}.`,
  ];
  if (report.findings.length > 0) {
    lines.push('', '| | rule | where | finding |', '| --- | --- | --- | --- |');
    for (const finding of report.findings) {
      lines.push(`| ${ICON[finding.severity]} | \`${finding.rule}\` | \`${finding.location.path}:${finding.location.line}\` | ${escapeCell(finding.message)} |`);
    }
  }
  if (options.outsideDiff.length > 0) {
    lines.push('', '<details><summary>Findings on lines outside this diff (not commentable on a line)</summary>', '');
    for (const finding of options.outsideDiff) {
      lines.push(`- \`${finding.location.path}:${finding.location.line}\` ${finding.message}${finding.suggestion ? ` (suggestion: \`${finding.suggestion}\`)` : ''}`);
    }
    lines.push('', '</details>');
  }
  if (options.notes.length > 0) lines.push('', ...options.notes.map((n) => `> ${n}`));
  if (options.runUrl) lines.push('', `[Full report](${options.runUrl})`);
  return truncate(lines.join('\n'), `\n\n… (truncated: the full report is in the job summary and the report artifact)`);
}

function escapeCell(text: string): string {
  return text.replace(/\|/g, '\\|').replace(/\n/g, ' ');
}

/** Every body leaves through here: credentials inside URLs never reach a forge, whatever the report holds. */
function truncate(raw: string, tail = '\n\n… (truncated)'): string {
  const text = scrubUrlCredentials(raw);
  return text.length <= MAX_COMMENT_CHARS ? text : text.slice(0, MAX_COMMENT_CHARS - tail.length) + tail;
}
