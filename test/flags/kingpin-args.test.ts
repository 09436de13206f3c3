import fc from 'fast-check';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseKingpinHelp } from '../../src/flags/frameworks/kingpin.js';
import { validateArgs } from '../../src/flags/frameworks/registry.js';
import { externalDnsData, fixtures } from '../support/paths.js';

const catalogOf = (tag: string) => parseKingpinHelp(readFileSync(path.join(externalDnsData, `help-${tag}.txt`), 'utf8'));
const v18 = catalogOf('v0.18.0');
const v19 = catalogOf('v0.19.0');
const REQUIRED = ['--source=service', '--provider=aws'];
const kinds = (args: string[], catalog = v19) => validateArgs(catalog, [...REQUIRED, ...args]).map((p) => p.kind);

describe('external-dns args as kingpin parses them', () => {
  it('knows --traefik-disable-legacy on v0.18.0 and not on v0.19.0, where it suggests --traefik-enable-legacy', () => {
    expect(validateArgs(v18, [...REQUIRED, '--traefik-disable-legacy'])).toEqual([]);
    const [problem] = validateArgs(v19, [...REQUIRED, '--traefik-disable-legacy']);
    expect(problem).toMatchObject({ kind: 'unknown-flag', argIndex: 2, suggestion: '--traefik-enable-legacy' });
    expect(problem!.binaryError).toBe("flag parsing error: unknown long flag '--traefik-disable-legacy'");
  });

  it('rejects =true on a boolean, like kingpin ("unexpected true"), and suggests the bare or --no- form', () => {
    const [problem] = validateArgs(v19, [...REQUIRED, '--traefik-enable-legacy=true']);
    expect(problem).toMatchObject({ kind: 'bool-with-value', suggestion: '--traefik-enable-legacy', binaryError: 'flag parsing error: unexpected true' });
    expect(validateArgs(v19, [...REQUIRED, '--traefik-enable-legacy=false'])[0]?.suggestion).toBe('--no-traefik-enable-legacy');
    expect(kinds(['--traefik-enable-legacy'])).toEqual([]);
    expect(kinds(['--no-traefik-enable-legacy'])).toEqual([]);
    // Like any non-cumulative flag, a boolean may appear once (the differential test found this).
    expect(kinds(['--traefik-enable-legacy', '--no-traefik-enable-legacy'])).toEqual(['repeated']);
  });

  it('rejects --no- on a value flag', () => {
    expect(kinds(['--no-policy'])).toEqual(['unknown-flag']);
  });

  it('rejects a single-value flag given twice and accepts repeatable ones', () => {
    const problems = validateArgs(v19, [...REQUIRED, '--policy=sync', '--policy=upsert-only']);
    expect(problems).toMatchObject([{ kind: 'repeated', argIndex: 3, binaryError: "flag parsing error: flag 'policy' cannot be repeated" }]);
    expect(kinds(['--source=ingress', '--source=crd', '--domain-filter=a.example', '--domain-filter=b.example'])).toEqual([]);
  });

  it('checks enum values, with did-you-mean, and accepts "" where the help says optional', () => {
    const [problem] = validateArgs(v19, [...REQUIRED, '--policy=upsert-onyl']);
    expect(problem).toMatchObject({ kind: 'bad-enum', suggestion: '--policy=upsert-only' });
    expect(problem!.binaryError).toBe("flag parsing error: enum value must be one of sync,upsert-only,create-only, got 'upsert-onyl'");
    expect(kinds(['--aws-zone-type='])).toEqual([]);
    expect(kinds(['--aws-zone-type=public'])).toEqual([]);
  });

  it('reports missing required flags unless the environment provides them', () => {
    const problems = validateArgs(v19, ['--source=service']);
    expect(problems).toMatchObject([{ kind: 'missing-required', flag: 'provider', binaryError: 'flag parsing error: required flag --provider not provided' }]);
    expect(validateArgs(v19, ['--source=service'], { env: { EXTERNAL_DNS_PROVIDER: 'aws' } })).toEqual([]);
  });

  it('takes "--flag value" as kingpin does, but not when the next word is a flag', () => {
    expect(kinds(['--log-level', 'debug', '--interval', '2m'])).toEqual([]);
    expect(kinds(['--log-level', '--interval=2m'])).toEqual(['missing-value']);
    expect(kinds(['--interval'])).toEqual(['missing-value']);
  });

  it('treats everything after -- as positional, which external-dns does not take', () => {
    expect(kinds(['--', '--policy=sync'])).toEqual(['unexpected-positional']);
    expect(kinds(['stray'])).toEqual(['unexpected-positional']);
  });

  it('accepts the hidden flags kingpin adds to every app', () => {
    expect(kinds(['--help-long'])).toEqual([]);
  });

  it('property: every flag of the catalog, used as its help describes, validates clean', () => {
    for (const catalog of [v18, v19]) {
      const flags = catalog.flags.filter((f) => !f.required);
      fc.assert(
        fc.property(fc.subarray(flags, { minLength: 1, maxLength: 12 }), fc.boolean(), (chosen, spaced) => {
          const args = [...REQUIRED];
          for (const flag of chosen) {
            if (flag.isBoolean) args.push(spaced ? `--no-${flag.name}` : `--${flag.name}`);
            else {
              const value = flag.enumValues?.find((v) => v !== '') ?? (flag.valueType ? flag.placeholder! : 'value');
              if (spaced) args.push(`--${flag.name}`, value);
              else args.push(`--${flag.name}=${value}`);
            }
          }
          expect(validateArgs(catalog, args)).toEqual([]);
        }),
        { numRuns: 300 },
      );
    }
  });

  it('property: arbitrary argument lists never throw, and every problem points at a real argument', () => {
    const word = fc.oneof(fc.constantFrom('--policy', '--policy=sync', '--source=crd', '--no-events', '--events=true', '--', '-x', '-', 'stray', '--interval'), fc.string({ maxLength: 12 }));
    fc.assert(
      fc.property(fc.array(word, { maxLength: 10 }), (args) => {
        for (const problem of validateArgs(v19, args)) {
          expect(problem.argIndex).toBeLessThan(args.length);
          expect(problem.argIndex).toBeGreaterThanOrEqual(-1);
          expect(problem.binaryError.length).toBeGreaterThan(0);
        }
      }),
      { numRuns: 500 },
    );
  });
});

