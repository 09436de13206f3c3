/**
 * Helm's `--set` syntax, which Flux uses for valuesFrom `targetPath`:
 * `a.b=c`, `a\.b=c` (escaped dot in a key), `list[0]=x`, `list[1].name=x`, `a={x,y}` (a list),
 * several assignments separated by commas. Typed parsing (`--set`) turns `true`/`false` into
 * booleans, `null` into null and integers without a leading zero into numbers; string parsing
 * (`--set-string`) keeps every value a string.
 */
export class SetSyntaxError extends Error {}

const MAX_INDEX = 65_536;

type Container = Record<string, unknown> | unknown[];

export function parseSetInto(expression: string, target: Record<string, unknown>, typed: boolean): void {
  const scanner = new Scanner(expression);
  while (!scanner.done()) {
    assign(scanner, target, typed);
    if (scanner.peek() === ',') scanner.next();
  }
}

class Scanner {
  private position = 0;
  constructor(readonly text: string) {}
  done(): boolean {
    return this.position >= this.text.length;
  }
  peek(): string | undefined {
    return this.text[this.position];
  }
  next(): string | undefined {
    return this.text[this.position++];
  }
  /** Characters up to (not including) one of `stops`, with backslash escapes resolved. */
  readUntil(stops: string): { text: string; stop: string | undefined } {
    let text = '';
    while (!this.done()) {
      const char = this.peek()!;
      if (char === '\\') {
        this.next();
        const escaped = this.next();
        if (escaped !== undefined) text += escaped;
        continue;
      }
      if (stops.includes(char)) return { text, stop: char };
      text += char;
      this.next();
    }
    return { text, stop: undefined };
  }
}

function assign(scanner: Scanner, target: Container, typed: boolean): void {
  const { text: key, stop } = scanner.readUntil('=.[,');
  if (key === '' && stop !== '[') throw new SetSyntaxError(`empty key in "${scanner.text}"`);
  switch (stop) {
    case '=': {
      scanner.next();
      setKey(target, key, readValue(scanner, typed));
      return;
    }
    case '.': {
      scanner.next();
      assign(scanner, childMap(target, key), typed);
      return;
    }
    case '[': {
      scanner.next();
      const list = childList(target, key);
      assignInList(scanner, list, typed, (updated) => setKey(target, key, updated));
      return;
    }
    default:
      throw new SetSyntaxError(`key "${key}" has no value`);
  }
}

function assignInList(scanner: Scanner, list: unknown[], typed: boolean, store: (list: unknown[]) => void): void {
  const { text: indexText, stop } = scanner.readUntil(']');
  if (stop !== ']') throw new SetSyntaxError(`unterminated index in "${scanner.text}"`);
  scanner.next();
  const index = Number(indexText);
  if (!Number.isInteger(index) || index < 0) throw new SetSyntaxError(`negative or non-integer index "${indexText}"`);
  if (index > MAX_INDEX) throw new SetSyntaxError(`index of ${index} is greater than maximum supported index of ${MAX_INDEX}`);
  while (list.length <= index) list.push(null);
  const after = scanner.next();
  if (after === '=') {
    list[index] = readValue(scanner, typed);
  } else if (after === '.') {
    const existing = list[index];
    const map = isMap(existing) ? existing : {};
    list[index] = map;
    assign(scanner, map, typed);
  } else if (after === '[') {
    const existing = list[index];
    const inner = Array.isArray(existing) ? existing : [];
    list[index] = inner;
    assignInList(scanner, inner, typed, () => undefined);
  } else {
    throw new SetSyntaxError(`unexpected "${after ?? 'end'}" after an index in "${scanner.text}"`);
  }
  store(list);
}

function readValue(scanner: Scanner, typed: boolean): unknown {
  if (scanner.peek() === '{') {
    scanner.next();
    const { text, stop } = scanner.readUntil('}');
    if (stop !== '}') throw new SetSyntaxError(`list must terminate with '}' in "${scanner.text}"`);
    scanner.next();
    if (!scanner.done() && scanner.peek() !== ',') throw new SetSyntaxError(`unexpected "${scanner.peek()}" after a list in "${scanner.text}"`);
    return text === '' ? [] : text.split(',').map((item) => (typed ? typedValue(item) : item));
  }
  const { text } = scanner.readUntil(',');
  return typed ? typedValue(text) : text;
}

/** Helm's typedVal: booleans, null and integers without a leading zero; everything else stays a string. */
export function typedValue(value: string): unknown {
  if (value.toLowerCase() === 'true') return true;
  if (value.toLowerCase() === 'false') return false;
  if (value.toLowerCase() === 'null') return null;
  if (value === '0') return 0;
  if (value !== '' && value[0] !== '0' && /^[+-]?\d+$/.test(value)) {
    const parsed = Number(value);
    if (Number.isSafeInteger(parsed)) return parsed;
  }
  return value;
}

function setKey(target: Container, key: string, value: unknown): void {
  if (Array.isArray(target)) throw new SetSyntaxError(`cannot set key "${key}" on a list`);
  Object.defineProperty(target, key, { value, enumerable: true, writable: true, configurable: true });
}

function childMap(target: Container, key: string): Record<string, unknown> {
  if (Array.isArray(target)) throw new SetSyntaxError(`cannot set key "${key}" on a list`);
  const existing = Object.hasOwn(target, key) ? target[key] : undefined;
  if (isMap(existing)) return existing;
  const created: Record<string, unknown> = {};
  setKey(target, key, created);
  return created;
}

function childList(target: Container, key: string): unknown[] {
  if (Array.isArray(target)) throw new SetSyntaxError(`cannot set key "${key}" on a list`);
  const existing = Object.hasOwn(target, key) ? target[key] : undefined;
  if (Array.isArray(existing)) return existing;
  const created: unknown[] = [];
  setKey(target, key, created);
  return created;
}

function isMap(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}
