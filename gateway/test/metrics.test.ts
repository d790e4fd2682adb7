import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createClient, type Client } from 'graphql-ws';
import WebSocket from 'ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { metrics } from '@objectos/observability';
import { composeSupergraph } from '@objectos/schema';
import { createTestDatabase, freePort, services, spawnTs, TEST_SECRET, until, type Spawned, type TestDatabase } from '@objectos/testkit';
import { createGateway, readConfig } from '../src/index.ts';
import { startObjectOS, type RunningObjectOS } from '../src/start.ts';
import { ID_LIKE, parseScrape, post, seriesOf, signUp, total, type Sample } from './metrics-kit.ts';

// Prometheus metrics (issue #18): /metrics behind a token on the application port or on an operations
// port, every family recorded by real traffic through the gateway, and labels bounded whatever clients send.

const TOKEN = 'metrics-test-token-0123456789abcdef';
const PASSWORD = 'Correct-Horse-Battery-9';
const FED = 'extend schema @link(url: "https://specs.apollo.dev/federation/v2.6", import: ["@key"])';

interface Variant {
  name: string;
  /** Extra environment of the start (PostgreSQL and Redis for the services variant). */
  env(): Promise<Record<string, string>>;
  cleanup(): Promise<void>;
}

let database: TestDatabase | null = null;
const VARIANTS: Variant[] = [
  { name: 'embedded PGlite', env: async () => ({}), cleanup: async () => {} },
  ...(services.postgres
    ? [{
        name: 'PostgreSQL and Redis',
        env: async () => {
          database = await createTestDatabase('objectos_metrics');
          return { DATABASE_URL: database.url, ...(services.redis ? { REDIS_URL: services.redis } : {}) };
        },
        cleanup: async () => void (await database?.drop()),
      }]
    : []),
];

