/**
 * Values of Go-typed flags (pflag, Go's flag package, urfave/cli), checked the way the strconv and
 * time parsers behind them would: a bad value makes the binary exit at start just like an unknown flag.
 */

const GO_BOOL = new Set(['1', 't', 'T', 'TRUE', 'true', 'True', '0', 'f', 'F', 'FALSE', 'false', 'False']);

/** strconv.ParseBool */
export function isGoBool(text: string): boolean {
  return GO_BOOL.has(text);
}

/** strconv.ParseInt(text, 0, bits): optional sign, base prefixes 0x/0o/0b/0, underscores only with a prefix. */
export function isGoInt(text: string, bits = 64, unsigned = false): boolean {
  const match = /^([+-]?)(0[xX][0-9a-fA-F_]+|0[bB][01_]+|0[oO][0-7_]+|0[0-7_]*|[1-9][0-9]*)$/.exec(text);
  if (!match) return false;
  const [, sign, digits] = match;
  if (unsigned && sign !== '') return false;
  const body = digits!;
  const prefixed = /^0[xXbBoO]/.test(body) || (body.length > 1 && body.startsWith('0'));
  if (body.includes('_')) {
    // Go allows underscores only between digits of a base-prefixed literal (base 0 parsing).
    if (!prefixed || /__|_$/.test(body) || /^0[xXbBoO]?_?$/.test(body)) return false;
  }
  let value: bigint;
  try {
    const clean = body.replaceAll('_', '');
    value = BigInt(/^0[0-7]+$/.test(clean) ? `0o${clean.slice(1)}` : clean);
  } catch {
    return false;
  }
  if (sign === '-') value = -value;
  const limit = BigInt(bits);
  if (unsigned) return value >= 0n && value < 1n << limit;
  return value >= -(1n << (limit - 1n)) && value < 1n << (limit - 1n);
}

/** strconv.ParseFloat: decimal and hex floats, inf, nan, underscores as Go literals allow. */
export function isGoFloat(text: string): boolean {
  if (/^[+-]?(inf|infinity|nan)$/i.test(text)) return true;
  const t = text.replaceAll('_', '');
  return /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/.test(t) || /^[+-]?0[xX]([0-9a-fA-F]+\.?[0-9a-fA-F]*|\.[0-9a-fA-F]+)[pP][+-]?\d+$/.test(t);
}

/** time.ParseDuration: "0", or a signed sequence of decimal numbers each with a unit. */
export function isGoDuration(text: string): boolean {
  if (/^[+-]?0$/.test(text)) return true;
  return /^[+-]?((\d+\.?\d*|\.\d+)(ns|us|µs|μs|ms|s|m|h))+$/.test(text);
}

/** Whether `value` parses as a flag of Go type `type` (as help texts print it). Unknown types accept anything. */
export function isValidGoValue(type: string, value: string): boolean {
  switch (type) {
    case 'bool':
      return isGoBool(value);
    case 'int': case 'int64': return isGoInt(value, 64);
    case 'int32': return isGoInt(value, 32);
    case 'int16': return isGoInt(value, 16);
    case 'int8': return isGoInt(value, 8);
    case 'uint': case 'uint64': return isGoInt(value, 64, true);
    case 'uint32': return isGoInt(value, 32, true);
    case 'uint16': return isGoInt(value, 16, true);
    case 'uint8': return isGoInt(value, 8, true);
    case 'float': case 'float64': case 'float32': return isGoFloat(value);
    case 'duration': return isGoDuration(value);
    case 'ints': case 'intSlice': return value === '' || value.split(',').every((v) => isGoInt(v.trim()));
    case 'durationSlice': return value === '' || value.split(',').every((v) => isGoDuration(v.trim()));
    case 'bools': case 'boolSlice': return value === '' || value.split(',').every((v) => isGoBool(v.trim()));
    case 'moduleSpec': return value === '' || value.split(',').every((part) => /^[^=]+=\d+$/.test(part));
    default:
      return true;
  }
}

export function goTypeError(type: string, value: string): string {
  if (type === 'moduleSpec') return 'syntax error: expect comma-separated list of filename=N';
  if (type === 'duration') return `time: invalid duration ${JSON.stringify(value)}`;
  if (type === 'bool') return `strconv.ParseBool: parsing ${JSON.stringify(value)}: invalid syntax`;
  if (/^u?int/.test(type)) return `strconv.Parse${type.startsWith('u') ? 'Uint' : 'Int'}: parsing ${JSON.stringify(value)}: invalid syntax`;
  if (/^float/.test(type)) return `strconv.ParseFloat: parsing ${JSON.stringify(value)}: invalid syntax`;
  return `invalid value ${JSON.stringify(value)} for ${type}`;
}
