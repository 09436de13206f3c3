import { promises as fs } from 'node:fs';
import path from 'node:path';
import { list as listArchive, type ReadEntry } from 'tar';
import { parse as parseYaml } from 'yaml';

/**
 * Value paths a chart's templates read, so that a key the chart reads without listing it in
 * values.yaml (only in a comment, or not at all) is not called unknown.
 *
 * Sound and simple: a path read as a whole (`toYaml .Values.a`, `with .Values.a`, `range`,
 * `include ... .Values.a`, `$x := .Values.a`, `index .Values.a $k` ...) makes everything below it
 * known; a path only tested in an `if` condition, inspected (`typeOf`, `kindIs`, `empty`) or printed
 * bare (`{{ .Values.a }}`, a scalar) is known itself. Templates of subcharts count
 * under their alias (library charts under the parent's own scope too, as their named templates run
 * with the parent's context). When the chart is too large to read in full, `capped` is set and
 * no key of that chart may be called unknown.
 */
export interface KnownNode {
  /** Everything below this path is known (read as a whole). */
  whole?: boolean;
  children?: Map<string, KnownNode>;
}

export interface TemplateValueRefs {
  root: KnownNode;
  /** The chart was not read in full: no key may be called unknown. */
  capped: boolean;
  /** Some template runs `tpl`: value strings may themselves read `.Values` paths. */
  usesTpl: boolean;
}

export interface ValueReference {
  path: string[];
  /** Read as a whole (everything below known), else only tested in a condition. */
  whole: boolean;
}

const MAX_TOTAL_BYTES = 16 * 1024 * 1024;
const MAX_FILE_BYTES = 4 * 1024 * 1024;
const MAX_ARCHIVE_BYTES = 64 * 1024 * 1024;
const MAX_FILES = 20_000;
const MAX_DEPTH = 12;
const MAX_NODES = 200_000;
const MAX_LOOKUP_KEYS = 16;

export function emptyKnown(): KnownNode {
  return {};
}

/** Mark `path` known below `node` (and its subtree, when `whole`). */
export function markKnown(node: KnownNode, path: readonly string[], whole: boolean): void {
  let here = node;
  for (const key of path) {
    if (here.whole) return;
    here.children ??= new Map();
    let next = here.children.get(key);
    if (!next) here.children.set(key, (next = {}));
    here = next;
  }
  if (whole) {
    here.whole = true;
    delete here.children;
  }
}

/** The node at `key` below `node`, or `{ whole: true }` when `node` is itself read as a whole. */
export function knownChild(node: KnownNode | undefined, key: string): KnownNode | undefined {
  if (!node) return undefined;
  if (node.whole) return node;
  return node.children?.get(key);
}

// `.Values.a.b`, `$.Values.a`, `$root.Values.a`, `.context.Values.a`, `.Subcharts.sub.Values.a`.
const REFERENCE = /(?:\.Subcharts\.([A-Za-z_]\w*))?\.Values((?:\.[A-Za-z_]\w*)*)(?!\w)/g;
const LOOKUP_BEFORE = /\b(index|get|hasKey)\s*$/;
const STRING_ARGUMENT = /\s+("(?:[^"\\\n]|\\.)*"|`[^`]*`)/y;
const CONDITION_HEAD = /^(?:else\s+)?if\s/;
// `{{ .Values.a }}` prints a scalar (a map would print as Go's `map[...]`, which no chart means).
const BARE_OUTPUT = /^(?:\$\w*)?(?:\.[A-Za-z_]\w*)+$/;
// `typeOf .Values.a`, `kindIs "map" .Values.a`, `empty .Values.a`: the value is inspected, not read.
const INSPECTED_BY = /\b(?:typeOf|kindOf|empty|(?:kindIs|typeIs|typeIsLike)\s+"[^"\n]*")\s*$/;
const CONDITION_REST = /(?:\$\w*|\$?(?:\.[A-Za-z_]\w*)+|\b(?:and|or|not)\b|[\s()])/g;

/** What dot (`.`) is at a point of a template: the root context, a values path, a named template's argument. */
type Binding = { kind: 'root' } | { kind: 'opaque' } | { kind: 'values'; path: string[] } | { kind: 'define'; name: string; path: string[] };

