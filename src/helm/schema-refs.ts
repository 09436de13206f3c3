import { promises as fs } from 'node:fs';
import path from 'node:path';
import { list as listArchive, type ReadEntry } from 'tar';

/**
 * Documents a chart's values.schema.json refers to, found without the network.
 *
 * helm 4 (pkg/chart/common/util/jsonschema.go) compiles the schema as file:///values.schema.json
 * and fetches every http(s) `$ref` over the network when it validates (15 s timeout, proxy from the
 * environment). The guard never fetches during a check (it would be a destination the pull request
 * chooses); it looks for the document where a chart that `$ref`s its own library keeps it: a file
 * of the chart (a vendored subchart, unpacked or packaged in charts/) whose path ends like the URL's
 * path, then a chart of the same name and version in the guard's chart cache.
 */
export interface SchemaReferences {
  /** Referenced documents by the absolute URL the schema names them with. */
  documents: Map<string, { schema: Record<string, unknown>; from: string }>;
  /** Referenced URLs found nowhere without the network. */
  unresolved: string[];
  /** Whether the schema refers outside itself over http(s): helm would fetch, so helm cannot validate offline. */
  remote: boolean;
}

interface Candidate {
  /** Path segments as the chart lays the file out (`charts/<subchart>/values.schema.json`). */
  segments: string[];
  from: string;
  read: () => Promise<string | undefined>;
}

const ROOT_URL = 'file:///values.schema.json';
const MAX_DOCUMENTS = 64;
const MAX_FILE_BYTES = 4 * 1024 * 1024;
const MAX_FILES = 4000;
const MAX_DEPTH = 8;

export async function resolveSchemaReferences(chartDir: string, schema: Record<string, unknown>, cacheDir?: string): Promise<SchemaReferences> {
  const documents = new Map<string, { schema: Record<string, unknown>; from: string }>();
  const unresolved = new Set<string>();
  let remote = false;
  let chartFiles: Promise<Candidate[]> | undefined;
  let cachedCharts: Promise<CachedChart[]> | undefined;
  const rootBase = typeof schema.$id === 'string' ? safeUrl(schema.$id, ROOT_URL) ?? ROOT_URL : ROOT_URL;
  const queue: Array<{ document: Record<string, unknown>; base: string }> = [{ document: schema, base: rootBase }];
  while (queue.length > 0) {
    const { document, base } = queue.shift()!;
    for (const ref of referencesIn(document)) {
      const target = safeUrl(ref.split('#')[0]!, base);
      if (!target || target === base || target === rootBase || documents.has(target) || unresolved.has(target)) continue;
      const url = new URL(target);
      let found: { text: string; from: string } | undefined;
      if (url.protocol === 'http:' || url.protocol === 'https:') {
        remote = true;
        chartFiles ??= chartCandidates(chartDir);
        found = await pick(await chartFiles, url, false);
        if (!found && cacheDir) {
          cachedCharts ??= cacheCandidates(cacheDir);
          found = await pick((await cachedCharts).filter((c) => url.pathname.includes(c.version)).flatMap((c) => c.files), url, true);
        }
      } else if (url.protocol === 'file:') {
        found = await readInChart(chartDir, decodeURIComponent(url.pathname));
      }
      const parsed = found && parseSchema(found.text);
      if (!found || !parsed || documents.size >= MAX_DOCUMENTS) {
        unresolved.add(target);
        continue;
      }
      documents.set(target, { schema: parsed, from: found.from });
      queue.push({ document: parsed, base: target });
    }
  }
  return { documents, unresolved: [...unresolved], remote };
}

/**
 * Whether a subchart's values.schema.json (unpacked or packaged in charts/) `$ref`s an http(s) URL:
 * helm validates each subchart's values with its own schema, so it would fetch that too.
 */
