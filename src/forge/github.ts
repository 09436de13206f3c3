import { retry } from '@octokit/plugin-retry';
import { throttling } from '@octokit/plugin-throttling';
import { Octokit } from '@octokit/rest';
import type { Finding } from '../findings.js';
import { markerKey, REVIEW_MARKER } from './markdown.js';
import { STATUS_CONTEXT, type ForgeTarget, type LineComment, type Publisher, type StatusState } from './publisher.js';
import { SUMMARY_MARKER } from './markdown.js';

const GuardOctokit = Octokit.plugin(retry, throttling);

const ANNOTATIONS_PER_REQUEST = 50;

export interface GitHubOptions {
  /** Base delay of the retry plugin's backoff (tests make it short). */
  retryBaseMs?: number;
  /** The throttling plugin spaces writes a second apart, as GitHub asks; tests against a local server turn it off. */
  throttle?: boolean;
}

/** GitHub: commit status, check run annotations, review comments, the sticky summary comment. */
export class GitHubPublisher implements Publisher {
  private readonly octokit: InstanceType<typeof GuardOctokit>;
  private readonly repo: { owner: string; repo: string };

  constructor(private readonly target: ForgeTarget, options: GitHubOptions = {}) {
    this.repo = { owner: target.owner, repo: target.repo };
    this.octokit = new GuardOctokit({
      auth: target.token,
      baseUrl: target.apiUrl.replace(/\/$/, ''),
      userAgent: 'gitops-guard',
      retry: { retryAfterBaseValue: options.retryBaseMs ?? 1000 },
      throttle: {
        enabled: options.throttle ?? true,
        onRateLimit: (_after: number, _options: unknown, _octokit: unknown, retryCount: number) => retryCount < 2,
        onSecondaryRateLimit: (_after: number, _options: unknown, _octokit: unknown, retryCount: number) => retryCount < 2,
      },
    });
  }

  async setStatus(state: StatusState, description: string): Promise<void> {
    await this.octokit.rest.repos.createCommitStatus({
      ...this.repo,
      sha: this.target.sha,
      state,
      context: STATUS_CONTEXT,
      description: description.slice(0, 140),
      ...(this.target.runUrl ? { target_url: this.target.runUrl } : {}),
    });
  }

  async pullDiff(): Promise<string> {
    const response = await this.octokit.rest.pulls.get({ ...this.repo, pull_number: this.pull(), mediaType: { format: 'diff' } });
    return String(response.data as unknown);
  }

  async syncLineComments(comments: LineComment[]): Promise<{ posted: number; removed: number }> {
    const existing = await this.octokit.paginate(this.octokit.rest.pulls.listReviewComments, { ...this.repo, pull_number: this.pull(), per_page: 100 });
    const ours = existing.filter((c) => markerKey(c.body) !== undefined);
    const wanted = new Set(comments.map((c) => c.key));
    let removed = 0;
    for (const comment of ours) {
      if (wanted.has(markerKey(comment.body)!)) continue;
      await this.octokit.rest.pulls.deleteReviewComment({ ...this.repo, comment_id: comment.id });
      removed++;
    }
    const present = new Set(ours.map((c) => markerKey(c.body)));
    const fresh = comments.filter((c) => !present.has(c.key));
    if (fresh.length > 0) {
      await this.octokit.rest.pulls.createReview({
        ...this.repo,
        pull_number: this.pull(),
        commit_id: this.target.sha,
        event: 'COMMENT',
        body: `${REVIEW_MARKER}\ngitops-guard found ${fresh.length} problem(s) on lines of this change.`,
        comments: fresh.map((c) => ({ path: c.path, line: c.line, side: 'RIGHT' as const, body: c.body })),
      });
    }
    return { posted: fresh.length, removed };
  }

  async upsertSummary(body: string): Promise<'created' | 'updated'> {
    const comments = await this.octokit.paginate(this.octokit.rest.issues.listComments, { ...this.repo, issue_number: this.pull(), per_page: 100 });
    const mine = comments.find((c) => c.body?.includes(SUMMARY_MARKER));
    if (mine) {
      await this.octokit.rest.issues.updateComment({ ...this.repo, comment_id: mine.id, body });
      return 'updated';
    }
    await this.octokit.rest.issues.createComment({ ...this.repo, issue_number: this.pull(), body });
    return 'created';
  }

  /** A check run whose annotations are added 50 at a time, the API's per-request limit. */
  async annotate(findings: Finding[], title: string, summary: string, conclusion: 'success' | 'failure' | 'neutral'): Promise<boolean> {
    const annotations = findings.map((f) => ({
      path: f.location.path,
      start_line: f.location.line,
      end_line: f.location.endLine ?? f.location.line,
      annotation_level: f.severity === 'error' ? ('failure' as const) : f.severity === 'warning' ? ('warning' as const) : ('notice' as const),
      title: f.rule,
      message: [f.message, ...(f.evidence ?? []), ...(f.suggestion ? [`suggestion: ${f.suggestion}`] : [])].join('\n').slice(0, 64_000),
    }));
    const output = (batch: typeof annotations) => ({ title, summary: summary.slice(0, 65_000), annotations: batch });
    try {
      const created = await this.octokit.rest.checks.create({
        ...this.repo,
        name: `${STATUS_CONTEXT} annotations`,
        head_sha: this.target.sha,
        status: 'completed',
        conclusion,
        output: output(annotations.slice(0, ANNOTATIONS_PER_REQUEST)),
      });
      for (let start = ANNOTATIONS_PER_REQUEST; start < annotations.length; start += ANNOTATIONS_PER_REQUEST) {
        await this.octokit.rest.checks.update({ ...this.repo, check_run_id: created.data.id, output: output(annotations.slice(start, start + ANNOTATIONS_PER_REQUEST)) });
      }
      return true;
    } catch (error) {
      // A read-only token (pull requests from forks) cannot create check runs.
      if ((error as { status?: number }).status === 403) return false;
      throw error;
    }
  }

  private pull(): number {
    if (this.target.pullNumber === undefined) throw new Error('no pull request number');
    return this.target.pullNumber;
  }
}