/** A named template called with a values path as its argument (`with .Values.a` ... `include "t" .`). */
export interface TemplateCall {
  name: string;
  path: string[];
}

/** What a named template reads of its argument (paths relative to it) and which templates it passes it to. */
export interface DefineUse {
  references: ValueReference[];
  calls: TemplateCall[];
}

export interface TemplateAnalysis {
  /** `.Values` paths read (relative to the chart's values). */
  references: ValueReference[];
  /** Named templates given a values path: resolved once every template of the chart is read. */
  calls: TemplateCall[];
  defines: Map<string, DefineUse>;
}

const KEYWORD = /^(else\s+if|else\s+with|else|if|with|range|define|block|end)\b\s*/;
const TEMPLATE_NAME = /^("(?:[^"\\\n]|\\.)*"|`[^`]*`)/;
const SINGLE_CHAIN = /^(?:(\$)?\.Values((?:\.[A-Za-z_]\w*)*)|(\.(?:[A-Za-z_]\w*(?:\.[A-Za-z_]\w*)*)?))$/;
// `.a.b` or a bare `.`, not part of `$x.a`, `(...).a`, `1.5`, `.Values` (read above) or a longer chain.
const RELATIVE = /(?<![\w$).\]])\.((?:[A-Za-z_]\w*)(?:\.[A-Za-z_]\w*)*)?(?![\w.])/g;
// `$.a.b` or a bare `$` (not `$x`, `$.Values`).
const DOLLAR = /(?<![\w$])\$(?:\.((?:[A-Za-z_]\w*)(?:\.[A-Za-z_]\w*)*))?(?![\w.])/g;
const CALL_BEFORE = /\b(?:include|template)\s+("(?:[^"\\\n]|\\.)*"|`[^`]*`)\s*$/;
const MAX_SCOPES = 256;

/** Every `.Values` path a template text reads; named templates it passes a values path to are read whole. */
export function valueReferences(text: string): ValueReference[] {
  const analysis = analyzeTemplate(text);
  return [...analysis.references, ...analysis.calls.map((call) => ({ path: call.path, whole: true }))];
}

/**
 * The values paths a template reads, following what dot is inside `with` and `define` blocks:
 * `{{ with .Values.a }}{{ .b }}{{ end }}` reads a.b; a bare `.` there (`toYaml .`) reads a whole;
 * `include "t" .` reads what template t reads of its argument (resolved by the caller).
 */
