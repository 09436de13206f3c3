import { isSecretOrigin, isSecretValue, type PositionedValues } from '../flux/values-merge.js';
import type { RenderedRelease } from '../model/release.js';
import { isCredentialLike, isSecretSource, maskArgument, sensitiveForms, transformedForms } from '../report/redact.js';
import { locateArgument } from './arg-origin.js';

/**
 * A rendered argument as a finding may quote it: masked (`--flag=***REDACTED***`) when its value came
 * from a Secret, through valuesFrom or through a substituteFrom variable, or when the chart printed a
 * Secret value in another form (hex, base64, upper-cased, JSON-escaped ...); as rendered otherwise.
 */
export function displayArgument(rendered: RenderedRelease, arg: string): string {
  const fromSecretVariable = (rendered.release.object.variables ?? []).some((v) => isSecretSource(v.source) && v.value.length > 0 && arg.includes(v.value));
  if (fromSecretVariable || isSecretDerived(rendered, arg)) return maskArgument(arg);
  const origin = locateArgument(rendered, arg);
  return origin.fromValues && isSecretOrigin(rendered.values, origin.location) ? maskArgument(arg) : arg;
}

/** A whole command line (command or args) as a finding may quote it. */
export function displayArguments(rendered: RenderedRelease, args: readonly string[] | undefined): string {
  return (args ?? []).map((arg) => displayArgument(rendered, arg)).join(' ');
}

/**
 * Whether a rendered argument's value is a value from a Secret in some form a chart may print it:
 * equal to any form (short values and words too), or holding a form of a credential-like value inside it.
 */
export function isSecretDerived(rendered: RenderedRelease, arg: string): boolean {
  const forms = secretFormsOf(rendered.values);
  if (forms.whole.size === 0) return false;
  const value = /^--?[\w.-]+=(.*)$/s.exec(arg)?.[1] ?? arg;
  const unquoted = value.replace(/^(["'])(.*)\1$/s, '$2');
  if (forms.whole.has(value) || forms.whole.has(unquoted)) return true;
  return forms.inside.some((form) => value.includes(form));
}

/** The shortest Secret value compared whole: shorter ones (`a`, `1`) match too much by chance. */
const MIN_COMPARED_LENGTH = 3;

const formsCache = new WeakMap<PositionedValues, { whole: Set<string>; inside: string[] }>();

function secretFormsOf(values: PositionedValues): { whole: Set<string>; inside: string[] } {
  const cached = formsCache.get(values);
  if (cached) return cached;
  const whole = new Set<string>();
  const inside = new Set<string>();
  if (values.secretPointers && values.secretPointers.size > 0) {
    for (const leaf of secretLeaves(values, values.values, [])) {
      if (leaf.length < MIN_COMPARED_LENGTH) continue;
      for (const form of transformedForms(leaf)) whole.add(form);
      // Ordinary words (`external-dns`) are compared whole only: found inside other values they would mask those.
      if (isCredentialLike(leaf)) for (const form of sensitiveForms(leaf)) inside.add(form);
    }
  }
  const forms = { whole, inside: [...inside] };
  formsCache.set(values, forms);
  return forms;
}

function* secretLeaves(values: PositionedValues, node: unknown, path: Array<string | number>): Generator<string> {
  if (typeof node === 'string' || typeof node === 'number') {
    if (isSecretValue(values, path)) yield String(node);
  } else if (Array.isArray(node)) {
    for (const [index, item] of node.entries()) yield* secretLeaves(values, item, [...path, index]);
  } else if (node !== null && typeof node === 'object') {
    for (const [key, item] of Object.entries(node)) yield* secretLeaves(values, item, [...path, key]);
  }
}
