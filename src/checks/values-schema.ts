import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv';
import { Ajv2019 } from 'ajv/dist/2019.js';
import { Ajv2020 } from 'ajv/dist/2020.js';
import type { DraftFinding, SourceLocation, Subject } from '../findings.js';
import { suggestValue } from '../flags/did-you-mean.js';
import { locate, type PositionedValues } from '../flux/values-merge.js';

export interface ChartValuesModel {
  /** The chart's values.yaml. */
  defaults: Record<string, unknown>;
  /** The chart's values.schema.json, when it has one. */
  schema?: Record<string, unknown>;
  chartName: string;
}

export interface SchemaCheckInput {
  values: PositionedValues;
  chart: ChartValuesModel;
  subject: Subject;
  /** Where to point when the value comes from the chart itself. */
  fallback: SourceLocation;
}

const compiled = new WeakMap<object, ValidateFunction | { error: string }>();

function validatorFor(schema: Record<string, unknown>): ValidateFunction | { error: string } {
  let validate = compiled.get(schema);
  if (!validate) {
    const draft = String(schema.$schema ?? '');
    const options = { allErrors: true, strict: false, validateFormats: false } as const;
    const ajv = draft.includes('2020-12') ? new Ajv2020(options) : draft.includes('2019-09') ? new Ajv2019(options) : new Ajv(options);
    try {
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

/**
 * The merged values against the chart's values.schema.json, each violation at the line that set
 * the value; and keys that neither values.yaml nor the schema know (a typo such as `extraArg`).
 */
export function checkValuesSchema(input: SchemaCheckInput): { errors: DraftFinding[]; warnings: DraftFinding[] } {
  const errors: DraftFinding[] = [];
  if (input.chart.schema) {
    const validate = validatorFor(input.chart.schema);
    if ('error' in validate) {
      errors.push(finding(input, 'values-schema/invalid-schema', 'warning', `the values.schema.json of chart ${input.chart.chartName} cannot be compiled: ${validate.error}`, input.fallback));
    } else if (!validate(coalesce(input.chart.defaults, input.values.values))) {
      for (const error of dedupe(validate.errors ?? [])) {
        const path = pathOf(error);
        const userSet = input.values.positions.size > 0 ? locate(input.values.positions, path) : undefined;
        const where = path.length > 0 ? path.join('.') : 'the values';
        errors.push(finding(input, 'values-schema/violation', 'error', `${where} ${describe(error)} (values.schema.json of chart ${input.chart.chartName}); helm refuses to install it`, userSet ?? input.fallback));
      }
    }
  }
  return { errors, warnings: unknownKeys(input) };
}

function unknownKeys(input: SchemaCheckInput): DraftFinding[] {
  const warnings: DraftFinding[] = [];
  const walk = (values: unknown, defaults: unknown, schema: Record<string, unknown> | undefined, path: string[]) => {
    if (!isMap(values) || !isMap(defaults) || Object.keys(defaults).length === 0) return;
    const declared = isMap(schema?.properties) ? (schema.properties as Record<string, Record<string, unknown>>) : {};
    for (const [key, value] of Object.entries(values)) {
      if (key in defaults || key in declared) {
        walk(value, defaults[key], declared[key], [...path, key]);
        continue;
      }
      const known = [...new Set([...Object.keys(defaults), ...Object.keys(declared)])];
      const close = suggestValue(key, known);
      const location = locate(input.values.positions, [...path, key]) ?? input.fallback;
      warnings.push(finding(input, 'values-schema/unknown-key', 'warning', `${[...path, key].join('.')} is not a value of chart ${input.chart.chartName} (neither its values.yaml nor its schema has it), so it does nothing${close ? `; did you mean ${[...path, close].join('.')}?` : ''}`, location, close ? [...path, close].join('.') : undefined));
    }
  };
  walk(input.values.values, input.chart.defaults, input.chart.schema, []);
  return warnings;
}

function finding(input: SchemaCheckInput, rule: string, severity: 'error' | 'warning', message: string, location: SourceLocation, suggestion?: string): DraftFinding {
  return { rule, severity, message: `HelmRelease ${input.subject.namespace}/${input.subject.name}: ${message}`, location, subject: input.subject, ...(suggestion ? { suggestion } : {}) };
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
