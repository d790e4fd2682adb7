import { timingSafeEqual } from 'node:crypto';
import client from 'prom-client';

/**
 * The process's Prometheus registry (prom-client) and every metric ObjectOS records. One registry per
 * process: in the embedded mode the gateway and every subgraph share it, told apart by a `service`
 * label where they record the same thing (GraphQL operations).
 *
 * Cardinality is bounded by construction: no label ever carries an id, a URL path with an id, a user
 * or an error message. Operation names (chosen by clients) pass through `operationLabel`: the first
 * OPERATION_NAME_CAP distinct valid names keep their own series, later ones are counted as `other`.
 */
export const registry = new client.Registry();
client.collectDefaultMetrics({ register: registry, eventLoopMonitoringPrecision: 20 });

let enabled = process.env['OBJECTOS_METRICS'] !== 'off';
/** Whether instrumentation records (OBJECTOS_METRICS=off turns recording off, for the benchmark's baseline). */
export const metricsEnabled = (): boolean => enabled;
export function setMetricsEnabled(on: boolean): void {
  enabled = on;
}

const seconds = [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];
const fast = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 5];

export const httpRequests = new client.Counter({ name: 'objectos_http_requests_total', help: 'HTTP requests by route and status', labelNames: ['service', 'route', 'method', 'status'] as const, registers: [registry] });
export const httpDuration = new client.Histogram({ name: 'objectos_http_request_duration_seconds', help: 'HTTP request duration by route', labelNames: ['service', 'route'] as const, buckets: seconds, registers: [registry] });
export const graphqlOperations = new client.Counter({ name: 'objectos_graphql_operations_total', help: 'GraphQL operations by name and type', labelNames: ['service', 'operation', 'type'] as const, registers: [registry] });
export const graphqlDuration = new client.Histogram({ name: 'objectos_graphql_operation_duration_seconds', help: 'GraphQL operation duration by name and type', labelNames: ['service', 'operation', 'type'] as const, buckets: seconds, registers: [registry] });
export const graphqlErrors = new client.Counter({ name: 'objectos_graphql_errors_total', help: 'GraphQL errors by code', labelNames: ['service', 'code'] as const, registers: [registry] });
export const subgraphCalls = new client.Histogram({ name: 'objectos_subgraph_call_duration_seconds', help: 'Gateway calls to subgraphs by subgraph and outcome', labelNames: ['subgraph', 'outcome'] as const, buckets: seconds, registers: [registry] });
export const sqlDuration = new client.Histogram({ name: 'objectos_sql_statement_duration_seconds', help: 'SQL statement duration by engine and statement kind', labelNames: ['engine', 'kind', 'outcome'] as const, buckets: fast, registers: [registry] });
export const eventDeliveries = new client.Counter({ name: 'objectos_event_deliveries_total', help: 'Events moved on, by kind: published (change outbox relay), delivered (to a subscriber), evaluated (automation outbox), stored (audit outbox)', labelNames: ['kind'] as const, registers: [registry] });
export const jobDuration = new client.Histogram({ name: 'objectos_job_duration_seconds', help: 'Job run time by queue and outcome', labelNames: ['queue', 'outcome'] as const, buckets: seconds, registers: [registry] });
export const jobLatency = new client.Histogram({ name: 'objectos_job_latency_seconds', help: 'Wait from a job being due to it starting, by queue', labelNames: ['queue'] as const, buckets: seconds, registers: [registry] });
export const jobFailures = new client.Counter({ name: 'objectos_job_failures_total', help: 'Failed job attempts by queue', labelNames: ['queue', 'final'] as const, registers: [registry] });
export const authAttempts = new client.Counter({ name: 'objectos_auth_attempts_total', help: 'Authentication attempts by method and result', labelNames: ['method', 'result'] as const, registers: [registry] });
export const rateLimitRejections = new client.Counter({ name: 'objectos_rate_limit_rejections_total', help: 'Requests refused by a rate limit', labelNames: ['limit'] as const, registers: [registry] });

/**
 * A gauge read when scraped, summed over its sources: each running component (a pool, a relay, a
 * WebSocket server; the tests run several in one process) adds a source and removes it when it closes.
 */
