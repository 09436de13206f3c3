import type { Report } from '../engine.js';
import type { Finding } from '../findings.js';
import { commentableLines } from '../git/unified-diff.js';
import { ForgejoPublisher } from './forgejo.js';
import { GitHubPublisher } from './github.js';
import { commentKey, lineCommentBody, statusDescription, summaryBody } from './markdown.js';
import type { CommentMode, ForgeTarget, Publisher } from './publisher.js';

export interface PublishOutcome {
  statusPosted: boolean;
  lineComments: number;
  removedComments: number;
  annotated: boolean;
  summary?: 'created' | 'updated';
  /** Findings that could not sit on a line of the diff. */
  outsideDiff: Finding[];
  /** What did not work, for the log and the job summary; never changes the verdict. */
  notes: string[];
  /**
   * Why, when the forge failed (network, 5xx after retries) while the commit status was posted: the
   * merge gate is not set, so the run must exit 2. A read-only token (a fork) is only a note.
   */
  gateError?: string;
}

export function publisherFor(target: ForgeTarget, options: { retryBaseMs?: number; throttle?: boolean } = {}): Publisher {
  return target.forge === 'github' ? new GitHubPublisher(target, options) : new ForgejoPublisher(target, options);
}

/**
 * Post the verdict: always the commit status (the merge gate), then, in a pull request, line
 * comments for findings inside the diff and one summary comment for everything. A forge error is
 * a note, never a change of verdict; a commit status the forge failed to take sets `gateError`
 * (the caller exits 2, since the gate is not set).
 */
export async function publishReport(report: Report, target: ForgeTarget, mode: CommentMode, publisher: Publisher): Promise<PublishOutcome> {
  const outcome: PublishOutcome = { statusPosted: false, lineComments: 0, removedComments: 0, annotated: false, outsideDiff: [], notes: [] };
  const attempt = async (what: string, action: () => Promise<void>): Promise<{ readOnly: boolean; reason: string } | undefined> => {
    try {
      await action();
      return undefined;
    } catch (error) {
      const status = (error as { status?: number }).status;
      const readOnly = status === 403 || status === 401;
      const reason = readOnly ? 'the token may not write here (a pull request from a fork gets a read-only token); the exit code and job summary still carry the verdict' : describeError(error);
      outcome.notes.push(`${what} failed: ${reason}`);
      return { readOnly, reason };
    }
  };
  const statusFailure = await attempt('posting the commit status', async () => {
    await publisher.setStatus(report.summary.verdict === 'fail' ? 'failure' : report.summary.verdict === 'incomplete' ? 'error' : 'success', statusDescription(report));
    outcome.statusPosted = true;
  });
  if (statusFailure && !statusFailure.readOnly) outcome.gateError = statusFailure.reason;
  if (mode === 'off' || target.pullNumber === undefined) {
    outcome.outsideDiff = report.findings;
    return outcome;
  }
  let commentable = new Map<string, Set<number>>();
  await attempt('reading the pull request diff', async () => {
    commentable = commentableLines(await publisher.pullDiff());
  });
  const inDiff = report.findings.filter((f) => commentable.get(f.location.path)?.has(f.location.line));
  outcome.outsideDiff = report.findings.filter((f) => !inDiff.includes(f));
  if (mode === 'review') {
    await attempt('updating the review comments', async () => {
      const comments = inDiff.map((finding) => ({ key: commentKey(finding), path: finding.location.path, line: finding.location.line, body: lineCommentBody(finding), finding }));
      const result = await publisher.syncLineComments(comments);
      outcome.lineComments = result.posted;
      outcome.removedComments = result.removed;
    });
  }
  if ((mode === 'annotations' || mode === 'review') && publisher.annotate) {
    await attempt('adding annotations', async () => {
      const conclusion = report.summary.verdict === 'fail' ? 'failure' : report.summary.verdict === 'incomplete' ? 'failure' : report.findings.length > 0 ? 'neutral' : 'success';
      outcome.annotated = await publisher.annotate!(report.findings, statusDescription(report), `${report.findings.length} finding(s)`, conclusion);
      if (!outcome.annotated) outcome.notes.push('annotations need a token that may create check runs; the findings are in the summary comment and the job summary');
    });
  }
  await attempt('updating the summary comment', async () => {
    outcome.summary = await publisher.upsertSummary(
      summaryBody(report, { outsideDiff: mode === 'review' ? outcome.outsideDiff : [], notes: outcome.notes, runUrl: target.runUrl }),
    );
  });
  return outcome;
}

/** The guard itself failed: the status says so, so the required check never passes by accident. */
export async function publishFailure(message: string, publisher: Publisher): Promise<string | undefined> {
  try {
    await publisher.setStatus('error', `gitops-guard could not run: ${message}`.slice(0, 140));
    return undefined;
  } catch (error) {
    return `posting the error status failed: ${(error as Error).message}`;
  }
}

/** One line, with the cause of a network error ("fetch failed" alone says nothing). */
function describeError(error: unknown): string {
  const cause = (error as { cause?: { code?: string; message?: string } }).cause;
  const detail = cause?.code ?? cause?.message;
  const status = (error as { status?: number }).status;
  const text = (error as Error)?.message ?? String(error);
  const message = `${typeof status === 'number' && !text.includes(`HTTP ${status}`) ? `HTTP ${status}: ` : ''}${text}${detail ? ` (${detail})` : ''}`;
  return message.split('\n').map((part) => part.trim()).filter(Boolean).join(' ');
}