export function analyzeTemplate(text: string): TemplateAnalysis {
  const analysis: TemplateAnalysis = { references: [], calls: [], defines: new Map() };
  const stack: Array<{ binding: Binding; outer: Binding; kind: string }> = [];
  const current = (): Binding => stack.at(-1)?.binding ?? { kind: 'root' };
  // Every binding a block got: read whole if the blocks do not nest as parsed (dot would be unsure).
  const bound: Binding[] = [];
  let anomaly = false;
  let position = 0;
  while (position < text.length) {
    const open = text.indexOf('{{', position);
    const close = open < 0 ? -1 : actionEnd(text, open + 2);
    if (open < 0 || close < 0) {
      referencesInSegment(text.slice(position), false, analysis.references);
      anomaly ||= open >= 0;
      break;
    }
    if (open > position) referencesInSegment(text.slice(position, open), false, analysis.references);
    position = close + 2;
    const action = text.slice(open + 2, close).replace(/^-\s/, '').replace(/\s-$/, '').trim();
    if (action.startsWith('/*')) {
      referencesInSegment(action, false, analysis.references);
      continue;
    }
    const keyword = KEYWORD.exec(action);
    const word = keyword?.[1]?.replace(/\s+/, ' ');
    const rest = keyword ? action.slice(keyword[0].length) : action;
    // In `with`/`range` ... `else`, dot is the outer one again.
    if (word?.startsWith('else')) {
      const frame = stack.at(-1);
      if (!frame) anomaly = true;
      else if (frame.kind !== 'if') frame.binding = frame.outer;
    }
    const here = current();
    if (word === 'end') {
      if (!stack.pop()) anomaly = true;
    } else if (word === 'else') {
      // dot set above
    } else if (word === 'define' || word === 'block') {
      const name = TEMPLATE_NAME.exec(rest)?.[1];
      const defined = name === undefined ? undefined : literal(name);
      if (word === 'block') scan(rest.slice(name?.length ?? 0), here, false, analysis, argument());
      push({ binding: defined === undefined ? { kind: 'opaque' } : { kind: 'define', name: defined, path: [] }, outer: here, kind: 'define' });
      if (defined !== undefined && !analysis.defines.has(defined)) analysis.defines.set(defined, { references: [], calls: [] });
    } else if (word === 'with' || word === 'else with') {
      const chain = bindingOf(rest, here);
      if (chain) record(chain.read, false, analysis);
      else scan(rest, here, false, analysis, argument());
      const binding: Binding = chain?.binding ?? { kind: 'opaque' };
      if (word === 'with') push({ binding, outer: here, kind: 'with' });
      else if (stack.at(-1)) {
        stack.at(-1)!.binding = binding;
        bound.push(binding);
      }
    } else if (word === 'range') {
      // Elements of a list or map under keys the user chooses: what is ranged over is read whole.
      scan(rest, here, false, analysis, argument());
      push({ binding: { kind: 'opaque' }, outer: here, kind: 'range' });
    } else {
      scan(rest, here, isConditionOnly(action) || BARE_OUTPUT.test(action), analysis, argument());
      if (word === 'if') push({ binding: here, outer: here, kind: 'if' });
    }
  }
  if (anomaly || stack.length > 0) for (const binding of bound) record({ binding }, true, analysis);
  return analysis;

  /** What `$` is: a named template's argument inside its define, else the root context. */
  function argument(): Binding {
    const define = stack.find((frame) => frame.kind === 'define');
    return define?.binding.kind === 'define' ? { kind: 'define', name: define.binding.name, path: [] } : { kind: 'root' };
  }

  function push(frame: { binding: Binding; outer: Binding; kind: string }): void {
    // Hostile nesting past the bound: dot is no longer followed (what is read there stays whole-read).
    stack.push(stack.length >= MAX_SCOPES ? { ...frame, binding: { kind: 'opaque' } } : frame);
    if (frame.kind === 'with') bound.push(frame.binding);
  }
}

/** Where the action opened before `from` closes: the first `}}` outside string and character literals and comments. */
function actionEnd(text: string, from: number): number {
  let i = from;
  while (i < text.length) {
    const c = text[i];
    if (c === '}' && text[i + 1] === '}') return i;
    if (c === '"' || c === "'") {
      i++;
      while (i < text.length && text[i] !== c && text[i] !== '\n') i += text[i] === '\\' ? 2 : 1;
      if (text[i] !== c) return -1;
    } else if (c === '`') {
      i = text.indexOf('`', i + 1);
      if (i < 0) return -1;
    } else if (c === '/' && text[i + 1] === '*') {
      i = text.indexOf('*/', i + 2);
      if (i < 0) return -1;
      i++;
    }
    i++;
  }
  return -1;
}

/** `with .Values.a`, `with $.Values.a`, `with .b` (relative to dot): the binding the block gets. */
function bindingOf(pipe: string, here: Binding): { binding: Binding; read: { binding: Binding } } | undefined {
  const chain = SINGLE_CHAIN.exec(pipe.trim());
  if (!chain) return undefined;
  if (chain[3] === undefined) {
    const path = (chain[2] ?? '').split('.').filter(Boolean);
    if (chain[1] === undefined && here.kind !== 'root' && here.kind !== 'define') return undefined;
    return { binding: { kind: 'values', path }, read: { binding: { kind: 'values', path } } };
  }
  const relative = chain[3].split('.').filter(Boolean);
  const binding = below(here, relative);
  return { binding, read: { binding } };
}

function below(binding: Binding, path: string[]): Binding {
  if (binding.kind === 'values') return { kind: 'values', path: [...binding.path, ...path] };
  if (binding.kind === 'define') return { kind: 'define', name: binding.name, path: [...binding.path, ...path] };
  return { kind: 'opaque' };
}

