import { createHash } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { fluxReleaseName, fluxReleaseNamespace } from '../../src/flux/release-name.js';
import { parseSetInto, typedValue } from '../../src/flux/strvals.js';
import { isSecretOrigin, isSecretValue, locate, mergeFluxValues, type Positions, type ValuesLayer } from '../../src/flux/values-merge.js';

const at = (path: string, line: number) => ({ path, line });
function doc(values: Record<string, unknown>, file: string, lines: Record<string, number> = {}): ValuesLayer {
  const positions: Positions = new Map(Object.entries(lines).map(([p, line]) => [p, at(file, line)]));
  return { kind: 'document', values, positions, origin: at(file, 1) };
}

describe('Flux values merge (valuesFrom in order, then spec.values)', () => {
  it('deep-merges maps, replaces lists and scalars, keeps null for helm to delete the default', () => {
    const merged = mergeFluxValues([
      doc({ a: { b: 1, c: [1, 2] }, keep: 'x', gone: 'y' }, 'cm.yaml'),
      doc({ a: { c: [3], d: true }, gone: null }, 'hr.yaml'),
    ]);
    expect(merged.values).toEqual({ a: { b: 1, c: [3], d: true }, keep: 'x', gone: null });
  });

  it('tracks, for every value, the file and line of the layer that set it', () => {
    const merged = mergeFluxValues([
      doc({ extraArgs: ['--a', '--b'], policy: 'sync' }, 'cm.yaml', { '/extraArgs': 8, '/extraArgs/0': 9, '/extraArgs/1': 10, '/policy': 11 }),
      doc({ extraArgs: ['--c'] }, 'hr.yaml', { '/extraArgs': 30, '/extraArgs/0': 31 }),
    ]);
    expect(locate(merged.positions, ['extraArgs', 0])).toEqual(at('hr.yaml', 31));
    expect(merged.positions.has('/extraArgs/1')).toBe(false);
    expect(locate(merged.positions, ['policy'])).toEqual(at('cm.yaml', 11));
  });

  it('sets a targetPath value with helm --set typing, quoted values as strings', () => {
    const merged = mergeFluxValues([
      { kind: 'targetPath', targetPath: 'provider.name', rawValue: 'cloudflare', origin: at('cm.yaml', 7) },
      { kind: 'targetPath', targetPath: 'replicas', rawValue: '3', origin: at('cm.yaml', 8) },
      { kind: 'targetPath', targetPath: 'enabled', rawValue: 'true', origin: at('cm.yaml', 9) },
      { kind: 'targetPath', targetPath: 'version', rawValue: '"3"', origin: at('cm.yaml', 10) },
      { kind: 'targetPath', targetPath: 'zip', rawValue: '0123', origin: at('cm.yaml', 11) },
    ]);
    expect(merged.values).toEqual({ provider: { name: 'cloudflare' }, replicas: 3, enabled: true, version: '3', zip: '0123' });
    expect(locate(merged.positions, ['provider', 'name'])).toEqual(at('cm.yaml', 7));
  });

  it('writes a targetPath list index in place, keeping the other items', () => {
    const merged = mergeFluxValues([
      doc({ extraArgs: ['--a', '--b'] }, 'base.yaml'),
      { kind: 'targetPath', targetPath: 'extraArgs[1]', rawValue: '--c', origin: at('cm.yaml', 4) },
    ]);
    expect(merged.values).toEqual({ extraArgs: ['--a', '--c'] });
    expect(locate(merged.positions, ['extraArgs', 1])).toEqual(at('cm.yaml', 4));
  });

  it('does not change its inputs', () => {
    const input = { a: { b: 1 } };
    mergeFluxValues([doc(input, 'x.yaml'), doc({ a: { b: 2 } }, 'y.yaml')]);
    expect(input).toEqual({ a: { b: 1 } });
  });

  it('property: a single layer merges to itself; the last layer wins on scalars', () => {
    const json = fc.dictionary(fc.string({ minLength: 1, maxLength: 5 }), fc.jsonValue({ maxDepth: 3 }));
    fc.assert(
      fc.property(json, json, (a, b) => {
        const values = JSON.parse(JSON.stringify(a)) as Record<string, unknown>;
        expect(mergeFluxValues([doc(values, 'a.yaml')]).values).toEqual(values);
        const merged = mergeFluxValues([doc(values, 'a.yaml'), doc(b as Record<string, unknown>, 'b.yaml')]).values;
        for (const [key, value] of Object.entries(b)) {
          const bothMaps = [value, values[key]].every((v) => v !== null && typeof v === 'object' && !Array.isArray(v));
          if (!bothMaps) expect(merged[key]).toEqual(value);
        }
      }),
      { numRuns: 200 },
    );
  });
});

