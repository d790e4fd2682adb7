import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { gunzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, freePort, services, signIn, spawnTs, TEST_SECRET, until, type Spawned, type TestDatabase } from '@objectos/testkit';

/** One span as an OTLP/HTTP JSON export carries it, with its process's `service.name`. */
interface ExportedSpan {
  service: string;
  traceId: string;
  spanId: string;
  parentSpanId: string;
  name: string;
  /** OTLP's numbering: 1 internal, 2 server, 3 client, 4 producer, 5 consumer. */
  kind: number;
  attributes: Record<string, string | number | boolean>;
}

interface OtlpValue { stringValue?: string; intValue?: string | number; boolValue?: boolean; doubleValue?: number }
interface OtlpExport {
  resourceSpans?: Array<{
    resource?: { attributes?: Array<{ key: string; value: OtlpValue }> };
    scopeSpans?: Array<{ spans?: Array<{ traceId: string; spanId: string; parentSpanId?: string; name: string; kind: number; attributes?: Array<{ key: string; value: OtlpValue }> }> }>;
  }>;
}

const valueOf = (v: OtlpValue): string | number | boolean => v.stringValue ?? (v.intValue !== undefined ? Number(v.intValue) : (v.boolValue ?? v.doubleValue ?? ''));
const attributesOf = (list: Array<{ key: string; value: OtlpValue }> = []) => Object.fromEntries(list.map((a) => [a.key, valueOf(a.value)]));

/** A small OTLP/HTTP receiver (JSON, what the exporter sends by default) on loopback: every span posted to /v1/traces. */
async function startReceiver(): Promise<{ url: string; spans: ExportedSpan[]; close(): Promise<void> }> {
  const spans: ExportedSpan[] = [];
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      if (req.url !== '/v1/traces' || req.method !== 'POST') return void res.writeHead(404).end();
      const raw = Buffer.concat(chunks);
      const body = JSON.parse((req.headers['content-encoding'] === 'gzip' ? gunzipSync(raw) : raw).toString('utf8')) as OtlpExport;
      for (const rs of body.resourceSpans ?? []) {
        const service = String(attributesOf(rs.resource?.attributes)['service.name'] ?? '');
        for (const ss of rs.scopeSpans ?? [])
          for (const s of ss.spans ?? [])
            spans.push({ service, traceId: s.traceId, spanId: s.spanId, parentSpanId: s.parentSpanId ?? '', name: s.name, kind: s.kind, attributes: attributesOf(s.attributes) });
      }
      res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    spans,
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
}

/**
 * The services topology traced: the gateway, identity and data subgraphs as separate Node processes (their
 * main.ts, which start tracing when OTEL_EXPORTER_OTLP_ENDPOINT is set), exporting to a receiver of the
 * test's. A write through the gateway is one trace across processes: the data subgraph's server span is a
 * child of the gateway's client span for that call (W3C traceparent on the signed subgraph request).
 */
