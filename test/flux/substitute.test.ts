import { describe, expect, it } from 'vitest';
import { substituteVariables, SubstitutionError } from '../../src/flux/substitute.js';

const run = (text: string, vars: Record<string, string> = {}) => substituteVariables(text, new Map(Object.entries(vars))).text;

/** Cases from Flux's documented post-build substitution and fluxcd/pkg/envsubst's behaviour. */
describe('Flux post-build substitution', () => {
  it('replaces ${VAR} and leaves $VAR alone', () => {
    expect(run('level: ${LEVEL}, raw: $LEVEL', { LEVEL: 'debug' })).toBe('level: debug, raw: $LEVEL');
  });

  it('replaces an undefined variable with the empty string (non-strict mode)', () => {
    expect(run('host: "${HOST}"')).toBe('host: ""');
  });

  it('uses the default of every default form when the value is empty or undefined', () => {
    for (const form of [':=', ':-', '=', '-']) {
      expect(run(`x: \${MISSING${form}fallback}`)).toBe('x: fallback');
      expect(run(`x: \${SET${form}fallback}`, { SET: 'value' })).toBe('x: value');
    }
  });

  it('expands variables inside defaults', () => {
    expect(run('foo: ${var=prefix${default_var}-suffix}', { default_var: 'bar' })).toBe('foo: prefixbar-suffix');
  });

  it('writes $${VAR} as a literal ${VAR}', () => {
    expect(run('a: $${VAR}', { VAR: 'x' })).toBe('a: ${VAR}');
  });

  it('supports length and case changes', () => {
    expect(run('${#V} ${V^} ${V^^} ${W,} ${W,,}', { V: 'abc', W: 'XYZ' })).toBe('3 Abc ABC xYZ xyz');
  });

  it('refuses an unterminated expression like Flux does', () => {
    expect(() => run('a: ${VAR')).toThrow(SubstitutionError);
  });

  it('records which variables were used and whether a value filled them', () => {
    const result = substituteVariables('${A} ${B:=x}', new Map([['A', '1']]));
    expect(Object.fromEntries(result.used)).toEqual({ A: { defined: true }, B: { defined: false } });
  });
});