describe('helm --set syntax', () => {
  it.each([
    ['a.b=c', { a: { b: 'c' } }],
    ['a\\.b=c', { 'a.b': 'c' }],
    ['list[0]=x,list[1]=y', { list: ['x', 'y'] }],
    ['list[1].name=x', { list: [null, { name: 'x' }] }],
    ['a={x,y,1}', { a: ['x', 'y', 1] }],
    ['a=1,b=false,c=null', { a: 1, b: false, c: null }],
    ['a=1.5', { a: '1.5' }],
  ])('%s', (expression, expected) => {
    const target = {};
    parseSetInto(expression, target, true);
    expect(target).toEqual(expected);
  });

  it('keeps strings with --set-string semantics', () => {
    const target = {};
    parseSetInto('a=true,b=1', target, false);
    expect(target).toEqual({ a: 'true', b: '1' });
  });

  it('rejects a key without a value, as helm does (an unescaped comma in a value)', () => {
    expect(() => parseSetInto('a=x,y', {}, true)).toThrow(/has no value/);
  });

  it('types like helm typedVal', () => {
    expect([typedValue('TRUE'), typedValue('0'), typedValue('007'), typedValue('-12'), typedValue('')]).toEqual([true, 0, '007', -12, '']);
  });
});

describe('release name and namespace as helm-controller computes them', () => {
  it('uses releaseName, else [targetNamespace-]name', () => {
    expect(fluxReleaseName({ name: 'dns', namespace: 'net' })).toBe('dns');
    expect(fluxReleaseName({ name: 'dns', namespace: 'net', targetNamespace: 'edge' })).toBe('edge-dns');
    expect(fluxReleaseName({ name: 'dns', releaseName: 'custom', targetNamespace: 'edge' })).toBe('custom');
    expect(fluxReleaseNamespace({ name: 'dns', namespace: 'net', targetNamespace: 'edge' })).toBe('edge');
    expect(fluxReleaseNamespace({ name: 'dns' })).toBe('default');
  });

  it('shortens names over 53 characters to 40 characters, a dash and 12 hex digits of their SHA-256', () => {
    const long = 'some-front-appended-namespace-release-with-a-very-long-name';
    const expected = `${long.slice(0, 40)}-${createHash('sha256').update(long).digest('hex').slice(0, 12)}`;
    expect(fluxReleaseName({ name: long })).toBe(expected);
    expect(expected).toHaveLength(53);
    expect(fluxReleaseName({ name: 'x'.repeat(53) })).toBe('x'.repeat(53));
  });
});

describe('hostile keys', () => {
  it('treats __proto__ as an ordinary key, never as the prototype', () => {
    const hostile = JSON.parse('{"__proto__": {"polluted": true}, "a": 1}') as Record<string, unknown>;
    const merged = mergeFluxValues([doc(hostile, 'x.yaml'), doc(JSON.parse('{"__proto__": {"b": 2}}') as Record<string, unknown>, 'y.yaml')]);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    expect(Object.getPrototypeOf(merged.values)).toBe(Object.prototype);
    expect(JSON.stringify(merged.values)).toBe('{"__proto__":{"polluted":true,"b":2},"a":1}');
    const target: Record<string, unknown> = {};
    parseSetInto('__proto__.x=1', target, true);
    expect(({} as Record<string, unknown>).x).toBeUndefined();
  });
});