export interface SampledGauge {
  add(source: () => Promise<Array<{ labels?: Record<string, string>; value: number }>> | Array<{ labels?: Record<string, string>; value: number }>): () => void;
}

function sampledGauge(name: string, help: string, labelNames: readonly string[]): SampledGauge {
  const sources = new Set<() => Promise<Array<{ labels?: Record<string, string>; value: number }>> | Array<{ labels?: Record<string, string>; value: number }>>();
  new client.Gauge({
    name, help, labelNames, registers: [registry],
    async collect() {
      this.reset();
      const sums = new Map<string, { labels: Record<string, string>; value: number }>();
      // A source that fails or hangs (a database down) is left out of this scrape, never fails it.
      const all = await Promise.all([...sources].map((s) => Promise.race([Promise.resolve().then(s), new Promise<[]>((r) => setTimeout(() => r([]), 1_000).unref())]).catch(() => [])));
      for (const samples of all)
        for (const { labels = {}, value } of samples) {
          const key = JSON.stringify(labels);
          const cur = sums.get(key);
          if (cur) cur.value = name.endsWith('_lag_seconds') ? Math.max(cur.value, value) : cur.value + value;
          else sums.set(key, { labels, value });
        }
      for (const { labels, value } of sums.values()) this.set(labels, value);
    },
  });
  return { add: (s) => (sources.add(s), () => void sources.delete(s)) };
}

export const poolConnections = sampledGauge('objectos_db_pool_connections', 'PostgreSQL pool connections by state (total, idle, waiting)', ['state']);
export const webSockets = sampledGauge('objectos_websocket_sockets', 'Open graphql-ws sockets', []);
export const subscriptionsActive = sampledGauge('objectos_subscriptions_active', 'Active GraphQL subscriptions by transport', ['transport']);
export const outboxLag = sampledGauge('objectos_outbox_lag_seconds', 'Age of the oldest unpublished outbox row (0 when none), by outbox', ['outbox']);
export const queueDepth = sampledGauge('objectos_queue_depth', 'Jobs by queue and state (waiting, delayed, active, failed)', ['queue', 'state']);

/** Most distinct operation names kept as their own series; later ones are `other`. */
export const OPERATION_NAME_CAP = 100;
const VALID_NAME = /^[A-Za-z_][A-Za-z0-9_]{0,63}$/;
const seenNames = new Set<string>();

/** The label an operation name gets: itself while under the cap, `anonymous`, `invalid` or `other`. */
export function operationLabel(name: string | null | undefined): string {
  if (!name) return 'anonymous';
  if (!VALID_NAME.test(name)) return 'invalid';
  if (seenNames.has(name)) return name;
  if (seenNames.size >= OPERATION_NAME_CAP) return 'other';
  seenNames.add(name);
  return name;
}

/** Most distinct error codes kept as their own series; later ones are `OTHER`. */
export const ERROR_CODE_CAP = 50;
const VALID_CODE = /^[A-Z][A-Z0-9_]{0,47}$/;
const seenCodes = new Set<string>();

/**
 * The label an error code gets. Codes are ObjectOS's own words (UNAUTHENTICATED, TIMEOUT…), but an
 * external subgraph's errors pass through with whatever code it chose: anything not shaped like a code
 * is `INVALID`, none is `NONE`, and past ERROR_CODE_CAP distinct codes the rest are `OTHER`.
 */
export function errorCodeLabel(code: unknown): string {
  if (code === undefined || code === null || code === '') return 'NONE';
  if (typeof code !== 'string' || !VALID_CODE.test(code)) return 'INVALID';
  if (seenCodes.has(code)) return code;
  if (seenCodes.size >= ERROR_CODE_CAP) return 'OTHER';
  seenCodes.add(code);
  return code;
}

/** The kind of a SQL statement (its first keyword), never its text. */
export function statementKind(text: string): string {
  const m = /^\s*(?:\/\*.*?\*\/\s*)?([a-z]+)/i.exec(text);
  const word = m?.[1]?.toLowerCase() ?? 'other';
  return ['select', 'insert', 'update', 'delete', 'with', 'begin', 'commit', 'rollback', 'savepoint', 'release', 'set', 'create', 'alter', 'drop', 'listen', 'notify', 'lock'].includes(word) ? word : 'other';
}

