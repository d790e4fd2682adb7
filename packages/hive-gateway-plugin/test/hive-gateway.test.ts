import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createServerAdapter } from '@whatwg-node/server';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDataSubgraph, type DataSubgraph } from '@objectos/data-subgraph';
import { connectDatabase, type Database } from '@objectos/db';
import { createMemoryEventBus } from '@objectos/events';
import { createGateway, type Gateway } from '@objectos/gateway';
import { createIdentitySubgraph, type IdentitySubgraph } from '@objectos/identity-subgraph';
import { remotePrincipalResolver } from '@objectos/principal';
import { composeSupergraph } from '@objectos/schema';
import { engines, freePort, gql, REPO_ROOT, signIn, spawnTs, TEST_SECRET, withHeaders, type EngineHandle, type Spawned } from '@objectos/testkit';

const PLUGIN = fileURLToPath(new URL('../src/index.ts', import.meta.url));
const HIVE_BIN = fileURLToPath(new URL('../node_modules/@graphql-hive/gateway/dist/bin.js', import.meta.url));

const listen = async (server: Server): Promise<string> => {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return `http://127.0.0.1:${(server.address() as { port: number }).port}`;
};

/**
 * ObjectOS's identity and data subgraphs over HTTP, behind two routers: ObjectOS's own gateway and Hive
 * Gateway's CLI with the `useObjectOS` plugin, over the same supergraph. A set of operations (records,
 * relations, identity, a refused field, a write, an unauthenticated call) must answer the same.
 */
