import { promises as fs } from 'node:fs';
import path from 'node:path';
import { parse } from 'yaml';

/** The names kustomize reads a folder's kustomization from. */
export const KUSTOMIZATION_FILES = ['kustomization.yaml', 'kustomization.yml', 'Kustomization'];

/** Enough for any real overlay tree; a PR that nests deeper gets a refusal, not a stall. */
const MAX_KUSTOMIZATIONS = 2000;
const MAX_FILE_BYTES = 4 * 1024 * 1024;

/** A scheme (`https://`, `file://`, `ssh://`), a go-getter `git::`, or scp-like `git@host:`. */
const REMOTE = /^(?:[a-z][a-z0-9+.-]*::|[a-z][a-z0-9+.-]*:\/\/|[\w.-]+@[\w.-]+:)/i;
/** `host.tld/org/repo` (github.com/..., any dotted first part): kustomize clones it when no such folder exists. Unambiguous, so linear. */
const HOSTED = /^[\w-]+(?:\.[\w-]+)+\//;

export interface ConfinementProblem {
  /** remote-source: kustomize would fetch it; outside-revision: an absolute or escaping path; limit: too large or too deep. */
  kind: 'remote-source' | 'outside-revision' | 'limit';
  message: string;
}

/**
 * Checks every kustomization kustomize would read from `dir` before it runs: each path it names
 * (resources, components, bases, patches, generators' files, crds, configurations, transformers,
 * generators, validators, replacements, openapi, helm chart home) must be a relative path that
 * stays inside one of `roots`, and nothing may be remote (kustomize would clone or download it:
 * a URL, `git::`, `file://`, `git@host:`, `github.com/...`). Returns why it refuses, or undefined.
 */
export async function confinementProblem(dir: string, roots: string[]): Promise<ConfinementProblem | undefined> {
  const realRoots = await Promise.all(roots.map((root) => fs.realpath(root).catch(() => path.resolve(root))));
  const display = (file: string) => {
    const root = realRoots.find((r) => file === r || file.startsWith(r + path.sep));
    return root ? path.relative(root, file) || '.' : file;
  };
  const visited = new Set<string>();
  const queue: string[] = [await fs.realpath(dir).catch(() => path.resolve(dir))];
  while (queue.length > 0) {
    const current = queue.shift()!;
    if (visited.has(current)) continue;
    visited.add(current);
    if (visited.size > MAX_KUSTOMIZATIONS) return { kind: 'limit', message: `more than ${MAX_KUSTOMIZATIONS} kustomizations reachable from one build; refused` };
    const file = await kustomizationFile(current);
    if (!file) continue;
    const where = display(path.join(current, path.basename(file)));
    const realFile = await fs.realpath(file);
    if (!realRoots.some((root) => inside(realFile, root))) return { kind: 'outside-revision', message: `${where} leads (through a symbolic link) outside the checked revision; the guard refuses to build it` };
    const stat = await fs.stat(file);
    if (stat.size > MAX_FILE_BYTES) return { kind: 'limit', message: `${where} is larger than ${MAX_FILE_BYTES} bytes; refused` };
    let body: unknown;
    try {
      body = parse(await fs.readFile(file, 'utf8'));
    } catch {
      continue; // kustomize reports the syntax error itself, with its own words.
    }
    if (!isRecord(body)) continue;
    for (const { field, value } of pathEntries(body)) {
      const problem = await checkEntry(value, current, realRoots);
      if (problem) return { kind: problem.kind, message: `${where}: ${field} "${truncate(value)}" ${problem.why}; the guard refuses to build it` };
      const target = await fs.realpath(path.resolve(current, value)).catch(() => undefined);
      if (target && DIRECTORY_FIELDS.has(field) && (await isDirectory(target))) queue.push(target);
    }
  }
  return undefined;
}

/** Fields whose entries may be folders holding a kustomization of their own. */
const DIRECTORY_FIELDS = new Set(['resources', 'bases', 'components', 'generators', 'transformers', 'validators']);