describe.skipIf(!services.postgres)('traces across processes (services topology, OTLP/HTTP)', () => {
  let db: TestDatabase;
  let receiver: Awaited<ReturnType<typeof startReceiver>>;
  const running: Spawned[] = [];
  beforeAll(async () => {
    db = await createTestDatabase();
    receiver = await startReceiver();
  });
  afterAll(async () => {
    await Promise.all(running.map((p) => p.kill('SIGTERM')));
    await receiver?.close();
    await db?.drop();
  });

  it('a write is one trace: gateway server span → gateway client span → data subgraph server span → its SQL and outbox publish', async () => {
    const [idPort, dataPort, gwPort] = [await freePort(), await freePort(), await freePort()];
    const env = { OBJECTOS_SECRET: TEST_SECRET, DATABASE_URL: db.url, REDIS_URL: '', NODE_ENV: 'development', OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url, OTEL_TRACES_SAMPLER_ARG: '1' };
    const spawn = (entry: string, more: Record<string, string>) => {
      const p = spawnTs(entry, { ...env, ...more });
      running.push(p);
      return p;
    };
    const identity = spawn('subgraphs/identity/src/main.ts', { PORT: String(idPort), OBJECTOS_SEED: 'true', OBJECTOS_PUBLIC_URL: `http://127.0.0.1:${gwPort}` });
    const [, email, password] = await identity.waitFor(/demo admin: (\S+) \/ (\S+) \(organization (\S+)\)/, 90_000);
    await identity.waitFor(/identity subgraph listening on/, 60_000);
    const data = spawn('subgraphs/data/src/main.ts', { PORT: String(dataPort) });
    await data.waitFor(/data subgraph listening on/, 90_000);
    const gateway = spawn('gateway/src/main.ts', { PORT: String(gwPort), OBJECTOS_SUBGRAPHS: `identity=http://127.0.0.1:${idPort}/graphql,data=http://127.0.0.1:${dataPort}/graphql` });
    await gateway.waitFor(/GraphQL endpoint: /, 90_000);

    const token = await signIn(`http://127.0.0.1:${gwPort}/graphql`, email!, password!);
    const requestId = 'cross-process-write-0001';
    const res = await fetch(`http://127.0.0.1:${gwPort}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${token}`, 'x-request-id': requestId },
      body: JSON.stringify({ query: 'mutation { createAccount(input: { name: "Traced Across Co" }) { id } }' }),
    });
    expect(res.status).toBe(200);
    expect(((await res.json()) as { errors?: unknown }).errors).toBeUndefined();
    expect(res.headers.get('x-request-id')).toBe(requestId);

    // Each process exports in batches (every 500 ms): wait until the gateway's server span and the data process's publish arrived.
    // (The subgraphs' server spans carry the same request id: the gateway passes it on.)
    const server = await until(async () => receiver.spans.find((s) => s.kind === 2 && s.attributes['objectos.request_id'] === requestId && s.attributes['objectos.service'] === 'gateway'), Boolean, 30_000);
    expect(server, `the gateway's server span; received: ${JSON.stringify(receiver.spans.map((s) => [s.service, s.name]).slice(0, 50))}`).toBeDefined();
    const inTrace = () => receiver.spans.filter((s) => s.traceId === server!.traceId);
    await until(async () => inTrace().filter((s) => s.name === 'outbox publish').length, (n) => n > 0, 30_000);
    const trace = inTrace();
    const gatewayService = server!.service;
    expect(gatewayService).not.toBe('');
    expect(server!.parentSpanId).toBe('');
    expect(server!.name).toBe('POST /graphql');

    // The gateway's call to the data subgraph: a client span in the gateway's process, under its server span.
    const calls = trace.filter((s) => s.name === 'subgraph data' && s.kind === 3);
    expect(calls.length).toBeGreaterThanOrEqual(1);
    for (const c of calls) expect(c.service).toBe(gatewayService);
    const byId = new Map(trace.map((s) => [s.spanId, s]));
    const underServer = (s: ExportedSpan): boolean => s.parentSpanId === server!.spanId || (byId.has(s.parentSpanId) && underServer(byId.get(s.parentSpanId)!));
    expect(calls.every(underServer)).toBe(true);

    // The data process's server span continues that call: same trace, its parent the gateway's client span.
    const dataServers = trace.filter((s) => s.kind === 2 && s.service !== gatewayService);
    expect(dataServers.length).toBeGreaterThanOrEqual(1);
    const dataService = dataServers[0]!.service;
    expect(dataService).not.toBe('');
    for (const d of dataServers) {
      expect(d.service).toBe(dataService);
      expect(calls.map((c) => c.spanId)).toContain(d.parentSpanId);
    }
    // Below it, in the data process: the write's statements on PostgreSQL, and the relay's publish of the change.
    const dataSpans = trace.filter((s) => s.service === dataService);
    const below = (s: ExportedSpan, roots: readonly ExportedSpan[]): boolean => roots.some((r) => r.spanId === s.parentSpanId) || (byId.has(s.parentSpanId) && below(byId.get(s.parentSpanId)!, roots));
    const sql = dataSpans.filter((s) => s.name.startsWith('sql ') && below(s, dataServers));
    expect(sql.map((s) => s.name)).toEqual(expect.arrayContaining(['sql begin', 'sql insert', 'sql commit']));
    for (const s of sql) expect(s.attributes).toMatchObject({ 'db.system': 'postgresql', 'objectos.db.engine': 'pg' });
    const publish = dataSpans.filter((s) => s.name === 'outbox publish' && s.attributes['objectos.outbox'] === 'outbox');
    expect(publish).toHaveLength(1);
    expect(below(publish[0]!, dataServers)).toBe(true);
    // No span of any process carries the record's values or the caller's token.
    const all = JSON.stringify(receiver.spans);
    expect(all).not.toContain('Traced Across Co');
    expect(all).not.toContain(token);
  }, 240_000);
});
