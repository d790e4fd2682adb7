import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createClient } from 'graphql-ws';
import WebSocket from 'ws';
import { createTestDatabase, freePort, gqlOk, services, signIn, spawnTs, TEST_SECRET, withHeaders, type Spawned, type TestDatabase } from '@objectos/testkit';

const running: Spawned[] = [];
const spawn = (entry: string, env: Record<string, string | undefined>) => {
  const p = spawnTs(entry, { NODE_ENV: 'development', OBJECTOS_SECRET: TEST_SECRET, ...env });
  running.push(p);
  return p;
};
afterAll(async () => {
  await Promise.all(running.map((p) => p.kill('SIGKILL')));
});

/**
 * The services topology as separate processes: one identity subgraph, two data replicas and two
 * gateways (each gateway in front of its own data replica), sharing PostgreSQL and Redis. A change
 * written through one gateway reaches a WebSocket subscriber of the other; a sign-out on one closes
 * the user's sockets on the other.
 */
describe.skipIf(!services.postgres || !services.redis)('realtime across processes (PostgreSQL + Redis)', () => {
  let db: TestDatabase;
  beforeAll(async () => {
    db = await createTestDatabase();
  });
  afterAll(() => db?.drop());

  it('delivers a change made through one gateway to a subscriber of another, and a sign-out there closes the socket', async () => {
    const [idPort, data1, data2, gw1, gw2] = await Promise.all([freePort(), freePort(), freePort(), freePort(), freePort()]);
    const shared = { DATABASE_URL: db.url, REDIS_URL: services.redis! };
    const identity = spawn('subgraphs/identity/src/main.ts', { ...shared, PORT: String(idPort), OBJECTOS_SEED: 'true', OBJECTOS_PUBLIC_URL: `http://127.0.0.1:${gw1}` });
    const [, email, password] = await identity.waitFor(/demo admin: (\S+) \/ (\S+) \(organization (\S+)\)/, 60_000);
    await identity.waitFor(/identity subgraph listening on/, 60_000);
    const dataA = spawn('subgraphs/data/src/main.ts', { ...shared, PORT: String(data1) });
    await dataA.waitFor(/data subgraph listening on/, 60_000);
    const dataB = spawn('subgraphs/data/src/main.ts', { ...shared, PORT: String(data2) });
    await dataB.waitFor(/data subgraph listening on/, 60_000);
    const gateway = (port: number, dataPort: number) =>
      spawn('gateway/src/main.ts', { ...shared, PORT: String(port), OBJECTOS_SUBGRAPHS: `identity=http://127.0.0.1:${idPort}/graphql,data=http://127.0.0.1:${dataPort}/graphql` });
    const [g1, g2] = [gateway(gw1, data1), gateway(gw2, data2)];
    await Promise.all([g1.waitFor(/GraphQL endpoint:/, 60_000), g2.waitFor(/GraphQL endpoint:/, 60_000)]);

    const token = await signIn(`http://127.0.0.1:${gw1}/graphql`, email!, password!);
    let closed: { code: number; reason: string; at: number } | null = null;
    const client = createClient({
      url: `ws://127.0.0.1:${gw2}/graphql`, webSocketImpl: WebSocket, retryAttempts: 0,
      connectionParams: { authorization: `Bearer ${token}` },
      on: { closed: (e) => (closed = { code: (e as { code: number }).code, reason: String((e as { reason?: unknown }).reason), at: Date.now() }) },
    });
    const events: { op: string; name: string }[] = [];
    let ended: unknown = null;
    client.subscribe<{ accountChanged: { op: string; record: { name: string } } }>(
      { query: 'subscription { accountChanged(operations: [CREATED]) { op record { name } } }' },
      { next: (r) => r.data && events.push({ op: r.data.accountChanged.op, name: r.data.accountChanged.record.name }), error: (e) => (ended = e), complete: () => {} },
    );
    const endpoint1 = withHeaders(`http://127.0.0.1:${gw1}/graphql`, { authorization: `Bearer ${token}` });
    // The subscription is live once a change made after it arrives; retry the write until then (bounded).
    const deadline = Date.now() + 20_000;
    for (let i = 0; events.length === 0 && Date.now() < deadline; i++) {
      await gqlOk(endpoint1, 'mutation($n: String!) { createAccount(input: { name: $n }) { id } }', { n: `Across ${i}` });
      await new Promise((r) => setTimeout(r, 500));
    }
    expect(ended).toBeNull();
    expect(events[0]).toMatchObject({ op: 'CREATED', name: expect.stringMatching(/^Across \d+$/) });

    // Sign out through gateway 1: the auth event crosses Redis and gateway 2 closes the socket.
    const signedOutAt = Date.now();
    const out = await fetch(`http://127.0.0.1:${gw1}/api/auth/sign-out`, {
      method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json', origin: `http://127.0.0.1:${gw1}` }, body: '{}',
    });
    expect(out.status).toBe(200);
    const until = Date.now() + 10_000;
    while (!closed && Date.now() < until) await new Promise((r) => setTimeout(r, 50));
    expect(closed).toMatchObject({ code: 4403 });
    expect(closed!.at - signedOutAt).toBeLessThan(5_000);
    await client.dispose();
  }, 240_000);
});