describe('ObjectOS subgraphs behind Hive Gateway (its CLI, with the signing plugin)', () => {
  let handle: EngineHandle;
  let database: Database;
  let identity: IdentitySubgraph;
  let data: DataSubgraph;
  const servers: Server[] = [];
  let dir: string;
  let hive: Spawned;
  let hiveUrl: string;
  let ours: Gateway;
  let token: string;
  beforeAll(async () => {
    handle = await engines()[0]!.open();
    database = await connectDatabase(handle.options);
    identity = await createIdentitySubgraph({ database, secret: TEST_SECRET, baseURL: 'http://127.0.0.1', bus: createMemoryEventBus(), seedDemo: true });
    data = await createDataSubgraph({ metadata: join(REPO_ROOT, 'metadata'), database, secret: TEST_SECRET, seed: true, seedOrganizationId: identity.demo!.organizationId });
    const identityServer = createServer(createServerAdapter(identity.fetch));
    const dataServer = createServer(data.yoga);
    servers.push(identityServer, dataServer);
    const [identityOrigin, dataOrigin] = [await listen(identityServer), await listen(dataServer)];
    const subgraphs = [
      { name: 'identity', url: `${identityOrigin}/graphql`, sdl: identity.sdl },
      { name: 'data', url: `${dataOrigin}/graphql`, sdl: data.sdl },
    ];
    dir = await mkdtemp(join(tmpdir(), 'objectos-hive-'));
    await writeFile(join(dir, 'supergraph.graphql'), composeSupergraph(subgraphs));
    await writeFile(join(dir, 'gateway.config.ts'), [
      `import { defineConfig } from '@graphql-hive/gateway';`,
      `import { useObjectOS } from ${JSON.stringify(PLUGIN)};`,
      `export const gatewayConfig = defineConfig({`,
      `  plugins: () => [useObjectOS({ secret: process.env.OBJECTOS_SECRET!, identityUrl: ${JSON.stringify(identityOrigin)} })],`,
      `});`,
    ].join('\n'));
    const port = await freePort();
    hive = spawnTs(HIVE_BIN, { OBJECTOS_SECRET: TEST_SECRET, NODE_ENV: 'production' }, ['supergraph', join(dir, 'supergraph.graphql'), '--port', String(port), '--host', '127.0.0.1', '--config-path', join(dir, 'gateway.config.ts')]);
    await hive.waitFor(/Listening on|Serving|started/i, 60_000);
    hiveUrl = `http://127.0.0.1:${port}/graphql`;
    ours = await createGateway({
      subgraphs: subgraphs.map(({ name, url }) => ({ name, url })),
      auth: { secret: TEST_SECRET, resolve: remotePrincipalResolver({ fetch: (r) => fetch(r), baseUrl: identityOrigin }, TEST_SECRET), identity: { fetch: (r) => fetch(r), baseUrl: identityOrigin } },
      pollMs: 0,
    });
    const demo = identity.demo!;
    // Sign-in stays with ObjectOS's gateway (its /api/auth routes); the token works on both routers.
    token = await signIn(ours.fetch, demo.email, demo.password!);
  }, 180_000);
  afterAll(async () => {
    await hive?.kill();
    await ours?.dispose();
    for (const s of servers) await new Promise<void>((resolve) => s.close(() => resolve()));
    await data?.dispose();
    await identity?.dispose();
    await database?.close();
    await handle?.cleanup();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  const both = async (query: string, variables: Record<string, unknown> = {}, credentials = true) => {
    const headers: Record<string, string> = credentials ? { authorization: `Bearer ${token}` } : {};
    const [a, b] = await Promise.all([gql(withHeaders(ours.fetch, headers), query, variables), gql(withHeaders(hiveUrl, headers), query, variables)]);
    return { ours: a, hive: b };
  };

  it('answers the same reads across both subgraphs', async () => {
    for (const query of [
      '{ me { email } activeOrganization { name slug } }',
      '{ accounts(first: 5, orderBy: [{ field: NAME }]) { totalCount nodes { name industry contacts(orderBy: [{ field: LAST_NAME }]) { lastName account { name } } } } }',
      '{ opportunities(first: 3, orderBy: [{ field: NAME }]) { nodes { name stage amount account { name industry } primaryContact { email } } } }',
      '{ cases(first: 2, orderBy: [{ field: SUBJECT }]) { nodes { subject priority contact { email } } } }',
    ]) {
      const r = await both(query);
      expect(r.hive.errors, query).toBeUndefined();
      expect(r.hive, query).toEqual(r.ours);
    }
  });

  it('writes through the plugin as the signed-in user, and the data subgraph enforces the rest', async () => {
    const created = await gql<{ createAccount: { id: string; name: string } }>(withHeaders(hiveUrl, { authorization: `Bearer ${token}` }),
      'mutation { createAccount(input: { name: "Via Hive", industry: technology }) { id name } }');
    expect(created.errors).toBeUndefined();
    // Written in the caller's organization (from the signed principal): ObjectOS's gateway reads it back for the same user.
    const read = await both('query($id: ID!) { account(id: $id) { name industry } }', { id: created.data!.createAccount.id });
    expect(read.hive).toEqual({ data: { account: { name: 'Via Hive', industry: 'technology' } } });
    expect(read.hive).toEqual(read.ours);
    // Bad input is refused by the data subgraph with the same code either way.
    const bad = await both('mutation { createAccount(input: { name: "X", employees: -3 }) { id } }');
    expect(bad.hive.errors?.[0]?.extensions?.['code']).toBe('BAD_USER_INPUT');
    expect(bad.ours.errors?.[0]?.extensions?.['code']).toBe('BAD_USER_INPUT');
  });

  it('refuses unauthenticated and badly authenticated calls, as ObjectOS does', async () => {
    const none = await both('{ accounts { totalCount } }', {}, false);
    expect(none.hive.errors?.[0]?.extensions?.['code']).toBe('UNAUTHENTICATED');
    expect(none.ours.errors?.[0]?.extensions?.['code']).toBe('UNAUTHENTICATED');
    const forged = await gql(withHeaders(hiveUrl, { authorization: 'Bearer not-a-session' }), '{ accounts { totalCount } }');
    expect(forged.errors?.[0]?.extensions?.['code']).toBe('UNAUTHENTICATED');
    expect(forged.data ?? null).toBeNull();
  });
});
