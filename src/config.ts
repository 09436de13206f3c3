import { Ajv, type ErrorObject } from 'ajv';
import { readFileSync } from 'node:fs';
import type { Snapshot } from './git/repo.js';
import type { DeployPolicy } from './deploy/policy.js';
import { GuardError } from './errors.js';
import type { Severity } from './findings.js';
import type { Framework } from './flags/catalog.js';
import { parseYamlFile } from './yaml/source.js';

export const CONFIG_FILE = '.guard.yaml';

export interface ImageOverride {
  image: string;
  help?: string;
  binary?: string;
  /** Overrides detection of the command-line framework from the help text. */
  framework?: Framework;
  skip?: boolean;
  /** Shell command printing the image's help; run only by `guard flags capture`, never by `guard check`. */
  capture?: string;
}

export interface GuardConfig {
  version?: 1;
  failOn?: Severity;
  helm?: { kubeVersion?: string; apiVersions?: string[]; timeoutSeconds?: number; concurrency?: number };
  flags?: { helpDir?: string; images?: ImageOverride[] };
  rules?: Record<string, Severity | 'off'>;
  gitRepositories?: Record<string, string>;
  deploy?: DeployPolicy;
  network?: { allowedHosts?: string[] };
}

export interface LoadedConfig {
  config: GuardConfig;
  /** Where the policy came from, for the report. */
  source: string;
}

const schema = JSON.parse(readFileSync(new URL('../schemas/config.schema.json', import.meta.url), 'utf8')) as object;
const validate = new Ajv({ allErrors: true, strict: false }).compile<GuardConfig>(schema);

/** Parse and validate a .guard.yaml text; errors name the file and line. */
export function parseConfig(text: string, file: string): GuardConfig {
  const parsed = parseYamlFile(text, file);
  const problem = parsed.problems[0];
  if (problem) throw new GuardError(`invalid YAML: ${problem.message}`, problem.location, 'fix the YAML syntax of the guard configuration');
  const document = parsed.documents[0];
  const value = document?.value ?? {};
  if (!validate(value)) {
    const error = validate.errors?.[0] as ErrorObject;
    const unknownKey = error.keyword === 'additionalProperties' ? String((error.params as { additionalProperty: string }).additionalProperty) : undefined;
    const pointer = error.instancePath;
    const location = (unknownKey !== undefined ? document?.positions.get(`${pointer}/${unknownKey}`) : undefined)
      ?? document?.positions.get(pointer) ?? document?.start ?? { path: file, line: 1 };
    const where = pointer === '' ? 'the top level' : pointer.slice(1).replace(/\//g, '.');
    const detail = unknownKey !== undefined
      ? `unknown key "${unknownKey}" in ${where}`
      : `${where} ${error.message ?? 'is invalid'}`;
    throw new GuardError(`invalid configuration: ${detail}`, location, 'see schemas/config.schema.json for the allowed keys and values');
  }
  return value;
}

/** The policy is read from the base revision, so a change cannot switch off the guard judging it. */
export async function loadConfig(base: Snapshot | undefined, head: Snapshot, file = CONFIG_FILE): Promise<LoadedConfig> {
  for (const snapshot of [base, head]) {
    if (!snapshot) continue;
    const data = await snapshot.readFile(file);
    if (data) return { config: parseConfig(data.toString('utf8'), file), source: `${file} at ${snapshot.label}` };
  }
  return { config: {}, source: 'defaults (no .guard.yaml)' };
}
