/** The one contract every check produces and every reporter consumes (see DESIGN.md). */

export type Severity = 'error' | 'warning' | 'notice';

/**
 * The guard could not check something for a reason that is not the change's (an allowed chart host
 * did not answer): never a block, never a pass. The verdict is then "incomplete" (exit 2) unless
 * other findings block.
 */
export const COULD_NOT_CHECK_RULE = 'render/source-unreachable';

/** The same for the deploy targets: the repository has deploy.nodes but the runner has no nix. */
export const NIX_NOT_AVAILABLE_RULE = 'nix/not-available';

/** Every rule that means "not checked" rather than "wrong": none blocks, any makes the verdict incomplete. */
/** An upgraded image whose help the guard would take from its registry, which did not answer. */
export const CAPTURE_UNREACHABLE_RULE = 'container-flags/capture-unreachable';

export const COULD_NOT_CHECK_RULES: ReadonlySet<string> = new Set([COULD_NOT_CHECK_RULE, NIX_NOT_AVAILABLE_RULE, CAPTURE_UNREACHABLE_RULE]);

export type Verdict = 'pass' | 'fail' | 'incomplete';

export const SEVERITY_RANK: Record<Severity, number> = { notice: 0, warning: 1, error: 2 };

export interface SourceLocation {
  /** Repository-relative path, forward slashes. */
  path: string;
  /** 1-based line. */
  line: number;
  column?: number;
  endLine?: number;
}

/** Every kind a finding can be about; schemas/report.schema.json lists the same (a test holds them equal). */
export const SUBJECT_KINDS = ['HelmRelease', 'Kustomization', 'DeployNode', 'Config'] as const;

export interface Subject {
  kind: (typeof SUBJECT_KINDS)[number];
  namespace?: string;
  name: string;
  /** Container name for workload findings. */
  container?: string;
  /** Rendered workload, e.g. "Deployment/external-dns". */
  workload?: string;
  image?: string;
  /**
   * The cluster of a HelmRelease (the folder of its root Flux Kustomization's file): the same
   * namespace/name in two clusters is two subjects. Absent outside every Flux Kustomization.
   */
  cluster?: string;
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
  /**
   * What the finding is about, stable across revisions (the flag, the values key, the schema):
   * set where the message carries text that changes with versions, so an old finding stays old.
   */
  identity?: string;
  /** True when the base revision did not have this finding. */
  introduced: boolean;
}

/** A finding before the engine decides whether the base revision already had it. */
export type DraftFinding = Omit<Finding, 'introduced'>;

export function atOrAbove(severity: Severity, threshold: Severity): boolean {
  return SEVERITY_RANK[severity] >= SEVERITY_RANK[threshold];
}

/**
 * Identity of a finding across revisions: rule, subject, file and what it is about. Line numbers
 * move between base and head, and messages carry versions (chart tags, schema URLs, image tags)
 * that a bump changes, so neither is part of it: `identity` when the check set one, else the
 * message with version-like text removed.
 */
export function findingKey(f: Pick<Finding, 'rule' | 'subject' | 'message' | 'location' | 'identity'>): string {
  const s = f.subject;
  const key = [f.rule, s.kind, s.namespace ?? '', s.name, s.workload ?? '', s.container ?? '', f.location.path, f.identity ?? versionFree(f.message)];
  // Appended only when set, so keys (SARIF fingerprints, comment markers) of findings without a cluster stay as they were.
  if (s.cluster !== undefined) key.push(`cluster=${s.cluster}`);
  return key.join('\u0000');
}

/** A message without the parts that change on a version bump: URLs, digests, hashes, version numbers. */
export function versionFree(message: string): string {
  return message
    .slice(0, 4096)
    .replace(/\b[a-z][a-z0-9+.-]*:\/\/[^\s'"`),]+/gi, '<url>')
    .replace(/\bsha(?:256|512):[0-9a-f]{6,}/gi, '<digest>')
    .replace(/\b[0-9a-f]{12,}\b/gi, '<hash>')
    .replace(/(?<![\w.])v?\d+(?:\.\d+)+(?:[-+][0-9A-Za-z.-]+)?/g, '<version>')
    .replace(/:[\w][\w.-]{0,127}(?=[\s'"`),]|$)/g, (tag) => (/\d/.test(tag) ? ':<tag>' : tag));
}

/** Report order: errors first, then by file and line. */
export function compareFindings(a: Finding, b: Finding): number {
  return SEVERITY_RANK[b.severity] - SEVERITY_RANK[a.severity] || a.location.path.localeCompare(b.location.path) || a.location.line - b.location.line || a.rule.localeCompare(b.rule);
}
