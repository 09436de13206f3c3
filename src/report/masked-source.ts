import { isAlias, isMap, isScalar, parseDocument } from 'yaml';
import { REDACTED } from './redact.js';

/**
 * Source text as a code frame may show it: every document of the file that is a Secret (or, when the
 * file is too broken to tell, a file named or written like one) keeps its keys, list dashes, block
 * indicators and flag names, and loses every value and comment. Line count and line numbers stay.
 */
export function maskSecretSource(text: string, file: string): string {
  if (!mayHoldSecret(text, file)) return text;
  const lines = text.split('\n');
  const documents = splitDocuments(lines);
  const wholeFileSuspect = SECRET_FILE_NAME.test(baseName(file)) && documents.some((d) => !looksLikeManifest(lines.slice(d.start, d.end)));
  for (const { start, end } of documents) {
    const body = lines.slice(start, end);
    if (!wholeFileSuspect && !isSecretDocument(body)) continue;
    maskDocument(lines, start, end);
  }
  return lines.join('\n');
}

/** Whether a file needs masking at all (cheap test before the line work). */
export function mayHoldSecret(text: string, file: string): boolean {
  return SECRET_FILE_NAME.test(baseName(file)) || /Secret\b|\bsops\s*:|ENC\[/.test(text);
}

/**
 * Whether a document is a Secret (or SOPS-encrypted): its kind as YAML reads it (anchors, tags,
 * aliases, the value on the next line), and, for a document too broken for that, its kind text.
 */
function isSecretDocument(body: string[]): boolean {
  if (body.some((line) => SECRET_KIND.test(line) || SOPS_KEY.test(line))) return true;
  if (body.some((line, index) => KIND_ALONE.test(line) && SECRET_NEXT_LINE.test(body.slice(index + 1).find((next) => next.trim() !== '' && !/^\s*#/.test(next)) ?? ''))) return true;
  return /Secret\b/.test(body.join('\n')) && /secret/i.test(parsedKind(body.join('\n')));
}

/** The top-level kind of a document as YAML reads it, or '' (a broken document still yields what it can). */
function parsedKind(text: string): string {
  try {
    const document = parseDocument(text, { uniqueKeys: false, strict: false, prettyErrors: false });
    if (!isMap(document.contents)) return '';
    let node: unknown = document.contents.get('kind', true);
    if (isAlias(node)) node = node.resolve(document);
    return isScalar(node) ? String(node.value) : '';
  } catch {
    return '';
  }
}

const KIND_ALONE = /^["']?kind["']?\s*:\s*(?:(?:&\S+|!!?[\w:]*)\s*)*(?:#.*)?$/;
const SECRET_NEXT_LINE = /^\s+(?:(?:&\S+|!!?[\w:]*)\s+)*["']?\w*Secret["']?\s*(?:#.*)?$/;
const SECRET_KIND = /kind["']?\s*:\s*(?:(?:&\S+|!!?[\w:]*)\s+)*["']?\w*Secret["']?\s*(?:[,}#].*)?$|ENC\[/;
const SOPS_KEY = /^sops\s*:/;
const SECRET_FILE_NAME = /secret|sops|credential|password|token|\.enc\.|\.age$|\.pgp$/i;
function baseName(file: string): string {
  return file.slice(file.lastIndexOf('/') + 1);
}

const SEPARATOR = /^(---|\.\.\.)(\s|$)/;

function splitDocuments(lines: string[]): Array<{ start: number; end: number }> {
  const documents: Array<{ start: number; end: number }> = [];
  let start = 0;
  lines.forEach((line, index) => {
    if (!SEPARATOR.test(line)) return;
    documents.push({ start, end: index });
    start = index + 1;
  });
  documents.push({ start, end: lines.length });
  return documents;
}

/** A document that opens like a Kubernetes object with a readable kind. */
function looksLikeManifest(body: string[]): boolean {
  return body.some((line) => /^kind\s*:\s*[A-Za-z]+\s*$/.test(line)) && !body.some((line) => /\t/.test(line.match(/^\s*/)?.[0] ?? ''));
}

/** Top-level keys whose value is no secret, and metadata's identity. */
const KEEP_TOP = new Set(['apiVersion', 'kind', 'type', 'immutable']);
const KEEP_METADATA = new Set(['name', 'namespace']);

function maskDocument(lines: string[], start: number, end: number): void {
  let topKey = '';
  let blockIndent = -1;
  for (let index = start; index < end; index++) {
    const line = lines[index] ?? '';
    const indent = line.length - line.trimStart().length;
    if (line.trim() === '') continue;
    if (blockIndent >= 0 && indent > blockIndent) {
      // Inside a block scalar (e.g. a values.yaml key): its lines are YAML-ish text, mask as such.
      lines[index] = maskLine(line);
      continue;
    }
    blockIndent = -1;
    const key = /^\s*(?:-\s+)*("[^"]*"|'[^']*'|[^\s#'"{[\]][^:#]*?)\s*:(?:\s|$)/.exec(line)?.[1];
    if (indent === 0 && key) topKey = key;
    const keep = indent === 0 ? KEEP_TOP.has(key ?? '') : topKey === 'metadata' && indent <= 2 && KEEP_METADATA.has(key ?? '');
    const masked = keep ? keepValueWithoutComment(line) : maskLine(line);
    if (/:\s*[|>][-+0-9]*\s*(?:#.*)?$/.test(line)) blockIndent = indent;
    lines[index] = masked;
  }
}

function keepValueWithoutComment(line: string): string {
  return line.replace(/\s+#.*$/, '');
}

/**
 * One line: indentation, list dashes, `key:`, block indicators and `--flag=` survive; values, flow
 * collections, quoted strings and comments become the mask.
 */
export function maskLine(line: string): string {
  const match = /^(\s*(?:-\s+)*)(.*)$/.exec(line);
  const lead = match?.[1] ?? '';
  const rest = match?.[2] ?? '';
  if (rest === '') return line;
  if (rest.startsWith('#')) return `${lead}# ${REDACTED}`;
  const keyValue = /^("[^"]*"|'[^']*'|[^\s#'"{[\]][^:#]*?)(\s*:)(\s+|$)(.*)$/.exec(rest);
  if (keyValue) {
    const [, key = '', colon = '', space = '', value = ''] = keyValue;
    if (value === '') return `${lead}${key}${colon}`;
    const indicator = /^([|>][-+0-9]*)\s*(?:#.*)?$/.exec(value);
    if (indicator) return `${lead}${key}${colon}${space}${indicator[1]}`;
    return `${lead}${key}${colon}${space}${maskScalar(value)}`;
  }
  return `${lead}${maskScalar(rest)}`;
}

function maskScalar(value: string): string {
  const flag = /^(["']?--?[A-Za-z0-9][\w.-]*=)/.exec(value);
  return flag ? `${flag[1]}${REDACTED}` : REDACTED;
}
