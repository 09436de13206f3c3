import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { GuardError } from '../errors.js';
import { networkFence, runTool, toolEnvironment } from '../tools/sandbox.js';
import { inputNamedIn, localInputs, printableUrl, type FlakeLocks } from './flake-inputs.js';

/** One deploy-rs node as evaluated from `deploy.nodes.<name>`. */
export interface DeployNode {
  name: string;
  hostname: string;
  /** `site` attribute on the node, when the flake declares it. */
  site?: string;
  magicRollback?: boolean;
  autoRollback?: boolean;
  confirmTimeout?: number;
  activationTimeout?: number;
  profilesOrder?: string[];
  /** Profile name -> store paths. outPath is what deploy-rs pushes and activates. */
  profiles: Record<string, { outPath: string; drvPath: string }>;
}

export type EvalOutcome =
  | { ok: true; nodes: DeployNode[] }
  /** The flake does not evaluate; `identity` is the error without store paths, hashes or positions. */
  | { ok: false; error: string; identity: string; position?: { path: string; line: number } };

// Attribute names avoid `outPath`: nix serialises any attrset holding one as that string.
const APPLY = `deploy: builtins.mapAttrs (name: node: {
  hostname = node.hostname or name;
  site = node.site or null;
  magicRollback = node.magicRollback or deploy.magicRollback or null;
  autoRollback = node.autoRollback or deploy.autoRollback or null;
  confirmTimeout = node.confirmTimeout or deploy.confirmTimeout or null;
  activationTimeout = node.activationTimeout or deploy.activationTimeout or null;
  profilesOrder = node.profilesOrder or null;
  profiles = builtins.mapAttrs (profileName: profile: {
    out = profile.path.outPath;
    drv = profile.path.drvPath;
  }) (node.profiles or {});
}) (deploy.nodes or {})`;

export interface EvalRequest {
  nixBin: string;
  /** Repository root on disk. */
  repoRoot: string;
  /** Commit to evaluate; undefined evaluates the working tree (tracked files, dirty changes included). */
  rev?: string;
  /** Flake directory inside the repository ('' for the root). */
  flakeDir: string;
  timeoutMs: number;
  /** Which revision this is, for messages ("base", "head"). */
  label?: string;
}

/**
 * Settings of every nix call: never build, never import from a derivation, never download
 * (`restrict-eval` allows only the URLs of locked inputs, so builtins.fetchurl and the like stop before
 * they connect; the empty network namespace stops what restrict-eval does not govern, such as fetching
 * flake inputs, so a locked input is usable only when it is already in the store), no binary cache,
 * no flake registry lookup, no `nixConfig` of the flake itself.
 */
const NIX_SETTINGS = [
  '--extra-experimental-features', 'nix-command flakes',
  '--option', 'allow-import-from-derivation', 'false',
  '--option', 'restrict-eval', 'true',
  '--option', 'pure-eval', 'true',
  '--option', 'accept-flake-config', 'false',
  '--option', 'flake-registry', '',
  '--option', 'substituters', '',
  '--option', 'build-users-group', '',
  '--option', 'warn-dirty', 'false',
  '--offline',
];

/**
 * Evaluate deploy-rs nodes of one revision under the guard's fence: an environment built from nothing
 * (builtins.getEnv sees no token), an empty network namespace, and nix's own restrictions. First the
 * flake's inputs are locked and judged (none may read the machine's files), then the nodes are evaluated.
 * Something the evaluation needs that is not in the nix store is "could not check" (GuardError, exit 2),
 * never a finding.
 */
