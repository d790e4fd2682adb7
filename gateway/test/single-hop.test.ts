import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDataSubgraph, type DataSubgraph } from '@objectos/data-subgraph';
import { engines, gql, TEST_SECRET, testAuth, testPrincipal, type GraphQLResult } from '@objectos/testkit';
import { createGateway, type Gateway } from '../src/index.ts';
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
});
