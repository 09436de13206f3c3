import * as core from '@actions/core';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { forgeApprovals } from './deploy/approvals.js';
import { checkRevisions } from './engine.js';
import { GuardError } from './errors.js';
import { COULD_NOT_CHECK_RULES, NIX_NOT_AVAILABLE_RULE, type Severity } from './findings.js';
import { NIX_INSTALL_HINT } from './nix/eval-deploy.js';
import { runContext } from './forge/context.js';
import { publishFailure, publishReport, publisherFor } from './forge/publish.js';
import type { CommentMode, ForgeKind } from './forge/publisher.js';
import { summaryBody } from './forge/markdown.js';
import { renderSarif } from './report/sarif.js';
import { renderText } from './report/text.js';
import { CommitSnapshot, repositoryRoot, resolveCommit } from './git/repo.js';

/** The GitHub/Forgejo Actions entry: check, write the reports, post the verdict. Exit 0 / 1 / 2 like the CLI. */
export async function runAction(env: Record<string, string | undefined> = process.env): Promise<number> {
  const input = (name: string) => core.getInput(name);
  // Hints for missing tools speak of workflow steps, not of npm commands in a clone.
  process.env.GUARD_AS_ACTION = '1';
  let context: ReturnType<typeof runContext>;
  try {
    context = runContext(env, { forge: (input('forge') || 'auto') as ForgeKind | 'auto', apiUrl: input('api-url'), token: input('token') });
  } catch (error) {
    // Without a token or a repository there is nowhere to post an error status: the job log says why.
    const message = error instanceof GuardError ? error.describe() : (error as Error).message;
    core.setFailed(`gitops-guard could not run: ${message.split('\n').join(' ')} (no commit status posted: the forge cannot be reached without it)`);
    return 2;
  }
  const publisher = publisherFor(context.target, {
    retryBaseMs: env.GUARD_RETRY_BASE_MS ? Number(env.GUARD_RETRY_BASE_MS) : undefined,
    throttle: env.GUARD_THROTTLE !== 'off',
  });
  const workdir = path.resolve(env.GITHUB_WORKSPACE ?? process.cwd(), input('working-directory') || '.');
  try {
    const { report, secrets } = await checkRevisions({
      cwd: workdir,
      base: input('base') || context.baseSha,
      // The pull request's head commit, never the working tree that checkout wrote.
      head: input('head') || context.headSha,
      failOn: (input('fail-on') || undefined) as Severity | undefined,
      configFile: input('config') || undefined,
      // A deploy override trailer counts only when an approver named by the base policy approved the head commit.
      approvals: forgeApprovals({ ...context.target, sha: context.headSha }),
    });
    const outDir = env.RUNNER_TEMP ?? os.tmpdir();
    const reportPath = path.join(outDir, 'gitops-guard-report.json');
    const sarifPath = path.join(outDir, 'gitops-guard.sarif');
    await fs.writeFile(reportPath, JSON.stringify(report, null, 2));
    await fs.writeFile(sarifPath, JSON.stringify(renderSarif(report), null, 2));
    // The job log carries the findings too, as the CLI prints them.
    const head = input('head') || context.headSha;
    const snapshot = new CommitSnapshot(await repositoryRoot(workdir), await resolveCommit(await repositoryRoot(workdir), head), head);
    process.stdout.write(await renderText(report, async (file) => (await snapshot.readFile(file))?.toString('utf8'), { color: false, secrets }));
    const mode = (input('comment-mode') || 'review') as CommentMode;
    const outcome = await publishReport(report, context.target, mode, publisher);
    for (const note of outcome.notes) core.warning(note);
    if (!outcome.annotated && context.target.forge === 'github') {
      for (const finding of report.findings) {
        const properties = { file: finding.location.path, startLine: finding.location.line, title: finding.rule };
        if (finding.severity === 'error') core.error(finding.message, properties);
        else if (finding.severity === 'warning') core.warning(finding.message, properties);
        else core.notice(finding.message, properties);
      }
    }
    if (env.GITHUB_STEP_SUMMARY) {
      await core.summary.addRaw(summaryBody(report, { outsideDiff: [], notes: outcome.notes, runUrl: context.target.runUrl })).write();
    }
    core.setOutput('findings', report.findings.length);
    core.setOutput('blocking', report.summary.blocking);
    core.setOutput('verdict', report.summary.verdict);
    core.setOutput('report-path', reportPath);
    core.setOutput('sarif-path', sarifPath);
    if (outcome.gateError) {
      // The verdict is in the log and the job summary, but the required check is not set: never a silent pass or a stale gate.
      core.setFailed(`gitops-guard could not set the merge gate (commit status): ${outcome.gateError}; verdict ${report.summary.verdict}, in the log and the job summary`);
      return 2;
    }
    if (report.summary.verdict === 'fail') {
      core.setFailed(`gitops-guard blocked this change: ${report.summary.blocking} finding(s) at or above ${report.failOn}`);
      return 1;
    }
    if (report.summary.verdict === 'incomplete') {
      const unchecked = [...new Set(report.findings.filter((f) => COULD_NOT_CHECK_RULES.has(f.rule)).map((f) => f.rule))];
      const why = unchecked.includes(NIX_NOT_AVAILABLE_RULE) ? `nix is not available, so the deploy targets were not checked: ${NIX_INSTALL_HINT}` : 'a chart source did not answer';
      core.setFailed(`gitops-guard could not check everything (${why}): no verdict; see ${unchecked.join(', ')}`);
      return 2;
    }
    return 0;
  } catch (error) {
    const message = error instanceof GuardError ? error.describe() : `internal error: ${(error as Error).message}`;
    const note = await publishFailure(message.split('\n')[0] ?? message, publisher);
    if (note) core.warning(note);
    core.setFailed(`gitops-guard could not run: ${message}`);
    return 2;
  }
}

if (process.env.GUARD_ACTION_NO_AUTORUN !== '1') {
  // A job log gets one line and exit 2, never a stack trace, whatever fails.
  process.on('unhandledRejection', (error) => {
    core.setFailed(`gitops-guard could not run: internal error: ${(error as Error)?.message ?? String(error)}`);
    process.exit(2);
  });
  process.exitCode = await runAction().catch((error: unknown) => {
    core.setFailed(`gitops-guard could not run: internal error: ${(error as Error)?.message ?? String(error)}`);
    return 2;
  });
}
