/** The one contract every check produces and every reporter consumes (see DESIGN.md). */

export type Severity = 'error' | 'warning' | 'notice';

export const SEVERITY_RANK: Record<Severity, number> = { notice: 0, warning: 1, error: 2 };

export interface SourceLocation {
  /** Repository-relative path, forward slashes. */
  path: string;
  /** 1-based line. */
  line: number;
  column?: number;
  endLine?: number;
}

export interface Subject {
  kind: 'HelmRelease' | 'Kustomization' | 'DeployNode' | 'Config';
  namespace?: string;
  name: string;
  /** Container name for workload findings. */
  container?: string;
  /** Rendered workload, e.g. "Deployment/external-dns". */
  workload?: string;
  image?: string;
}

export interface Finding {
  rule: string;
  severity: Severity;
  message: string;
  location: SourceLocation;
  subject: Subject;
  related?: Array<SourceLocation & { message?: string }>;
  /** Why the guard believes this: a help line, the error the binary would print, tool output. */
  evidence?: string[];
  suggestion?: string;
  /** True when the base revision did not have this finding. */
  introduced: boolean;
}

/** A finding before the engine decides whether the base revision already had it. */
export type DraftFinding = Omit<Finding, 'introduced'>;

export function atOrAbove(severity: Severity, threshold: Severity): boolean {
  return SEVERITY_RANK[severity] >= SEVERITY_RANK[threshold];
}

/**
 * Identity of a finding across revisions: line numbers move between base and head,
 * so they are not part of it.
 */
export function findingKey(f: Pick<Finding, 'rule' | 'subject' | 'message'>): string {
  const s = f.subject;
  return [f.rule, s.kind, s.namespace ?? '', s.name, s.workload ?? '', s.container ?? '', f.message].join('\u0000');
}

/** Report order: errors first, then by file and line. */
export function compareFindings(a: Finding, b: Finding): number {
  return SEVERITY_RANK[b.severity] - SEVERITY_RANK[a.severity] || a.location.path.localeCompare(b.location.path) || a.location.line - b.location.line || a.rule.localeCompare(b.rule);
}
