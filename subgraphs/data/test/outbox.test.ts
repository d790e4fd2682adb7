import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { queryRows } from '@objectos/db';
import { createChangeFeed, type ChangeEvent, type ChangeFeed } from '@objectos/events';
import { parseMetadata } from '@objectos/metadata';
import { createTestDatabase, engines, gql, gqlOk, services, signedFetch, subscribeSse, TEST_ORG, TEST_SECRET, testPrincipal, type EngineHandle, type TestDatabase } from '@objectos/testkit';
import { createDataSubgraph, type DataSubgraph } from '../src/index.ts';

const METADATA = parseMetadata([{ file: 'thing.object.yaml', text: 'name: thing\nfields:\n  title: { type: text, required: true }\n  code: { type: text, unique: true }\n  size: { type: number }\n' }]);

const FAMILY = parseMetadata([
  { file: 'folder.object.yaml', text: 'name: folder\nsharingModel: private\nfields:\n  title: { type: text }\n' },
  { file: 'doc.object.yaml', text: 'name: doc\nsharingModel: controlled_by_parent\nfields:\n  title: { type: text }\n  folder: { type: master_detail, reference: folder }\n' },
  { file: 'page.object.yaml', text: 'name: page\nsharingModel: controlled_by_parent\nfields:\n  title: { type: text }\n  doc: { type: master_detail, reference: doc }\n' },
  { file: 'note.object.yaml', text: 'name: note\nfields:\n  title: { type: text }\n  folder: { type: lookup, reference: folder }\n' },
]);

/** A change feed whose publish fails while `failing()` says so (Redis down, a crash before publishing). */
function flakyFeed(inner: ChangeFeed, failing: () => boolean): ChangeFeed {
  return { ...inner, publish: async (e) => (failing() ? Promise.reject(new Error('feed unavailable')) : inner.publish(e)) };
}

const waitFor = async (what: () => boolean, ms = 10_000) => {
  const deadline = Date.now() + ms;
  while (!what()) {
    if (Date.now() > deadline) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 20));
  }
};

