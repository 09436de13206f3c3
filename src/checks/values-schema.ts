import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv';
import { createHash } from 'node:crypto';
import v8 from 'node:v8';
import { Ajv2019 } from 'ajv/dist/2019.js';
import { Ajv2020 } from 'ajv/dist/2020.js';
import type { DraftFinding, SourceLocation, Subject } from '../findings.js';
import { suggestValue } from '../flags/did-you-mean.js';
import { locate, type PositionedValues } from '../flux/values-merge.js';
import { knownChild, referencesInValueStrings, type KnownNode, type TemplateValueRefs } from './template-value-refs.js';

export interface ChartValuesModel {
  /** The chart's values.yaml. */
  defaults: Record<string, unknown>;
  /** The chart's values.schema.json, when it has one. */
  schema?: Record<string, unknown>;
  /** Documents the schema `$ref`s by URL, found in the chart or the chart cache (never fetched). */
  references?: Map<string, { schema: Record<string, unknown>; from: string }>;
  /** URLs the schema `$ref`s that were found nowhere without the network. */
  unresolvedReferences?: string[];
  chartName: string;
  /** Value paths the chart's templates (and its subcharts') read: known even when values.yaml lacks them. */
  templateRefs?: TemplateValueRefs;
}

export interface SchemaCheckInput {
  values: PositionedValues;
  chart: ChartValuesModel;
  subject: Subject;
  /** Where to point when the value comes from the chart itself. */
  fallback: SourceLocation;
}

const compiled = new WeakMap<object, ValidateFunction | { error: string }>();

function validatorFor(chart: ChartValuesModel & { schema: Record<string, unknown> }): ValidateFunction | { error: string } {
  const schema = chart.schema;
  let validate = compiled.get(schema);
  if (!validate) {
    const draft = String(schema.$schema ?? '');
    const options = { allErrors: true, strict: false, validateFormats: false } as const;
    const ajv = draft.includes('2020-12') ? new Ajv2020(options) : draft.includes('2019-09') ? new Ajv2019(options) : new Ajv(options);
    try {
      for (const [url, document] of chart.references ?? []) {
        // A referenced document is known by the URL that names it, and read under the root's draft.
        const { $schema: _draft, $id: _id, id: _legacyId, ...rest } = document.schema;
        ajv.addSchema({ ...rest, $id: url }, url);
      }
      validate = ajv.compile(schema);
    } catch (error) {
      validate = { error: (error as Error).message };
    }
    compiled.set(schema, validate);
  }
  return validate;
}

/** Helm validates the chart defaults with the release's values on top (null deletes a default). */
export function coalesce(defaults: unknown, values: unknown): unknown {
  if (!isMap(defaults) || !isMap(values)) return values === undefined ? defaults : values;
  const result: Record<string, unknown> = { ...defaults };
  for (const [key, value] of Object.entries(values)) {
    if (value === null) delete result[key];
    else result[key] = coalesce(defaults[key], value);
  }
  return result;
}

/** What the chart's schema says of the values (helm's view: defaults with the values on top). */
export type SchemaVerdict = { valid: true } | { valid: false; errors: ErrorObject[] } | { compileError: string };

/** Validate, compiling the schema on first use in this process (a large chart schema takes hundreds of milliseconds). */
export function schemaVerdict(chart: ChartValuesModel & { schema: Record<string, unknown> }, values: PositionedValues): SchemaVerdict {
  const validate = validatorFor(chart);
  if ('error' in validate) return { compileError: validate.error };
  if (validate(coalesce(chart.defaults, values.values))) return { valid: true };
  return { valid: false, errors: (validate.errors ?? []).map(({ keyword, instancePath, schemaPath, params, message }) => ({ keyword, instancePath, schemaPath, params, message })) };
}

const schemaDigests = new WeakMap<object, string>();

/** Everything the verdict depends on: the schema with the documents it refers to, the defaults and the values. */
export function schemaVerdictKey(chart: ChartValuesModel & { schema: Record<string, unknown> }, values: PositionedValues): string {
  let schema = schemaDigests.get(chart.schema);
  if (!schema) {
    schema = createHash('sha256').update(JSON.stringify({ schema: chart.schema, references: [...(chart.references ?? [])].map(([url, d]) => [url, d.schema]) })).digest('hex');
    schemaDigests.set(chart.schema, schema);
  }
  // v8's form, not JSON's: YAML gives values JSON cannot tell apart (.nan and null, -0 and 0).
  return createHash('sha256').update(`v1\0${schema}\0`).update(v8.serialize(coalesce(chart.defaults, values.values))).digest('hex');
}

