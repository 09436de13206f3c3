/**
 * Redaction. The first line of defence is at the source: a check that prints a value which came from
 * a Secret prints it masked (`redactValueInFinding`, `maskArgument`), and code frames of Secret files
 * are masked line by line (`masked-source.ts`). What is left is a safety net over the finished report
 * (`redactReport`): it rewrites only free text (message, evidence, suggestion, related messages),
 * never rule, severity, location or subject, and only with values that look like credentials, in
 * every encoded form they may take (base64 at any alignment, URL-encoded, trimmed).
 */

export const REDACTED = '***REDACTED***';

/** Free-text fields of a finding: the only ones the safety net may rewrite. */
interface FreeText {
  message: string;
  evidence?: string[];
  suggestion?: string;
  related?: Array<{ message?: string }>;
}

/** The shortest value the safety net replaces: shorter strings are ordinary words, not secrets. */
export const MIN_SECRET_LENGTH = 8;

/**
 * Whether a value from a Secret is distinctive enough to be searched for in free text. Ordinary
 * words and identifiers (`networking`, `kube-system`, `LoadBalancer`, `registry.k8s.io/app`,
 * `10.0.0.0/8`) are not: replacing them would blank namespaces, image names and rule words in
 * messages. Credentials are: they mix digits into words, carry symbols, or are long random runs.
 * A Secret value that is a plain word is still masked where it is printed as a value.
 */
export function isCredentialLike(raw: string): boolean {
  const value = raw.trim();
  if (value.length < MIN_SECRET_LENGTH) return false;
  const segments = value.split(/[-_.\/: ,]+/).filter((s) => s.length > 0);
  if (segments.length === 0) return false;
  return !segments.every(isWordLike);
}

function isWordLike(segment: string): boolean {
  // A word, or camelCase words; not a run of random letters (many case changes, or longer than words are).
  if (/^[A-Za-z]+$/.test(segment)) return segment.length <= 24 && (segment.match(/[a-z][A-Z]/g) ?? []).length <= 3;
  // k8s, v2, s3, x509, ipv6; the numbers of versions, dates and addresses.
  return /^[A-Za-z0-9]{1,4}$/.test(segment);
}

/**
 * The forms a sensitive value takes in tool output and encoded data: as written, trimmed, without a
 * trailing newline, upper- and lower-cased, JSON-escaped (Go's toJson escapes `<>&` as `\u003c`),
 * URL-encoded, hex (either case), and base64 (standard and URL-safe) and base32 of each of those and
 * of each with a newline (what `echo | base64` gives), including the part of that encoding which is
 * fixed whatever bytes precede the value (every alignment inside a longer blob).
 */
export function sensitiveForms(value: string): string[] {
  return transformedForms(value).filter((form) => form.length >= MIN_SECRET_LENGTH && !/[\r\n]/.test(form));
}

