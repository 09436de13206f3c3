import { readFileSync } from 'node:fs';
import { GuardError } from '../errors.js';
import type { ForgeKind, ForgeTarget } from './publisher.js';

type Env = Record<string, string | undefined>;

/** Forgejo's runner sets GITHUB_ACTIONS too, so its own variables are asked first. */
export function detectForge(env: Env): ForgeKind | undefined {
  if (env.FORGEJO_ACTIONS === 'true' || env.GITEA_ACTIONS === 'true') return 'forgejo';
  if (env.GITHUB_ACTIONS === 'true') return 'github';
  return undefined;
}

export interface RunContext {
  target: ForgeTarget;
  /** pull_request.base.sha of the event, when this is a pull request run. */
  baseSha?: string;
  /**
   * The commit to check: pull_request.head.sha in a pull request run, else GUARD_SHA or
   * GITHUB_SHA. Always a commit, never the working tree (checkout may have written anything there).
   */
  headSha: string;
}

interface PullRequestEvent {
  pull_request?: { number?: number; head?: { sha?: string }; base?: { sha?: string } };
}

/** Everything the reporters need, from the variables and event payload a GitHub or Forgejo runner provides. */
export function runContext(env: Env, overrides: { forge?: ForgeKind | 'auto'; apiUrl?: string; token?: string } = {}): RunContext {
  const forge = overrides.forge && overrides.forge !== 'auto' ? overrides.forge : detectForge(env);
  if (!forge) throw new GuardError('cannot tell which forge this runs on', undefined, 'set forge (github or forgejo), or run inside GitHub/Forgejo Actions');
  const event = readEvent(env.GITHUB_EVENT_PATH);
  const [owner, repo] = (env.GITHUB_REPOSITORY ?? '').split('/');
  if (!owner || !repo) throw new GuardError('GITHUB_REPOSITORY (owner/name) is not set');
  const token = overrides.token || env.GUARD_TOKEN || env.GITHUB_TOKEN;
  if (!token) throw new GuardError('no token to talk to the forge', undefined, 'pass the token input, or set GUARD_TOKEN / GITHUB_TOKEN');
  const serverUrl = (env.GITHUB_SERVER_URL ?? (forge === 'github' ? 'https://github.com' : '')).replace(/\/$/, '');
  const apiUrl = overrides.apiUrl || env.GITHUB_API_URL || (forge === 'github' ? 'https://api.github.com' : `${serverUrl}/api/v1`);
  const pull = event.pull_request;
  const pullNumber = pull?.number ?? (env.GUARD_PR ? Number(env.GUARD_PR) : undefined);
  const sha = pull?.head?.sha ?? env.GUARD_SHA ?? env.GITHUB_SHA;
  if (!sha) throw new GuardError('no commit to report on (pull_request.head.sha, GUARD_SHA or GITHUB_SHA)');
  const runUrl = serverUrl && env.GITHUB_RUN_ID ? `${serverUrl}/${owner}/${repo}/actions/runs/${env.GITHUB_RUN_ID}` : undefined;
  return { target: { forge, apiUrl, token, owner, repo, sha, pullNumber, runUrl }, baseSha: pull?.base?.sha, headSha: sha };
}

function readEvent(file: string | undefined): PullRequestEvent {
  if (!file) return {};
  try {
    return JSON.parse(readFileSync(file, 'utf8')) as PullRequestEvent;
  } catch {
    return {};
  }
}
