/** Firing alerts from an Alertmanager's v2 API. */

export interface FiringAlert {
  name: string;
  labels: Record<string, string>;
  summary?: string;
  startsAt?: string;
}

export type AlertsOutcome = { ok: true; alerts: FiringAlert[] } | { ok: false; error: string };

export interface AlertQuery {
  url: string;
  /** Label equality matchers, e.g. { severity: 'critical' }. */
  matchers: Record<string, string>;
  timeoutMs: number;
}

export async function fetchFiringAlerts(query: AlertQuery): Promise<AlertsOutcome> {
  const endpoint = new URL('api/v2/alerts', query.url.endsWith('/') ? query.url : `${query.url}/`);
  endpoint.searchParams.set('active', 'true');
  endpoint.searchParams.set('silenced', 'false');
  endpoint.searchParams.set('inhibited', 'false');
  for (const [label, value] of Object.entries(query.matchers)) endpoint.searchParams.append('filter', `${label}="${value}"`);
  try {
    const response = await fetch(endpoint, { signal: AbortSignal.timeout(query.timeoutMs), headers: { accept: 'application/json' } });
    if (!response.ok) return { ok: false, error: `${endpoint.origin} answered HTTP ${response.status}` };
    const body = (await response.json()) as Array<{ labels?: Record<string, string>; annotations?: Record<string, string>; startsAt?: string; status?: { state?: string } }>;
    if (!Array.isArray(body)) return { ok: false, error: `${endpoint.origin} did not answer with a list of alerts` };
    return {
      ok: true,
      alerts: body
        .filter((a) => (a.status?.state ?? 'active') === 'active')
        .map((a) => ({ name: a.labels?.alertname ?? '(unnamed)', labels: a.labels ?? {}, summary: a.annotations?.summary ?? a.annotations?.description, startsAt: a.startsAt })),
    };
  } catch (error) {
    const reason = error instanceof Error ? (error.name === 'TimeoutError' ? `no answer within ${query.timeoutMs} ms` : error.message) : String(error);
    return { ok: false, error: `cannot reach Alertmanager at ${endpoint.origin}: ${reason}` };
  }
}