export async function subchartSchemasReferRemote(chartDir: string): Promise<boolean> {
  for (const candidate of await chartCandidates(chartDir)) {
    if (candidate.segments[0] !== 'charts' || candidate.segments.at(-1) !== 'values.schema.json') continue;
    const parsed = parseSchema((await candidate.read()) ?? '');
    if (parsed && referencesIn(parsed).some((ref) => /^https?:/i.test(ref))) return true;
  }
  return false;
}

/** Every `$ref` string in a schema document (bounded walk). */
function referencesIn(document: unknown): string[] {
  const refs = new Set<string>();
  const stack: unknown[] = [document];
  let visited = 0;
  while (stack.length > 0 && visited++ < 200_000) {
    const node = stack.pop();
    if (Array.isArray(node)) stack.push(...node);
    else if (node !== null && typeof node === 'object') {
      for (const [key, value] of Object.entries(node)) {
        if ((key === '$ref' || key === '$dynamicRef') && typeof value === 'string') refs.add(value);
        else stack.push(value);
      }
    }
  }
  return [...refs].filter((r) => !r.startsWith('#'));
}

/**
 * The candidate whose path ends the most like the URL's path: at least the file and its folder
 * (`common/values.schema.json`), or the file name alone when exactly one file has it and it is
 * not the generic values.schema.json. Two different files that match equally well: none.
 */
async function pick(candidates: Candidate[], url: URL, strict: boolean): Promise<{ text: string; from: string } | undefined> {
  const wanted = url.pathname.split('/').filter(Boolean).map((s) => safeDecode(s));
  const scored = candidates.map((c) => ({ c, score: commonSuffix(c.segments, wanted) })).filter((s) => s.score > 0);
  const best = Math.max(0, ...scored.map((s) => s.score));
  const top = scored.filter((s) => s.score === best);
  const name = wanted.at(-1) ?? '';
  const enough = best >= 2 || (!strict && best === 1 && name !== 'values.schema.json' && top.length === 1);
  if (!enough) return undefined;
  const texts = await Promise.all(top.map(async (s) => ({ text: await s.c.read(), from: s.c.from })));
  const distinct = new Set(texts.map((t) => t.text));
  if (distinct.size !== 1 || texts[0]!.text === undefined) return undefined;
  return texts[0] as { text: string; from: string };
}

function commonSuffix(a: string[], b: string[]): number {
  let n = 0;
  while (n < a.length && n < b.length && a[a.length - 1 - n] === b[b.length - 1 - n]) n++;
  return n;
}

/** Schema files of the chart and of its subcharts (directories and packaged .tgz), links never followed. */
async function chartCandidates(chartDir: string): Promise<Candidate[]> {
  const candidates: Candidate[] = [];
  let files = 0;
  const walk = async (dir: string, segments: string[], depth: number): Promise<void> => {
    if (depth > MAX_DEPTH) return;
    const entries = await fs.readdir(dir, { withFileTypes: true }).catch(() => []);
    for (const entry of entries) {
      if (++files > MAX_FILES) return;
      const full = path.join(dir, entry.name);
      const here = [...segments, entry.name];
      if (entry.isDirectory()) await walk(full, here, depth + 1);
      else if (entry.isFile() && entry.name.endsWith('.json') && !(segments.length === 0 && entry.name === 'values.schema.json')) {
        candidates.push({ segments: here, from: path.relative(chartDir, full), read: () => readBounded(full) });
      } else if (entry.isFile() && segments.length === 1 && segments[0] === 'charts' && entry.name.endsWith('.tgz')) {
        candidates.push(...(await archiveCandidates(full, `charts/${entry.name}`)));
      }
    }
  };
  await walk(chartDir, [], 0);
  return candidates;
}