/**
 * The merged values against the chart's values.schema.json, each violation at the line that set
 * the value; and keys that neither values.yaml nor the schema know (a typo such as `extraArg`).
 * `verdict`: the schema's verdict on these values when already known (schema-verdicts.ts).
 */
export function checkValuesSchema(input: SchemaCheckInput & { verdict?: SchemaVerdict }): { errors: DraftFinding[]; warnings: DraftFinding[] } {
  const errors: DraftFinding[] = [];
  const warnings: DraftFinding[] = [];
  const unresolved = input.chart.unresolvedReferences ?? [];
  if (input.chart.schema && unresolved.length > 0) {
    warnings.push(finding(input, 'values-schema/invalid-schema', 'warning',
      `the values.schema.json of chart ${input.chart.chartName} refers to ${unresolved.slice(0, 3).join(', ')}${unresolved.length > 3 ? ` and ${unresolved.length - 3} more` : ''}, which is neither in the chart nor in the guard's chart cache; helm-controller fetches it when it installs, the guard does not fetch during a check, so the values are not validated against this schema (the release is still rendered and checked)`,
      input.fallback, undefined, 'values.schema.json'));
  } else if (input.chart.schema) {
    const verdict = input.verdict ?? schemaVerdict({ ...input.chart, schema: input.chart.schema }, input.values);
    if ('compileError' in verdict) {
      warnings.push(finding(input, 'values-schema/invalid-schema', 'warning', `the values.schema.json of chart ${input.chart.chartName} cannot be compiled (${verdict.compileError}); the values are not validated against it by the guard`, input.fallback, undefined, 'values.schema.json'));
    } else if (!verdict.valid) {
      for (const error of dedupe(verdict.errors)) {
        const path = pathOf(error);
        const userSet = input.values.positions.size > 0 ? locate(input.values.positions, path) : undefined;
        const where = path.length > 0 ? path.join('.') : 'the values';
        errors.push(finding(input, 'values-schema/violation', 'error', `${where} ${describe(error)} (values.schema.json of chart ${input.chart.chartName}); helm refuses to install it`, userSet ?? input.fallback, undefined, `${path.join('.')}\u0000${error.keyword}`));
      }
    }
  }
  return { errors, warnings: [...warnings, ...unknownKeys(input)] };
}

/** A schema node to read keys from; OPAQUE where the schema decides in ways not followed here (no key is called unknown there). */
const OPAQUE = Symbol('opaque');
type SchemaNode = { node: Record<string, unknown>; base: string } | undefined | typeof OPAQUE;

function unknownKeys(input: SchemaCheckInput): DraftFinding[] {
  const warnings: DraftFinding[] = [];
  const refs = input.chart.templateRefs;
  // A chart too large to read in full: what its templates read is not known, so no key is called unknown.
  if (refs?.capped) return warnings;
  const read: KnownNode[] = refs ? [refs.root] : [];
  // `tpl` renders value strings as templates: `{{ .Values.myKey }}` in a value reads myKey.
  if (refs?.usesTpl) read.push(referencesInValueStrings(input.values.values));
  const root: SchemaNode = !input.chart.schema ? undefined : (input.chart.unresolvedReferences ?? []).length > 0 ? OPAQUE : { node: input.chart.schema, base: ROOT_URL };
  const walk = (values: unknown, defaults: unknown, schema: SchemaNode, path: string[], reads: KnownNode[]) => {
    if (!isMap(values) || !isMap(defaults) || Object.keys(defaults).length === 0) return;
    if (reads.some((node) => node.whole)) return;
    const here = schema === undefined || schema === OPAQUE ? schema : followRefs(schema, input.chart);
    if (here === OPAQUE) return;
    // A map of names the user chooses (additionalProperties with a schema) or a schema combinator: keys there are not typos.
    if (here && (['allOf', 'anyOf', 'oneOf', 'if', 'patternProperties', 'dependentSchemas', 'unevaluatedProperties'].some((k) => k in here.node) || isMap(here.node.additionalProperties))) return;
    const declared = here && isMap(here.node.properties) ? (here.node.properties as Record<string, unknown>) : {};
    for (const [key, value] of Object.entries(values)) {
      const readHere = reads.map((node) => knownChild(node, key)).filter((node): node is KnownNode => node !== undefined);
      if (key in defaults || key in declared || readHere.length > 0) {
        const child = declared[key];
        walk(value, defaults[key], here && isMap(child) ? { node: child, base: here.base } : here && key in declared ? OPAQUE : undefined, [...path, key], readHere);
        continue;
      }
      const known = [...new Set([...Object.keys(defaults), ...Object.keys(declared), ...reads.flatMap((node) => [...(node.children?.keys() ?? [])])])];
      const close = suggestValue(key, known);
      const location = locate(input.values.positions, [...path, key]) ?? input.fallback;
      warnings.push(finding(input, 'values-schema/unknown-key', 'warning', `${[...path, key].join('.')} is not a value of chart ${input.chart.chartName} (neither its values.yaml nor its schema has it), so it does nothing${close ? `; did you mean ${[...path, close].join('.')}?` : ''}`, location, close ? [...path, close].join('.') : undefined, [...path, key].join('.')));
    }
  };
  walk(input.values.values, input.chart.defaults, root, [], read);
  return warnings;
}