describe.each(VARIANTS)('metrics of ObjectOS on $name', (variant) => {
  let dir: string;
  let app: RunningObjectOS;
  let origin: string;
  let graphql: string;
  let ops: string;
  let bearer: { authorization: string };
  const email = `metrics-${variant.name.split(' ')[0]!.toLowerCase()}@metrics.test`;
  const scrape = async (): Promise<Sample[]> => parseScrape(await (await fetch(`${ops}/metrics`)).text());

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'objectos-metrics-'));
    const opsPort = await freePort();
    ops = `http://127.0.0.1:${opsPort}`;
    app = await startObjectOS(readConfig({
      OBJECTOS_SECRET: TEST_SECRET, HOST: '127.0.0.1', PORT: '0', OBJECTOS_DATA_DIR: dir, OBJECTOS_RATE_LIMIT: '0', NODE_ENV: 'development',
      OBJECTOS_METRICS_TOKEN: TOKEN, OBJECTOS_METRICS_PORT: String(opsPort), ...(await variant.env()),
    }, ['--empty']));
    origin = new URL(app.url).origin.replace('localhost', '127.0.0.1');
    graphql = `${origin}/graphql`;
    bearer = await signUp(origin, email, PASSWORD);
  });
  afterAll(async () => {
    await app?.stop();
    await variant.cleanup();
    await rm(dir, { recursive: true, force: true });
  });

  it('/metrics on the application port needs the token; the operations port serves it, /health and /ready without', async () => {
    const none = await fetch(`${origin}/metrics`);
    expect(none.status).toBe(401);
    expect(none.headers.get('www-authenticate')).toBe('Bearer');
    expect((await fetch(`${origin}/metrics`, { headers: { authorization: `Bearer ${TOKEN.replace('a', 'b')}` } })).status).toBe(401);
    // A session token is not the metrics token.
    expect((await fetch(`${origin}/metrics`, { headers: bearer })).status).toBe(401);
    const ok = await fetch(`${origin}/metrics`, { headers: { authorization: `Bearer ${TOKEN}` } });
    expect(ok.status).toBe(200);
    expect(ok.headers.get('content-type')).toBe('text/plain; version=0.0.4; charset=utf-8');
    expect(await ok.text()).toMatch(/^# TYPE objectos_graphql_operations_total counter$/m);

    const scraped = await fetch(`${ops}/metrics`);
    expect(scraped.status).toBe(200);
    expect(scraped.headers.get('content-type')).toBe('text/plain; version=0.0.4; charset=utf-8');
    expect((await fetch(`${ops}/health`)).status).toBe(200);
    const ready = await fetch(`${ops}/ready`);
    expect(ready.status).toBe(200);
    expect(await ready.json()).toMatchObject({ status: 'healthy' });
    // Only those: the operations port is not a second way into the API.
    expect((await fetch(`${ops}/graphql`, { method: 'POST', headers: { 'content-type': 'application/json', ...bearer }, body: '{"query":"{ __typename }"}' })).status).toBe(405);
    expect((await fetch(`${ops}/graphql`)).status).toBe(404);
    // The refused scrapes were counted as HTTP requests of the application port, by route and status.
    expect(total(await scrape(), 'objectos_http_requests_total', { service: 'gateway', route: '/metrics', method: 'GET', status: '401' })).toBeGreaterThanOrEqual(3);
  });

  it('after real traffic, every family is there with its labels', async () => {
    const before = await scrape();
    const ok = (r: { status: number; body: { errors?: unknown } }) => expect(r.body.errors, JSON.stringify(r.body)).toBeUndefined();
    // One subgraph answers it whole: the gateway's one hop (the compiled read, in process).
    ok(await post(graphql, bearer, { query: 'query ListAccounts { accounts { totalCount } }' }));
    // A write through the one hop: the client's document reaches the data subgraph as it is.
    ok(await post(graphql, bearer, { query: 'mutation AddAccount($n: String!) { createAccount(input: { name: $n }) { id } }', variables: { n: 'Metered' } }));
    // Two subgraphs: the stitched path's executor calls each.
    ok(await post(graphql, bearer, { query: 'query WhoAndWhat { me { email } accounts { totalCount } }' }));
    expect((await post(graphql, bearer, { query: 'query Broken { nope }' })).body.errors?.[0]?.extensions?.['code']).toBe('GRAPHQL_VALIDATION_FAILED');
    expect((await post(graphql, { authorization: 'Bearer not-a-session' }, { query: '{ __typename }' })).status).toBe(401);
    // Sign-in attempts per account: 3 per 10 s, the 4th refused before the identity subgraph.
    const statuses: number[] = [];
    for (let i = 0; i < 4; i++)
      statuses.push((await fetch(`${origin}/api/auth/sign-in/email`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ email, password: 'Wrong-Password-1' }) })).status);
    expect(statuses).toEqual([401, 401, 401, 429]);
    const after = await scrape();
    const grew = (name: string, labels: Record<string, string>) => total(after, name, labels) - total(before, name, labels);

    expect(grew('objectos_http_requests_total', { service: 'gateway', route: '/graphql', method: 'POST', status: '200' })).toBeGreaterThanOrEqual(4);
    expect(grew('objectos_http_requests_total', { service: 'gateway', route: '/graphql', method: 'POST', status: '401' })).toBe(1);
    expect(grew('objectos_http_requests_total', { service: 'gateway', route: '/api/auth/sign-in', method: 'POST', status: '429' })).toBe(1);
    expect(grew('objectos_http_request_duration_seconds_count', { service: 'gateway', route: '/graphql' })).toBeGreaterThanOrEqual(5);

    expect(grew('objectos_graphql_operations_total', { service: 'gateway', operation: 'ListAccounts', type: 'query' })).toBe(1);
    expect(grew('objectos_graphql_operations_total', { service: 'gateway', operation: 'AddAccount', type: 'mutation' })).toBe(1);
    expect(grew('objectos_graphql_operations_total', { service: 'data', operation: 'AddAccount', type: 'mutation' })).toBe(1);
    expect(grew('objectos_graphql_operations_total', { service: 'gateway', operation: 'WhoAndWhat', type: 'query' })).toBe(1);
    expect(grew('objectos_graphql_operation_duration_seconds_count', { service: 'gateway', operation: 'ListAccounts', type: 'query' })).toBe(1);
    expect(grew('objectos_graphql_operation_duration_seconds_bucket', { service: 'gateway', operation: 'ListAccounts', type: 'query', le: '+Inf' })).toBe(1);
    expect(grew('objectos_graphql_operation_duration_seconds_sum', { service: 'gateway', operation: 'ListAccounts', type: 'query' })).toBeGreaterThan(0);
    expect(grew('objectos_graphql_errors_total', { service: 'gateway', code: 'GRAPHQL_VALIDATION_FAILED' })).toBe(1);

    // The one hop's read and write, and the stitched path's calls to identity and data.
    expect(grew('objectos_subgraph_call_duration_seconds_count', { subgraph: 'data', outcome: 'ok' })).toBeGreaterThanOrEqual(3);
    expect(grew('objectos_subgraph_call_duration_seconds_count', { subgraph: 'identity', outcome: 'ok' })).toBeGreaterThanOrEqual(1);
    expect(grew('objectos_subgraph_call_duration_seconds_bucket', { subgraph: 'data', outcome: 'ok', le: '+Inf' })).toBeGreaterThanOrEqual(3);

    expect(grew('objectos_auth_attempts_total', { method: 'bearer', result: 'failure' })).toBe(1);
    expect(grew('objectos_auth_attempts_total', { method: 'bearer', result: 'success' })).toBeGreaterThanOrEqual(4);
    expect(grew('objectos_auth_attempts_total', { method: 'password', result: 'failure' })).toBe(3);
    expect(grew('objectos_rate_limit_rejections_total', { limit: 'sign_in_account' })).toBe(1);
  });

  it('counts open WebSockets and subscriptions by transport while clients hold them, and forgets them once gone', async () => {
    const gauge = async (name: string, labels: Record<string, string> = {}) => total(await scrape(), name, labels);
    let connected!: () => void;
    const isConnected = new Promise<void>((resolve) => (connected = resolve));
    const client: Client = createClient({ url: graphql.replace('http:', 'ws:'), webSocketImpl: WebSocket, connectionParams: bearer, lazy: false, retryAttempts: 0, on: { connected: () => connected() } });
    try {
      await isConnected;
      expect(await gauge('objectos_websocket_sockets')).toBe(1);
      const stop = client.subscribe({ query: 'subscription Changes { accountChanged { op } }' }, { next: () => {}, error: () => {}, complete: () => {} });
      expect(await until(() => gauge('objectos_subscriptions_active', { transport: 'ws' }), (n) => n === 1)).toBe(1);
      const sse = new AbortController();
      const stream = await fetch(graphql, { method: 'POST', signal: sse.signal, headers: { 'content-type': 'application/json', accept: 'text/event-stream', ...bearer }, body: JSON.stringify({ query: 'subscription Changes { accountChanged { op } }' }) });
      expect(stream.status).toBe(200);
      expect(await gauge('objectos_subscriptions_active', { transport: 'sse' })).toBe(1);
      expect(await gauge('objectos_subscriptions_active', { transport: 'ws' })).toBe(1);
      sse.abort();
      expect(await until(() => gauge('objectos_subscriptions_active', { transport: 'sse' }), (n) => n === 0)).toBe(0);
      stop();
      expect(await until(() => gauge('objectos_subscriptions_active', { transport: 'ws' }), (n) => n === 0)).toBe(0);
    } finally {
      await client.dispose();
    }
    expect(await until(() => gauge('objectos_websocket_sockets'), (n) => n === 0)).toBe(0);
  });

  // Defined once (the first engine): operation-name labels do not depend on the engine, and 10,000 requests take a minute.
  if (variant === VARIANTS[0]) it('10,000 distinct operation names: at most the cap of series, the rest counted as `other`', async () => {
    const before = await scrape();
    const names = Array.from({ length: 10_000 }, (_, i) => `Flood${i}`);
    let next = 0;
    let answered = 0;
    // Sixteen at a time on loopback, one request each (the endpoint takes no batches).
    await Promise.all(Array.from({ length: 16 }, async () => {
      while (next < names.length) {
        const r = await post(graphql, bearer, { query: `query ${names[next++]!} { __typename }` });
        if (r.status === 200 && r.body.data?.['__typename'] === 'Query') answered++;
      }
    }));
    expect(answered).toBe(10_000);
    const after = await scrape();
    const series = seriesOf(after, 'objectos_graphql_operations_total');
    const operations = new Set(series.map((s) => s.labels['operation']));
    // The cap, plus `anonymous`, `invalid` and `other`.
    expect(operations.size).toBeLessThanOrEqual(metrics.OPERATION_NAME_CAP + 3);
    expect(series.length).toBeLessThanOrEqual(metrics.OPERATION_NAME_CAP + 15);
    expect(seriesOf(after, 'objectos_graphql_operation_duration_seconds_count').length).toBe(series.length);
    const flood = { service: 'gateway', type: 'query' };
    const kept = series.filter((s) => /^Flood\d+$/.test(s.labels['operation']!) && s.labels['service'] === 'gateway').reduce((a, s) => a + s.value, 0);
    const other = total(after, 'objectos_graphql_operations_total', { ...flood, operation: 'other' }) - total(before, 'objectos_graphql_operations_total', { ...flood, operation: 'other' });
    expect(other).toBeGreaterThanOrEqual(10_000 - metrics.OPERATION_NAME_CAP);
    expect(kept + other).toBe(10_000);
  }, 300_000);

  it('no label value anywhere in the scrape is an id, a token or an email', async () => {
    // The patterns catch what this run had at hand: a record id, the session token, the user's email.
    const created = await post(graphql, bearer, { query: 'mutation { createAccount(input: { name: "Id check" }) { id } }' });
    const id = (created.body.data?.['createAccount'] as { id: string }).id;
    for (const sample of [id, bearer.authorization.slice('Bearer '.length), email]) expect(ID_LIKE.some((p) => p.test(sample)), sample).toBe(true);
    const values = new Set((await scrape()).flatMap((s) => Object.values(s.labels)));
    expect(values.size).toBeGreaterThan(20);
    for (const value of values) for (const pattern of ID_LIKE) expect(value, `label value ${value}`).not.toMatch(pattern);
  });
});