describe.each(engines())('the change outbox on $name', (engine) => {
  let handle: EngineHandle;
  beforeAll(async () => {
    handle = await engine.open({ persistent: true });
  });
  afterAll(() => handle?.cleanup());

  const outbox = (s: DataSubgraph) =>
    queryRows<{ op: string; record_id: string; published: boolean; changed_fields: string[] }>(s.database.db,
      sql`select op, record_id, published_at is not null as published, changed_fields from events.outbox order by id`);

  it('writes one outbox row with each committed change and none with a refused or empty one', async () => {
    const s = await createDataSubgraph({ secret: TEST_SECRET, metadata: METADATA, ...handle.options });
    try {
      await queryRows(s.database.db, sql`delete from events.outbox`);
      const q = signedFetch(s.fetch);
      const { createThing: t } = await gqlOk<{ createThing: { id: string } }>(q, 'mutation { createThing(input: { title: "one", code: "A" }) { id } }');
      // Refused inside the transaction (unique), refused before it (validation), changing nothing: no rows.
      expect((await gql(q, 'mutation { createThing(input: { title: "two", code: "A" }) { id } }')).errors?.[0]?.extensions?.['code']).toBe('CONFLICT');
      expect((await gql(q, 'mutation { createThing(input: { title: "" }) { id } }')).errors?.[0]?.extensions?.['code']).toBe('BAD_USER_INPUT');
      await gqlOk(q, 'mutation($id: ID!) { updateThing(id: $id, input: { title: "one" }) { id } }', { id: t.id });
      await gqlOk(q, 'mutation($id: ID!) { updateThing(id: $id, input: { size: 3 }) { id } }', { id: t.id });
      await gqlOk(q, 'mutation($id: ID!) { deleteThing(id: $id) { id } }', { id: t.id });
      await s.relay.drain();
      const rows = await outbox(s);
      expect(rows.map((r) => [r.op, r.record_id])).toEqual([['create', t.id], ['update', t.id], ['delete', t.id]]);
      expect(rows[1]!.changed_fields).toEqual(['size']);
      expect(rows.every((r) => r.published)).toBe(true);
    } finally {
      await s.dispose();
    }
  });

  it('gives every record the database deletes or changes with a delete its own event (cascade at any depth, set_null)', async () => {
    const s = await createDataSubgraph({ secret: TEST_SECRET, metadata: FAMILY, ...handle.options });
    try {
      const q = signedFetch(s.fetch);
      const { f } = await gqlOk<{ f: { id: string } }>(q, 'mutation { f: createFolder(input: { title: "F" }) { id } }');
      const { d } = await gqlOk<{ d: { id: string } }>(q, 'mutation($f: ID!) { d: createDoc(input: { title: "D", folderId: $f }) { id } }', { f: f.id });
      const { p1, p2 } = await gqlOk<{ p1: { id: string }; p2: { id: string } }>(q, 'mutation($d: ID!) { p1: createPage(input: { title: "P1", docId: $d }) { id } p2: createPage(input: { title: "P2", docId: $d }) { id } }', { d: d.id });
      const { n } = await gqlOk<{ n: { id: string } }>(q, 'mutation($f: ID!) { n: createNote(input: { title: "N", folderId: $f }) { id } }', { f: f.id });
      await queryRows(s.database.db, sql`delete from events.outbox`);
      await gqlOk(q, 'mutation($id: ID!) { deleteFolder(id: $id) { id } }', { id: f.id });
      const rows = await queryRows<{ object: string; op: string; record_id: string; changed_fields: string[]; record: Record<string, unknown> | null }>(s.database.db,
        sql`select object, op, record_id, changed_fields, record from events.outbox order by id`);
      expect(rows.map((r) => [r.object, r.op, r.record_id])).toEqual([
        // Parents first; records of one object in id order.
        ['folder', 'delete', f.id], ['doc', 'delete', d.id], ...[p1.id, p2.id].sort().map((id) => ['page', 'delete', id]), ['note', 'update', n.id],
      ]);
      expect(rows[4]).toMatchObject({ changed_fields: ['folderId'], record: expect.objectContaining({ folderId: null, title: 'N', version: 2 }) });
      // The database did the same: pages and doc gone, the note kept without its folder (a change: version 2).
      const left = await gqlOk<{ pages: { totalCount: number }; note: { folderId: string | null; version: number } }>(q, '{ pages { totalCount } note(id: "' + n.id + '") { folderId version } }');
      expect(left).toEqual({ pages: { totalCount: 0 }, note: { folderId: null, version: 2 } });
    } finally {
      await s.dispose();
    }
  });

  it('decides who hears of a cascaded delete with the deleted parents as they were (access through the parent)', async () => {
    const s = await createDataSubgraph({ secret: TEST_SECRET, metadata: FAMILY, ...handle.options });
    // Members (built-in profile, private folders): a member reads docs and pages through the folders they own.
    const member = (id: string) => ({ ...testPrincipal(TEST_ORG, id), roles: ['member'] });
    const [mia, max] = [member('mia-' + Date.now()), member('max-' + Date.now())];
    const subs = [];
    try {
      const q = signedFetch(s.fetch, mia);
      const { f } = await gqlOk<{ f: { id: string } }>(q, 'mutation { f: createFolder(input: { title: "Mine" }) { id } }');
      const { d } = await gqlOk<{ d: { id: string } }>(q, 'mutation($f: ID!) { d: createDoc(input: { title: "D", folderId: $f }) { id } }', { f: f.id });
      const { pg } = await gqlOk<{ pg: { id: string } }>(q, 'mutation($d: ID!) { pg: createPage(input: { title: "P", docId: $d }) { id } }', { d: d.id });
      await s.relay.drain();
      for (const [who, query] of [[mia, 'subscription { docChanged { op previous { id title } } }'], [mia, 'subscription { pageChanged { op previous { id } } }'], [max, 'subscription { pageChanged { op previous { id } } }']] as const) {
        const before = s.hub.size();
        subs.push(await subscribeSse<{ docChanged?: { op: string; previous: { id: string } }; pageChanged?: { op: string; previous: { id: string } } }>(signedFetch(s.fetch, who), query));
        while (s.hub.size() === before) await new Promise((r) => setTimeout(r, 10));
      }
      await gqlOk(q, 'mutation($id: ID!) { deleteFolder(id: $id) { id } }', { id: f.id });
      await s.relay.drain();
      const [docs, pages, others] = subs;
      expect((await docs!.until(1)).map((r) => [r.data?.docChanged?.op, r.data?.docChanged?.previous.id])).toEqual([['DELETED', d.id]]);
      // Two levels down: the page is reached through its deleted doc and that doc's deleted folder.
      expect((await pages!.until(1)).map((r) => [r.data?.pageChanged?.op, r.data?.pageChanged?.previous.id])).toEqual([['DELETED', pg.id]]);
      // Another member never could read them, and is not told.
      expect(await others!.settle(300)).toEqual([]);
    } finally {
      subs.forEach((x) => x.close());
      await s.dispose();
    }
  });

  it('clears several references of one record in one event', async () => {
    const DOUBLE = parseMetadata([
      { file: 'shelf.object.yaml', text: 'name: shelf\nfields:\n  title: { type: text }\n' },
      { file: 'book.object.yaml', text: 'name: book\nfields:\n  title: { type: text }\n  home: { type: lookup, reference: shelf }\n  backup: { type: lookup, reference: shelf, relationshipName: backup_books }\n' },
    ]);
    const s = await createDataSubgraph({ secret: TEST_SECRET, metadata: DOUBLE, ...handle.options });
    try {
      const q = signedFetch(s.fetch);
      const { sh } = await gqlOk<{ sh: { id: string } }>(q, 'mutation { sh: createShelf(input: { title: "S" }) { id } }');
      const { b } = await gqlOk<{ b: { id: string } }>(q, 'mutation($s: ID!) { b: createBook(input: { title: "B", homeId: $s, backupId: $s }) { id } }', { s: sh.id });
      await queryRows(s.database.db, sql`delete from events.outbox`);
      await gqlOk(q, 'mutation($id: ID!) { deleteShelf(id: $id) { id } }', { id: sh.id });
      const rows = await queryRows<{ object: string; op: string; changed_fields: string[]; record: Record<string, unknown> | null }>(s.database.db,
        sql`select object, op, changed_fields, record from events.outbox where object = 'book' order by id`);
      expect(rows).toHaveLength(1);
      expect(rows[0]).toMatchObject({ op: 'update', changed_fields: ['homeId', 'backupId'], record: expect.objectContaining({ id: b.id, homeId: null, backupId: null }) });
    } finally {
      await s.dispose();
    }
  });

  it('publishes a change whose publish failed at the next sweep, once', async () => {
    const feed = createChangeFeed();
    const seen: ChangeEvent[] = [];
    feed.subscribe((e) => seen.push(e));
    let failures = 2;
    const s = await createDataSubgraph({ secret: TEST_SECRET, metadata: METADATA, ...handle.options, changeFeed: flakyFeed(feed, () => failures-- > 0), outboxSweepMs: 100 });
    try {
      await s.relay.drain();
      seen.length = 0;
      failures = 1;
      const { createThing: t } = await gqlOk<{ createThing: { id: string } }>(signedFetch(s.fetch), 'mutation { createThing(input: { title: "retried" }) { id } }');
      await waitFor(() => seen.length > 0);
      await new Promise((r) => setTimeout(r, 400)); // several more sweeps
      expect(seen.map((e) => [e.op, e.recordId, e.organizationId, e.record?.['title']])).toEqual([['create', t.id, TEST_ORG, 'retried']]);
      expect((await outbox(s)).filter((r) => !r.published)).toEqual([]);
    } finally {
      await s.dispose();
      await feed.close();
    }
  });

  it('publishes, at the next start, the changes a process committed but died before publishing', async () => {
    const dead = createChangeFeed();
    const s1 = await createDataSubgraph({ secret: TEST_SECRET, metadata: METADATA, ...handle.options, changeFeed: flakyFeed(dead, () => true), outboxSweepMs: 3_600_000 });
    const ids: string[] = [];
    for (const title of ['a', 'b', 'c']) ids.push((await gqlOk<{ createThing: { id: string } }>(signedFetch(s1.fetch), `mutation { createThing(input: { title: "${title}" }) { id } }`)).createThing.id);
    await gqlOk(signedFetch(s1.fetch), 'mutation($id: ID!) { deleteThing(id: $id) { id } }', { id: ids[0] });
    await s1.dispose();
    await dead.close();

    const feed = createChangeFeed();
    const seen: ChangeEvent[] = [];
    feed.subscribe((e) => seen.push(e));
    const s2 = await createDataSubgraph({ secret: TEST_SECRET, metadata: METADATA, ...handle.options, changeFeed: feed });
    try {
      await s2.relay.drain();
      const mine = seen.filter((e) => ids.includes(e.recordId));
      expect(mine.map((e) => [e.op, e.recordId])).toEqual([['create', ids[0]], ['create', ids[1]], ['create', ids[2]], ['delete', ids[0]]]);
      expect(new Set(mine.map((e) => e.id)).size).toBe(4);
      expect((await outbox(s2)).filter((r) => !r.published)).toEqual([]);
    } finally {
      await s2.dispose();
      await feed.close();
    }
  });
});

