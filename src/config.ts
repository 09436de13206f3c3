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
  flags?: {
    helpDir?: string;
    images?: ImageOverride[];
    /** `auto`: take an image's help from the image itself (registry + sandbox) where none is recorded. */
    capture?: 'auto' | 'off';
    /** Registries (host globs) the guard may pull images from, besides those the base revision already runs. */
    registries?: string[];
    /** os/arch[/variant] of the image whose binary is run; default linux/amd64. */
    platform?: string;
    captureTimeoutSeconds?: number;
    /** Distinct images one run may take from registries (resolve or pull); past it they are unverified. Default 20. */
    captureLimit?: number;
  };
  rules?: Record<string, Severity | 'off'>;
  gitRepositories?: Record<string, string>;
  deploy?: DeployPolicy;
  network?: { allowedHosts?: string[] };
  /** Objects the cluster has that the repository cannot show, e.g. bootstrap Secrets: "Kind/namespace/name" (or "Kind/name"). */
  cluster?: { objects?: string[] };
  charts?: {
    /** Chart source URL prefix or bare host -> the http(s)/oci URL prefix fetched instead (src/helm/mirrors.ts). */
    mirrors?: Record<string, string>;
    /** `cached`: only the chart cache, never the network (what `guard check --offline` does). */
    resolve?: 'network' | 'cached';
  };
}

export interface LoadedConfig {
  config: GuardConfig;
  /** Where the policy came from, for the report. */
  source: string;
}

const schema = JSON.parse(readFileSync(new URL('../schemas/config.schema.json', import.meta.url), 'utf8')) as object;
const validate = new Ajv({ allErrors: true, strict: false, verbose: true }).compile<GuardConfig>(schema);

/** Parse and validate a .guard.yaml text; errors name the file, the line, the key and what is allowed there. */
export function parseConfig(text: string, file: string): GuardConfig {
  const parsed = parseYamlFile(text, file);
  const problem = parsed.problems[0];
  if (problem) throw new GuardError(`invalid YAML: ${problem.message}`, problem.location, 'fix the YAML syntax of the guard configuration');
  const document = parsed.documents[0];
  const value = normalizeRules(document?.value ?? {});
  if (!validate(value)) {
    const error = mostUseful(validate.errors ?? []);
    const { detail, pointer } = explain(error);
    const location = document?.positions.get(pointer) ?? document?.positions.get(error.instancePath) ?? document?.start ?? { path: file, line: 1 };
    throw new GuardError(`invalid configuration: ${detail}`, location, 'see schemas/config.schema.json for every key and its allowed values');
  }
  return value;
}

/** `off` unquoted is YAML 1.1 false: in `rules` and `flags.capture` it can only mean off. */
function normalizeRules(input: unknown): unknown {
  if (typeof input !== 'object' || input === null || Array.isArray(input)) return input;
  let value = input as Record<string, unknown>;
  const flags = value.flags;
  if (typeof flags === 'object' && flags !== null && (flags as { capture?: unknown }).capture === false) {
    value = { ...value, flags: { ...flags, capture: 'off' } };
  }
  const rules = (value as { rules?: unknown }).rules;
  if (typeof rules !== 'object' || rules === null || Array.isArray(rules)) return value;
  const normalized = Object.fromEntries(Object.entries(rules).map(([rule, setting]) => [rule, setting === false ? 'off' : setting]));
  return { ...value, rules: normalized };
}

/** A wrong property name says more than the generic "property name must be valid" that ajv adds beside it. */
function mostUseful(errors: ErrorObject[]): ErrorObject {
  return errors.find((e) => e.keyword !== 'propertyNames') ?? errors[0]!;
}

/** The key as a reader writes it (`rules.container-flags/unknown-flag`, `flags.images[0].help`), not as a JSON pointer. */
export function keyPath(pointer: string): string {
  if (pointer === '') return 'the top level';
  return pointer
    .slice(1)
    .split('/')
    .map((segment) => segment.replace(/~1/g, '/').replace(/~0/g, '~'))
    .reduce((text, segment) => (/^\d+$/.test(segment) ? `${text}[${segment}]` : text === '' ? segment : `${text}.${segment}`), '');
}

function explain(error: ErrorObject): { detail: string; pointer: string } {
  const where = keyPath(error.instancePath);
  const params = error.params as Record<string, unknown>;
  const got = describeValue(error.data);
  switch (error.keyword) {
    case 'additionalProperties': {
      const key = String(params.additionalProperty);
      const allowed = Object.keys((error.parentSchema as { properties?: object } | undefined)?.properties ?? {});
      return {
        detail: `unknown key "${key}" in ${where}; allowed keys: ${allowed.join(', ') || '(none)'}`,
        pointer: `${error.instancePath}/${key.replace(/~/g, '~0').replace(/\//g, '~1')}`,
      };
    }
    case 'enum': {
      const allowed = (params.allowedValues as unknown[]).filter((v) => v !== false).map((v) => String(v));
      return { detail: `${where} is ${got}; allowed values: ${allowed.join(', ')}`, pointer: error.instancePath };
    }
    case 'const':
      return { detail: `${where} is ${got}; the only allowed value is ${JSON.stringify(params.allowedValue)}`, pointer: error.instancePath };
    case 'type':
      return { detail: `${where} is ${got}; it must be ${article(String(params.type))}`, pointer: error.instancePath };
    case 'pattern':
      if (error.propertyName !== undefined) {
        return { detail: `key "${error.propertyName}" in ${where} is not allowed; keys must match ${String(params.pattern)}${where === 'rules' ? ' (a rule id such as container-flags/unknown-flag)' : ''}`, pointer: error.instancePath };
      }
      return { detail: `${where} is ${got}; it must match ${String(params.pattern)}`, pointer: error.instancePath };
    case 'required':
      return { detail: `${where} needs the key "${String(params.missingProperty)}"`, pointer: error.instancePath };
    default:
      return { detail: `${where} is ${got}; it ${error.message ?? 'is invalid'}`, pointer: error.instancePath };
  }
}

function describeValue(value: unknown): string {
  if (value === null || value === undefined) return 'empty';
  if (typeof value === 'object') return Array.isArray(value) ? 'a list' : 'a mapping';
  const text = JSON.stringify(value);
  return text.length > 60 ? `${text.slice(0, 57)}..."` : text;
}

function article(type: string): string {
  const names: Record<string, string> = { object: 'a mapping', array: 'a list', string: 'a string', integer: 'a whole number', number: 'a number', boolean: 'true or false' };
  return type.split(',').map((t) => names[t] ?? t).join(' or ');
}

/**
 * The policy of a change is the base revision's, always: with no policy file at base the defaults
 * judge it, and a file the change adds or edits applies after merge (the engine says so).
 * `head` is read only when there is no base at all (inspecting one revision, with no change to judge).
 */
export async function loadConfig(base: Snapshot | undefined, head: Snapshot, file = CONFIG_FILE): Promise<LoadedConfig> {
  const policy = base ?? head;
  const data = await policy.readFile(file);
  if (data) return { config: parseConfig(data.toString('utf8'), file), source: `${file} at ${policy.label}` };
  return { config: {}, source: `defaults (no ${file} at ${policy.label})` };
}
