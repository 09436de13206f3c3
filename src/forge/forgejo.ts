import { markerKey, REVIEW_MARKER, SUMMARY_MARKER } from './markdown.js';
import { STATUS_CONTEXT, type ForgeTarget, type LineComment, type Publisher, type StatusState } from './publisher.js';

export interface ForgejoOptions {
  retryBaseMs?: number;
  retries?: number;
}

export class ForgeApiError extends Error {
  constructor(
    message: string,
    readonly status: number,
  ) {
    super(message);
  }
}

interface Review {
  id: number;
  body?: string;
}
interface ReviewComment {
  id: number;
  body?: string;
}
interface IssueComment {
  id: number;
  body?: string;
}

/**
 * Forgejo and Gitea (`/api/v1`): commit status, a pull review with line comments at their
 * `new_position`, and the sticky summary comment. Review comments cannot be deleted one by one,
 * so the guard keeps one review and replaces it when its comments change.
 */
export class ForgejoPublisher implements Publisher {
  private readonly base: string;

  constructor(private readonly target: ForgeTarget, private readonly options: ForgejoOptions = {}) {
    this.base = `${target.apiUrl.replace(/\/$/, '')}/repos/${encodeURIComponent(target.owner)}/${encodeURIComponent(target.repo)}`;
  }

  async setStatus(state: StatusState, description: string): Promise<void> {
    await this.request('POST', `/statuses/${this.target.sha}`, {
      state,
      context: STATUS_CONTEXT,
      description: description.slice(0, 140),
      ...(this.target.runUrl ? { target_url: this.target.runUrl } : {}),
    });
  }

  async pullDiff(): Promise<string> {
    return (await this.request('GET', `/pulls/${this.pull()}.diff`, undefined, 'text')) as string;
  }

  async syncLineComments(comments: LineComment[]): Promise<{ posted: number; removed: number }> {
    const reviews = (await this.paginate<Review>(`/pulls/${this.pull()}/reviews`)).filter((r) => r.body?.includes(REVIEW_MARKER));
    const existingKeys = new Set<string>();
    for (const review of reviews) {
      const reviewComments = (await this.request('GET', `/pulls/${this.pull()}/reviews/${review.id}/comments`)) as ReviewComment[];
      for (const comment of reviewComments) {
        const key = markerKey(comment.body);
        if (key) existingKeys.add(key);
      }
    }
    const wanted = new Set(comments.map((c) => c.key));
    const unchanged = reviews.length <= 1 && existingKeys.size === wanted.size && [...wanted].every((k) => existingKeys.has(k));
    if (unchanged) return { posted: 0, removed: 0 };
    for (const review of reviews) await this.request('DELETE', `/pulls/${this.pull()}/reviews/${review.id}`);
    if (comments.length > 0) {
      await this.request('POST', `/pulls/${this.pull()}/reviews`, {
        body: `${REVIEW_MARKER}\ngitops-guard found ${comments.length} problem(s) on lines of this change.`,
        commit_id: this.target.sha,
        event: 'COMMENT',
        comments: comments.map((c) => ({ path: c.path, body: c.body, new_position: c.line })),
      });
    }
    const removed = [...existingKeys].filter((k) => !wanted.has(k)).length;
    return { posted: comments.filter((c) => !existingKeys.has(c.key)).length, removed };
  }

  async upsertSummary(body: string): Promise<'created' | 'updated'> {
    const comments = await this.paginate<IssueComment>(`/issues/${this.pull()}/comments`);
    const mine = comments.find((c) => c.body?.includes(SUMMARY_MARKER));
    if (mine) {
      await this.request('PATCH', `/issues/comments/${mine.id}`, { body });
      return 'updated';
    }
    await this.request('POST', `/issues/${this.pull()}/comments`, { body });
    return 'created';
  }

  private async paginate<T>(path: string): Promise<T[]> {
    const all: T[] = [];
    for (let page = 1; page <= 50; page++) {
      const batch = (await this.request('GET', `${path}${path.includes('?') ? '&' : '?'}page=${page}&limit=50`)) as T[];
      all.push(...batch);
      if (batch.length < 50) break;
    }
    return all;
  }

  /** One API call, retried with backoff on 5xx and 429. */
  private async request(method: string, path: string, body?: unknown, as: 'json' | 'text' = 'json'): Promise<unknown> {
    const retries = this.options.retries ?? 3;
    const baseMs = this.options.retryBaseMs ?? 1000;
    for (let attempt = 0; ; attempt++) {
      const response = await fetch(`${this.base}${path}`, {
        method,
        headers: {
          authorization: `token ${this.target.token}`,
          accept: as === 'json' ? 'application/json' : 'text/plain',
          ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
        },
        body: body !== undefined ? JSON.stringify(body) : undefined,
        signal: AbortSignal.timeout(30_000),
      });
      if ((response.status >= 500 || response.status === 429) && attempt < retries) {
        await response.body?.cancel();
        await new Promise((resolve) => setTimeout(resolve, baseMs * 2 ** attempt));
        continue;
      }
      if (!response.ok) {
        const text = await response.text().catch(() => '');
        throw new ForgeApiError(`${method} ${path}: HTTP ${response.status} ${text.slice(0, 200)}`, response.status);
      }
      if (response.status === 204 || method === 'DELETE') {
        await response.body?.cancel();
        return undefined;
      }
      return as === 'json' ? response.json() : response.text();
    }
  }

  private pull(): number {
    if (this.target.pullNumber === undefined) throw new Error('no pull request number');
    return this.target.pullNumber;
  }
}