describe('a gateway without metrics settings', () => {
  it('answers /metrics 404, counts its request rate limit and a subgraph that cannot be reached', async () => {
    const down = `http://127.0.0.1:${await freePort()}/graphql`;
    const gateway = await createGateway({
      supergraph: composeSupergraph([{ name: 'products', url: down, sdl: `${FED}\ntype Product @key(fields: "upc") { upc: ID! }\ntype Query { products: [Product!]! }` }]),
      auth: { mode: 'none', secret: TEST_SECRET }, pollMs: 0, protection: { rateLimit: { points: 2, durationSeconds: 60 } },
    });
    try {
      // This process's registry (no port needed), as differences: other tests of this file share it.
      const start = parseScrape(await metrics.scrape());
      const value = async (name: string, labels: Record<string, string>) => total(parseScrape(await metrics.scrape()), name, labels) - total(start, name, labels);
      const notServed = await gateway.fetch(new Request('http://gw.test/metrics'));
      expect(notServed.status).toBe(404);
      expect(await notServed.json()).toEqual({ error: expect.stringMatching(/OBJECTOS_METRICS_TOKEN.*OBJECTOS_METRICS_PORT/) });
      const ask = () => gateway.fetch(new Request('http://gw.test/graphql', { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"query":"query Products { products { upc } }"}' }));
      const unreachable = (await (await ask()).json()) as { errors: { extensions: { code: string } }[] };
      expect(unreachable.errors[0]!.extensions.code).toBe('SUBGRAPH_UNAVAILABLE');
      expect(await value('objectos_subgraph_call_duration_seconds_count', { subgraph: 'products', outcome: 'error' })).toBe(1);
      expect(await value('objectos_graphql_errors_total', { service: 'gateway', code: 'SUBGRAPH_UNAVAILABLE' })).toBe(1);
      expect((await ask()).status).toBe(200);
      expect((await ask()).status).toBe(429);
      expect(await value('objectos_rate_limit_rejections_total', { limit: 'requests' })).toBe(1);
    } finally {
      await gateway.dispose();
    }
  });
});

describe('a subgraph process', () => {
  let dir: string;
  let data: Spawned | null = null;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'objectos-metrics-data-'));
  });
  afterAll(async () => {
    await data?.kill('SIGKILL');
    await rm(dir, { recursive: true, force: true });
  });

  it('serves /metrics with its token on its port, and without one on its operations port', async () => {
    const [port, opsPort] = [await freePort(), await freePort()];
    data = spawnTs('subgraphs/data/src/main.ts', {
      OBJECTOS_SECRET: TEST_SECRET, PORT: String(port), HOST: '127.0.0.1', DATABASE_URL: '', REDIS_URL: '', OBJECTOS_DATA_DIR: dir, OBJECTOS_SEED: 'false',
      OBJECTOS_METRICS_TOKEN: TOKEN, OBJECTOS_METRICS_PORT: String(opsPort),
    });
    await data.waitFor(/data subgraph listening on/, 90_000);
    const app = `http://127.0.0.1:${port}`;
    expect((await fetch(`${app}/health`)).status).toBe(200);
    // Unsigned GraphQL is still refused: /metrics is the only thing the token opens.
    expect((await fetch(`${app}/graphql`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${TOKEN}` }, body: '{"query":"{ __typename }"}' })).status).toBe(401);
    expect((await fetch(`${app}/metrics`)).status).toBe(401);
    const scraped = await fetch(`${app}/metrics`, { headers: { authorization: `Bearer ${TOKEN}` } });
    expect(scraped.status).toBe(200);
    const samples = parseScrape(await scraped.text());
    const health = samples.filter((s) => s.name === 'objectos_http_requests_total' && s.labels['route'] === '/health' && s.labels['status'] === '200');
    expect(health.length).toBe(1);
    expect(health[0]!.labels['service']).toMatch(/^(subgraph|data)$/);
    expect(total(samples, 'objectos_http_requests_total', { route: '/graphql', status: '401' })).toBe(1);
    const fromOps = await fetch(`http://127.0.0.1:${opsPort}/metrics`);
    expect(fromOps.status).toBe(200);
    expect(await fromOps.text()).toMatch(/^objectos_http_requests_total\{.*route="\/metrics".*status="200"\} 1$/m);
    expect((await fetch(`http://127.0.0.1:${opsPort}/ready`)).status).toBe(200);
  }, 120_000);
});
