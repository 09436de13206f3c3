/**
 * Flux's post-build variable substitution (fluxcd/pkg/envsubst, a fork of drone/envsubst), as
 * kustomize-controller runs it on every built object unless the object opts out:
 * only `${...}` is an expression (`$VAR` is left alone), `$${` writes a literal `${`, and every
 * default form (`${V:=d}`, `${V:-d}`, `${V=d}`, `${V-d}`) uses the default when the value is
 * empty, because in non-strict mode an unknown variable is "set" to the empty string.
 */

export class SubstitutionError extends Error {}

export interface SubstitutionResult {
  text: string;
  /** Variables that were referenced, with whether a value (not a default) filled them. */
  used: Map<string, { defined: boolean }>;
}

const NAME = /^[_A-Za-z][_A-Za-z0-9]*/;
export const VALID_VARIABLE_NAME = /^[_A-Za-z][_A-Za-z0-9]*$/;

export function substituteVariables(text: string, vars: ReadonlyMap<string, string>): SubstitutionResult {
  const used = new Map<string, { defined: boolean }>();
  const parser = new Parser(text, vars, used);
  return { text: parser.parseText(false), used };
}

class Parser {
  private pos = 0;

  constructor(
    private readonly text: string,
    private readonly vars: ReadonlyMap<string, string>,
    private readonly used: Map<string, { defined: boolean }>,
  ) {}

  /** Text up to the end (or, inside a default, up to the closing brace), expanding expressions. */
  parseText(insideBraces: boolean): string {
    let out = '';
    while (this.pos < this.text.length) {
      const rest = this.text.slice(this.pos);
      if (rest.startsWith('$${')) {
        out += '${';
        this.pos += 3;
      } else if (rest.startsWith('${')) {
        this.pos += 2;
        out += this.parseExpression();
      } else if (insideBraces && rest[0] === '}') {
        return out;
      } else {
        out += rest[0];
        this.pos++;
      }
    }
    if (insideBraces) throw new SubstitutionError('missing closing brace');
    return out;
  }

  private parseExpression(): string {
    const start = this.pos;
    if (this.text[this.pos] === '#') {
      this.pos++;
      const name = this.readName();
      this.expect('}');
      return String(this.lookup(name).length);
    }
    const name = this.readName();
    const value = this.lookup(name);
    const rest = this.text.slice(this.pos);
    const operator = /^(:=|:-|=|-)/.exec(rest)?.[1];
    if (operator) {
      this.pos += operator.length;
      const fallback = this.parseText(true);
      this.pos++;
      return value === '' ? fallback : value;
    }
    const casing = /^(\^\^|\^|,,|,)\}/.exec(rest)?.[1];
    if (casing) {
      this.pos += casing.length + 1;
      if (casing === '^^') return value.toUpperCase();
      if (casing === ',,') return value.toLowerCase();
      const first = value.slice(0, 1);
      return (casing === '^' ? first.toUpperCase() : first.toLowerCase()) + value.slice(1);
    }
    if (rest.startsWith('}')) {
      this.pos++;
      return value;
    }
    throw new SubstitutionError(`unsupported substitution "\${${this.text.slice(start, this.text.indexOf('}', start) + 1 || undefined)}" (the guard evaluates \${VAR}, defaults and case changes)`);
  }

  private readName(): string {
    const match = NAME.exec(this.text.slice(this.pos));
    if (!match) throw new SubstitutionError('unable to parse variable name');
    this.pos += match[0].length;
    return match[0];
  }

  private expect(char: string): void {
    if (this.text[this.pos] !== char) throw new SubstitutionError('missing closing brace');
    this.pos++;
  }

  private lookup(name: string): string {
    const value = this.vars.get(name);
    const previous = this.used.get(name);
    this.used.set(name, { defined: (previous?.defined ?? false) || (value !== undefined && value !== '') });
    return value ?? '';
  }
}