/** A read of what `binding` points at (whole or only tested). */
function record(read: { binding: Binding }, whole: boolean, analysis: TemplateAnalysis): void {
  const binding = read.binding;
  if (binding.kind === 'values') analysis.references.push({ path: binding.path, whole });
  else if (binding.kind === 'define') analysis.defines.get(binding.name)?.references.push({ path: binding.path, whole });
}

/** The `.Values` paths of an action, and what it reads relative to dot. */
function scan(code: string, here: Binding, conditionOnly: boolean, analysis: TemplateAnalysis, dollar: Binding): void {
  referencesInSegment(code, conditionOnly, analysis.references);
  const relativeToDot = here.kind === 'values' || here.kind === 'define';
  const relativeToDollar = dollar.kind === 'define' && code.includes('$');
  if ((!relativeToDot || !code.includes('.')) && !relativeToDollar) return;
  // String contents blanked (same length) so that `"a.b"` or `"."` is not read as a field.
  const blanked = code.replace(/"(?:[^"\\\n]|\\.)*"|`[^`]*`/g, (s) => s[0] + ' '.repeat(s.length - 2) + s[0]);
  if (relativeToDollar) relativeReads(code, blanked, DOLLAR, dollar, conditionOnly, analysis);
  if (relativeToDot) relativeReads(code, blanked, RELATIVE, here, conditionOnly, analysis);
}

/** Reads relative to dot (`.a.b`, `.`) or to a template's argument (`$.a`, `$`). */
function relativeReads(code: string, blanked: string, pattern: RegExp, here: Binding, conditionOnly: boolean, analysis: TemplateAnalysis): void {
  for (const match of blanked.matchAll(pattern)) {
    const fields = match[1];
    if (fields === 'Values' || fields?.startsWith('Values.')) continue;
    const before = code.slice(Math.max(0, match.index - 120), match.index);
    if (fields === undefined) {
      const call = CALL_BEFORE.exec(before);
      const name = call && literal(call[1]!);
      if (name !== undefined && name !== null) {
        if (here.kind === 'values') analysis.calls.push({ name, path: here.path });
        else if (here.kind === 'define') analysis.defines.get(here.name)?.calls.push({ name, path: here.path });
        continue;
      }
    }
    const whole = !conditionOnly && !INSPECTED_BY.test(before.slice(-48));
    record({ binding: below(here, fields?.split('.') ?? []) }, fields === undefined ? !conditionOnly : whole, analysis);
  }
}

/** `if .Values.a`, `else if and .Values.a (not .Values.b)`: the paths are tested, not read whole. */
function isConditionOnly(action: string): boolean {
  if (!CONDITION_HEAD.test(action)) return false;
  return action.replace(CONDITION_HEAD, '').replace(CONDITION_REST, '') === '';
}

function referencesInSegment(segment: string, conditionOnly: boolean, found: ValueReference[]): void {
  if (!segment.includes('.Values')) return;
  for (const match of segment.matchAll(REFERENCE)) {
    const subchart = match[1];
    const path = [...(subchart ? [subchart] : []), ...(match[2] ?? '').split('.').filter(Boolean)];
    const before = segment.slice(Math.max(0, match.index - 48), match.index);
    const lookup = LOOKUP_BEFORE.exec(before)?.[1];
    if (lookup) {
      // `index .Values "a" "b"`: literal keys extend the path; anything else reads what is reached whole.
      STRING_ARGUMENT.lastIndex = match.index + match[0].length;
      // Bounded: a string argument may itself hold `index .Values` (no quadratic rescans).
      for (let argument = STRING_ARGUMENT.exec(segment), taken = 0; argument && taken < MAX_LOOKUP_KEYS; argument = STRING_ARGUMENT.exec(segment), taken++) {
        const key = literal(argument[1]!);
        if (key === undefined) break;
        path.push(key);
        if (lookup !== 'index') break;
      }
    }
    found.push({ path, whole: !conditionOnly && !(lookup === undefined && INSPECTED_BY.test(before)) });
  }
}