export async function evaluateDeployNodes(request: EvalRequest): Promise<EvalOutcome> {
  const fence = networkFence();
  if (fence.kind === 'none' && process.env.GUARD_NETWORK_FENCE !== 'off') {
    throw new GuardError(
      `could not check the deploy targets: nix would evaluate this change's flake with network access (${fence.reason})`,
      undefined,
      'run the guard where network namespaces are available (root, or unprivileged user namespaces enabled); GUARD_NETWORK_FENCE=off accepts the risk explicitly',
    );
  }
  const query = new URLSearchParams();
  if (request.rev) query.set('rev', request.rev);
  if (request.flakeDir) query.set('dir', request.flakeDir);
  const flakeRef = `git+file://${request.repoRoot}${query.size > 0 ? `?${query.toString()}` : ''}`;
  const label = request.label ?? (request.rev ? request.rev.slice(0, 12) : 'the working tree');
  const home = await fs.mkdtemp(path.join(os.tmpdir(), 'guard-nix-'));
  try {
    const run = (args: string[], allowedUris: string[] = []) => runTool(request.nixBin, [...NIX_SETTINGS, '--option', 'allowed-uris', allowedUris.join(' '), ...args], {
      env: toolEnvironment(home, { XDG_CACHE_HOME: path.join(home, 'cache'), XDG_CONFIG_HOME: path.join(home, 'config') }),
      timeoutMs: request.timeoutMs,
      maxBuffer: 256 * 1024 * 1024,
      network: 'none',
    });
    const metadata = await run(['flake', 'metadata', '--json', '--no-write-lock-file', '--', flakeRef]);
    if (metadata.timedOut) return timedOut(request);
    let locks: FlakeLocks | undefined;
    if (metadata.exitCode === 0) locks = (parseJson(metadata.stdout) as { locks?: FlakeLocks } | undefined)?.locks;
    else return failure(metadata.stderr, undefined, label);
    const local = localInputs(locks);
    if (local.length > 0) {
      throw new GuardError(
        `could not check the deploy targets at ${label}: flake input${local.length === 1 ? '' : 's'} ${local.map((l) => `"${l.input}" (${l.where})`).join(', ')} would read files of the machine the guard runs on, outside the checked revision`,
        undefined,
        'flake inputs must come from the network (github:, https:, git+https:) or from paths inside the checked revision (path:./dir)',
      );
    }
    // Locked inputs may be read from the store (the fence leaves nothing else); no other URI at all.
    const result = await run(['eval', '--json', '--no-write-lock-file', '--apply', APPLY, '--', `${flakeRef}#deploy`], lockedUrls(locks));
    if (result.timedOut) return timedOut(request);
    // A failed evaluation may still print partial JSON: only trust stdout after exit 0.
    if (result.exitCode !== 0) return failure(result.stderr, locks, label);
    const parsed = parseJson(result.stdout) as Record<string, RawNode> | undefined;
    if (!parsed || typeof parsed !== 'object') return { ok: false, error: 'nix eval printed output that is not JSON', identity: 'output is not JSON' };
    return { ok: true, nodes: Object.entries(parsed).map(([name, raw]) => toNode(name, raw)) };
  } finally {
    await fs.rm(home, { recursive: true, force: true }).catch(() => undefined);
  }
}

function lockedUrls(locks: FlakeLocks | undefined): string[] {
  return Object.values(locks?.nodes ?? {})
    .map((node) => node.locked?.url)
    .filter((url): url is string => typeof url === 'string' && /^[a-z][a-z0-9+.-]*:\/\/[^\s]+$/i.test(url) && !/^file:/i.test(url));
}

function timedOut(request: EvalRequest): EvalOutcome {
  const error = `nix eval did not finish within ${Math.round(request.timeoutMs / 1000)} s`;
  return { ok: false, error, identity: 'timeout' };
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

/** What nix would have had to fetch: a URL it could not download or was forbidden to, or a flake it could not find. */
const NEEDS_FETCH = [
  /unable to download '([^']+)'/,
  /(?:failed to fetch|cannot fetch|unable to fetch|fetching Git repository) '?([^'\s]+)'?/i,
  /cannot find flake '([^']+)' in the flake registries/,
  /Couldn't resolve host|Could not resolve host|Couldn't connect to server|Network is unreachable|Connection refused/,
];

/**
 * A failed nix call. Needing something that is not in the store is the guard's own "could not check"
 * (the message names the input or URL, never a reply: no connection is ever made); anything else is an
 * evaluation error of the flake.
 */
