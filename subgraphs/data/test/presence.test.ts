import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createChannel } from '@objectos/events';
import { parseMetadata } from '@objectos/metadata';
import { createTestDatabase, gqlOk, services, signedFetch, subscribeSse, TEST_ORG, TEST_SECRET, testPrincipal, type TestDatabase } from '@objectos/testkit';
import { createDataSubgraph } from '../src/index.ts';
import type { PresenceMessage } from '../src/presence/presence-hub.ts';

const METADATA = parseMetadata([{ file: 'thing.object.yaml', text: 'name: thing\nfields:\n  title: { type: text, required: true }\n' }]);
const U1 = '00000000-0000-4000-8000-0000000000b1';
const U2 = '00000000-0000-4000-8000-0000000000b2';
const WATCH = 'subscription($id: ID!) { presence(object: "thing", id: $id) { viewers { userId status } } }';
type Viewers = { presence: { viewers: { userId: string; status: string }[] } };

const waitFor = async (what: () => boolean, ms = 10_000) => {
  for (const end = Date.now() + ms; !what(); ) {
    if (Date.now() > end) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 20));
  }
};

/**
 * Presence across data replicas (issue #20 point 4): replicas gossip their viewers over Redis pub/sub; a
 * viewer on one replica sees viewers on the other, statuses set on either reach both, and a replica that
 * dies without a word is forgotten after 3 heartbeats.
 */
describe.skipIf(!services.postgres || !services.redis)('presence between data replicas (PostgreSQL + Redis)', () => {
  let db: TestDatabase;
  beforeAll(async () => {
    db = await createTestDatabase();
  });
  afterAll(() => db?.drop());

  it('shows each replica\'s viewers on the other, carries statuses, and drops a dead replica\'s viewers', async () => {
    const name = `objectos:test-presence:${process.pid}:${Date.now()}`;
    const channels = [createChannel<PresenceMessage>(name, services.redis!), createChannel<PresenceMessage>(name, services.redis!)];
    await Promise.all(channels.map((c) => c.ready));
    const [a, b] = [
      await createDataSubgraph({ secret: TEST_SECRET, metadata: METADATA, databaseUrl: db.url, presenceChannel: channels[0]!, presenceHeartbeatMs: 200 }),
      await createDataSubgraph({ secret: TEST_SECRET, metadata: METADATA, databaseUrl: db.url, presenceChannel: channels[1]!, presenceHeartbeatMs: 200 }),
    ];
    const streams: { close(): void }[] = [];
    try {
      const { createThing: t } = await gqlOk<{ createThing: { id: string } }>(signedFetch(a!.fetch), 'mutation { createThing(input: { title: "watched" }) { id } }');
      const last = (s: { results: { data?: Viewers | null }[] }) => JSON.stringify(s.results.at(-1)?.data?.presence.viewers.map((v) => [v.userId, v.status]) ?? []);
      const onA = await subscribeSse<Viewers>(signedFetch(a!.fetch, testPrincipal(TEST_ORG, U1)), WATCH, { id: t.id });
      streams.push(onA);
      await waitFor(() => last(onA) === JSON.stringify([[U1, 'ONLINE']]));
      const onB = await subscribeSse<Viewers>(signedFetch(b!.fetch, testPrincipal(TEST_ORG, U2)), WATCH, { id: t.id });
      streams.push(onB);
      const both = JSON.stringify([[U1, 'ONLINE'], [U2, 'ONLINE']]);
      await waitFor(() => last(onA) === both && last(onB) === both);

      // U1 (viewing on replica a) goes away through replica b: both replicas' viewers are told.
      await gqlOk(signedFetch(b!.fetch, testPrincipal(TEST_ORG, U1)), 'mutation($id: ID!) { setPresence(object: "thing", id: $id, status: AWAY) }', { id: t.id });
      const away = JSON.stringify([[U1, 'AWAY'], [U2, 'ONLINE']]);
      await waitFor(() => last(onA) === away && last(onB) === away);

      // Replica b dies without a word (its channel gone first, so it cannot say goodbye): after 3
      // heartbeats (600 ms here) replica a's viewers no longer see U2.
      await channels[1]!.close();
      const died = Date.now();
      await waitFor(() => last(onA) === JSON.stringify([[U1, 'AWAY']]), 5_000);
      expect(Date.now() - died).toBeGreaterThanOrEqual(400);
      expect(a!.presence.size()).toBe(1);
    } finally {
      for (const s of streams) s.close();
      await a!.dispose();
      await b!.dispose();
      await channels[0]!.close();
    }
  }, 60_000);
});
