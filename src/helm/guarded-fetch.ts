/**
 * Every HTTP request the guard makes for charts. The allow-list is enforced here, where the
 * connection is made: on the first URL, on every redirect hop and on every URL a reply names.
 */

export interface FetchPolicy {
  /** Whether the base revision lets the guard contact this URL's host:port. */
  isAllowedUrl: (url: string) => boolean;
  /** Absolute time (ms since epoch) after which no request is started or waited for. */
  deadline: number;
  /** Plain http:// only where the source says so (OCI `insecure`, or an http:// repository URL). */
  allowPlainHttp: boolean;
  /** The URL to fetch instead (charts.mirrors), applied to the first URL and to every redirect target. */
  rewrite?: (url: string) => string;
}

export interface FetchRequest {
  url: string;
  /** Largest body accepted, in bytes. */
  maxBytes: number;
  headers?: Record<string, string>;
  /** GET unless said (POST: an OAuth2 token request with a form body; never repeated across a redirect). */
  method?: 'GET' | 'POST';
  body?: string;
  /** Takes the body chunk by chunk instead of it being kept in memory (large blobs go to a file); the result's body is then empty. */
  sink?: (chunk: Buffer) => Promise<void>;
  /** What is being fetched, for messages ("index.yaml of https://charts.example"). */
  purpose: string;
}

export type FetchResult =
  | { ok: true; status: number; body: Buffer; headers: Headers; url: string }
  /** The base policy does not allow this host: nothing was sent to it. */
  | { ok: false; kind: 'refused'; host: string; error: string }
  /** The host is allowed but did not answer usefully (network, timeout, 5xx, 429): the guard could not check. */
  | { ok: false; kind: 'unreachable'; host: string; error: string }
  /** A definite answer that is not the chart (404, too large, a redirect loop): an error of the source. */
  | { ok: false; kind: 'failed'; host: string; status?: number; error: string; headers?: Headers };

export type FetchFailure = Extract<FetchResult, { ok: false }>;

const MAX_REDIRECTS = 5;

/** A URL as it may appear in a message: scheme, host, path; never credentials or a query. */
export function describeUrl(url: string): string {
  try {
    const parsed = new URL(url);
    return `${parsed.protocol}//${parsed.host}${parsed.pathname}`;
  } catch {
    return '(an invalid URL)';
  }
}

/**
 * host[:port] of an http(s):// or oci:// URL (a bare registry path counts as oci://), lower case, as
 * the allow-list and the mirrors compare hosts; '' when it is not a URL.
 */
export function urlHost(url: string): string {
  try {
    return new URL((url.includes('://') ? url : `oci://${url}`).replace(/^oci:/i, 'https:')).host.toLowerCase();
  } catch {
    return '';
  }
}

export function hostOfUrl(url: string): string {
  try {
    return new URL(url).host;
  } catch {
    return '';
  }
}

export function refusedHost(host: string, purpose: string): FetchFailure {
  return {
    ok: false,
    kind: 'refused',
    host,
    error: `${purpose} is on host ${host || '(none)'}, which the base revision does not allow; the guard did not contact it (allow it with network.allowedHosts in .guard.yaml, changed at the base revision first)`,
  };
}

/**
 * GET a URL under the policy: redirects are followed by hand (at most 5), each hop checked
 * against the allow-list; an Authorization header is never sent to another origin; the body is
 * read up to `maxBytes`.
 */