/** The .json files of a packaged subchart, laid out as if unpacked in charts/ (regular files only). */
async function archiveCandidates(archive: string, label: string): Promise<Candidate[]> {
  const stat = await fs.lstat(archive).catch(() => undefined);
  if (!stat?.isFile() || stat.size > 64 * 1024 * 1024) return [];
  const found: Candidate[] = [];
  try {
    await listArchive({
      file: archive,
      onReadEntry: (entry: ReadEntry) => {
        const name = entry.path.replace(/^\.\//, '');
        const parts = name.split('/').filter(Boolean);
        if (entry.type !== 'File' || !name.endsWith('.json') || parts.includes('..') || (entry.size ?? 0) > MAX_FILE_BYTES || found.length >= MAX_FILES) {
          entry.resume();
          return;
        }
        const chunks: Buffer[] = [];
        const text = new Promise<string>((resolve) => {
          entry.on('data', (chunk: Buffer) => chunks.push(chunk));
          entry.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
        });
        found.push({ segments: ['charts', ...parts], from: `${label}:${name}`, read: () => text });
      },
    });
  } catch {
    return [];
  }
  return found;
}

interface CachedChart {
  version: string;
  files: Candidate[];
}

/** Charts in the guard's chart cache (`<cache>/charts/<key>/`), each with its name's schema files and version. */
async function cacheCandidates(cacheDir: string): Promise<CachedChart[]> {
  const root = path.join(cacheDir, 'charts');
  // Fetched and imported charts live under charts/sha256/<archive digest>/ (helm/chart-cache.ts).
  const listed = async (dir: string) => (await fs.readdir(dir, { withFileTypes: true }).catch(() => [])).filter((e) => e.isDirectory() && !e.name.startsWith('.')).map((e) => path.join(dir, e.name));
  const dirs = [...(await listed(path.join(root, 'sha256'))), ...(await listed(root))];
  const charts: CachedChart[] = [];
  for (const dir of dirs.slice(0, 2000)) {
    const chartYaml = await readBounded(path.join(dir, 'Chart.yaml'));
    const name = chartYaml && /^name:\s*["']?([\w.-]+)/m.exec(chartYaml)?.[1];
    const version = chartYaml && /^version:\s*["']?v?([\w.+-]+)/m.exec(chartYaml)?.[1];
    if (!name || !version) continue;
    const files = await chartCandidates(dir);
    const own = await readBounded(path.join(dir, 'values.schema.json'));
    if (own !== undefined) files.push({ segments: [name, 'values.schema.json'], from: `chart cache ${name} ${version}`, read: async () => own });
    charts.push({ version, files: files.map((f) => ({ ...f, segments: f.segments[0] === 'charts' ? f.segments : [name, ...f.segments], from: f.from.startsWith('chart cache') ? f.from : `chart cache ${name} ${version}: ${f.from}` })) });
  }
  return charts;
}

/** A file: reference, resolved inside the chart directory only (no links, no way out). */
async function readInChart(chartDir: string, absolute: string): Promise<{ text: string; from: string } | undefined> {
  const relative = path.posix.normalize(absolute).replace(/^\/+/, '');
  if (relative === '' || relative.startsWith('..')) return undefined;
  let dir = chartDir;
  for (const part of relative.split('/')) {
    dir = path.join(dir, part);
    const stat = await fs.lstat(dir).catch(() => undefined);
    if (!stat || stat.isSymbolicLink()) return undefined;
  }
  const text = await readBounded(dir);
  return text === undefined ? undefined : { text, from: relative };
}

async function readBounded(file: string): Promise<string | undefined> {
  const stat = await fs.lstat(file).catch(() => undefined);
  if (!stat?.isFile() || stat.size > MAX_FILE_BYTES) return undefined;
  return fs.readFile(file, 'utf8').catch(() => undefined);
}

function parseSchema(text: string): Record<string, unknown> | undefined {
  try {
    const value: unknown = JSON.parse(text);
    return value !== null && typeof value === 'object' && !Array.isArray(value) ? (value as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

function safeUrl(ref: string, base: string): string | undefined {
  try {
    return new URL(ref, base).href;
  } catch {
    return undefined;
  }
}

function safeDecode(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    return segment;
  }
}