describe('values that came from a Secret keep that origin through the merge', () => {
  const secretDoc = (values: Record<string, unknown>, file: string, lines: Record<string, number> = {}): ValuesLayer => ({ ...doc(values, file, lines), secret: true });

  it('marks what a Secret layer set, and unmarks what a later plain layer replaced', () => {
    const merged = mergeFluxValues([
      secretDoc({ auth: { token: 'hunter', user: 'admin' }, extraArgs: ['--password=hunter'], logLevel: 'debug' }, 'secret.yaml', { '/auth/token': 8, '/extraArgs/0': 10, '/logLevel': 11 }),
      doc({ auth: { user: 'bob' }, logLevel: 'info', policy: 'sync' }, 'hr.yaml', { '/auth/user': 30, '/logLevel': 31, '/policy': 32 }),
    ]);
    expect(isSecretValue(merged, ['auth', 'token'])).toBe(true);
    expect(isSecretValue(merged, ['extraArgs', 0])).toBe(true);
    expect(isSecretValue(merged, ['auth', 'user'])).toBe(false);
    expect(isSecretValue(merged, ['logLevel'])).toBe(false);
    expect(isSecretValue(merged, ['policy'])).toBe(false);
    expect(isSecretOrigin(merged, at('secret.yaml', 10))).toBe(true);
    expect(isSecretOrigin(merged, at('hr.yaml', 31))).toBe(false);
  });

  it('a plain list replaces a Secret list whole; a Secret map over a plain scalar marks all it holds', () => {
    const merged = mergeFluxValues([
      secretDoc({ extraArgs: ['--a=s3cret', '--b=s3cret'] }, 'secret.yaml'),
      doc({ extraArgs: ['--c'], image: 'plain' }, 'hr.yaml'),
      secretDoc({ image: { repository: 'private.registry/app', tag: 'v1' } }, 'secret2.yaml'),
    ]);
    expect(isSecretValue(merged, ['extraArgs', 0])).toBe(false);
    expect(isSecretValue(merged, ['extraArgs', 1])).toBe(false);
    expect(isSecretValue(merged, ['image', 'tag'])).toBe(true);
  });

  it('a plain targetPath write inside a Secret list unmarks only what it wrote; a Secret targetPath marks its leaf', () => {
    const merged = mergeFluxValues([
      secretDoc({ extraArgs: ['--a=s3cret', '--b=s3cret'] }, 'secret.yaml'),
      { kind: 'targetPath', targetPath: 'extraArgs[1]', rawValue: '--plain', origin: at('cm.yaml', 4) },
      { kind: 'targetPath', targetPath: 'auth.token', rawValue: 'hunter', origin: at('secret.yaml', 9), secret: true },
    ]);
    expect(merged.values).toEqual({ extraArgs: ['--a=s3cret', '--plain'], auth: { token: 'hunter' } });
    expect(isSecretValue(merged, ['extraArgs', 0])).toBe(true);
    expect(isSecretValue(merged, ['extraArgs', 1])).toBe(false);
    expect(isSecretValue(merged, ['auth', 'token'])).toBe(true);
    expect(isSecretValue(merged, ['auth'])).toBe(false);
  });

  it('marks nothing when no layer came from a Secret', () => {
    const merged = mergeFluxValues([doc({ a: 1 }, 'cm.yaml'), doc({ b: [1] }, 'hr.yaml')]);
    expect(merged.secretPointers?.size ?? 0).toBe(0);
    expect(isSecretOrigin(merged, at('cm.yaml', 1))).toBe(false);
  });
});