export async function guardedGet(request: FetchRequest, policy: FetchPolicy): Promise<FetchResult> {
  const rewrite = policy.rewrite ?? ((same: string) => same);
  let url = rewrite(request.url);
  let headers = { ...request.headers };
  const origin = originOf(url);
  for (let hop = 0; hop <= MAX_REDIRECTS; hop++) {
    const checked = checkUrl(url, request.purpose, policy, hop > 0 ? request.url : undefined);
    if (checked) return checked;
    const host = hostOfUrl(url);
    const remaining = policy.deadline - Date.now();
    if (remaining <= 0) return { ok: false, kind: 'unreachable', host, error: `timed out before fetching ${request.purpose} from ${describeUrl(url)}` };
    let response: Response;
    try {
      const method = hop === 0 ? (request.method ?? 'GET') : 'GET';
      response = await fetch(url, { method, ...(method === 'POST' ? { body: request.body ?? '' } : {}), redirect: 'manual', headers, signal: AbortSignal.timeout(remaining) });
    } catch (error) {
      return { ok: false, kind: 'unreachable', host, error: `cannot reach ${host} for ${request.purpose}: ${networkReason(error)}` };
    }
    if ([301, 302, 303, 307, 308].includes(response.status)) {
      await response.body?.cancel().catch(() => undefined);
      const location = response.headers.get('location');
      if (!location) return { ok: false, kind: 'failed', host, status: response.status, error: `${host} answered ${response.status} without a Location for ${request.purpose}` };
      let next: string;
      try {
        next = rewrite(new URL(location, url).toString());
      } catch {
        return { ok: false, kind: 'failed', host, status: response.status, error: `${host} redirected ${request.purpose} to an invalid URL` };
      }
      if (originOf(next) !== origin) {
        const { authorization: _dropped, Authorization: _alsoDropped, ...rest } = headers;
        headers = rest;
      }
      url = next;
      continue;
    }
    if (response.status >= 400) {
      await response.body?.cancel().catch(() => undefined);
      const unreachable = response.status >= 500 || response.status === 429 || response.status === 408;
      return { ok: false, kind: unreachable ? 'unreachable' : 'failed', host, status: response.status, headers: response.headers, error: `${host} answered ${response.status} ${response.statusText} for ${request.purpose} (${describeUrl(url)})` };
    }
    const body = await readBounded(response, request.maxBytes, request.sink);
    if ('error' in body) {
      const kind = body.tooLarge ? 'failed' : 'unreachable';
      return { ok: false, kind, host, error: `${request.purpose} from ${describeUrl(url)}: ${body.error}` };
    }
    return { ok: true, status: response.status, body: body.data, headers: response.headers, url };
  }
  return { ok: false, kind: 'failed', host: hostOfUrl(url), error: `more than ${MAX_REDIRECTS} redirects for ${request.purpose} (last ${describeUrl(url)})` };
}

function checkUrl(url: string, purpose: string, policy: FetchPolicy, redirectedFrom?: string): FetchFailure | undefined {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return { ok: false, kind: 'failed', host: '', error: `${purpose}: not a valid URL` };
  }
  const via = redirectedFrom ? ` (redirected from ${describeUrl(redirectedFrom)})` : '';
  if (parsed.protocol !== 'https:' && parsed.protocol !== 'http:') {
    return { ok: false, kind: 'failed', host: parsed.host, error: `${purpose}${via}: the guard fetches only http(s) URLs, not ${parsed.protocol}` };
  }
  if (parsed.protocol === 'http:' && !policy.allowPlainHttp) {
    return { ok: false, kind: 'failed', host: parsed.host, error: `${purpose}${via}: plain http to ${parsed.host} is not allowed for this source (only https, or http where the source is marked insecure)` };
  }
  if (parsed.username || parsed.password) {
    return { ok: false, kind: 'failed', host: parsed.host, error: `${purpose}${via}: URLs with credentials are not fetched` };
  }
  if (!policy.isAllowedUrl(url)) {
    const refused = refusedHost(parsed.host, `${purpose}${via}`);
    return refused;
  }
  return undefined;
}

async function readBounded(response: Response, maxBytes: number, sink?: (chunk: Buffer) => Promise<void>): Promise<{ data: Buffer } | { error: string; tooLarge?: boolean }> {
  const declared = Number(response.headers.get('content-length') ?? NaN);
  if (Number.isFinite(declared) && declared > maxBytes) {
    await response.body?.cancel().catch(() => undefined);
    return { error: `${declared} bytes is more than the ${maxBytes} the guard accepts`, tooLarge: true };
  }
  if (!response.body) return { data: Buffer.alloc(0) };
  const reader = response.body.getReader();
  const chunks: Buffer[] = [];
  let size = 0;
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      size += value.byteLength;
      if (size > maxBytes) {
        await reader.cancel().catch(() => undefined);
        return { error: `more than the ${maxBytes} bytes the guard accepts`, tooLarge: true };
      }
      if (sink) await sink(Buffer.from(value));
      else chunks.push(Buffer.from(value));
    }
  } catch (error) {
    return { error: `the transfer broke off: ${networkReason(error)}` };
  }
  return { data: Buffer.concat(chunks) };
}

function originOf(url: string): string {
  try {
    return new URL(url).origin;
  } catch {
    return '';
  }
}

function networkReason(error: unknown): string {
  const err = error as { name?: string; message?: string; cause?: { code?: string; message?: string } };
  if (err.name === 'TimeoutError' || err.name === 'AbortError') return 'timed out';
  return err.cause?.code ?? err.cause?.message ?? err.message ?? String(error);
}
