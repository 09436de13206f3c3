import { createHash } from 'node:crypto';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { Parser, type ReadEntry } from 'tar';
import type { Snapshot } from '../git/repo.js';
import { copyTreeNoLinks, linkOnPath, readFileNoFollow, type CopyResult } from '../helm/safe-copy.js';
import { parseMastermindsConstraint, parseMastermindsVersion } from '../helm/masterminds-semver.js';
import { memoized } from '../tools/memo.js';
import { parseYamlFile } from '../yaml/source.js';
import { asRecord, asString } from './objects.js';

/**
 * Local chart dependencies (`repository: file://../common` in Chart.yaml), added the way
 * source-controller does when it builds a chart from a GitRepository (DependencyManager.Build):
 * the dependencies Chart.lock (else Chart.yaml) lists that charts/ lacks are found in the same
 * revision, their version checked against the constraint, and packed into the chart. Only the
 * chart's own dependencies are resolved: a dependency's charts/ folder comes as it is, its own
 * file:// dependencies are not resolved (source-controller does not either).
 */

/** A revision's files, read without following links. */
export interface RevisionFiles {
  readFile(file: string): Promise<Buffer | undefined>;
  /** Names directly inside a folder; empty when it is absent. */
  entries(dir: string): Promise<{ name: string; folder: boolean }[]>;
  /** A link on the way to `dir` or inside it, if any. */
  linkAt(dir: string): Promise<string | undefined>;
  /** Copy the folder `dir` to `into`, files and folders only. */
  copy(dir: string, into: string): Promise<CopyResult>;
}

export interface LocalDependency {
  /** The name (or alias) the chart lists it under. */
  name: string;
  /** Folder of the dependency chart, relative to the revision root. */
  dir: string;
}

export type DependencyPlan = { ok: true; dependencies: LocalDependency[] } | { ok: false; error: string };

const MAX_DEPENDENCIES = 64;
const MAX_METADATA_BYTES = 1024 * 1024;

interface Requirement {
  name: string;
  alias?: string;
  version: string;
  repository: string;
}

/** The local dependencies source-controller would add to the chart at `chartDir`, or why it would fail. */
export async function planLocalDependencies(chartDir: string, files: RevisionFiles): Promise<DependencyPlan> {
  const requirements = await readRequirements(chartDir, files);
  if (!requirements.ok) return requirements;
  const reqs = requirements.list;
  if (reqs.length === 0) return { ok: true, dependencies: [] };
  const present = await presentSubcharts(chartDir, files);
  // source-controller's collectMissing: as many subcharts as requirements means none is missing.
  if (present.count === reqs.length) return { ok: true, dependencies: [] };
  const dependencies: LocalDependency[] = [];
  const seen = new Set<string>();
  for (const req of reqs) {
    const name = req.alias || req.name;
    if (present.names.has(name) || seen.has(name)) continue;
    seen.add(name);
    if (!isLocal(req.repository)) continue; // a remote dependency: helm reports it missing, as source-controller would fail to fetch it here
    const dir = localPath(chartDir, req.repository);
    if (dir === undefined) return { ok: false, error: `dependency ${name}: ${JSON.stringify(req.repository.slice(0, 200))} leaves the repository; source-controller reads local dependencies from the same revision only` };
    const checked = await checkDependency(dir, req, files);
    if (!checked.ok) return { ok: false, error: `dependency ${name} (${req.repository.slice(0, 200)}): ${checked.error}` };
    dependencies.push({ name, dir });
  }
  return { ok: true, dependencies };
}

/** Folders of every local dependency the chart lists (missing or not): what a change to them re-renders. */
export async function localDependencyFolders(chartDir: string, files: RevisionFiles): Promise<string[]> {
  const requirements = await readRequirements(chartDir, files);
  if (!requirements.ok) return [];
  const dirs = requirements.list.filter((r) => isLocal(r.repository)).map((r) => localPath(chartDir, r.repository));
  return [...new Set(dirs.filter((d): d is string => d !== undefined && d !== chartDir))];
}

/** The chart at `chartDir` with its local dependencies put in its charts/ folder, copied to `into`. */
export async function addLocalDependencies(into: string, dependencies: LocalDependency[], files: RevisionFiles): Promise<CopyResult> {
  const charts = path.join(into, 'charts');
  await fs.mkdir(charts, { recursive: true });
  const taken = new Set(await fs.readdir(charts));
  for (const [index, dependency] of dependencies.entries()) {
    // helm names a subchart by its Chart.yaml, not by its folder; a fresh folder name never meets one already there.
    let folder = `file-dependency-${index}`;
    while (taken.has(folder)) folder = `${folder}-`;
    taken.add(folder);
    const copied = await files.copy(dependency.dir, path.join(charts, folder));
    if (!copied.ok) return { ok: false, error: `dependency ${dependency.name}: ${copied.error}` };
  }
  return { ok: true };
}

