import type { Report } from '../engine.js';

/**
 * Findings as GitHub workflow commands (`::error file=…,line=…::message`), which GitHub turns into
 * annotations and Forgejo's runner prints in the log. Needs no token: the runner reads them from stdout.
 */
export function renderAnnotations(report: Report): string {
  const lines = report.findings.map((finding) => {
    const level = finding.severity === 'error' ? 'error' : finding.severity === 'warning' ? 'warning' : 'notice';
    const properties = [`file=${property(finding.location.path)}`];
    if (finding.location.line) properties.push(`line=${finding.location.line}`);
    properties.push(`title=${property(finding.rule)}`);
    return `::${level} ${properties.join(',')}::${data(finding.message)}`;
  });
  return lines.length > 0 ? `${lines.join('\n')}\n` : '';
}

function data(value: string): string {
  return value.replace(/%/g, '%25').replace(/\r/g, '%0D').replace(/\n/g, '%0A');
}

function property(value: string): string {
  return data(value).replace(/:/g, '%3A').replace(/,/g, '%2C');
}