function literal(quoted: string): string | undefined {
  if (quoted.startsWith('`')) return quoted.slice(1, -1);
  try {
    const value: unknown = JSON.parse(quoted);
    return typeof value === 'string' ? value : undefined;
  } catch {
    return undefined;
  }
}

interface ChartFile {
  /** Path inside the chart, split (`templates/_helpers.tpl` -> ['templates', '_helpers.tpl']). */
  segments: string[];
  size: number;
  read: () => Promise<string | undefined>;
  /** Where it is on disk, for a file of an unpacked directory. */
  full?: string;
}

interface Budget {
  left: number;
  capped: boolean;
}

/** The value paths the chart in `chartDir` (templates of the chart and its subcharts) reads. */
export async function templateValueRefs(chartDir: string): Promise<TemplateValueRefs> {
  const budget: Budget = { left: MAX_TOTAL_BYTES, capped: false };
  const root: KnownNode = {};
  const state: ReadState = { usesTpl: false, nodes: 0, calls: [], defines: new Map() };
  const files = await listDirectory(chartDir, budget);
  await readChart(files, [], root, budget, state, 0);
  resolveCalls(state, root);
  return { root, capped: budget.capped || state.nodes > MAX_NODES, usesTpl: state.usesTpl };
}

interface ReadState {
  usesTpl: boolean;
  nodes: number;
  calls: TemplateCall[];
  defines: Map<string, DefineUse>;
}

const MAX_CALL_STEPS = 100_000;

/** `include "t" .` with dot a values path: what t reads of it (transitively); an unknown or recursive template reads it whole. */
function resolveCalls(state: ReadState, root: KnownNode): void {
  let steps = 0;
  const visiting = new Set<string>();
  const mark = (path: string[], whole: boolean) => {
    state.nodes += path.length;
    markKnown(root, path, whole);
  };
  const resolve = (name: string, base: string[]): void => {
    const use = state.defines.get(name);
    if (!use || visiting.has(name) || ++steps > MAX_CALL_STEPS) {
      mark(base, true);
      return;
    }
    visiting.add(name);
    for (const reference of use.references) mark([...base, ...reference.path], reference.whole);
    for (const call of use.calls) resolve(call.name, [...base, ...call.path]);
    visiting.delete(name);
  };
  for (const call of state.calls) resolve(call.name, call.path);
}

