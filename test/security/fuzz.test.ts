import fc from 'fast-check';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { stringify } from 'yaml';
import { describe, expect, it } from 'vitest';
import { parseHelp } from '../../src/flags/frameworks/registry.js';
import { parseKingpinHelp } from '../../src/flags/frameworks/kingpin.js';
import { validateArgs } from '../../src/flags/frameworks/registry.js';
import { parseYamlFile } from '../../src/yaml/source.js';
import { externalDnsData } from '../support/paths.js';

const realHelp = readFileSync(path.join(externalDnsData, 'help-v0.19.0.txt'), 'utf8');

describe('fuzzing the parsers: no crash, no exception escaping as a pass', () => {
  it('the YAML position mapper never throws, and every position is a line of the file', () => {
    const yamlish = fc.array(fc.oneof(fc.constantFrom('a: 1', '- x', '---', 'b:', '  c: [1, 2', '  - &x y', '*x', 'k: |', '    text', '"q": "v"', '? z', '...', '\t', '#c'), fc.string({ maxLength: 20 })), { maxLength: 30 });
    fc.assert(
      fc.property(yamlish, (lines) => {
        const text = lines.join('\n');
        const lineCount = text.split('\n').length;
        const result = parseYamlFile(text, 'f.yaml');
        for (const document of result.documents) {
          for (const location of document.positions.values()) {
            expect(location.line).toBeGreaterThanOrEqual(1);
            expect(location.line).toBeLessThanOrEqual(lineCount);
          }
        }
        for (const problem of result.problems) expect(problem.location.line).toBeGreaterThanOrEqual(1);
      }),
      { numRuns: 400 },
    );
  });

  it('positions of generated documents point at the lines where their keys are written', () => {
    // YAML 1.1 reads y, n, yes, no, on, off, true, false and null keys as booleans/null.
    const key = fc.stringMatching(/^[a-z][a-z0-9-]{0,8}$/).filter((k) => !/^(y|n|yes|no|on|off|true|false|null)$/.test(k));
    const tree = fc.dictionary(key, fc.oneof(fc.integer(), fc.stringMatching(/^[a-z ]{0,10}$/), fc.dictionary(key, fc.integer(), { maxKeys: 3 })), { minKeys: 1, maxKeys: 6 });
    fc.assert(
      fc.property(tree, (value) => {
        const text = stringify(value);
        const lines = text.split('\n');
        const [document] = parseYamlFile(text, 'g.yaml').documents;
        for (const name of Object.keys(value)) {
          const line = document!.positions.get(`/${name}`)!.line;
          expect(lines[line - 1]!.trimStart().startsWith(`${name}:`) || lines[line - 1]!.trimStart().startsWith(`"${name}":`)).toBe(true);
        }
      }),
      { numRuns: 300 },
    );
  });

  it('the help parsers never throw on arbitrary text or on damaged real help', () => {
    fc.assert(fc.property(fc.string({ maxLength: 400 }), (text) => void parseHelp(text)), { numRuns: 300 });
    const lines = realHelp.split('\n');
    fc.assert(
      fc.property(fc.array(fc.nat(lines.length - 1), { maxLength: 40 }), fc.array(fc.string({ maxLength: 30 }), { maxLength: 5 }), (drops, inserts) => {
        const damaged = lines.filter((_, i) => !drops.includes(i));
        inserts.forEach((line, i) => damaged.splice((i * 37) % damaged.length, 0, line));
        const outcome = parseHelp(damaged.join('\n'));
        if (!outcome.ok) return;
        // Invariant: every flag the catalog lists validates when used as it describes.
        const args = outcome.catalog.flags.filter((f) => !f.hidden).map((f) => (f.isBoolean ? `--${f.name}` : `--${f.name}=${f.enumValues?.find((v) => v !== '') ?? (f.valueType ? f.placeholder : 'x')}`));
        const problems = validateArgs(outcome.catalog, args).filter((p) => p.kind !== 'repeated' && p.kind !== 'missing-required');
        expect(problems).toEqual([]);
      }),
      { numRuns: 150 },
    );
  });

  it('the full real catalog re-validates every flag it lists', () => {
    const catalog = parseKingpinHelp(realHelp);
    const args = catalog.flags.map((f) => (f.isBoolean ? `--${f.name}` : `--${f.name}=${f.enumValues?.find((v) => v !== '') ?? (f.valueType ? f.placeholder : 'value')}`));
    expect(validateArgs(catalog, args)).toEqual([]);
  });
});
