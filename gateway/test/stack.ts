import { fileURLToPath } from 'node:url';
import { createDataSubgraph, type DataSubgraph } from '@objectos/data-subgraph';
import { gql, gqlOk, TEST_ORG, TEST_SECRET, testAuth, type Engine, type EngineHandle } from '@objectos/testkit';
import { createGateway, type Gateway } from '../src/index.ts';

export const METADATA = fileURLToPath(new URL('../../metadata', import.meta.url));

export interface Stack {
  data: DataSubgraph;
  gateway: Gateway;
  /** SQL statements sent since the last reset. */
  statements: string[];
  query<T = Record<string, unknown>>(query: string, variables?: Record<string, unknown>): Promise<T>;
  raw: typeof gql;
  close(): Promise<void>;
}

/** Data subgraph on the given engine plus the gateway in front of it, both in process. */
export async function startStack(engine: Engine, options: { seed?: boolean; metadata?: string } = {}): Promise<Stack> {
  const handle: EngineHandle = await engine.open();
  const statements: string[] = [];
  const data = await createDataSubgraph({
    metadata: options.metadata ?? METADATA,
    ...handle.options,
    seed: options.seed ?? false,
    secret: TEST_SECRET,
    seedOrganizationId: TEST_ORG,
    onQuery: (sql) => statements.push(sql),
    // Statements are counted per request: the outbox relay publishes after writes (drain it before
    // counting) and its periodic sweep would land in any window, so it is made rare here.
    outboxSweepMs: 3_600_000,
  });
  await data.relay.drain();
  const gateway = await createGateway({ subgraphs: [{ name: 'data', url: 'http://data.test/graphql', sdl: data.sdl, fetch: data.fetch, ...(data.readCompiled ? { readCompiled: data.readCompiled } : {}) }], auth: testAuth() });
  return {
    data,
    gateway,
    statements,
    query: (q, v) => gqlOk(gateway.fetch, q, v),
    raw: (target, q, v) => gql(target, q, v),
    async close() {
      await data.dispose();
      await handle.cleanup();
    },
  };
}
