import { Ajv } from 'ajv';
import { readFileSync } from 'node:fs';
import { repoRoot } from './paths.js';

const schema = JSON.parse(readFileSync(`${repoRoot}/schemas/report.schema.json`, 'utf8')) as object;
const validate = new Ajv({ allErrors: true, strict: true }).compile(schema);

/** Throws with ajv's messages when a report does not match schemas/report.schema.json. */
export function assertValidReport(report: unknown): void {
  if (!validate(report)) throw new Error(`report does not match schemas/report.schema.json: ${JSON.stringify(validate.errors, null, 2)}`);
}
