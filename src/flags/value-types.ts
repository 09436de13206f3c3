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

const DURATION_UNITS: Record<string, bigint> = {
  ns: 1n, us: 1_000n, 'µs': 1_000n, 'μs': 1_000n, ms: 1_000_000n, s: 1_000_000_000n, m: 60_000_000_000n, h: 3_600_000_000_000n,
};
const MAX_DURATION = (1n << 63n) - 1n;

/**
 * time.ParseDuration: "0", or an optionally signed sequence of decimal numbers, each with a unit
 * (ns, us, µs, ms, s, m, h); a bare number other than 0 ("5") is refused, and so is a total past
 * int64 nanoseconds. One pass over the text.
 */
export function isGoDuration(text: string): boolean {
  let rest = text;
  if (rest.startsWith('-') || rest.startsWith('+')) rest = rest.slice(1);
  if (rest === '0') return true;
  if (rest === '') return false;
  let total = 0n;
  const part = /^(\d*)(?:\.(\d*))?(ns|us|µs|μs|ms|s|m|h)/;
  while (rest !== '') {
    const match = part.exec(rest);
    if (!match) return false;
    const [whole, integer = '', fraction, unit] = match;
    if (integer === '' && (fraction === undefined || fraction === '')) return false;
    const scale = DURATION_UNITS[unit!]!;
    // Go drops fraction digits past its precision; leading zeros count for nothing.
    const digits = integer.replace(/^0+/, '');
    if (digits.length > 20) return false;
    const kept = (fraction ?? '').slice(0, 30);
    let nanos = BigInt(digits || '0') * scale;
    if (kept) nanos += (BigInt(kept) * scale) / 10n ** BigInt(kept.length);
    total += nanos;
    if (total > MAX_DURATION + 1n) return false;
    rest = rest.slice(whole.length);
  }
  return total <= MAX_DURATION || (total === MAX_DURATION + 1n && text.startsWith('-'));
}

/** A number of a type the help does not name (kingpin prints only the default): int, float or duration. */
export function isGoNumber(text: string): boolean {
  return isGoInt(text) || isGoFloat(text) || isGoDuration(text);
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
    case 'number': return isGoNumber(value);
    case 'ints': case 'intSlice': return value === '' || value.split(',').every((v) => isGoInt(v.trim()));
    case 'durationSlice': return value === '' || value.split(',').every((v) => isGoDuration(v.trim()));
    case 'bools': case 'boolSlice': return value === '' || value.split(',').every((v) => isGoBool(v.trim()));
    case 'moduleSpec': return value === '' || value.split(',').every((part) => /^[^=]+=\d+$/.test(part));
    // pflag's counter: "+1" (the bare form) or a number, strconv.ParseInt(s, 0, 0).
    case 'count': return value === '+1' || isGoInt(value, 64);
    // glog: -v is strconv.ParseInt(s, 10, 32); -stderrthreshold a severity name or such a number;
    // -log_backtrace_at empty or file:N with N > 0 (strconv.Atoi).
    case 'glogLevel': return isDecimalInt32(value);
    case 'glogSeverity': return /^(info|warning|error|fatal)$/i.test(value) || isDecimalInt32(value);
    case 'glogTraceLocation': return value === '' || isTraceLocation(value);
    default:
      return true;
  }
}

function isDecimalInt32(text: string): boolean {
  return /^[+-]?\d+$/.test(text) && Math.abs(Number(text)) <= 2 ** 31;
}

function isTraceLocation(text: string): boolean {
  const parts = text.split(':');
  return parts.length === 2 && /^[+-]?\d+$/.test(parts[1]!) && Number(parts[1]) > 0;
}

export function goTypeError(type: string, value: string): string {
  if (type === 'moduleSpec') return 'syntax error: expect comma-separated list of filename=N';
  if (type === 'duration') return isGoDurationMissingUnit(value) ? `time: missing unit in duration ${JSON.stringify(value)}` : `time: invalid duration ${JSON.stringify(value)}`;
  if (type === 'number') return `strconv.ParseInt: parsing ${JSON.stringify(value)}: invalid syntax`;
  if (type === 'bool') return `strconv.ParseBool: parsing ${JSON.stringify(value)}: invalid syntax`;
  if (type === 'count') return `strconv.ParseInt: parsing ${JSON.stringify(value)}: invalid syntax`;
  if (/^u?int/.test(type)) return `strconv.Parse${type.startsWith('u') ? 'Uint' : 'Int'}: parsing ${JSON.stringify(value)}: invalid syntax`;
  if (/^float/.test(type)) return `strconv.ParseFloat: parsing ${JSON.stringify(value)}: invalid syntax`;
  return `invalid value ${JSON.stringify(value)} for ${type}`;
}

/** Go says "missing unit" for a plain number such as "5". */
function isGoDurationMissingUnit(text: string): boolean {
  return /^[+-]?(\d+\.?\d*|\.\d+)$/.test(text);
}

/** Prometheus' model.ParseDuration (y, w, d ... ms), which kingpin apps of that family use through SetValue. */
export function isModelDuration(text: string): boolean {
  if (text === '0') return true;
  return text !== '' && /^(?:\d+y)?(?:\d+w)?(?:\d+d)?(?:\d+h)?(?:\d+m)?(?:\d+s)?(?:\d+ms)?$/.test(text);
}

/** kingpin's units.Base2Bytes / Bytes values: "512MB", "1GiB". */
function isByteSize(text: string): boolean {
  return /^\d+(?:\.\d+)?\s*(?:[KMGTPE]i?)?B$/.test(text);
}

/**
 * A value of a kingpin flag whose type was inferred from its printed default (kingpin.ts). Lenient
 * where a custom Value type could sit behind the same default: refuses only what none of the
 * number-like types kingpin apps use would accept (a duration without a unit, a word for a number).
 */
export function isKingpinValue(type: string, value: string): boolean {
  if (type === 'duration') return isGoDuration(value) || isModelDuration(value);
  if (type === 'number') return isGoNumber(value) || isModelDuration(value) || isByteSize(value);
  return true;
}
