import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import picomatch from 'picomatch';
import { GuardError } from '../errors.js';
import type { SourceLocation } from '../findings.js';
import { guardedGet, type FetchFailure } from '../helm/guarded-fetch.js';
import { filesystemFence, runTool, toolEnvironment } from '../tools/sandbox.js';
import { localInputs, printableUrl, type FlakeLocks } from './flake-inputs.js';
import { sourceStorePath } from './store-path.js';

/**
 * The one step of the NixOS check that has network: the locked inputs of the base and head
 * flake.lock are put into the nix store before anything is evaluated, and only from hosts the base
 * policy allows (checked for every input before anything is contacted, and on every redirect).
 * An input already in the store (by its NAR hash) is never fetched again.
 */

export interface LockedInput {
  input: string;
  type: string;
  /** host[:port] the input is fetched from; undefined: inside the revision (relative path), nothing to fetch. */
  host?: string;
  locked: Record<string, unknown>;
  /** Where the store copy will be (from narHash); undefined when the lock gives no usable hash. */
  storePath?: string;
  location: SourceLocation;
}

/** Parse a flake.lock text (pull-request data) into its inputs; a lock that is not JSON is exit 2 naming the file. */
export function lockedInputs(text: string | undefined, file: string, label: string): { locks?: FlakeLocks; inputs: LockedInput[] } {
  if (text === undefined) return { inputs: [] };
  let locks: FlakeLocks;
  try {
    locks = JSON.parse(text) as FlakeLocks;
  } catch (error) {
    throw new GuardError(`could not check the deploy targets at ${label}: ${file} is not valid JSON (${(error as Error).message})`, { path: file, line: 1 }, 'regenerate it with nix flake lock');
  }
  if (typeof locks !== 'object' || locks === null || typeof locks.nodes !== 'object' || locks.nodes === null) {
    throw new GuardError(`could not check the deploy targets at ${label}: ${file} has no "nodes"`, { path: file, line: 1 }, 'regenerate it with nix flake lock');
  }
  const lines = text.split('\n');
  const rootName = typeof locks.root === 'string' ? locks.root : 'root';
  const inputs: LockedInput[] = [];
  for (const [input, node] of Object.entries(locks.nodes)) {
    if (input === rootName || typeof node !== 'object' || node === null) continue;
    const locked = typeof node.locked === 'object' && node.locked !== null ? node.locked : undefined;
    if (!locked) continue;
    const type = String(locked.type ?? '');
    const line = lines.findIndex((l) => l.includes(JSON.stringify(input) + ':'));
    const narHash = typeof locked.narHash === 'string' ? locked.narHash : undefined;
    inputs.push({
      input,
      type,
      host: hostOf(type, locked),
      locked,
      storePath: narHash ? sourceStorePath(narHash) : undefined,
      location: { path: file, line: line >= 0 ? line + 1 : 1 },
    });
  }
  return { locks, inputs };
}

/** The nix features every evaluation and input fetch of the guard needs (nix 2.8 and newer). */
export const NIX_FEATURES = ['--extra-experimental-features', 'nix-command flakes fetch-tree'];

const FORGE_HOSTS: Record<string, string> = { github: 'github.com', gitlab: 'gitlab.com', sourcehut: 'git.sr.ht' };

/** The host an input is fetched from: a URL's host:port, or a forge input's host. '' when it cannot be told. */
function hostOf(type: string, locked: Record<string, unknown>): string | undefined {
  if (type === 'path') return undefined;
  if (type in FORGE_HOSTS) return (typeof locked.host === 'string' ? locked.host : FORGE_HOSTS[type]!).toLowerCase();
  const url = typeof locked.url === 'string' ? locked.url.replace(/^(git|hg|tarball|file)\+/, '') : '';
  try {
    return new URL(url).host.toLowerCase();
  } catch {
    return '';
  }
}

export interface InputHostPolicy {
  isAllowed: (host: string) => boolean;
  /** For messages: where the allow-list comes from. */
  source: string;
}

/**
 * Hosts flake inputs may be fetched from, from the base only: `deploy.allowedInputHosts` when the
 * policy sets it, else the hosts the base lock already uses and `network.allowedHosts`.
 */