describe.skipIf(!services.postgres || !services.redis)('change events between data replicas (PostgreSQL + Redis)', () => {
  let db: TestDatabase;
  beforeAll(async () => {
    db = await createTestDatabase();
  });
  afterAll(() => db?.drop());

  it('a change committed on one replica reaches the subscriptions of the other, once', async () => {
    const channel = `objectos:test-changes:${process.pid}:${Date.now()}`;
    const feeds = [createChangeFeed(services.redis!, channel), createChangeFeed(services.redis!, channel)];
    await Promise.all(feeds.map((f) => f.ready));
    const [a, b] = [
      await createDataSubgraph({ secret: TEST_SECRET, metadata: METADATA, databaseUrl: db.url, changeFeed: feeds[0]! }),
      await createDataSubgraph({ secret: TEST_SECRET, metadata: METADATA, databaseUrl: db.url, changeFeed: feeds[1]! }),
    ];
    try {
      const onB: ChangeEvent[] = [];
      const onA: ChangeEvent[] = [];
      const offB = b!.hub.listen(TEST_ORG, 'thing', (e) => onB.push(e));
      const offA = a!.hub.listen(TEST_ORG, 'thing', (e) => onA.push(e));
      const { createThing: t } = await gqlOk<{ createThing: { id: string } }>(signedFetch(a!.fetch), 'mutation { createThing(input: { title: "cross" }) { id } }');
      await waitFor(() => onB.length > 0 && onA.length > 0);
      await new Promise((r) => setTimeout(r, 1_500)); // both relays swept at least once more
      expect(onB.map((e) => [e.op, e.recordId])).toEqual([['create', t.id]]);
      expect(onA.map((e) => e.id)).toEqual(onB.map((e) => e.id));
      offA();
      offB();
    } finally {
      await a!.dispose();
      await b!.dispose();
      await Promise.all(feeds.map((f) => f.close()));
    }
  });

  it('a replay on one replica while both write and publish: every event after the cursor once, in published order', async () => {
    const channel = `objectos:test-changes:${process.pid}:${Date.now()}:replay`;
    const feeds = [createChangeFeed(services.redis!, channel), createChangeFeed(services.redis!, channel)];
    await Promise.all(feeds.map((f) => f.ready));
    const [a, b] = [
      await createDataSubgraph({ secret: TEST_SECRET, metadata: METADATA, databaseUrl: db.url, changeFeed: feeds[0]!, outboxSweepMs: 50 }),
      await createDataSubgraph({ secret: TEST_SECRET, metadata: METADATA, databaseUrl: db.url, changeFeed: feeds[1]!, outboxSweepMs: 50 }),
    ];
    const write = (s: DataSubgraph, title: string) => gqlOk(signedFetch(s.fetch), 'mutation($t: String!) { createThing(input: { title: $t }) { id } }', { t: title });
    const query = 'subscription($after: ID) { thingChanged(after: $after) { eventId record { title } } }';
    try {
      const first = await subscribeSse<{ thingChanged: { eventId: string } }>(signedFetch(b!.fetch), query);
      await waitFor(() => b!.hub.size() === 1);
      await write(a!, 'cursor');
      const cursor = (await first.until(1))[0]!.data!.thingChanged.eventId;
      first.close();
      for (let i = 0; i < 20; i++) await write(i % 2 ? a! : b!, `missed ${i}`);
      // Both replicas write (and publish, one at a time) while the subscriber replays and joins.
      let writing = true;
      const writers = [a!, b!].map(async (s, k) => {
        for (let i = 0; writing && i < 30; i++) await write(s, `during ${k}.${i}`);
      });
      const back = await subscribeSse<{ thingChanged: { eventId: string } }>(signedFetch(b!.fetch), query, { after: cursor });
      await back.until(25, 20_000);
      writing = false;
      await Promise.all(writers);
      for (let t = 0; t < 200 && (await queryRows(a!.database.db, sql`select 1 from events.outbox where published_at is null`)).length > 0; t++) await new Promise((r) => setTimeout(r, 50));
      const expected = (await queryRows<{ id: string }>(a!.database.db, sql`select o.id::text as id from events.outbox o, events.outbox c
        where c.id = ${cursor}::bigint and o.object = 'thing' and o.published_seq > c.published_seq order by o.published_seq`)).map((r) => r.id);
      await back.until(expected.length, 20_000);
      await back.settle(500);
      expect(back.results.map((r) => r.data!.thingChanged.eventId)).toEqual(expected);
      back.close();
    } finally {
      await a!.dispose();
      await b!.dispose();
      await Promise.all(feeds.map((f) => f.close()));
    }
  }, 60_000);
});
