import { once } from 'node:events';
import { GraphQLError } from 'graphql';
import { createSchema, createYoga } from 'graphql-yoga';
import { afterEach, describe, expect, it } from 'vitest';
import { createLogger, errorCodeLabel, listenWithProbes, metricsSettingsFromEnv, operationLabel, startOperationsServer, useCorrelatedErrors } from '../src/index.ts';
import { ERROR_CODE_CAP, OPERATION_NAME_CAP, registry } from '../src/metrics.ts';

/** The value of one series of the registry (0 when it has none yet). */
async function valueOf(name: string, labels: Record<string, string>): Promise<number> {
  const metric = (await registry.getMetricsAsJSON()).find((m) => m.name === name.replace(/_(count|sum|bucket)$/, ''));
  const values = metric?.values ?? [];
  return values
    .filter((v) => (!('metricName' in v) || v.metricName === name) && Object.entries(labels).every(([k, x]) => String(v.labels[k]) === x))
    .reduce((a, v) => a + v.value, 0);
}

// First: the label tests below fill the process's cap of operation names.
describe('useCorrelatedErrors counts operations and errors', () => {
  const yoga = createYoga({
    schema: createSchema({
      typeDefs: 'type Query { hello: String boom: String refused: String } type Mutation { touch: Boolean }',
      resolvers: {
        Query: { hello: () => 'hi', boom: () => { throw new Error('secret detail'); }, refused: () => { throw new GraphQLError('no', { extensions: { code: 'FORBIDDEN' } }); } },
        Mutation: { touch: () => true },
      },
    }),
    maskedErrors: false,
    plugins: [useCorrelatedErrors({ logger: createLogger('unit') })],
  });
  const post = (body: unknown) => yoga.fetch('http://unit.test/graphql', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });

  it('by name and type with a duration, under the logger\'s service; errors by the code the client sees', async () => {
    await post({ query: 'query Greeting { hello }' });
    await post({ query: 'mutation Touching { touch } query Other { hello }', operationName: 'Touching' });
    await post({ query: '{ hello }' });
    expect(await valueOf('objectos_graphql_operations_total', { service: 'unit', operation: 'Greeting', type: 'query' })).toBe(1);
    expect(await valueOf('objectos_graphql_operations_total', { service: 'unit', operation: 'Touching', type: 'mutation' })).toBe(1);
    expect(await valueOf('objectos_graphql_operations_total', { service: 'unit', operation: 'anonymous', type: 'query' })).toBe(1);
    expect(await valueOf('objectos_graphql_operation_duration_seconds_count', { service: 'unit', operation: 'Greeting', type: 'query' })).toBe(1);

    // Masked: the unexpected error is counted as the client sees it, INTERNAL_SERVER_ERROR.
    const masked = await (await post({ query: 'query Boom { boom }' })).json();
    expect(masked.errors[0].extensions.code).toBe('INTERNAL_SERVER_ERROR');
    await post({ query: 'query Refused { refused }' });
    await post({ query: 'query Invalid { nope }' });
    expect(await valueOf('objectos_graphql_errors_total', { service: 'unit', code: 'INTERNAL_SERVER_ERROR' })).toBe(1);
    expect(await valueOf('objectos_graphql_errors_total', { service: 'unit', code: 'FORBIDDEN' })).toBe(1);
    expect(await valueOf('objectos_graphql_errors_total', { service: 'unit', code: 'GRAPHQL_VALIDATION_FAILED' })).toBe(1);
    // An operation that failed validation is still an operation, of its type.
    expect(await valueOf('objectos_graphql_operations_total', { service: 'unit', operation: 'Invalid', type: 'query' })).toBe(1);
  });
});

describe('labels are bounded by construction', () => {
  it('operation names: valid names while under the cap, then `other`; missing and malformed names apart', () => {
    expect(operationLabel(undefined)).toBe('anonymous');
    expect(operationLabel('bad-name')).toBe('invalid');
    expect(operationLabel('x'.repeat(65))).toBe('invalid');
    // The cap is the process's: names seen earlier in this file count in it too.
    const names = Array.from({ length: OPERATION_NAME_CAP * 3 }, (_, i) => `Op${i}`);
    const labels = names.map(operationLabel);
    const kept = labels.filter((l) => l !== 'other').length;
    expect(kept).toBeGreaterThan(OPERATION_NAME_CAP / 2);
    expect(kept).toBeLessThanOrEqual(OPERATION_NAME_CAP);
    expect(labels.slice(0, kept)).toEqual(names.slice(0, kept));
    expect(new Set(labels.slice(kept))).toEqual(new Set(['other']));
    // A name seen before the cap keeps its own series.
    expect(operationLabel('Op0')).toBe('Op0');
  });

  it('error codes: code-shaped strings while under the cap, then OTHER; anything else INVALID or NONE', () => {
    expect(errorCodeLabel(undefined)).toBe('NONE');
    expect(errorCodeLabel('not a code')).toBe('INVALID');
    expect(errorCodeLabel(42)).toBe('INVALID');
    const codes = Array.from({ length: ERROR_CODE_CAP * 2 }, (_, i) => `CODE_${i}`);
    const labels = codes.map(errorCodeLabel);
    const kept = labels.filter((l) => l !== 'OTHER').length;
    expect(kept).toBeGreaterThan(ERROR_CODE_CAP / 2);
    expect(kept).toBeLessThanOrEqual(ERROR_CODE_CAP);
    expect(labels.slice(0, kept)).toEqual(codes.slice(0, kept));
    expect(new Set(labels.slice(kept))).toEqual(new Set(['OTHER']));
    expect(errorCodeLabel('CODE_0')).toBe('CODE_0');
  });
});