describe('kingpin behaviours checked against prometheus-pushgateway, node-exporter and prometheus', () => {
  it('takes a lone "-" for a nameless short flag: never a value ("expected argument"), alone unknown; "--flag=-" is a value', () => {
    expect(validateArgs(v19, [...REQUIRED, '--txt-prefix', '-'])).toMatchObject([{ kind: 'missing-value', flag: 'txt-prefix', binaryError: "flag parsing error: expected argument for flag '--txt-prefix'" }, { kind: 'unknown-flag' }]);
    expect(validateArgs(v19, [...REQUIRED, '-'])).toMatchObject([{ kind: 'unknown-flag', binaryError: "flag parsing error: unknown short flag '-'" }]);
    expect(kinds(['--txt-prefix=-'])).toEqual([]);
  });

  it('prints the help (exit 0) before it would refuse a repeated flag, a value or a missing required flag, but not an unknown flag', () => {
    expect(validateArgs(v19, ['--help', '--log-level=loud', '--once', '--once'])).toEqual([]);
    expect(validateArgs(v19, ['--no-help', '--log-level=loud'])).toEqual([]);
    expect(validateArgs(v19, ['--version', '--source=bogus'])).toEqual([]);
    expect(validateArgs(v19, ['--help', '--bogus']).map((p) => p.kind)).toEqual(['unknown-flag', 'missing-required', 'missing-required']);
    expect(validateArgs(v19, ['--help', '--once=true']).map((p) => p.kind)).toContain('bool-with-value');
  });
});

describe('kingpin commands (promtool 2.42.0)', () => {
  const read = (file: string) => parseKingpinHelp(readFileSync(path.join(fixtures, 'help/promtool/2.42.0', file), 'utf8'));
  const top = read('top.txt');
  const checkConfig = read('check-config.txt');

  it('reads the commands of the top-level help and needs the first argument to name one (and a subcommand where it has them)', () => {
    expect(top.commands).toEqual(expect.arrayContaining(['help', 'check', 'query', 'debug', 'check config', 'query instant']));
    expect(validateArgs(top, ['check', 'config', '--syntax-only', 'prometheus.yml'])).toEqual([]);
    expect(validateArgs(top, ['chek', 'config'])).toMatchObject([{ kind: 'unexpected-positional', suggestion: 'check', binaryError: 'promtool: error: expected command but got "chek", try --help' }]);
    expect(validateArgs(top, ['check', 'confg'])).toMatchObject([{ kind: 'unexpected-positional', suggestion: 'config' }]);
    expect(validateArgs(top, ['--enable-feature=x', 'query'])).toMatchObject([{ kind: 'missing-required', binaryError: "promtool: error: must select a subcommand of 'query', try --help" }]);
    expect(validateArgs(top, ['--bogus', 'check', 'config'])).toMatchObject([{ kind: 'unknown-flag' }]);
  });

  it("reads a command's help: its path, its flags and its required arguments", () => {
    expect(checkConfig).toMatchObject({ program: 'promtool', subcommand: ['check', 'config'], positionals: [{ name: 'config-files', arity: '+' }] });
    expect(validateArgs(checkConfig, ['check', 'config', '--lint=none', 'a.yml', 'b.yml'])).toEqual([]);
    expect(validateArgs(checkConfig, ['check', 'config', '--lint-fatal'])).toMatchObject([{ kind: 'missing-required', binaryError: "promtool: error: required argument 'config-files' not provided, try --help" }]);
    expect(validateArgs(checkConfig, ['check', 'config', '--syntax-onyl', 'a.yml'])).toMatchObject([{ kind: 'unknown-flag', suggestion: '--syntax-only' }]);
    expect(validateArgs(checkConfig, ['check', 'rules', 'a.yml'])).toMatchObject([{ kind: 'unexpected-positional' }]);
  });
});
