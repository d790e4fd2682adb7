import { createServer } from 'node:http';
import { audienceKey, signPrincipal, type Principal } from '@objectos/principal';
import { TEST_SECRET, testAuth, testPrincipal } from '@objectos/testkit';
import type { AddressInfo } from 'node:net';
import { createDataSubgraph } from '@objectos/data-subgraph';
import { createGateway } from '@objectos/gateway';
import { instrumentListener, metricsSettingsFromEnv, serveOperations, startTracing, type TracingOptions } from '@objectos/observability';

/**
 * Benchmark server (its own process, so load generation does not share its event loop).
 * ROLE=all: the data subgraph on one port and a gateway calling it in process on another.
 * ROLE=gateway: a gateway only, calling the data subgraph over HTTP at DATA_URL.
 * BENCH_INSTRUMENT=1 (bench/observability.ts): the gateway port counted and traced as `npm start` serves it
 * (instrumentListener), and the operations port (OBJECTOS_METRICS_PORT, 0 for a free one) as `ops=`.
 * BENCH_TRACING=noop: tracing started first, every sampled span (OTEL_TRACES_SAMPLER_ARG, default all)
 * exported nowhere; the number exported is printed as `SPANS n` on SIGTERM.
 */
const instrumented = process.env['BENCH_INSTRUMENT'] === '1';
let exported = 0;
// The cost of making, sampling and batching spans without that of any exporter's I/O: export succeeds at once.
const noopExporter: NonNullable<TracingOptions['exporter']> = {
  export: (spans, done) => {
    exported += spans.length;
    done({ code: 0 });
  },
  shutdown: () => Promise.resolve(),
  forceFlush: () => Promise.resolve(),
};
// Before anything else starts, as gateway/src/main.ts does.
const tracing = process.env['BENCH_TRACING'] === 'noop' ? await startTracing({ serviceName: 'objectos', exporter: noopExporter }) : null;

const HOP_BY_HOP = new Set(['connection', 'content-length', 'transfer-encoding', 'keep-alive']);
let ops = '';
const listen = async (handler: Parameters<typeof createServer>[1], gateway = false): Promise<number> => {
  const server = createServer(gateway && instrumented ? instrumentListener('gateway', handler!) : handler);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  if (gateway && instrumented) {
    const operations = await serveOperations(server, metricsSettingsFromEnv());
    if (operations) ops = ` ops=${new URL(operations.url).port}`;
  }
  return (server.address() as AddressInfo).port;
};

/**
 * "Direct" stands for a trusted caller: each request gets `principal` signed for the data subgraph over
 * its method, path and body (a few µs of hashing and HMAC), as it accepts nothing else.
 */
function signingFront(data: { fetch: (r: Request) => Promise<Response>; yoga: { fetchAPI: { Request: typeof Request; Headers: typeof Headers } } }, principal: Principal): Parameters<typeof createServer>[1] {
  // The subgraph's own fetch API (as the gateway calls an in-process subgraph): a string body stays a string.
  const { Request, Headers } = data.yoga.fetchAPI;
  const key = audienceKey(TEST_SECRET, 'data');
  return (req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = chunks.length ? Buffer.concat(chunks) : null;
      const url = `http://data.internal${req.url ?? '/graphql'}`;
      const method = req.method ?? 'GET';
      const headers = new Headers();
      for (const [k, v] of Object.entries(req.headers)) if (typeof v === 'string' && !HOP_BY_HOP.has(k)) headers.set(k, v);
      for (const [k, v] of Object.entries(signPrincipal(principal, key, { audience: 'data', method, url, body }))) headers.set(k, v);
      void data.fetch(new Request(url, { method, headers, ...(body ? { body: body.toString('utf8') } : {}) })).then(async (r) => {
        res.writeHead(r.status, Object.fromEntries(r.headers));
        res.end(Buffer.from(await r.arrayBuffer()));
      });
    });
  };
}

if (process.env['ROLE'] === 'gateway') {
  const gateway = await createGateway({ auth: testAuth(), subgraphs: [{ name: 'data', url: process.env['DATA_URL']! }] });
  const port = await listen(gateway.yoga, true);
  console.log(`READY gateway=${port}${ops}`);
} else {
  const data = await createDataSubgraph({ secret: TEST_SECRET, metadata: 'metadata', databaseUrl: process.env['DATABASE_URL']!, poolSize: 20 });
  const gateway = await createGateway({ auth: testAuth(), subgraphs: [{ name: 'data', url: 'http://data.internal/graphql', sdl: data.sdl, fetch: data.fetch, ...(data.readCompiled ? { readCompiled: data.readCompiled } : {}) }] });
  const direct = await listen(signingFront(data, testPrincipal()));
  const port = await listen(gateway.yoga, true);
  console.log(`READY direct=${direct} gateway=${port}${ops}`);
}

// Exit cleanly on SIGTERM so that --cpu-prof (BENCH_PROFILE=1) can write its profile.
process.on('SIGTERM', () => {
  if (!tracing) process.exit(0);
  // Spans still batched are exported first, so the count covers every request served.
  void tracing.flush().finally(() => {
    console.log(`SPANS ${exported}`);
    process.exit(0);
  });
});
