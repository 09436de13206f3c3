import { describe, expect, it } from 'vitest';
import { parseYamlFile } from '../../src/yaml/source.js';

describe('parseYamlFile', () => {
  const text = [
    'a: 1',
    '---',
    'kind: HelmRelease',
    'spec:',
    '  values:',
    '    extraArgs:',
    '      - --one',
    '      - --two',
    '    enabled: yes',
    '    block: |',
    '      x: 1',
    '',
  ].join('\n');

  it('keeps the line of every key and list item, across documents', () => {
    const { documents, problems } = parseYamlFile(text, 'f.yaml');
    expect(problems).toEqual([]);
    expect(documents).toHaveLength(2);
    const positions = documents[1]!.positions;
    expect(positions.get('/spec/values/extraArgs')?.line).toBe(6);
    expect(positions.get('/spec/values/extraArgs/0')?.line).toBe(7);
    expect(positions.get('/spec/values/extraArgs/1')?.line).toBe(8);
    expect(documents[1]!.literalBlocks.get('/spec/values/block')).toBe(10);
  });

  it('types values as YAML 1.1, like Kubernetes and Helm', () => {
    const { documents } = parseYamlFile(text, 'f.yaml');
    expect((documents[1]!.value as { spec: { values: { enabled: unknown } } }).spec.values.enabled).toBe(true);
  });

  it('reports duplicate keys and syntax errors with their line', () => {
    const duplicate = parseYamlFile('a: 1\nb: 2\na: 3\n', 'd.yaml');
    expect(duplicate.problems[0]?.location).toMatchObject({ path: 'd.yaml', line: 3 });
    const broken = parseYamlFile('a: [1, 2\nb: 3\n', 'b.yaml');
    expect(broken.problems.length).toBeGreaterThan(0);
    expect(broken.problems[0]?.location.path).toBe('b.yaml');
  });

  it('rejects an alias bomb quickly instead of expanding it', () => {
    const bomb = ['a: &a ["x","x","x","x","x","x","x","x","x"]'];
    for (let i = 0; i < 9; i++) {
      const prev = String.fromCharCode(97 + i);
      const next = String.fromCharCode(98 + i);
      bomb.push(`${next}: &${next} [*${prev},*${prev},*${prev},*${prev},*${prev},*${prev},*${prev},*${prev},*${prev}]`);
    }
    const started = Date.now();
    const result = parseYamlFile(bomb.join('\n') + '\n', 'bomb.yaml');
    expect(result.documents).toHaveLength(0);
    expect(result.problems[0]?.message).toMatch(/alias/i);
    expect(Date.now() - started).toBeLessThan(5000);
  });

  it('shifts lines for YAML embedded in a block scalar', () => {
    const { documents } = parseYamlFile('x: 1\nlist:\n  - z\n', 'cm.yaml', 10);
    expect(documents[0]!.positions.get('/list/0')?.line).toBe(13);
  });
});

describe('YAML 1.1 the way Kubernetes and Helm read it', () => {
  const valueOf = (text: string) => (parseYamlFile(`v: ${text}\n`, 'v.yaml').documents[0]!.value as { v: unknown }).v;

  it.each([
    ['yes', true], ['off', false], ['~', null], ['0755', 493], ['0x1F', 31], ['1_000', 1000],
    ['1.5', 1.5], ['1e3', 1000], ['.5', 0.5], ['-.inf', -Infinity],
  ])('%s is typed', (text, expected) => {
    expect(valueOf(text)).toEqual(expected);
  });

  it.each([['e0'], ['.'], ['12:30'], ['2026-11-24'], ['1.2.3'], ['v0.19.0']])('%s stays a string', (text) => {
    expect(valueOf(text)).toBe(text);
  });
});