/** Every form of `sensitiveForms`, short ones too: for comparing a whole rendered value with a Secret value. */
export function transformedForms(value: string): string[] {
  const forms = new Set<string>();
  const lines = value.split(/\r?\n/).map((line) => line.trim());
  const cores = new Set([value, value.trim(), value.replace(/\r?\n$/, ''), ...(lines.length > 1 ? lines.filter(isCredentialLike) : [])].filter((v) => v.length > 0));
  for (const core of cores) {
    for (const text of new Set([core, core.toUpperCase(), core.toLowerCase()])) {
      forms.add(text);
      const encoded = encodeURIComponent(text);
      forms.add(encoded);
      forms.add(encoded.replace(/%20/g, '+'));
    }
    const json = JSON.stringify(core).slice(1, -1);
    forms.add(json);
    forms.add(json.replace(/[<>&\u2028\u2029]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`));
    const hex = Buffer.from(core).toString('hex');
    forms.add(hex);
    forms.add(hex.toUpperCase());
    const bytes = Buffer.from(core);
    for (const [encode, bitsPerChar, groupBytes] of ENCODINGS) {
      // With the newline of `echo | base64`: only the last group differs, the fixed part below covers the rest.
      for (const ending of ['\n', '\r\n']) forms.add(encode(Buffer.from(`${core}${ending}`)));
      const whole = encode(bytes);
      forms.add(whole);
      forms.add(whole.replace(/=+$/, ''));
      forms.add(whole.slice(0, Math.floor((8 * bytes.length) / bitsPerChar)));
      for (let shift = 1; shift < groupBytes; shift++) {
        // Characters that depend only on the value's bytes, whatever bytes precede and follow it.
        const shifted = Buffer.alloc(shift + bytes.length);
        bytes.copy(shifted, shift);
        forms.add(encode(shifted).slice(Math.ceil((8 * shift) / bitsPerChar), Math.floor((8 * (shift + bytes.length)) / bitsPerChar)));
      }
    }
  }
  for (const form of [...forms]) if (/[+/]/.test(form)) forms.add(form.replace(/\+/g, '-').replace(/\//g, '_'));
  forms.delete('');
  return [...forms];
}

const ENCODINGS = [[base64, 6, 3], [base32, 5, 5]] as const;

function base64(bytes: Buffer): string {
  return bytes.toString('base64');
}

/** RFC 4648 base32 with padding, as sprig's b32enc and Go's base32.StdEncoding write it. */
function base32(bytes: Buffer): string {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
  let out = '';
  let buffer = 0;
  let bits = 0;
  for (const byte of bytes) {
    buffer = ((buffer << 8) | byte) & 0xffff;
    bits += 8;
    while (bits >= 5) {
      out += alphabet[(buffer >> (bits - 5)) & 31];
      bits -= 5;
    }
  }
  if (bits > 0) out += alphabet[(buffer << (5 - bits)) & 31];
  return out.padEnd(Math.ceil(out.length / 8) * 8, '=');
}

/**
 * `scheme://user:password@host` -> `scheme://***@host`; a bare `git@` (ssh) user is no credential.
 * The userinfo ends at the last `@` of the authority, as URL parsers (WHATWG, Go) read it.
 */
export function scrubUrlCredentials(text: string): string {
  return text.replace(/\b([a-z][a-z0-9+.-]{0,30}:\/\/)([^\s\/?#'"<>`]{1,512})@(?=[^\s@\/?#])/gi, (whole, scheme: string, userinfo: string) =>
    userinfo === 'git' ? whole : `${scheme}***@`,
  );
}

/**
 * Tokens and keys in the guard's own environment (forge tokens, registry passwords, SOPS age keys,
 * ssh keys): picked by name, and by value for private keys whatever the variable is called.
 */
export function sensitiveEnvironment(env: Record<string, string | undefined>): string[] {
  return Object.entries(env)
    .filter(([name, value]) => value !== undefined && value.length >= MIN_SECRET_LENGTH && (SENSITIVE_NAME.test(name) || SENSITIVE_VALUE.test(value.trimStart())))
    .map(([, value]) => value!);
}

const SENSITIVE_NAME = /TOKEN|SECRET|PASSWORD|PASSWD|CREDENTIAL|PRIVATE_KEY|API_KEY|_KEYS?$|^SSH_|AGE.*KEY/i;
const SENSITIVE_VALUE = /^(?:AGE-SECRET-KEY-|-----BEGIN)/i;

/** A replacer for every form of every credential-like value, longest first so no part survives. */
export function textRedactor(values: Iterable<string>, options: { everyValue?: boolean; always?: Iterable<string> } = {}): (text: string) => string {
  const forms = new Set<string>();
  for (const value of values) {
    if (options.everyValue ? value.trim().length === 0 : !isCredentialLike(value)) continue;
    for (const form of sensitiveForms(value)) forms.add(form);
    if (options.everyValue) forms.add(value.trim());
  }
  for (const value of options.always ?? []) {
    if (value.trim().length >= MIN_SECRET_LENGTH) for (const form of sensitiveForms(value)) forms.add(form);
  }
  const replace = replacer(forms);
  return (text) => scrubUrlCredentials(replace(text));
}

/**
 * Replaces every occurrence of any of the strings, the longest at a position first, in one pass:
 * they are indexed by their first characters, so the cost grows with the text, not with the number
 * of secrets times the text. Encoded data is often wrapped (base64 at 76 columns, `xxd -p` at 60):
 * a line break (and the indentation after it) between two characters of an encoding alphabet does
 * not stop a match; the mask then takes the first line's part and the break stays, so line
 * numbers do not move.
 */
function replacer(strings: Iterable<string>): (text: string) => string {
  const unique = [...new Set(strings)].filter((value) => value.length > 0);
  if (unique.length === 0) return (text) => text;
  const keyLength = Math.min(MIN_SECRET_LENGTH, ...unique.map((value) => value.length));
  const byPrefix = new Map<string, string[]>();
  for (const value of unique) {
    const prefix = value.slice(0, keyLength);
    const list = byPrefix.get(prefix);
    if (list) list.push(value);
    else byPrefix.set(prefix, [value]);
  }
  for (const list of byPrefix.values()) list.sort((a, b) => b.length - a.length);
  return (text) => {
    const { joined, origin } = joinWrappedRuns(text);
    let out = '';
    let copied = 0;
    let index = 0;
    while (index <= joined.length - keyLength) {
      const candidates = byPrefix.get(joined.slice(index, index + keyLength));
      const match = candidates?.find((candidate) => joined.startsWith(candidate, index));
      if (!match) {
        index++;
        continue;
      }
      const start = origin ? origin[index]! : index;
      const end = origin ? origin[index + match.length - 1]! + 1 : index + match.length;
      out += text.slice(copied, start) + REDACTED + lineBreaksOf(text.slice(start, end));
      index += match.length;
      copied = end;
    }
    return copied === 0 ? text : out + text.slice(copied);
  };
}

const WRAPPED_RUN_BREAK = /(?<=[A-Za-z0-9+\/=_-])\r?\n[ \t]*(?=[A-Za-z0-9+\/=_-])/g;

/** The text with line breaks inside encoded-looking runs removed, and where each character came from. */
function joinWrappedRuns(text: string): { joined: string; origin?: number[] } {
  if (!text.includes('\n')) return { joined: text };
  const origin: number[] = [];
  let joined = '';
  let from = 0;
  const keep = (end: number) => {
    joined += text.slice(from, end);
    for (let i = from; i < end; i++) origin.push(i);
  };
  for (const found of text.matchAll(WRAPPED_RUN_BREAK)) {
    keep(found.index);
    from = found.index + found[0].length;
  }
  if (from === 0) return { joined: text };
  keep(text.length);
  return { joined, origin };
}

/** The line breaks (and the indentation after them) of a masked stretch: what keeps line numbers. */
function lineBreaksOf(masked: string): string {
  return (masked.match(/\r?\n[ \t]*/g) ?? []).join('');
}

/**
 * The safety net over a finished report: free text of each finding only, credential-like values only
 * (in every form), and credentials inside URLs. `tokens` (the guard's own sensitive environment) are
 * redacted whatever their shape: nothing but a leak puts them in a report. Rule ids, severities, locations, subjects, release
 * lists and summaries are structure and stay as they are.
 */
export function redactReport<R extends { findings: FreeText[] }>(report: R, sensitive: Iterable<string>, tokens: Iterable<string> = []): R {
  const redact = textRedactor(sensitive, { always: tokens });
  return { ...report, findings: report.findings.map((finding) => redactFreeText(finding, redact)) };
}

function redactFreeText<F extends FreeText>(finding: F, redact: (text: string) => string): F {
  return {
    ...finding,
    message: redact(finding.message),
    ...(finding.evidence ? { evidence: finding.evidence.map(redact) } : {}),
    ...(finding.suggestion !== undefined ? { suggestion: redact(finding.suggestion) } : {}),
    ...(finding.related ? { related: finding.related.map((r) => (r.message !== undefined ? { ...r, message: redact(r.message) } : r)) } : {}),
  };
}

/** `--flag=value` -> `--flag=***REDACTED***`; any other argument -> `***REDACTED***`. */
export function maskArgument(arg: string): string {
  const flag = /^(--?[\w.-]+=)/.exec(arg);
  return flag ? `${flag[1]}${REDACTED}` : REDACTED;
}

/** The part of an argument that is the value: after `=` for `--flag=value`, else all of it. */
function valuePart(arg: string): string {
  const flag = /^--?[\w.-]+=(.*)$/s.exec(arg);
  return flag ? (flag[1] ?? '') : arg;
}

/**
 * For a check that quotes a value which came from a Secret (an argument, a values entry): the same
 * finding with that value masked in its free text, wherever it is quoted whole (not inside a longer
 * word). `value` may be a rendered `--flag=value` argument; its flag name stays readable.
 */
export function redactValueInFinding<F extends FreeText>(finding: F, value: string): F {
  const secret = valuePart(value);
  if (secret.length === 0) return finding;
  const escaped = secret.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  const pattern = new RegExp(`(?<![A-Za-z0-9])${escaped}(?![A-Za-z0-9])`, 'g');
  const encoded = replacer(sensitiveForms(secret).filter((form) => form !== secret));
  const redact = (text: string) => encoded(text.replace(pattern, REDACTED));
  return redactFreeText(finding, redact);
}

/** Whether a substitution variable's source (`SubstitutedVariable.source`) is a Secret. */
export function isSecretSource(source: string): boolean {
  return /^Secret\b/.test(source);
}

/**
 * Every string anywhere in a JSON-like value with every secret value (short ones too) in every form
 * replaced. For rendered manifests shown to a person (`guard render`, `guard diff`), where a blanked
 * word costs less than a leak; never for reports, which `redactReport` handles without corrupting.
 */
export function redactFindings<T>(value: T, secrets: string[]): T {
  const redact = textRedactor(secrets, { everyValue: true });
  const walk = (node: unknown): unknown => {
    if (typeof node === 'string') return redact(node);
    if (Array.isArray(node)) return node.map(walk);
    if (node !== null && typeof node === 'object') {
      return Object.fromEntries(Object.entries(node).map(([k, v]) => [k, walk(v)]));
    }
    return node;
  };
  return walk(value) as T;
}
