import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDataSubgraph, type DataSubgraph } from '@objectos/data-subgraph';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import WebSocket from 'ws';
import { engines, gql, signedFetch, subscribeSse, TEST_SECRET, testAuth, testPrincipal, until, type GraphQLResult } from '@objectos/testkit';
import { HANDOFF_CONTENT_TYPE } from '@objectos/observability';
import { createGateway, type Gateway } from '../src/index.ts';
import { attachRealtime } from '../src/realtime/ws-server.ts';
import { METADATA, startStack, type Stack } from './stack.ts';

/** Operations of every kind the endpoint serves in one subgraph: reads, writes, errors from validation, variables and the subgraph. */
const OPERATIONS: [string, string, Record<string, unknown>?][] = [
  ['nested read', '{ accounts(first: 5, orderBy: [{ field: NAME }]) { totalCount nodes { id name industry contacts { firstName lastName cases { subject status } } } } }'],
  ['by id with variables', 'query($id: ID!) { account(id: $id) { name } }', { id: '00000000-0000-4000-8000-000000000000' }],
  ['cursors', '{ contacts(first: 2, orderBy: [{ field: LAST_NAME }]) { edges { cursor node { lastName account { name } } } pageInfo { hasNextPage endCursor } } }'],
  ['bad variable', 'query($n: Int) { accounts(first: $n) { nodes { id } } }', { n: 'many' }],
  ['bad argument from the subgraph', '{ accounts(first: 100000) { nodes { id } } }'],
  ['unknown field', '{ accounts { nodes { nope } } }'],
  ['explainAccess', '{ explainAccess(object: "account") { object } }'],
  ['create, then read in the same mutation', 'mutation { a: createAccount(input: { name: "Hop One" }) { name industry } b: createContact(input: { lastName: "Hopper" }) { lastName account { name } } }'],
  ['write refused', 'mutation { updateAccount(id: "00000000-0000-4000-8000-000000000000", input: { name: "x" }) { id } }'],
];

