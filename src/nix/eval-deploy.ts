import { execa } from 'execa';
import { GuardError } from '../errors.js';

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

export type EvalOutcome = { ok: true; nodes: DeployNode[] } | { ok: false; error: string };

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
}

/**
 * Evaluate deploy-rs nodes offline, never building and never importing from derivations,
 * so a change cannot run code on the guard's machine through nix.
 */
export async function evaluateDeployNodes(request: EvalRequest): Promise<EvalOutcome> {
  const query = new URLSearchParams();
  if (request.rev) query.set('rev', request.rev);
  if (request.flakeDir) query.set('dir', request.flakeDir);
  const flakeRef = `git+file://${request.repoRoot}${query.size > 0 ? `?${query.toString()}` : ''}#deploy`;
  const result = await execa(
    request.nixBin,
    [
      '--extra-experimental-features', 'nix-command flakes',
      '--option', 'allow-import-from-derivation', 'false',
      '--offline',
      'eval', '--json', '--no-update-lock-file', '--no-write-lock-file',
      flakeRef,
      '--apply', APPLY,
    ],
    { reject: false, timeout: request.timeoutMs, maxBuffer: 256 * 1024 * 1024, env: { NIX_CONFIG: 'warn-dirty = false' } },
  ).catch((error: Error) => ({ exitCode: -1, stdout: '', stderr: error.message, timedOut: false }));
  if (result.timedOut) return { ok: false, error: `nix eval did not finish within ${Math.round(request.timeoutMs / 1000)} s` };
  // A failed evaluation may still print partial JSON: only trust stdout after exit 0.
  if (result.exitCode !== 0) return { ok: false, error: cleanNixError(String(result.stderr)) };
  let parsed: Record<string, RawNode>;
  try {
    parsed = JSON.parse(String(result.stdout)) as Record<string, RawNode>;
  } catch {
    return { ok: false, error: 'nix eval printed output that is not JSON' };
  }
  return { ok: true, nodes: Object.entries(parsed).map(([name, raw]) => toNode(name, raw)) };
}

interface RawNode {
  hostname: string;
  site: string | null;
  magicRollback: boolean | null;
  autoRollback: boolean | null;
  confirmTimeout: number | null;
  activationTimeout: number | null;
  profilesOrder: string[] | null;
  profiles: Record<string, { out: string; drv: string }>;
}

function toNode(name: string, raw: RawNode): DeployNode {
  return {
    name,
    hostname: raw.hostname,
    site: raw.site ?? undefined,
    magicRollback: raw.magicRollback ?? undefined,
    autoRollback: raw.autoRollback ?? undefined,
    confirmTimeout: raw.confirmTimeout ?? undefined,
    activationTimeout: raw.activationTimeout ?? undefined,
    profilesOrder: raw.profilesOrder ?? undefined,
    profiles: Object.fromEntries(Object.entries(raw.profiles).map(([p, v]) => [p, { outPath: v.out, drvPath: v.drv }])),
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
    const result = await execa(candidate, ['--version'], { reject: false, timeout: 30_000 }).catch(() => undefined);
    if (result?.exitCode === 0) return candidate;
    throw new GuardError(
      `nix not found (${candidate}), but the repository has deploy targets in a flake`,
      undefined,
      'install nix (Debian: apt-get install nix-bin) or set NIX_BIN; the guard never passes deploy targets it could not evaluate',
    );
  })();
  return cachedNix;
}