/** Times `run` into a histogram with labels; the outcome label is added when the histogram has one. */
export async function timed<T>(histogram: client.Histogram<string>, labels: Record<string, string>, run: () => Promise<T>): Promise<T> {
  if (!enabled) return run();
  const end = histogram.startTimer(labels);
  try {
    const r = await run();
    end({ outcome: 'ok' });
    return r;
  } catch (e) {
    end({ outcome: 'error' });
    throw e;
  }
}

/** Prometheus text of the registry. */
export const scrape = (): Promise<string> => registry.metrics();

/** Current values of the named metrics (all when `names` is empty), for the admin GraphQL `metrics` field. */
export async function metricValues(names: readonly string[] = []): Promise<Array<{ name: string; type: string; help: string; values: Array<{ labels: Record<string, string | number>; value: number; metricName?: string }> }>> {
  const all = await registry.getMetricsAsJSON();
  return all
    .filter((m) => names.length === 0 || names.includes(m.name))
    .map((m) => ({
      name: m.name,
      type: String(m.type),
      help: m.help,
      values: m.values.map((v) => ({ labels: v.labels as Record<string, string | number>, value: v.value, ...('metricName' in v && typeof v.metricName === 'string' ? { metricName: v.metricName } : {}) })),
    }));
}

/** Where metrics are served, from the environment (every process reads the same variables). */
export interface MetricsSettings {
  /** OBJECTOS_METRICS_TOKEN: `GET /metrics` on the application port with `Authorization: Bearer <token>`. */
  token: string | undefined;
  /** OBJECTOS_METRICS_PORT: an operations port serving `/metrics` (no token), `/health` and `/ready`. */
  port: number | undefined;
  /** OBJECTOS_METRICS_HOST: the operations port's address. @default 127.0.0.1 (not reachable from outside) */
  host: string;
}

export function metricsSettingsFromEnv(env: NodeJS.ProcessEnv = process.env): MetricsSettings {
  const token = env['OBJECTOS_METRICS_TOKEN'] || undefined;
  // A guessable token on a public port would publish every metric: as long as the other secrets.
  if (token !== undefined && token.length < 16) throw new Error('OBJECTOS_METRICS_TOKEN must be at least 16 characters');
  const raw = env['OBJECTOS_METRICS_PORT'];
  let port: number | undefined;
  if (raw !== undefined && raw !== '') {
    port = Number(raw);
    if (!Number.isInteger(port) || port < 0 || port > 65535) throw new Error(`OBJECTOS_METRICS_PORT must be a port number, got "${raw}"`);
  }
  return { token, port, host: env['OBJECTOS_METRICS_HOST'] || '127.0.0.1' };
}

export interface MetricsAccess {
  /** Bearer token a scraper must send on the main port (OBJECTOS_METRICS_TOKEN). */
  token?: string;
}

/**
 * `GET /metrics` on an application port: only with the configured bearer token (no token configured:
 * 404, metrics are then only on the operations port, OBJECTOS_METRICS_PORT, when set). Null for any
 * other request.
 */
export function metricsRoute(request: Request, access: MetricsAccess): Promise<Response> | null {
  if (new URL(request.url).pathname !== '/metrics') return null;
  if (request.method !== 'GET' && request.method !== 'HEAD') return null;
  if (!access.token) return Promise.resolve(Response.json({ error: 'metrics are not served on this port: set OBJECTOS_METRICS_TOKEN, or OBJECTOS_METRICS_PORT for an operations port' }, { status: 404 }));
  const given = /^Bearer\s+(.+)$/i.exec(request.headers.get('authorization') ?? '')?.[1] ?? '';
  if (!sameSecret(given, access.token)) return Promise.resolve(Response.json({ error: 'a valid metrics token is required (Authorization: Bearer …)' }, { status: 401, headers: { 'www-authenticate': 'Bearer' } }));
  return metricsResponse();
}

export async function metricsResponse(): Promise<Response> {
  return new Response(await scrape(), { headers: { 'content-type': registry.contentType, 'cache-control': 'no-store' } });
}

function sameSecret(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}