/** A digest of the chart and its local dependencies' folders, for the render cache. */
export function combinedDigest(chartDigest: string, dependencies: { dir: string; digest: string }[]): string {
  const hash = createHash('sha256').update(chartDigest);
  for (const d of dependencies) hash.update(`\0${d.dir}\0${d.digest}`);
  return hash.digest('hex');
}

function isLocal(repository: string): boolean {
  return repository === '' || repository.startsWith('file://');
}

/** source-controller joins the chart path, the URL's host and its path; a path leaving the revision is refused. */
function localPath(chartDir: string, repository: string): string | undefined {
  const rest = repository.replace(/^file:\/\//, '').replace(/[?#].*$/, '');
  const slash = rest.indexOf('/');
  const host = slash === -1 ? rest : rest.slice(0, slash);
  const urlPath = slash === -1 ? '' : rest.slice(slash);
  let decoded: string;
  try {
    decoded = decodeURIComponent(urlPath);
  } catch {
    return undefined;
  }
  const joined = path.posix.normalize(path.posix.join(chartDir || '.', host, decoded.replace(/^\/+/, '')));
  if (joined === '..' || joined.startsWith('../') || joined.includes('\0')) return undefined;
  return joined === '.' ? '' : joined.replace(/\/+$/, '');
}

async function checkDependency(dir: string, req: Requirement, files: RevisionFiles): Promise<{ ok: true } | { ok: false; error: string }> {
  const link = await files.linkAt(dir);
  if (link) return { ok: false, error: `${link} is a symbolic link; links are never followed` };
  const chartYaml = await files.readFile(path.posix.join(dir, 'Chart.yaml'));
  if (!chartYaml) return { ok: false, error: `no chart found at ${dir || '.'} (no Chart.yaml)` };
  const constraint = parseMastermindsConstraint(req.version);
  if (!constraint) return { ok: false, error: `invalid version/constraint format ${JSON.stringify(req.version.slice(0, 100))}` };
  const metadata = readYamlRecord(chartYaml, `${dir}/Chart.yaml`);
  const version = asString(metadata?.version);
  const parsed = version === undefined ? undefined : parseMastermindsVersion(version);
  if (!parsed) return { ok: false, error: `${dir}/Chart.yaml has no valid version` };
  if (!constraint.test(parsed)) return { ok: false, error: `can't get a valid version for constraint ${JSON.stringify(req.version.slice(0, 100))} (the chart at ${dir} is ${version})` };
  return { ok: true };
}

async function readRequirements(chartDir: string, files: RevisionFiles): Promise<{ ok: true; list: Requirement[] } | { ok: false; error: string }> {
  const join = (name: string) => path.posix.join(chartDir || '.', name);
  const [chartYaml, lock] = await Promise.all([files.readFile(join('Chart.yaml')), files.readFile(join('Chart.lock'))]);
  // The lock file takes precedence, as in source-controller.
  const source = lock ? readYamlRecord(lock, join('Chart.lock')) : chartYaml ? readYamlRecord(chartYaml, join('Chart.yaml')) : undefined;
  const raw = source?.dependencies;
  if (!Array.isArray(raw)) return { ok: true, list: [] };
  if (raw.length > MAX_DEPENDENCIES) return { ok: false, error: `${join(lock ? 'Chart.lock' : 'Chart.yaml')} lists more than ${MAX_DEPENDENCIES} dependencies` };
  const list: Requirement[] = [];
  for (const entry of raw) {
    const record = asRecord(entry);
    const name = asString(record?.name);
    if (!record || !name) continue;
    const alias = asString(record.alias);
    list.push({ name, ...(alias ? { alias } : {}), version: versionText(record.version), repository: asString(record.repository) ?? '' });
  }
  return { ok: true, list };
}

/** YAML reads `version: 1.0` as a number; helm reads the text. */
function versionText(value: unknown): string {
  return typeof value === 'string' ? value : typeof value === 'number' ? String(value) : '';
}

/** Chart.yaml and Chart.lock as read, by text: every release of a chart reads the same one (read only). */
const records = new Map<string, Record<string, unknown> | undefined>();

function readYamlRecord(data: Buffer, file: string): Record<string, unknown> | undefined {
  if (data.length > MAX_METADATA_BYTES) return undefined;
  const text = data.toString('utf8');
  if (records.has(text)) return records.get(text);
  const record = asRecord(parseYamlFile(text, file).documents[0]?.value);
  records.set(text, record);
  if (records.size > 1000) records.delete(records.keys().next().value!);
  return record;
}

/** The subcharts helm loads from charts/ (folders and .tgz archives not starting with _ or .) and their names. */
async function presentSubcharts(chartDir: string, files: RevisionFiles): Promise<{ count: number; names: Set<string> }> {
  const charts = path.posix.join(chartDir || '.', 'charts');
  const names = new Set<string>();
  let count = 0;
  for (const entry of await files.entries(charts)) {
    if (/^[_.]/.test(entry.name)) continue;
    const file = path.posix.join(charts, entry.name);
    if (entry.folder) {
      count++;
      const metadata = await files.readFile(path.posix.join(file, 'Chart.yaml'));
      const name = metadata ? asString(readYamlRecord(metadata, `${file}/Chart.yaml`)?.name) : undefined;
      if (name) names.add(name);
    } else if (entry.name.endsWith('.tgz')) {
      count++;
      const archive = await files.readFile(file);
      const name = archive ? await archivedChartName(archive) : undefined;
      if (name) names.add(name);
    }
  }
  return { count, names };
}

/** The name in the top-level Chart.yaml of a packaged chart. */
async function archivedChartName(archive: Buffer): Promise<string | undefined> {
  return new Promise((resolve) => {
    let found: string | undefined;
    const parser = new Parser({ strict: false });
    parser.on('entry', (entry: ReadEntry) => {
      if (found !== undefined || !/^[^/]+\/Chart\.yaml$/.test(entry.path) || entry.size > MAX_METADATA_BYTES) {
        entry.resume();
        return;
      }
      const chunks: Buffer[] = [];
      entry.on('data', (chunk: Buffer) => chunks.push(chunk));
      entry.on('end', () => {
        found = asString(readYamlRecord(Buffer.concat(chunks), entry.path)?.name) ?? '';
      });
    });
    parser.on('end', () => resolve(found || undefined));
    parser.on('error', () => resolve(undefined));
    parser.end(archive);
  });
}

/** A commit snapshot as RevisionFiles. */
export function snapshotFiles(snapshot: Snapshot, limits = { maxFiles: 10_000, maxBytes: 100 * 1024 * 1024 }): RevisionFiles {
  const under = async (dir: string) => {
    const prefix = dir === '' ? '' : `${dir}/`;
    return (await snapshot.listFiles()).filter((f) => f.startsWith(prefix));
  };
  return {
    readFile: (file) => snapshot.readFile(file),
    entries: async (dir) => {
      const prefix = dir === '' || dir === '.' ? '' : `${dir}/`;
      const found = new Map<string, boolean>();
      for (const file of await under(dir === '.' ? '' : dir)) {
        const rest = file.slice(prefix.length);
        const slash = rest.indexOf('/');
        const name = slash === -1 ? rest : rest.slice(0, slash);
        found.set(name, found.get(name) === true || slash !== -1);
      }
      return [...found].map(([name, folder]) => ({ name, folder }));
    },
    linkAt: async (dir) => (await snapshot.symlinks()).find((l) => dir === '' || l === dir || l.startsWith(`${dir}/`) || dir.startsWith(`${l}/`)),
    copy: async (dir, into) => {
      const list = await under(dir);
      if (list.length > limits.maxFiles) return { ok: false, error: `${dir} holds more than ${limits.maxFiles} files` };
      const contents = await snapshot.readFiles(list);
      let bytes = 0;
      for (const [file, data] of contents) {
        bytes += data.length;
        if (bytes > limits.maxBytes) return { ok: false, error: `${dir} is larger than ${limits.maxBytes} bytes` };
        const target = path.join(into, dir === '' ? file : file.slice(dir.length + 1));
        await fs.mkdir(path.dirname(target), { recursive: true, mode: 0o755 });
        await fs.writeFile(target, data, { mode: 0o644 });
      }
      return { ok: true };
    },
  };
}

/** A folder on disk (a mapped checkout) as RevisionFiles: nothing read through a link. */
export function checkoutFiles(root: string): RevisionFiles {
  return {
    readFile: (file) => readFileNoFollow(root, file),
    entries: async (dir) => {
      if (await linkOnPath(root, dir)) return [];
      const listed = await fs.readdir(path.join(root, dir), { withFileTypes: true }).catch(() => []);
      return listed.filter((e) => e.isDirectory() || e.isFile()).map((e) => ({ name: e.name, folder: e.isDirectory() }));
    },
    linkAt: (dir) => linkOnPath(root, dir),
    copy: (dir, into) => copyTreeNoLinks(root, dir, into),
  };
}

const withDependencies = new WeakMap<Snapshot, Map<string, Promise<CopyResult & { dir?: string }>>>();

/**
 * The chart folder of a snapshot with its local dependencies added: a copy of its own (the plain
 * materialized folder is shared by every release of that chart), made once per snapshot and content.
 */
export function materializeWithDependencies(snapshot: Snapshot, chartDir: string, dependencies: LocalDependency[], digest: string, scratchDir: string): Promise<CopyResult & { dir?: string }> {
  let made = withDependencies.get(snapshot);
  if (!made) withDependencies.set(snapshot, (made = new Map()));
  return memoized(made, `${scratchDir}\0${digest}`, async () => {
    const into = path.join(scratchDir, 'charts-with-dependencies', `${snapshot.id.replace(/[^A-Za-z0-9]/g, '_')}-${digest}`);
    const dir = await snapshot.materialize(chartDir, into);
    const added = await addLocalDependencies(dir, dependencies, snapshotFiles(snapshot));
    return added.ok ? { ok: true as const, dir } : added;
  });
}
