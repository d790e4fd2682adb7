import { createServer } from 'node:http';
import { audienceKey, signPrincipal, type Principal } from '@objectos/principal';
import { TEST_SECRET, testAuth, testPrincipal } from '@objectos/testkit';
import type { AddressInfo } from 'node:net';
import { createDataSubgraph } from '@objectos/data-subgraph';
import { createGateway } from '@objectos/gateway';

/**
 * Benchmark server (its own process, so load generation does not share its event loop).
 * ROLE=all: the data subgraph on one port and a gateway calling it in process on another.
 * ROLE=gateway: a gateway only, calling the data subgraph over HTTP at DATA_URL.
 */
const HOP_BY_HOP = new Set(['connection', 'content-length', 'transfer-encoding', 'keep-alive']);
const listen = async (handler: Parameters<typeof createServer>[1]): Promise<number> => {
  const server = createServer(handler);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
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
  console.log(`READY gateway=${await listen(gateway.yoga)}`);
} else {
  const data = await createDataSubgraph({ secret: TEST_SECRET, metadata: 'metadata', databaseUrl: process.env['DATABASE_URL']!, poolSize: 20 });
  const gateway = await createGateway({ auth: testAuth(), subgraphs: [{ name: 'data', url: 'http://data.internal/graphql', sdl: data.sdl, fetch: data.fetch, ...(data.readCompiled ? { readCompiled: data.readCompiled } : {}) }] });
  console.log(`READY direct=${await listen(signingFront(data, testPrincipal()))} gateway=${await listen(gateway.yoga)}`);
}

// Exit cleanly on SIGTERM so that --cpu-prof (BENCH_PROFILE=1) can write its profile.
process.on('SIGTERM', () => process.exit(0));