export function inputHostPolicy(baseInputs: LockedInput[], configured: string[] | undefined, networkAllowed: string[] = []): InputHostPolicy {
  const patterns = configured ?? [...baseInputs.flatMap((i) => (i.host ? [i.host] : [])), ...networkAllowed];
  const matchers = patterns.map((p) => picomatch(p.toLowerCase(), { nocase: true }));
  return {
    isAllowed: (host) => host !== '' && matchers.some((m) => m(host.toLowerCase())),
    source: configured ? 'deploy.allowedInputHosts of the base .guard.yaml' : 'the hosts the base flake.lock already uses, and network.allowedHosts of the base .guard.yaml',
  };
}

/** Inputs the policy does not allow to be fetched (their host is not allowed, or cannot be told). */
export function refusedInputs(inputs: LockedInput[], policy: InputHostPolicy): LockedInput[] {
  return inputs.filter((i) => i.host !== undefined && !policy.isAllowed(i.host));
}

export interface FetchOptions {
  nixBin: string;
  label: string;
  policy: InputHostPolicy;
  timeoutMs: number;
  /** Attempts per input for answers that may be transient (network, 5xx, 429). */
  attempts?: number;
  /** Called once per input actually downloaded (tests count them). */
  onFetch?: (input: LockedInput) => void;
}

export interface FetchSummary {
  fetched: string[];
  reused: string[];
}

/**
 * Put every input into the store. Refused hosts must have been reported before (refusedInputs): here
 * they are a programming error. Any failure is exit 2 naming the input and the host.
 */
export async function fetchInputs(inputs: LockedInput[], options: FetchOptions): Promise<FetchSummary> {
  const summary: FetchSummary = { fetched: [], reused: [] };
  const local = localInputs({ nodes: Object.fromEntries(inputs.map((i) => [i.input, { locked: i.locked }])), root: '' });
  if (local.length > 0) return summary; // refused by the evaluation step with the machine-path message
  for (const input of inputs) {
    if (input.host === undefined) continue;
    if (!options.policy.isAllowed(input.host)) throw new Error(`input ${input.input} on ${input.host} reached the fetch step unchecked`);
    if (input.storePath && (await exists(input.storePath))) {
      summary.reused.push(input.input);
      continue;
    }
    if (!input.storePath) {
      throw new GuardError(
        `could not check the deploy targets at ${options.label}: flake input "${input.input}" (${input.host}) has no sha256 narHash in flake.lock, so the guard cannot fetch it as locked`,
        input.location,
        'lock it with nix flake lock (nix records a narHash for every input)',
      );
    }
    options.onFetch?.(input);
    await fetchOne(input, options);
    summary.fetched.push(input.input);
  }
  return summary;
}

async function exists(file: string): Promise<boolean> {
  return fs.access(file).then(() => true, () => false);
}

/** Where a tarball-shaped input is downloaded from (the guard downloads it itself, hop by hop under the allow-list). */
function downloadUrl(input: LockedInput): string | undefined {
  const l = input.locked;
  const text = (key: string) => (typeof l[key] === 'string' ? (l[key] as string) : undefined);
  if (input.type === 'tarball') return text('url')?.replace(/^tarball\+/, '');
  const [owner, repo, rev] = [text('owner'), text('repo'), text('rev')];
  if (!owner || !repo || !rev || !/^[0-9a-f]{40}$/.test(rev)) return undefined;
  const segment = (s: string) => encodeURIComponent(s);
  if (input.type === 'github') {
    return input.host === 'github.com'
      ? `https://api.github.com/repos/${segment(owner)}/${segment(repo)}/tarball/${rev}`
      : `https://${input.host}/api/v3/repos/${segment(owner)}/${segment(repo)}/tarball/${rev}`;
  }
  if (input.type === 'gitlab') return `https://${input.host}/api/v4/projects/${segment(owner)}%2F${segment(repo)}/repository/archive.tar.gz?sha=${rev}`;
  return undefined;
}

