import { promises as fs } from 'node:fs';
import path from 'node:path';
import { printableUrl, type FlakeLocks } from './flake-inputs.js';

/**
 * The inputs flake.nix declares, read before nix locks anything: `nix flake metadata` locks an
 * input it finds unlocked, and locking a `path:` input copies that folder into the world-readable
 * nix store. So the declarations are judged first, with the lock as committed.
 */

export interface DeclaredInput {
  /** "sec", or "nixpkgs/utils" for an override of an input's own input. */
  input: string;
  url?: string;
  type?: string;
  path?: string;
  follows?: string;
}

/** Prints every declared input as plain strings; a path value is shown with toString, never copied. */
export const DECLARED_INPUTS_APPLY = `flake: let
  text = v: if v == null then null else if builtins.isString v || builtins.isPath v then toString v else "<" + builtins.typeOf v + ">";
  one = prefix: name: value:
    let
      spec = if builtins.isAttrs value then value else { url = value; };
      here = prefix + name;
    in [ {
      input = here;
      url = text (spec.url or null);
      type = text (spec.type or null);
      path = text (spec.path or null);
      follows = if spec ? follows then text (if builtins.isList spec.follows then builtins.concatStringsSep "/" spec.follows else spec.follows) else null;
    } ] ++ (if builtins.isAttrs (spec.inputs or null) then all (here + "/") spec.inputs else [ ]);
  all = prefix: inputs: builtins.concatLists (builtins.attrValues (builtins.mapAttrs (one prefix) inputs));
in if builtins.isAttrs (flake.inputs or null) then all "" flake.inputs else [ ]`;

export function parseDeclaredInputs(json: string): DeclaredInput[] | undefined {
  let parsed: unknown;
  try {
    parsed = JSON.parse(json);
  } catch {
    return undefined;
  }
  if (!Array.isArray(parsed)) return undefined;
  const text = (v: unknown) => (typeof v === 'string' ? v : undefined);
  return parsed.flatMap((entry: Record<string, unknown>) => {
    if (typeof entry !== 'object' || entry === null || typeof entry.input !== 'string') return [];
    const input: DeclaredInput = { input: entry.input };
    for (const key of ['url', 'type', 'path', 'follows'] as const) {
      const value = text(entry[key]);
      if (value !== undefined) input[key] = value;
    }
    return [input];
  });
}

export interface RefusedInput {
  input: string;
  /** What is wrong, for the message. */
  why: string;
}

const LOCAL_SCHEMES = /^(?:path|file|git\+file|hg\+file|tarball\+file|file\+file|sourcehut\+file):/i;

/**
 * Declared inputs nix must not be given: one that names a file or folder of the machine (an absolute
 * path, a file URL, `type = "path"` outside the revision), and one that flake.lock does not lock
 * (nix would lock it, i.e. fetch it, while the change is evaluated).
 */
export function refusedDeclaredInputs(declared: DeclaredInput[], locks: FlakeLocks | undefined): RefusedInput[] {
  const refused: RefusedInput[] = [];
  const root = locks?.nodes?.[locks.root ?? 'root'];
  const lockedNames = new Set(Object.keys(root?.inputs ?? {}));
  for (const input of declared) {
    const where = machinePath(input);
    if (where !== undefined) {
      refused.push({ input: input.input, why: `names ${where}, a path of the machine the guard runs on, outside the checked revision` });
      continue;
    }
    const topLevel = !input.input.includes('/');
    if (topLevel && input.follows === undefined && !lockedNames.has(input.input)) {
      const from = input.url !== undefined ? `(${printableUrl(input.url)}) ` : '';
      refused.push({ input: input.input, why: `${from}is not locked in flake.lock, so nix would fetch it while it evaluates the change` });
    }
  }
  return refused;
}

function machinePath(input: DeclaredInput): string | undefined {
  const candidates: string[] = [];
  if (input.url !== undefined) {
    const url = input.url.trim();
    if (url.startsWith('/') || url.startsWith('~')) candidates.push(url);
    else if (LOCAL_SCHEMES.test(url)) candidates.push(localPart(url));
  }
  if (input.path !== undefined) candidates.push(input.path);
  // A relative path resolves inside nix's copy of the revision (behind the file-system fence, nothing else exists).
  return candidates.find((c) => c.startsWith('/') || c.startsWith('~'))?.replace(/[?#].*$/, '');
}

function localPart(url: string): string {
  const rest = url.replace(LOCAL_SCHEMES, '');
  if (rest.startsWith('//')) {
    try {
      return decodeURIComponent(new URL(`file:${rest}`).pathname);
    } catch {
      return rest.slice(2);
    }
  }
  return rest;
}

/** Write flake.nix where the fenced nix sees it (its own folder, nothing else beside it). */
export async function stageFlakeFile(text: string, scratch: string): Promise<string> {
  const dir = path.join(scratch, 'declared');
  await fs.mkdir(dir, { recursive: true });
  const file = path.join(dir, 'flake.nix');
  await fs.writeFile(file, text);
  return file;
}