async function checkEntry(value: string, from: string, roots: string[]): Promise<{ kind: ConfinementProblem['kind']; why: string } | undefined> {
  const remote = (why: string) => ({ kind: 'remote-source' as const, why });
  const outside = (why: string) => ({ kind: 'outside-revision' as const, why });
  if (REMOTE.test(value)) return remote('is a remote source (kustomize would fetch it from the network or clone a repository)');
  if (path.isAbsolute(value)) return outside('is an absolute path, outside the checked revision');
  const target = path.resolve(from, value);
  if (!roots.some((root) => inside(target, root))) return outside('points outside the checked revision');
  const real = await fs.realpath(target).catch(() => undefined);
  if (real === undefined) {
    if (await exists(target)) return outside('is a symbolic link that leads nowhere');
    // A plain missing path is kustomize's own error to report; one shaped like `host.tld/org/repo` it would try to clone.
    return HOSTED.test(value) ? remote('is a remote source (not a file or folder in the checked revision, so kustomize would clone it)') : undefined;
  }
  if (!roots.some((root) => inside(real, root))) return outside('leads (through a symbolic link) outside the checked revision');
  return undefined;
}

/** Every string in a kustomization that kustomize reads as a path, with the field it sits in. */
function pathEntries(body: Record<string, unknown>): Array<{ field: string; value: string }> {
  const entries: Array<{ field: string; value: string }> = [];
  const add = (field: string, value: unknown) => {
    if (typeof value === 'string' && value.trim() !== '') entries.push({ field, value: value.trim() });
  };
  const list = (value: unknown): unknown[] => (Array.isArray(value) ? value : []);
  for (const field of ['resources', 'bases', 'components', 'crds', 'configurations', 'generators', 'transformers', 'validators']) {
    // Inline YAML (a generator or transformer written in place) holds a newline: not a path.
    for (const item of list(body[field])) if (typeof item === 'string' && !item.includes('\n')) add(field, item);
  }
  for (const item of list(body.patchesStrategicMerge)) if (typeof item === 'string' && !item.includes('\n') && !item.trim().startsWith('{')) add('patchesStrategicMerge', item);
  for (const field of ['patches', 'patchesJson6902', 'replacements']) {
    for (const item of list(body[field])) if (isRecord(item)) add(`${field}[].path`, item.path);
  }
  for (const field of ['configMapGenerator', 'secretGenerator']) {
    for (const item of list(body[field])) {
      if (!isRecord(item)) continue;
      for (const source of list(item.files)) if (typeof source === 'string') add(`${field}[].files`, source.includes('=') ? source.slice(source.indexOf('=') + 1) : source);
      for (const source of list(item.envs)) add(`${field}[].envs`, source);
      add(`${field}[].env`, item.env);
    }
  }
  if (isRecord(body.openapi)) add('openapi.path', body.openapi.path);
  if (isRecord(body.helmGlobals)) {
    add('helmGlobals.chartHome', body.helmGlobals.chartHome);
    add('helmGlobals.configHome', body.helmGlobals.configHome);
  }
  for (const chart of list(body.helmCharts)) {
    if (!isRecord(chart)) continue;
    add('helmCharts[].valuesFile', chart.valuesFile);
    for (const extra of list(chart.additionalValuesFiles)) add('helmCharts[].additionalValuesFiles', extra);
    if (typeof chart.repo === 'string' && chart.repo !== '') entries.push({ field: 'helmCharts[].repo', value: chart.repo });
  }
  return entries;
}

async function kustomizationFile(dir: string): Promise<string | undefined> {
  for (const name of KUSTOMIZATION_FILES) {
    const candidate = path.join(dir, name);
    if (await fs.stat(candidate).then((s) => s.isFile(), () => false)) return candidate;
  }
  return undefined;
}

function inside(target: string, root: string): boolean {
  return target === root || target.startsWith(root + path.sep);
}

async function isDirectory(target: string): Promise<boolean> {
  return fs.stat(target).then((s) => s.isDirectory(), () => false);
}

async function exists(target: string): Promise<boolean> {
  return fs.lstat(target).then(() => true, () => false);
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function truncate(value: string): string {
  return value.length > 120 ? `${value.slice(0, 120)}…` : value;
}