async function fetchOne(input: LockedInput, options: FetchOptions): Promise<void> {
  const home = await fs.mkdtemp(path.join(os.tmpdir(), 'guard-nix-fetch-'));
  try {
    const url = downloadUrl(input);
    let locked: Record<string, unknown>;
    let network: 'none' | 'host';
    if (url) {
      const file = path.join(home, 'input.tar.gz');
      await fs.writeFile(file, await download(url, input, options));
      // nix unpacks and hashes the download with no network; the store path proves the NAR hash.
      locked = { type: 'tarball', url: `file://${file}`, narHash: input.locked.narHash };
      network = 'none';
    } else {
      // git, hg, file, sourcehut: nix fetches it itself, from the host already checked.
      locked = input.locked;
      network = 'host';
    }
    const fenced = network === 'none' && filesystemFence().kind === 'namespace';
    const attempts = network === 'host' ? (options.attempts ?? 3) : 1;
    let last = '';
    for (let attempt = 1; attempt <= attempts; attempt++) {
      const result = await runTool(
        options.nixBin,
        [
          ...NIX_FEATURES,
          '--option', 'flake-registry', '',
          '--option', 'substituters', '',
          '--option', 'build-users-group', '',
          '--option', 'accept-flake-config', 'false',
          'eval', '--impure', '--raw', '--expr', '(builtins.fetchTree (builtins.fromJSON (builtins.getEnv "GUARD_LOCKED_INPUT"))).outPath',
        ],
        {
          env: toolEnvironment(home, { GUARD_LOCKED_INPUT: JSON.stringify(locked), XDG_CACHE_HOME: path.join(home, 'cache'), XDG_CONFIG_HOME: path.join(home, 'config'), USER: 'guard', ...(fenced ? { TMPDIR: '/tmp' } : {}) }),
          timeoutMs: options.timeoutMs,
          maxBuffer: 16 * 1024 * 1024,
          network,
          cwd: home,
          // The downloaded archive is unpacked by nix seeing only it and /nix (no folder of the machine to name).
          ...(fenced ? { filesystem: { writable: [home] } } : {}),
        },
      );
      if (result.exitCode === 0 && result.stdout.trim() === input.storePath) return;
      last = result.timedOut ? 'timed out' : result.exitCode === 0 ? `it gave ${result.stdout.trim()}, not the locked ${input.storePath}` : firstError(result.stderr);
      if (/hash mismatch|NAR hash/i.test(last)) break;
    }
    throw new GuardError(
      `could not check the deploy targets at ${options.label}: flake input "${input.input}" from ${input.host} could not be put into the nix store: ${last}`,
      input.location,
      /hash mismatch|NAR hash/i.test(last) ? `what ${input.host} serves does not match the narHash in flake.lock` : `check that ${input.host} is reachable from the runner, or warm the store in a trusted step (nix flake archive on the base checkout)`,
    );
  } finally {
    await fs.rm(home, { recursive: true, force: true }).catch(() => undefined);
  }
}

/** GET with retries for transient failures; each hop held to the allowed hosts (a subdomain of an allowed input host counts, e.g. codeload.github.com). */
async function download(url: string, input: LockedInput, options: FetchOptions): Promise<Buffer> {
  const attempts = options.attempts ?? 3;
  const isAllowedUrl = (candidate: string) => {
    try {
      const host = new URL(candidate).host.toLowerCase();
      const bare = input.host!.replace(/:\d+$/, '');
      return options.policy.isAllowed(host) || host === input.host || host.endsWith('.' + bare) || host.replace(/^api\./, '') === bare;
    } catch {
      return false;
    }
  };
  let failure: FetchFailure | undefined;
  for (let attempt = 1; attempt <= attempts; attempt++) {
    if (attempt > 1) await new Promise((resolve) => setTimeout(resolve, 500 * 2 ** (attempt - 2)));
    const result = await guardedGet(
      { url, maxBytes: 1024 * 1024 * 1024, purpose: `flake input "${input.input}"` },
      { isAllowedUrl, deadline: Date.now() + options.timeoutMs, allowPlainHttp: true },
    );
    if (result.ok) return result.body;
    failure = result;
    if (result.kind !== 'unreachable') break;
  }
  throw new GuardError(
    `could not check the deploy targets at ${options.label}: fetching flake input "${input.input}" from ${input.host} failed${attempts > 1 && failure?.kind === 'unreachable' ? ` (${attempts} attempts)` : ''}: ${failure?.error ?? 'unknown error'}`,
    input.location,
    failure?.kind === 'refused'
      ? `the download was redirected to a host the base policy does not allow (${printableUrl(url)})`
      : `check that ${input.host} is reachable from the runner, or warm the store in a trusted step (nix flake archive on the base checkout)`,
  );
}

function firstError(stderr: string): string {
  const line = stderr.split('\n').find((l) => l.startsWith('error:')) ?? stderr.trim().split('\n').pop() ?? '';
  return line.replace(/^error:\s*/, '').slice(0, 300) || 'nix failed without a message';
}
