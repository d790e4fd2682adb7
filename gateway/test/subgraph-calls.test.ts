import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort, testAuth } from '@objectos/testkit';
import { createLogger } from '@objectos/observability';
import { createGateway, type Gateway } from '../src/index.ts';
import { startSecureStack, type SecureStack } from './secure-stack.ts';
import { engines } from '@objectos/testkit';

// Class "subgraph calls": how the gateway calls subgraphs on the stitched path (operations across
// subgraphs) and on the one-hop path. Each call is its own: no listener piles up on a signal shared by
// calls, and a failed call reaches the client coded and naming the subgraph, never its URL or the query.

const HELLO_SDL = 'extend schema @link(url: "https://specs.apollo.dev/federation/v2.6", import: ["@key"])\ntype Query { hello: String }';
const hello = async () => Response.json({ data: { hello: 'hi' } });

describe('subgraph calls', () => {
  let stack: SecureStack;
  let down: Gateway;
  let deadUrl: string;
  const logLines: Record<string, unknown>[] = [];
  beforeAll(async () => {
    stack = await startSecureStack(engines()[0]!);
    // A subgraph with the data subgraph's schema at an address where nothing listens.
    deadUrl = `http://127.0.0.1:${await freePort()}/graphql`;
    down = await createGateway({
      auth: testAuth(),
      subgraphs: [{ name: 'hello', url: 'http://hello.test/graphql', sdl: HELLO_SDL, fetch: hello }, { name: 'data', url: deadUrl, sdl: stack.data.sdl }],
      logger: createLogger('gateway', { write: (line: string) => void logLines.push(JSON.parse(line) as Record<string, unknown>) }),
    });
  }, 60_000);
  afterAll(async () => {
    await down?.dispose();
    await stack?.close();
  });

  it('makes 90 stitched calls per subgraph, 30 at a time, without a MaxListenersExceededWarning', async () => {
    const warnings: string[] = [];
    const onWarning = (w: Error) => warnings.push(`${w.name}: ${w.message}`);
    process.on('warning', onWarning);
    try {
      const u = await stack.user('calls@subgraphs.test', 'Callco');
      const before = stack.dataCalls();
      for (let round = 0; round < 3; round++) {
        // `me` is the identity subgraph's, `accounts` the data subgraph's: the stitched path calls both.
        const answers = await Promise.all(Array.from({ length: 30 }, () => stack.q(u.headers, '{ me { id } accounts(first: 1) { totalCount } }')));
        for (const a of answers) expect(a).toEqual({ data: { me: { id: u.userId }, accounts: { totalCount: 0 } } });
      }
      expect(stack.dataCalls() - before).toBe(90);
      // Warnings are emitted on the next tick.
      await new Promise((r) => setTimeout(r, 50));
      expect(warnings).toEqual([]);
    } finally {
      process.off('warning', onWarning);
    }
  });

  const ask = async (query: string) => {
    const r = await down.fetch(new Request('http://objectos.test/graphql', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ query }) }));
    return { status: r.status, text: await r.text() };
  };

  it('answers a subgraph that cannot be reached with SUBGRAPH_UNAVAILABLE naming it, on both paths, and never shows its URL or the query sent', async () => {
    const { port } = new URL(deadUrl);
    for (const query of ['{ hello accounts(first: 1) { totalCount } }', '{ accounts(first: 1) { totalCount } }']) {
      const { text } = await ask(query);
      const body = JSON.parse(text) as { data?: Record<string, unknown> | null; errors?: { message: string; extensions?: { code?: string } }[] };
      expect(body.errors?.map((e) => e.extensions?.code), text).toEqual(['SUBGRAPH_UNAVAILABLE']);
      expect(body.errors?.[0]?.message).toBe('Subgraph "data" could not be reached');
      expect(text).not.toContain(port);
      expect(text).not.toContain('127.0.0.1');
      expect(text).not.toContain('totalCount');
      expect(text).not.toMatch(/"request"|endpoint|ECONNREFUSED/);
      // The operator's log line has what the client must not see: the cause, with the address.
      const id = (body.errors?.[0]?.extensions as { requestId?: string } | undefined)?.requestId;
      expect(logLines.find((l) => l['requestId'] === id)).toMatchObject({ code: 'SUBGRAPH_UNAVAILABLE', msg: 'Subgraph "data" could not be reached', cause: expect.stringContaining(`ECONNREFUSED 127.0.0.1:${port}`) });
    }
  });

  it('answers a subgraph that replies with something that is not a GraphQL result with SUBGRAPH_ERROR naming it, on both paths', async () => {
    // A proxy's error page in place of the data subgraph.
    const proxy = createServer((_, res) => res.writeHead(502, { 'content-type': 'text/html' }).end('<html>Bad Gateway at 10.0.0.7</html>'));
    await new Promise<void>((r) => proxy.listen(0, '127.0.0.1', r));
    const url = `http://127.0.0.1:${(proxy.address() as AddressInfo).port}/graphql`;
    const gw = await createGateway({ auth: testAuth(), subgraphs: [{ name: 'hello', url: 'http://hello.test/graphql', sdl: HELLO_SDL, fetch: hello }, { name: 'data', url, sdl: stack.data.sdl }] });
    try {
      for (const query of ['{ hello accounts(first: 1) { totalCount } }', '{ accounts(first: 1) { totalCount } }']) {
        const r = await gw.fetch(new Request('http://objectos.test/graphql', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ query }) }));
        const text = await r.text();
        const body = JSON.parse(text) as { errors?: { message: string; extensions?: { code?: string } }[] };
        expect(body.errors?.map((e) => [e.extensions?.code, e.message]), text).toEqual([['SUBGRAPH_ERROR', 'Subgraph "data" answered HTTP 502 without a GraphQL result']]);
        expect(text).not.toMatch(/10\.0\.0\.7|Bad Gateway|127\.0\.0\.1/);
      }
    } finally {
      await gw.dispose();
      await new Promise<void>((r) => proxy.close(() => r()));
    }
  });
});