function failure(stderr: string, locks: FlakeLocks | undefined, label: string): EvalOutcome {
  const error = cleanNixError(stderr);
  const forbidden = /access to URI '([^']+)' is forbidden in restricted mode/.exec(error);
  if (forbidden) {
    throw new GuardError(
      `could not check the deploy targets at ${label}: the flake downloads ${printableUrl(forbidden[1]!)} while it is evaluated (builtins.fetchurl or the like), which the guard never does for a change`,
      undefined,
      'a deploy target must evaluate from the checked revision and its locked flake inputs alone',
    );
  }
  for (const pattern of NEEDS_FETCH) {
    const match = pattern.exec(error);
    if (!match) continue;
    const url = match[1] ? printableUrl(match[1]) : undefined;
    const input = inputNamedIn(error, locks);
    const what = input ? `flake input "${input}"${url ? ` (${url})` : ''}` : url ? `${url}` : 'a source outside the nix store';
    throw new GuardError(
      `could not check the deploy targets at ${label}: the evaluation needs ${what}, which is not in the nix store, and the guard never downloads while it evaluates a change`,
      undefined,
      'fetch the base revision\'s flake inputs into the runner\'s nix store in a trusted step before the guard runs (e.g. nix flake archive on the base checkout)',
    );
  }
  const at = /\bat \/nix\/store\/[a-z0-9]{32}-source\/([^\s:]+):(\d+)/.exec(error);
  return { ok: false, error, identity: errorIdentity(error), ...(at ? { position: { path: at[1]!, line: Number(at[2]) } } : {}) };
}

/** The first error line without what changes between revisions of the same error: store paths, hashes, positions. */
export function errorIdentity(error: string): string {
  const first = error.split('\n').find((line) => line.startsWith('error:')) ?? error.split('\n')[0] ?? '';
  return first
    .replace(/\/nix\/store\/[a-z0-9]{32}-[^\s'":]*/g, '<store>')
    .replace(/\bsha256[-:][A-Za-z0-9+/=]{20,}/g, '<hash>')
    .replace(/\b[0-9a-f]{32,40}\b/g, '<hash>')
    .replace(/git\+file:\/\/[^\s'"]*/g, '<flake>')
    .replace(/:\d+(?::\d+)?\b/g, '')
    .trim()
    .slice(0, 300);
}

interface RawNode {
  hostname?: unknown;
  site?: unknown;
  magicRollback?: unknown;
  autoRollback?: unknown;
  confirmTimeout?: unknown;
  activationTimeout?: unknown;
  profilesOrder?: unknown;
  profiles?: Record<string, { out?: unknown; drv?: unknown } | null>;
}

/** Values of the change's flake are data of any type: strings stay strings, anything else is shown, not trusted. */
function toNode(name: string, raw: RawNode): DeployNode {
  const text = (value: unknown): string => (typeof value === 'string' ? value : JSON.stringify(value) ?? '');
  const optional = <T>(value: unknown, type: 'boolean' | 'number'): T | undefined => (typeof value === type ? (value as T) : undefined);
  return {
    name,
    hostname: text(raw.hostname),
    site: raw.site === null || raw.site === undefined ? undefined : text(raw.site),
    magicRollback: optional<boolean>(raw.magicRollback, 'boolean'),
    autoRollback: optional<boolean>(raw.autoRollback, 'boolean'),
    confirmTimeout: optional<number>(raw.confirmTimeout, 'number'),
    activationTimeout: optional<number>(raw.activationTimeout, 'number'),
    profilesOrder: Array.isArray(raw.profilesOrder) ? raw.profilesOrder.map(text) : undefined,
    profiles: Object.fromEntries(Object.entries(raw.profiles ?? {}).map(([p, v]) => [p, { outPath: text(v?.out), drvPath: text(v?.drv) }])),
  };
}

function cleanNixError(stderr: string): string {
  const lines = stderr.split('\n').filter((l) => l.trim() !== '' && !l.startsWith('warning: Git tree'));
  const errorIndex = lines.findIndex((l) => l.startsWith('error:'));
  return (errorIndex >= 0 ? lines.slice(errorIndex) : lines).slice(0, 12).join('\n').trim() || 'nix eval failed without a message';
}

let cachedNix: Promise<string> | undefined;

/** nix from NIX_BIN, else PATH. */
export function resolveNix(): Promise<string> {
  cachedNix ??= (async () => {
    const candidate = process.env.NIX_BIN ?? 'nix';
    const result = await runTool(candidate, ['--version'], { env: toolEnvironment(os.tmpdir()), timeoutMs: 30_000, maxBuffer: 1024 * 1024, network: 'none' });
    if (result.exitCode === 0) return candidate;
    throw new GuardError(
      `nix not found (${candidate}), but the repository has deploy targets in a flake`,
      undefined,
      'install nix (Debian: apt-get install nix-bin) or set NIX_BIN; the guard never passes deploy targets it could not evaluate',
    );
  })();
  return cachedNix;
}