async function readChart(files: ChartFile[], scope: string[], root: KnownNode, budget: Budget, state: ReadState, depth: number): Promise<void> {
  if (depth > MAX_DEPTH) {
    budget.capped = true;
    return;
  }
  const mark = (path: string[], whole: boolean) => {
    state.nodes += path.length;
    markKnown(root, path, whole);
  };
  const read = async (file: ChartFile): Promise<string | undefined> => {
    if (file.size > MAX_FILE_BYTES || file.size > budget.left) {
      budget.capped = true;
      return undefined;
    }
    budget.left -= file.size;
    const text = await file.read();
    if (text === undefined) budget.capped = true;
    return text;
  };
  const chartYaml = files.find((f) => f.segments.length === 1 && f.segments[0] === 'Chart.yaml');
  const metadata = chartYaml ? parseMap((await read(chartYaml)) ?? '') : {};
  const dependencies = Array.isArray(metadata.dependencies) ? metadata.dependencies.filter(isMap) : [];
  if (dependencies.some((d) => d['import-values'] !== undefined)) mark(scope, true);

  const own = files.filter((f) => f.segments[0] !== 'charts');
  const templateTexts: string[] = [];
  for (const file of own.filter((f) => f.segments[0] === 'templates')) {
    const text = await read(file);
    if (text !== undefined) templateTexts.push(text);
  }
  const usesTpl = templateTexts.some((t) => /\btpl\b/.test(t));
  state.usesTpl ||= usesTpl;
  // `tpl (.Files.Get "conf/x.yaml") .` renders files outside templates/ too.
  if (usesTpl && templateTexts.some((t) => t.includes('.Files'))) {
    for (const file of own.filter((f) => f.segments[0] !== 'templates' && !['values.yaml', 'values.schema.json', 'Chart.yaml', 'Chart.lock'].includes(f.segments.join('/')))) {
      const text = await read(file);
      if (text !== undefined) templateTexts.push(text);
    }
  }
  for (const text of templateTexts) {
    const analysis = analyzeTemplate(text);
    for (const reference of analysis.references) {
      mark([...scope, ...reference.path], reference.whole);
      // A subchart's `.Values.global` is the parent's `global`.
      if (reference.path[0] === 'global' && scope.length > 0) mark(reference.path, reference.whole);
    }
    for (const call of analysis.calls) state.calls.push({ name: call.name, path: [...scope, ...call.path] });
    // Named templates are shared by the chart and all its subcharts.
    for (const [name, use] of analysis.defines) {
      const known = state.defines.get(name);
      if (known) {
        known.references.push(...use.references);
        known.calls.push(...use.calls);
      } else state.defines.set(name, use);
    }
  }
  if (depth > 0) {
    // A subchart's own values.yaml and schema keys are values of the parent under the subchart's scope.
    const values = own.find((f) => f.segments.join('/') === 'values.yaml');
    const valuesText = values && (await read(values));
    if (valuesText) markKeys(parseMap(valuesText), scope, mark);
    const schema = own.find((f) => f.segments.join('/') === 'values.schema.json');
    const schemaText = schema && (await read(schema));
    if (schemaText) markSchemaKeys(parseJson(schemaText), scope, mark, 0);
  }

  for (const sub of await subcharts(files, budget)) {
    const subMetadata = parseMap((await subChartYaml(sub.files, read)) ?? '');
    const name = typeof subMetadata.name === 'string' ? subMetadata.name : sub.label;
    const aliases = dependencies.filter((d) => d.name === name).map((d) => (typeof d.alias === 'string' && d.alias !== '' ? d.alias : name));
    const scopes = aliases.length > 0 ? [...new Set(aliases)] : [name];
    for (const alias of scopes) {
      mark([...scope, alias], false);
      await readChart(sub.files, [...scope, alias], root, budget, state, depth + 1);
    }
    // A library's named templates run with whatever context the parent passes: usually its own.
    if (subMetadata.type === 'library') await readChart(sub.files.filter((f) => f.segments[0] === 'templates'), scope, root, budget, state, depth + 1);
  }
}

async function subChartYaml(files: ChartFile[], read: (file: ChartFile) => Promise<string | undefined>): Promise<string | undefined> {
  const chartYaml = files.find((f) => f.segments.length === 1 && f.segments[0] === 'Chart.yaml');
  return chartYaml && read(chartYaml);
}

/** Subcharts in `charts/`: unpacked directories and packaged archives. */
async function subcharts(files: ChartFile[], budget: Budget): Promise<Array<{ label: string; files: ChartFile[] }>> {
  const found = new Map<string, ChartFile[]>();
  const result: Array<{ label: string; files: ChartFile[] }> = [];
  for (const file of files) {
    if (file.segments[0] !== 'charts' || file.segments.length < 2) continue;
    if (file.segments.length === 2 && file.segments[1]!.endsWith('.tgz')) {
      const unpacked = await archiveFiles(file, budget);
      if (unpacked) result.push({ label: file.segments[1]!.replace(/-[^-]*\.tgz$/, ''), files: unpacked });
      continue;
    }
    if (file.segments.length < 3) continue;
    const name = file.segments[1]!;
    let list = found.get(name);
    if (!list) found.set(name, (list = []));
    list.push({ ...file, segments: file.segments.slice(2) });
  }
  for (const [label, list] of found) if (list.some((f) => f.segments.join('/') === 'Chart.yaml')) result.push({ label, files: list });
  return result;
}

/** Regular files under the chart directory (links never followed). */
async function listDirectory(chartDir: string, budget: Budget): Promise<ChartFile[]> {
  const files: ChartFile[] = [];
  const walk = async (dir: string, segments: string[], depth: number): Promise<void> => {
    if (depth > MAX_DEPTH) {
      budget.capped = true;
      return;
    }
    const entries = await fs.readdir(dir, { withFileTypes: true }).catch(() => []);
    for (const entry of entries) {
      if (files.length >= MAX_FILES) {
        budget.capped = true;
        return;
      }
      const full = path.join(dir, entry.name);
      if (entry.isDirectory()) await walk(full, [...segments, entry.name], depth + 1);
      else if (entry.isFile()) {
        const stat = await fs.lstat(full).catch(() => undefined);
        if (!stat?.isFile()) continue;
        files.push({ segments: [...segments, entry.name], size: stat.size, full, read: () => fs.readFile(full, 'utf8').catch(() => undefined) });
      }
    }
  };
  await walk(chartDir, [], 0);
  return files;
}

