import type { Finding } from '../findings.js';

export type ForgeKind = 'github' | 'forgejo';
export type CommentMode = 'review' | 'annotations' | 'summary' | 'off';
export type StatusState = 'success' | 'failure' | 'error' | 'pending';

export interface ForgeTarget {
  forge: ForgeKind;
  /** https://api.github.com, or <server>/api/v1 for Forgejo/Gitea. */
  apiUrl: string;
  token: string;
  owner: string;
  repo: string;
  /** The head commit the verdict is about (pull_request.head.sha in PR runs). */
  sha: string;
  pullNumber?: number;
  /** Link to the CI run, for the status and the summary. */
  runUrl?: string;
}

export interface LineComment {
  key: string;
  path: string;
  line: number;
  body: string;
  finding: Finding;
}

/** What a forge can do with a verdict; each implementation speaks its own API. */
export interface Publisher {
  setStatus(state: StatusState, description: string): Promise<void>;
  /** Unified diff of the pull request, from the API (works with shallow clones). */
  pullDiff(): Promise<string>;
  /** Make the guard's line comments exactly `comments`: post new ones, remove those of fixed findings. */
  syncLineComments(comments: LineComment[]): Promise<{ posted: number; removed: number }>;
  /** Create or edit in place the one summary comment. */
  upsertSummary(body: string): Promise<'created' | 'updated'>;
  /** Line annotations (GitHub check run); false when the forge or token cannot. */
  annotate?(findings: Finding[], title: string, summary: string, conclusion: 'success' | 'failure' | 'neutral'): Promise<boolean>;
}

export const STATUS_CONTEXT = 'gitops-guard';
