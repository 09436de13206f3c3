import { codeFrameColumns } from '@babel/code-frame';
import type { Report } from '../engine.js';
import { COULD_NOT_CHECK_RULES, type Finding } from '../findings.js';
import { maskSecretSource } from './masked-source.js';
import { textRedactor } from './redact.js';

export type SourceReader = (path: string) => Promise<string | undefined>;

export interface TextOptions {
  color: boolean;
  /** Sensitive values (Secrets' values, the guard's tokens) to blank out of the source lines shown in code frames. */
  secrets?: string[];
}

const paint = (enabled: boolean) => (code: string, text: string) => (enabled ? `\u001b[${code}m${text}\u001b[0m` : text);

/** Human-readable report: each finding with its file:line, a code frame, the evidence and the fix. */
export async function renderText(report: Report, readSource: SourceReader, options: TextOptions): Promise<string> {
  const c = paint(options.color);
  const lines: string[] = [];
  lines.push(`gitops-guard ${report.tool.version}: ${report.base.ref} (${report.base.sha.slice(0, 12)}) -> ${report.head.ref}${report.head.ref === 'working tree' ? '' : ` (${report.head.sha.slice(0, 12)})`}`);
  lines.push(`policy: ${report.policy}`);
  const { summary } = report;
  lines.push(`HelmReleases: ${summary.releasesChecked} rendered and checked, ${summary.releasesFailed} not rendered (not checked), ${summary.releasesNotChecked} deliberately not checked, ${summary.releasesUnchanged} unaffected by this change`);
  if (report.deploy) lines.push(...renderPlan(report.deploy));
  lines.push('');
  const redact = textRedactor(options.secrets ?? []);
  const redactedSource: SourceReader = async (file) => {
    const text = await readSource(file);
    return text === undefined ? undefined : redact(maskSecretSource(text, file));
  };
  for (const finding of report.findings) {
    lines.push(...(await renderFinding(finding, redactedSource, c, options.color)));
    lines.push('');
  }
  const counts = `${plural(summary.errors, 'error')}, ${plural(summary.warnings, 'warning')}, ${plural(summary.notices, 'notice')} (${summary.introduced} introduced by this change)`;
  if (summary.verdict === 'fail') {
    lines.push(c('1;31', `✖ ${counts}: merge blocked (${summary.blocking} at or above --fail-on ${report.failOn})`));
  } else if (summary.verdict === 'incomplete') {
    const unchecked = [...new Set(report.findings.filter((f) => COULD_NOT_CHECK_RULES.has(f.rule)).map((f) => f.rule))].join(', ');
    lines.push(c('1;33', `? ${counts}: could not check everything (${unchecked} above): no verdict`));
  } else {
    lines.push(c('1;32', `✔ ${counts}: nothing at or above --fail-on ${report.failOn}`));
  }
  return lines.join('\n') + '\n';
}

async function renderFinding(finding: Finding, readSource: SourceReader, c: ReturnType<typeof paint>, color: boolean): Promise<string[]> {
  const severityColor = finding.severity === 'error' ? '1;31' : finding.severity === 'warning' ? '1;33' : '1;36';
  const out: string[] = [];
  const where = `${finding.location.path}:${finding.location.line}${finding.location.column ? `:${finding.location.column}` : ''}`;
  out.push(`${c(severityColor, finding.severity)} ${c('2', finding.rule)}${finding.introduced ? c('35', ' (introduced)') : ''}`);
  out.push(`  ${c('1', where)}${finding.subject.cluster ? c('2', `  (cluster ${finding.subject.cluster})`) : ''}`);
  out.push(`  ${finding.message}`);
  const source = await readSource(finding.location.path).catch(() => undefined);
  if (source !== undefined) {
    const frame = codeFrameColumns(source, { start: { line: finding.location.line, column: finding.location.column } }, { highlightCode: color, linesAbove: 2, linesBelow: 1 });
    out.push(...frame.split('\n').map((l) => `  ${l}`));
  }
  for (const evidence of finding.evidence ?? []) out.push(`  ${c('2', 'evidence:')} ${evidence.split('\n').join('\n            ')}`);
  if (finding.suggestion) out.push(`  ${c('32', 'suggestion:')} ${finding.suggestion}`);
  for (const related of finding.related ?? []) out.push(`  ${c('2', 'see:')} ${related.path}:${related.line}${related.message ? `  ${related.message}` : ''}`);
  return out;
}

function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? '' : 's'}`;
}

/** The deploy plan: targets by site, whether this change redeploys them, and whether the tool contacts them. */
export function renderPlan(plan: NonNullable<Report['deploy']>): string[] {
  const redeployed = plan.targets.filter((t) => t.change === 'changed' || t.change === 'added');
  const lines = [`Deploy targets (${plan.tool}): ${redeployed.length} of ${plan.targets.length} redeployed by this change`];
  const bySite = new Map<string, typeof plan.targets>();
  for (const target of plan.targets) {
    const site = target.site ?? '(unknown site)';
    bySite.set(site, [...(bySite.get(site) ?? []), target]);
  }
  for (const [site, targets] of bySite) {
    lines.push(`  site ${site}`);
    for (const target of targets) {
      const state = target.change === 'unchanged' ? (target.contacted ? 'unchanged, contacted' : 'unchanged') : target.change;
      const why = target.profiles.map((p) => `${p.profile}: ${storeName(p.before)} -> ${storeName(p.after)}`).join('; ');
      const groups = Object.entries(target.groups).map(([k, v]) => `${k}=${v}`).join(' ');
      lines.push(`    ${target.change === 'unchanged' ? ' ' : '*'} ${target.node} (${target.hostname}) ${state}${groups ? ` [${groups}]` : ''}${why ? `\n        ${why}` : ''}`);
    }
  }
  return lines;
}

/** /nix/store/<hash>-<name> shortened to <first 8 of hash>…-<name>. */
function storeName(storePath: string | undefined): string {
  if (!storePath) return '(none)';
  return storePath.replace(/^\/nix\/store\/([a-z0-9]{8})[a-z0-9]*-/, '$1…-');
}
