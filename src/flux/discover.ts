import path from 'node:path';
import type { Snapshot } from '../git/repo.js';
import { createHash } from 'node:crypto';
import { jsonPointer, parseYamlFile, rebasePointers, type ParsedYamlFile, type YamlDocument, type YamlProblem } from '../yaml/source.js';
import { asRecord, asString, objectId, type RepoObject } from './objects.js';

export interface RepoInventory {
  objects: RepoObject[];
  byId: Map<string, RepoObject>;
  /** Files that are YAML but could not be read as such. */
  problems: YamlProblem[];
  /** Chart directories (holding Chart.yaml): their templates are not manifests. */
  chartDirs: string[];
}

const MAX_MANIFEST_BYTES = 5 * 1024 * 1024;

export function isYamlPath(file: string): boolean {
  return /\.ya?ml$/i.test(file);
}

/** Parsed files by content and path, shared by the base and head of one run: an unchanged file is parsed once. */
export type ParseCache = Map<string, ParsedYamlFile>;

const CHART_OWN_FILES = new Set(['Chart.yaml', 'Chart.lock', 'values.yaml', 'values.yml', 'values.schema.json', 'requirements.yaml', 'requirements.lock']);

/**
 * What helm reads as a chart, and only that: `templates/`, `charts/`, `crds/` and the chart's own
 * files. A Chart.yaml (even at the repository root) hides nothing else from the guard.
 */
export function isChartSource(file: string, chartDirs: readonly string[]): boolean {
  for (const dir of chartDirs) {
    const relative = dir === '.' || dir === '' ? file : file.startsWith(dir + '/') ? file.slice(dir.length + 1) : undefined;
    if (relative === undefined) continue;
    if (CHART_OWN_FILES.has(relative) || /^(templates|charts|crds)\//.test(relative)) return true;
  }
  return false;
}

/** Every Kubernetes object in the YAML files of a revision, skipping chart sources and the guard's own folder. */
export async function discoverObjects(snapshot: Snapshot, parseCache: ParseCache = new Map()): Promise<RepoInventory> {
  const files = await snapshot.listFiles();
  const chartDirs = files.filter((f) => path.posix.basename(f) === 'Chart.yaml').map((f) => path.posix.dirname(f));
  const manifestFiles = files.filter((f) => isYamlPath(f) && !isChartSource(f, chartDirs) && !f.startsWith('.guard/') && f !== '.guard.yaml' && !f.startsWith('.github/') && !f.startsWith('.forgejo/') && !f.startsWith('.gitea/'));
  const contents = await snapshot.readFiles(manifestFiles);
  const objects: RepoObject[] = [];
  const problems: YamlProblem[] = [];
  for (const file of manifestFiles) {
    const data = contents.get(file);
    if (!data) continue;
    if (data.length > MAX_MANIFEST_BYTES) {
      problems.push({ location: { path: file, line: 1 }, message: `file is larger than ${MAX_MANIFEST_BYTES} bytes; not read` });
      continue;
    }
    const text = decodeUtf8(data);
    if (text === undefined) {
      problems.push({ location: { path: file, line: 1 }, message: 'file is not valid UTF-8; not read' });
      continue;
    }
    const cacheKey = `${file}\0${createHash('sha1').update(data).digest('hex')}`;
    let parsed = parseCache.get(cacheKey);
    if (!parsed) parseCache.set(cacheKey, (parsed = parseYamlFile(text, file)));
    problems.push(...parsed.problems);
    for (const document of parsed.documents) {
      const body = asRecord(document.value);
      if (!body) continue;
      const kind = asString(body.kind);
      // kubectl and kustomize apply the items of a v1 List one by one.
      if (kind?.endsWith('List') && Array.isArray(body.items)) {
        body.items.forEach((_, index) => addObject(objects, file, subDocument(document, ['items', index])));
        continue;
      }
      addObject(objects, file, document);
    }
  }
  const byId = new Map<string, RepoObject>();
  for (const object of objects) byId.set(objectId(object.kind, object.namespace, object.name), object);
  return { objects, byId, problems, chartDirs };
}

function addObject(objects: RepoObject[], file: string, document: YamlDocument): void {
  const body = asRecord(document.value);
  const apiVersion = asString(body?.apiVersion);
  const kind = asString(body?.kind);
  const metadata = asRecord(body?.metadata);
  const name = asString(metadata?.name);
  if (!body || !apiVersion || !kind || !name) return;
  objects.push({ apiVersion, kind, name, namespace: asString(metadata?.namespace), file, document, body });
}

/** The part of a document below `path`, with positions re-rooted there. */
function subDocument(document: YamlDocument, path: Array<string | number>): YamlDocument {
  const prefix = jsonPointer(path);
  let value: unknown = document.value;
  for (const key of path) value = (value as Record<string | number, unknown> | undefined)?.[key];
  const positions = rebasePointers(document.positions, prefix);
  return { value, positions, literalBlocks: rebasePointers(document.literalBlocks, prefix), start: positions.get('') ?? document.start };
}

function decodeUtf8(data: Buffer): string | undefined {
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(data);
  } catch {
    return undefined;
  }
}
