/**
 * Who approved a pull request's head commit, asked of the forge. The override trailer is text anyone
 * can write in a commit; an approval on the forge is the act of a person the base policy names.
 */

export type ApprovalOutcome = { ok: true; approvedBy: string[] } | { ok: false; reason: string };

/** Of `approvers` (forge logins), those whose latest review approves the head commit. */
export type ApprovalsLookup = (approvers: string[]) => Promise<ApprovalOutcome>;

export interface ReviewTarget {
  forge: 'github' | 'forgejo';
  /** https://api.github.com, or <server>/api/v1 for Forgejo/Gitea. */
  apiUrl: string;
  token: string;
  owner: string;
  repo: string;
  pullNumber?: number;
  /** The head commit an approval must be about. */
  sha: string;
}

interface Review {
  user?: { login?: string } | null;
  state?: string;
  commit_id?: string;
  submitted_at?: string;
  /** Forgejo/Gitea: a dismissed review, or one made before the latest push. */
  dismissed?: boolean;
  stale?: boolean;
}

const PAGE_SIZE = 50;
const MAX_PAGES = 20;

/** `GET /repos/{owner}/{repo}/pulls/{n}/reviews` (GitHub and Forgejo share the shape). */
export function forgeApprovals(target: ReviewTarget, timeoutMs = 15_000): ApprovalsLookup {
  return async (approvers) => {
    if (!target.pullNumber) return { ok: false, reason: 'this run is not for a pull request, so there is no review to approve the override' };
    const reviews: Review[] = [];
    try {
      for (let page = 1; page <= MAX_PAGES; page++) {
        const url = new URL(`${target.apiUrl.replace(/\/$/, '')}/repos/${encodeURIComponent(target.owner)}/${encodeURIComponent(target.repo)}/pulls/${target.pullNumber}/reviews`);
        url.searchParams.set(target.forge === 'github' ? 'per_page' : 'limit', String(PAGE_SIZE));
        url.searchParams.set('page', String(page));
        const response = await fetch(url, {
          headers: { accept: 'application/json', authorization: `${target.forge === 'github' ? 'Bearer' : 'token'} ${target.token}` },
          signal: AbortSignal.timeout(timeoutMs),
        });
        if (!response.ok) return { ok: false, reason: `the forge answered HTTP ${response.status} when asked for the pull request's reviews` };
        const batch = (await response.json()) as unknown;
        if (!Array.isArray(batch)) return { ok: false, reason: 'the forge did not answer with a list of reviews' };
        reviews.push(...(batch as Review[]));
        if (batch.length < PAGE_SIZE) break;
      }
    } catch (error) {
      const reason = error instanceof Error && error.name === 'TimeoutError' ? `no answer within ${timeoutMs} ms` : 'the request failed';
      return { ok: false, reason: `the pull request's reviews could not be read: ${reason}` };
    }
    return { ok: true, approvedBy: approving(reviews, approvers, target.sha) };
  };
}

/** A reviewer's latest decisive review counts: an approval later dismissed or followed by "changes requested" does not. */
export function approving(reviews: Review[], approvers: string[], sha: string): string[] {
  const named = new Map(approvers.map((login) => [login.toLowerCase(), login]));
  const latest = new Map<string, Review>();
  for (const review of reviews) {
    const login = review.user?.login?.toLowerCase();
    if (!login || !named.has(login)) continue;
    if (review.state === 'COMMENTED' || review.state === 'COMMENT' || review.state === 'PENDING') continue;
    latest.set(login, review);
  }
  return [...latest.entries()]
    .filter(([, review]) => review.state === 'APPROVED' && review.commit_id === sha && !review.dismissed && !review.stale)
    .map(([login]) => named.get(login)!);
}
