import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDataSubgraph } from '@objectos/data-subgraph';
import { createTestDatabase, engines, gql, services, type TestDatabase, TEST_SECRET, testAuth, signedFetch } from '@objectos/testkit';
import { createGateway } from '../src/index.ts';
import { BILLING_SDL, startExternalSubgraph } from './external-subgraph.ts';
import { startStack, type Stack } from './stack.ts';

describe('timeouts: nothing hangs', () => {
  let s: Stack;
  let slow: Awaited<ReturnType<typeof startExternalSubgraph>>;
  beforeAll(async () => {
    s = await startStack(engines()[0]!);
    slow = await startExternalSubgraph(BILLING_SDL, {
      Account: {
        __resolveReference: (ref: { id: string }) => ({ id: ref.id }),
        billingPlan: () => new Promise((resolve) => setTimeout(() => resolve('late'), 3_000)),
        invoices: () => [],
      },
    });
  });
  afterAll(async () => {
    await slow?.close();
    await s?.close();
  });

  it('ends a request whose subgraph is too slow within the configured time, with a clear TIMEOUT', async () => {
    const gateway = await createGateway({
      auth: testAuth(),
      subgraphs: [{ name: 'data', url: 'http://data.test/graphql', sdl: s.data.sdl, fetch: s.data.fetch }, { name: 'billing', url: slow.url }],
      subgraphTimeoutMs: 300,
    });
    await gql(gateway.fetch, 'mutation { createAccount(input: { name: "Slowpoke" }) { id } }');
    const started = Date.now();
    const r = await gql<{ accounts: { nodes: { name: string; billingPlan: string | null }[] } | null }>(gateway.fetch, '{ accounts(where: { name: { eq: "Slowpoke" } }) { nodes { name billingPlan } } }');
    const took = Date.now() - started;
    expect(took).toBeLessThan(2_000);
    expect(r.errors?.[0]?.extensions?.['code']).toBe('TIMEOUT');
    expect(r.errors?.[0]?.message).toBe('A subgraph did not answer in time');
    expect(JSON.stringify(r)).not.toMatch(/127\.0\.0\.1|AbortError|at .*\.ts:/);
  });
});

describe.skipIf(!services.postgres)('statement timeout on PostgreSQL', () => {
  let db: TestDatabase;
  beforeAll(async () => {
    db = await createTestDatabase();
  });
  afterAll(() => db?.drop());

  it('cancels a statement stuck behind a lock and answers TIMEOUT, masked, within the limit', async () => {
    const data = await createDataSubgraph({ secret: TEST_SECRET, metadata: `${process.cwd()}/metadata`, databaseUrl: db.url, statementTimeoutMs: 300 });
    const locker = new pg.Client({ connectionString: db.url });
    await locker.connect();
    try {
      await locker.query('begin');
      await locker.query('lock table account in access exclusive mode');
      const started = Date.now();
      const r = await gql(signedFetch(data.fetch), '{ accounts { totalCount } }');
      expect(Date.now() - started).toBeLessThan(3_000);
      expect(r.errors?.[0]).toMatchObject({ message: 'The database did not answer in time', extensions: { code: 'TIMEOUT' } });
      expect(JSON.stringify(r)).not.toMatch(/canceling statement|select |postgres/i);
    } finally {
      await locker.query('rollback').catch(() => {});
      await locker.end();
      await data.dispose();
    }
  });
});