const ROOT_URL = 'file:///values.schema.json';

/** The node a `$ref` chain ends at (internal pointers and documents found for the chart), else OPAQUE. */
function followRefs(start: { node: Record<string, unknown>; base: string }, chart: ChartValuesModel): SchemaNode {
  let current = start;
  for (let hop = 0; hop < 16; hop++) {
    const ref = current.node.$ref;
    if (typeof ref !== 'string') return current;
    if (Object.keys(current.node).some((k) => k === 'properties' || k === 'additionalProperties')) return OPAQUE;
    let target: URL;
    try {
      target = new URL(ref, current.base);
    } catch {
      return OPAQUE;
    }
    const documentUrl = target.href.split('#')[0]!;
    const document = documentUrl === ROOT_URL ? chart.schema : chart.references?.get(documentUrl)?.schema;
    if (!document) return OPAQUE;
    const pointed = pointer(document, decodeURIComponent(target.hash.replace(/^#/, '')));
    if (!isMap(pointed)) return OPAQUE;
    current = { node: pointed, base: documentUrl };
  }
  return OPAQUE;
}

function pointer(document: unknown, path: string): unknown {
  if (path === '' || path === '/') return document;
  if (!path.startsWith('/')) return undefined;
  let node = document;
  for (const raw of path.slice(1).split('/')) {
    const key = raw.replace(/~1/g, '/').replace(/~0/g, '~');
    if (!isMap(node) && !Array.isArray(node)) return undefined;
    node = (node as Record<string, unknown>)[key];
  }
  return node;
}

function finding(input: SchemaCheckInput, rule: string, severity: 'error' | 'warning', message: string, location: SourceLocation, suggestion?: string, identity?: string): DraftFinding {
  return { rule, severity, message: `HelmRelease ${input.subject.namespace}/${input.subject.name}: ${message}`, location, subject: input.subject, ...(suggestion ? { suggestion } : {}), ...(identity ? { identity } : {}) };
}

function pathOf(error: ErrorObject): string[] {
  const segments = error.instancePath.split('/').slice(1).map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'));
  if (error.keyword === 'required') segments.push(String((error.params as { missingProperty: string }).missingProperty));
  if (error.keyword === 'additionalProperties') segments.push(String((error.params as { additionalProperty: string }).additionalProperty));
  return segments;
}

function describe(error: ErrorObject): string {
  if (error.keyword === 'enum') return `must be one of ${(error.params as { allowedValues: unknown[] }).allowedValues.map((v) => JSON.stringify(v)).join(', ')}`;
  if (error.keyword === 'required') return 'is required';
  if (error.keyword === 'additionalProperties') return 'is not allowed here';
  return error.message ?? 'is invalid';
}

/** anyOf/oneOf produce one error per branch: keep one per path and keyword. */
function dedupe(errors: ErrorObject[]): ErrorObject[] {
  const seen = new Set<string>();
  return errors.filter((e) => {
    if (e.keyword === 'anyOf' || e.keyword === 'oneOf') return false;
    const key = `${e.instancePath}\0${e.keyword}`;
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}

function isMap(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}