/** The files of a packaged subchart, relative to its chart root (the archive's top folder). */
async function archiveFiles(archive: ChartFile, budget: Budget): Promise<ChartFile[] | undefined> {
  if (archive.size > MAX_ARCHIVE_BYTES) {
    budget.capped = true;
    return undefined;
  }
  if (!archive.full) {
    // An archive inside an archive: not unpacked here.
    budget.capped = true;
    return undefined;
  }
  const found: ChartFile[] = [];
  let kept = 0;
  try {
    await listArchive({
      file: archive.full,
      onReadEntry: (entry: ReadEntry) => {
        const parts = entry.path.replace(/^\.\//, '').split('/').filter(Boolean).slice(1);
        const size = entry.size ?? 0;
        if (entry.type !== 'File' || parts.length === 0 || parts.includes('..') || size > MAX_FILE_BYTES || kept + size > MAX_TOTAL_BYTES || found.length >= MAX_FILES) {
          if (entry.type === 'File' && parts.length > 0) budget.capped = true;
          entry.resume();
          return;
        }
        kept += size;
        const chunks: Buffer[] = [];
        const text = new Promise<string>((resolve) => {
          entry.on('data', (chunk: Buffer) => chunks.push(chunk));
          entry.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
        });
        found.push({ segments: parts, size, read: () => text });
      },
    });
  } catch {
    budget.capped = true;
    return undefined;
  }
  return found;
}

function markKeys(values: unknown, path: string[], mark: (path: string[], whole: boolean) => void): void {
  if (!isMap(values)) return;
  for (const [key, value] of Object.entries(values)) {
    mark([...path, key], false);
    markKeys(value, [...path, key], mark);
  }
}

/** Keys a subchart's schema declares; where it decides in ways not followed here, the subtree is known. */
function markSchemaKeys(schema: unknown, path: string[], mark: (path: string[], whole: boolean) => void, depth: number): void {
  if (!isMap(schema)) return;
  if (depth > 32 || ['$ref', 'allOf', 'anyOf', 'oneOf', 'if', 'patternProperties', 'dependentSchemas', 'unevaluatedProperties'].some((k) => k in schema) || isMap(schema.additionalProperties)) {
    if (path.length > 0) mark(path, true);
    return;
  }
  if (!isMap(schema.properties)) return;
  for (const [key, child] of Object.entries(schema.properties)) {
    mark([...path, key], false);
    markSchemaKeys(child, [...path, key], mark, depth + 1);
  }
}

function parseMap(text: string): Record<string, unknown> {
  try {
    const value: unknown = parseYaml(text, { version: '1.1', maxAliasCount: 1000 });
    return isMap(value) ? value : {};
  } catch {
    return {};
  }
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

function isMap(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

const MAX_VALUE_STRING_BYTES = 4 * 1024 * 1024;

/** `.Values` paths that template strings inside the values read (for a chart that `tpl`s them). */
export function referencesInValueStrings(values: unknown): KnownNode {
  const known: KnownNode = {};
  let bytes = 0;
  let visited = 0;
  const stack: unknown[] = [values];
  while (stack.length > 0) {
    const node = stack.pop();
    if (++visited > MAX_NODES) return { whole: true };
    if (typeof node === 'string') {
      if (!node.includes('.Values')) continue;
      bytes += node.length;
      if (bytes > MAX_VALUE_STRING_BYTES) return { whole: true };
      for (const reference of valueReferences(node)) markKnown(known, reference.path, reference.whole);
    } else if (Array.isArray(node)) stack.push(...node);
    else if (isMap(node)) stack.push(...Object.keys(node), ...Object.values(node));
  }
  return known;
}