const normalise = (r: GraphQLResult<unknown>): unknown =>
  JSON.parse(JSON.stringify(r).replace(/"requestId":"[^"]+"/g, '"requestId":"…"').replace(/"id":"[0-9a-f-]{36}"/g, '"id":"…"'));

describe.each(engines())('single hop through the gateway on $name', (engine) => {
  let s: Stack;
  let stitched: Gateway;
  let general: DataSubgraph;
  let viaGeneral: Gateway;
  beforeAll(async () => {
    s = await startStack(engine, { seed: true });
    stitched = await createGateway({ subgraphs: [{ name: 'data', url: 'http://data.test/graphql', sdl: s.data.sdl, fetch: s.data.fetch }], auth: testAuth(), singleHop: false });
    // The same database behind graphql-js resolvers only, through the stitched path: the reference.
    general = await createDataSubgraph({ metadata: METADATA, database: s.data.database, secret: TEST_SECRET, compiledReads: false, outboxSweepMs: 3_600_000 });
    viaGeneral = await createGateway({ subgraphs: [{ name: 'data', url: 'http://data.test/graphql', sdl: general.sdl, fetch: general.fetch }], auth: testAuth(), singleHop: false });
  }, 60_000);
  afterAll(async () => {
    await Promise.all([stitched?.dispose(), viaGeneral?.dispose()]);
    await general?.dispose();
    await s?.close();
  });

  it('answers every operation as the stitched path does', async () => {
    for (const [name, query, variables] of OPERATIONS) {
      const hop = await gql(s.gateway.fetch, query, variables);
      const ref = await gql(stitched.fetch, query, variables);
      expect(normalise(hop), name).toEqual(normalise(ref));
      if (!name.startsWith('create')) expect(normalise(hop), name).toEqual(normalise(await gql(viaGeneral.fetch, query, variables)));
    }
  });

  it('a three-level read costs one SQL statement compiled, and one per selection level through resolvers', async () => {
    const query = '{ accounts(first: 20) { nodes { name contacts { lastName cases { subject account { name } } } } } }';
    await s.data.relay.drain();
    s.statements.length = 0;
    const compiled = await gql(s.gateway.fetch, query);
    expect(compiled.errors).toBeUndefined();
    expect(s.statements).toHaveLength(1);
    s.statements.length = 0;
    const resolved = await gql(viaGeneral.fetch, query);
    expect(resolved).toEqual(compiled);
    // accounts, contacts, cases, their accounts: four levels of selection, four statements.
    expect(s.statements.length).toBeLessThanOrEqual(4);
  });

  it('in process, a compiled read is answered without a request; anything else goes signed through fetch', async () => {
    let fetches = 0;
    let reads = 0;
    const g = await createGateway({
      auth: testAuth(),
      subgraphs: [{
        name: 'data', url: 'http://data.test/graphql', sdl: s.data.sdl,
        fetch: (r) => (r.method === 'POST' && fetches++, s.data.fetch(r)),
        readCompiled: (...a) => (reads++, s.data.readCompiled!(...a)),
      }],
    });
    try {
      const compiled = await gql(g.fetch, '{ accounts(first: 3) { nodes { name contacts { lastName } } } }');
      expect(compiled).toEqual(await gql(stitched.fetch, '{ accounts(first: 3) { nodes { name contacts { lastName } } } }'));
      expect({ reads, fetches }).toEqual({ reads: 1, fetches: 0 });
      const cursors = await gql(g.fetch, '{ accounts(first: 1) { edges { cursor } } }');
      expect(cursors.errors).toBeUndefined();
      expect({ reads, fetches }).toEqual({ reads: 2, fetches: 1 });
      await gql(g.fetch, 'mutation { createAccount(input: { name: "Local hop" }) { id } }');
      expect({ reads, fetches }).toEqual({ reads: 2, fetches: 2 });
    } finally {
      await g.dispose();
    }
  });

  it('sends the document as written, once, with the principal of each request: another organization sees its own records only', async () => {
    const sent: string[] = [];
    const spy = async (r: Request) => {
      if (r.method === 'POST') sent.push(((await r.clone().json()) as { query: string }).query);
      return s.data.fetch(r);
    };
    const other = await createGateway({ subgraphs: [{ name: 'data', url: 'http://data.test/graphql', sdl: s.data.sdl, fetch: spy }], auth: testAuth(testPrincipal('00000000-0000-4000-8000-0000000000bb')) });
    try {
      const r = await gql<{ accounts: { totalCount: number } }>(other.fetch, '{ accounts { totalCount } }');
      // One call, the client's own text (the stitched path would send a rewritten document).
      expect(sent).toEqual(['{ accounts { totalCount } }']);
      expect(r.data?.accounts.totalCount).toBe(0);
      const mine = await gql<{ accounts: { totalCount: number } }>(s.gateway.fetch, '{ accounts { totalCount } }');
      expect(mine.data?.accounts.totalCount).toBeGreaterThan(0);
    } finally {
      await other.dispose();
    }
  });

  // In process the subgraph hands its results over as texts (useResultHandoff) when given the server
  // context; an in-process fetch that passes none, like a subgraph over HTTP, gets the event stream.
  it.each([['handed over in process', true], ['as an event stream', false]] as const)('a subscription takes the one hop (%s): the document as written, each event passed on as the subgraph wrote it, over SSE and graphql-ws', async (_how, handOver) => {
    // Only the write below: earlier tests' writes may still be on their way from the outbox.
    const SUB = `subscription { accountChanged(where: { name: { eq: "Hop Live ${handOver}" } }) { op record { name industry } } }`;
    const sent: string[] = [];
    const types: (string | null)[] = [];
    const spy = async (r: Request, context?: Record<string, unknown>) => {
      if (r.method !== 'POST') return s.data.fetch(r);
      sent.push(((await r.clone().json()) as { query: string }).query);
      const response = await s.data.fetch(r, handOver ? context : undefined);
      types.push(response.headers.get('content-type'));
      return response;
    };
    const g = await createGateway({ subgraphs: [{ name: 'data', url: 'http://data.test/graphql', sdl: s.data.sdl, fetch: spy }], auth: testAuth() });
    const server = createServer(g.yoga);
    const realtime = attachRealtime(server, g);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const frames: string[] = [];
    const socket = new WebSocket(`ws://127.0.0.1:${(server.address() as AddressInfo).port}/graphql`, 'graphql-transport-ws');
    try {
      const before = s.data.hub.size();
      // The subgraph's own text for this principal and selection (the same group: it is serialized once for all three).
      const direct = await subscribeSse(signedFetch(s.data.fetch), SUB);
      const viaHttp = await subscribeSse(g.fetch, SUB);
      const viaStitched = await subscribeSse(stitched.fetch, SUB);
      socket.on('message', (m) => frames.push(String(m)));
      await new Promise((resolve) => socket.once('open', resolve));
      socket.send(JSON.stringify({ type: 'connection_init', payload: { authorization: 'Bearer any' } }));
      await until(async () => frames.length, (n) => n === 1);
      expect(JSON.parse(frames.shift()!)).toEqual({ type: 'connection_ack' });
      socket.send(JSON.stringify({ id: 'hop', type: 'subscribe', payload: { query: SUB } }));
      expect(await until(async () => s.data.hub.size(), (n) => n === before + 4)).toBe(before + 4);
      // Both of the one-hop gateway's subscriptions sent the client's text itself.
      expect(sent).toEqual([SUB, SUB]);
      expect(types.map((t) => (t === HANDOFF_CONTENT_TYPE ? 'handed' : t?.includes('text/event-stream') ? 'sse' : t))).toEqual(handOver ? ['handed', 'handed'] : ['sse', 'sse']);
      expect((await gql(s.gateway.fetch, `mutation { createAccount(input: { name: "Hop Live ${handOver}", industry: retail }) { id } }`)).errors).toBeUndefined();
      await Promise.all([direct.until(1), viaHttp.until(1), viaStitched.until(1)]);
      await until(async () => frames.length, (n) => n === 1);
      const text = direct.texts[0]!;
      expect(JSON.parse(text)).toEqual({ data: { accountChanged: { op: 'CREATED', record: { name: `Hop Live ${handOver}`, industry: 'retail' } } } });
      // The same bytes out of the gateway, SSE and graphql-ws alike; the stitched path's event parses the same.
      expect(viaHttp.texts).toEqual([text]);
      expect(frames).toEqual([`{"id":"hop","type":"next","payload":${text}}`]);
      expect(viaStitched.results).toEqual([JSON.parse(text)]);
      for (const x of [direct, viaHttp, viaStitched]) x.close();
      socket.send(JSON.stringify({ id: 'hop', type: 'complete' }));
      expect(await until(async () => s.data.hub.size(), (n) => n === before)).toBe(before);
    } finally {
      socket.close();
      await realtime.close();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeAllConnections();
      await g.dispose();
    }
  });
});