describe('settings from the environment', () => {
  it('reads the token, the operations port and its host, and refuses what cannot work', () => {
    expect(metricsSettingsFromEnv({})).toEqual({ token: undefined, port: undefined, host: '127.0.0.1' });
    expect(metricsSettingsFromEnv({ OBJECTOS_METRICS_TOKEN: 't'.repeat(16), OBJECTOS_METRICS_PORT: '9464', OBJECTOS_METRICS_HOST: '0.0.0.0' }))
      .toEqual({ token: 't'.repeat(16), port: 9464, host: '0.0.0.0' });
    expect(() => metricsSettingsFromEnv({ OBJECTOS_METRICS_PORT: 'nine' })).toThrow(/OBJECTOS_METRICS_PORT must be a port number/);
    expect(() => metricsSettingsFromEnv({ OBJECTOS_METRICS_TOKEN: 'short' })).toThrow(/at least 16 characters/);
  });
});

describe('the operations port and a subgraph process\'s /metrics', () => {
  const saved = { ...process.env };
  afterEach(() => {
    process.env = { ...saved };
  });

  it('the operations port serves /metrics, /health and /ready, nothing else', async () => {
    const ops = await startOperationsServer({ port: 0, host: '127.0.0.1' });
    try {
      const metrics = await fetch(`${ops.url}/metrics`);
      expect(metrics.status).toBe(200);
      expect(metrics.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
      expect(await metrics.text()).toMatch(/^# HELP objectos_http_requests_total/m);
      expect((await fetch(`${ops.url}/health`)).status).toBe(200);
      expect((await fetch(`${ops.url}/ready`)).status).toBe(200);
      expect((await fetch(`${ops.url}/graphql`)).status).toBe(404);
      expect((await fetch(`${ops.url}/metrics`, { method: 'POST', body: 'x' })).status).toBe(405);
    } finally {
      await ops.close();
    }
  });

  it('listenWithProbes: /metrics with the token on the application port, without on the operations port, closed with the application', async () => {
    const token = 'unit-metrics-token-0123456789';
    process.env['OBJECTOS_METRICS_TOKEN'] = token;
    process.env['OBJECTOS_METRICS_PORT'] = '0';
    const { server, readiness, probes, operations } = await listenWithProbes(0, '127.0.0.1', 'unitgraph');
    probes.serve((_req, res) => res.writeHead(204).end());
    readiness.started();
    const app = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
    expect(operations).not.toBeNull();
    try {
      expect((await fetch(`${app}/metrics`)).status).toBe(401);
      expect((await fetch(`${app}/metrics`, { headers: { authorization: 'Bearer wrong-token-wrong-token' } })).status).toBe(401);
      await fetch(`${app}/graphql`);
      const scraped = await fetch(`${app}/metrics`, { headers: { authorization: `Bearer ${token}` } });
      expect(scraped.status).toBe(200);
      expect(scraped.headers.get('content-type')).toMatch(/^text\/plain/);
      // Its own requests are counted under its service name, by route and status.
      expect(await scraped.text()).toMatch(/objectos_http_requests_total\{service="unitgraph",route="\/metrics",method="GET",status="401"\} 2/);
      expect((await fetch(`${operations!.url}/metrics`)).status).toBe(200);
      expect((await fetch(`${operations!.url}/ready`)).status).toBe(200);
    } finally {
      server.close();
      server.closeAllConnections();
      await once(server, 'close');
    }
    // The operations port went with it.
    await expect(fetch(`${operations!.url}/metrics`)).rejects.toThrow();
  });

  it('listenWithProbes without settings: /metrics is 404 there, and no operations port', async () => {
    delete process.env['OBJECTOS_METRICS_TOKEN'];
    delete process.env['OBJECTOS_METRICS_PORT'];
    const { server, operations } = await listenWithProbes(0, '127.0.0.1');
    try {
      expect(operations).toBeNull();
      const r = await fetch(`http://127.0.0.1:${(server.address() as { port: number }).port}/metrics`);
      expect(r.status).toBe(404);
      expect(await r.json()).toEqual({ error: expect.stringMatching(/OBJECTOS_METRICS_TOKEN/) });
    } finally {
      server.close();
    }
  });
});
