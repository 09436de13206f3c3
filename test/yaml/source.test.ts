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

describe('locations under YAML merge keys and aliases (issue 13 item 8)', () => {
  const text = [
    'defaults: &container', //  1
    '  image: nginx', //  2
    '  args:', //  3
    '    - --bad-flag', //  4
    'sidecar: &sidecar', //  5
    '  image: busybox', //  6
    '  pullPolicy: Always', //  7
    'one:', //  8
    '  <<: *container', //  9
    '  name: one', // 10
    'two:', // 11
    '  <<: [*container, *sidecar]', // 12
    '  name: two', // 13
    '  args: [--good]', // 14
    'three:', // 15
    '  "<<": not a merge', // 16
    '  list: *sidecar', // 17
    '',
  ].join('\n');
  const { documents, problems } = parseYamlFile(text, 'values.yaml');
  const positions = documents[0]!.positions;

  it('points a value that comes from the anchor at the anchor line, not at the alias user', () => {
    expect(problems).toEqual([]);
    expect(positions.get('/one/args/0')?.line).toBe(4);
    expect(positions.get('/one/args')?.line).toBe(3);
    expect(positions.get('/one/image')?.line).toBe(2);
    expect(positions.get('/one/name')?.line).toBe(10);
  });

  it('lets keys written in the map win over merged ones, and the first merge source over later ones', () => {
    expect((documents[0]!.value as { two: { args: string[]; image: string } }).two).toMatchObject({ args: ['--good'], image: 'nginx' });
    expect(positions.get('/two/args/0')?.line).toBe(14);
    expect(positions.get('/two/image')?.line).toBe(2);
    expect(positions.get('/two/pullPolicy')?.line).toBe(7);
  });

  it('treats a quoted "<<" as an ordinary key and follows a plain alias into its anchor', () => {
    expect(positions.get('/three/<<')?.line).toBe(16);
    expect(positions.get('/three/list')?.line).toBe(17);
    expect(positions.get('/three/list/pullPolicy')?.line).toBe(7);
  });
});
