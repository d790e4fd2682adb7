import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pruneOutbox } from '@objectos/data-subgraph';
import { queryRows } from '@objectos/db';
import { engines, until } from '@objectos/testkit';
import { collect, startRealtimeStack, type RealtimeStack } from './realtime-stack.ts';

interface Change { eventId: string; op: string; record: { name: string } | null; previous: { name: string } | null }
type Headers = { headers: Record<string, string> };

const SUB = 'subscription($after: ID, $where: AccountWhere) { accountChanged(after: $after, where: $where) { eventId op record { name } previous { name } } }';

/**
 * Issue #20 point 2: `accountChanged(after: eventId)` replays the events published since that one from the
 * outbox, each checked for this subscriber as a live event is, then goes live with no gap and no repeat.
 * A cursor retention has removed is refused, naming the oldest event still available.
 */
describe.each(engines())('subscription replay from a cursor on $name', (engine) => {
  let s: RealtimeStack;
  let owner: Headers;
  let member: Headers;
  let outsider: Headers;

  const changesOf = (r: { data?: unknown }) => (r.data as { accountChanged: Change }).accountChanged;
  const open = (who: Headers, variables: Record<string, unknown> = {}) => collect<{ accountChanged: Change }>(s.client({ authorization: who.headers['authorization']! }), SUB, variables);
  const create = async (who: Headers, name: string) => {
    const r = await s.q<{ createAccount: { id: string } }>(who.headers, `mutation($n: String!) { createAccount(input: { name: $n }) { id } }`, { n: name });
    expect(r.errors, `create ${name}`).toBeUndefined();
    return r.data!.createAccount.id;
  };
  /** Ends a subscription and waits until the data subgraph has let it go (the next one counted is a new one). */
  const end = async (op: { stop: () => void }) => {
    op.stop();
    await until(async () => s.data.hub.size(), (n) => n === 0);
  };
  /** The published events of this organization's accounts after `eventId`, in published order (what a replay must cover). */
  const publishedAfter = async (eventId: string) => {
    await s.settle();
    const rows = await queryRows<{ id: string }>(s.data.database.db, sql`select o.id::text as id from events.outbox o, events.outbox c
      where c.id = ${eventId}::bigint and o.organization_id = c.organization_id and o.object = 'account' and o.published_seq > c.published_seq order by o.published_seq`);
    return rows.map((r) => r.id);
  };

  beforeAll(async () => {
    s = await startRealtimeStack(engine);
    owner = await s.user('owner@replay.test', 'Replayco');
    const org = (await s.q<{ activeOrganization: { id: string } }>(owner.headers, '{ activeOrganization { id } }')).data!.activeOrganization.id;
    member = await s.member('member@replay.test', org);
    outsider = await s.user('outsider@replay.test', 'Elsewhere');
  });
  afterAll(() => s?.close());

  it('replays what the subscriber missed and may see, then goes live, each event once', async () => {
    const first = open(member);
    await until(async () => s.data.hub.size(), (n) => n === 1);
    await create(member, 'Mine One');
    const [seen] = await first.until(1);
    const cursor = changesOf(seen!).eventId;
    await end(first);

    // While away: the member's own changes, the owner's private account, another organization's account.
    const two = await create(member, 'Mine Two');
    await create(owner, 'Owner Private');
    await create(outsider, 'Not Here');
    expect((await s.q(member.headers, 'mutation($id: ID!) { updateAccount(id: $id, input: { name: "Mine Two b" }) { id } }', { id: two })).errors).toBeUndefined();
    // Members may not delete accounts; the owner deletes the member's (still visible to the member as it went).
    expect((await s.q(owner.headers, 'mutation($id: ID!) { deleteAccount(id: $id) { id } }', { id: two })).errors).toBeUndefined();
    const missed = await publishedAfter(cursor);
    expect(missed, 'the owner\'s account and the member\'s three changes (not the other organization)').toHaveLength(4);

    const back = open(member, { after: cursor });
    const replayed = await back.until(3);
    expect(replayed.map((r) => [changesOf(r).op, changesOf(r).record?.name ?? null, changesOf(r).previous?.name ?? null])).toEqual([
      ['CREATED', 'Mine Two', null], ['UPDATED', 'Mine Two b', 'Mine Two'], ['DELETED', null, 'Mine Two b'],
    ]);
    // The owner's private account was replayed to nobody but those who may read it.
    const ownerView = open(owner, { after: cursor });
    expect((await ownerView.until(4)).map((r) => changesOf(r).record?.name ?? null)).toEqual(['Mine Two', 'Owner Private', 'Mine Two b', null]);
    expect(ownerView.results.map((r) => changesOf(r).eventId)).toEqual(missed);

    // Live from here: the next change, once.
    await create(member, 'Mine Three');
    await back.until(4);
    await new Promise((r) => setTimeout(r, 300));
    expect(back.results.map((r) => changesOf(r).record?.name ?? null)).toEqual(['Mine Two', 'Mine Two b', null, 'Mine Three']);
    expect(back.error).toBeNull();
    back.stop();
    await end(ownerView);
  }, 60_000);

  it('leaves no gap and repeats nothing while writes go on during the replay', async () => {
    const first = open(member);
    await until(async () => s.data.hub.size(), (n) => n === 1);
    await create(member, 'Before');
    const cursor = changesOf((await first.until(1))[0]!).eventId;
    await end(first);
    for (let i = 0; i < 40; i++) await create(member, `Missed ${i}`);
    // Writes keep coming while the subscriber replays and joins the live stream.
    let writing = true;
    let written = 0;
    const writer = (async () => {
      while (writing && written < 60) await create(member, `During ${written++}`);
    })();
    const back = open(member, { after: cursor, where: { name: { startsWith: 'Missed' } } });
    const all = open(member, { after: cursor });
    await until(async () => all.results.length, (n) => n >= 45);
    writing = false;
    await writer;
    await create(member, 'After');
    const expected = await publishedAfter(cursor);
    expect(expected).toHaveLength(40 + written + 1);
    await all.until(expected.length);
    await new Promise((r) => setTimeout(r, 300));
    expect(all.results.map((r) => changesOf(r).eventId), 'every event since the cursor, once, in published order').toEqual(expected);
    // The `where` is applied to replayed events as to live ones.
    expect(back.results.map((r) => changesOf(r).record!.name)).toEqual(Array.from({ length: 40 }, (_, i) => `Missed ${i}`));
    back.stop();
    await end(all);
  }, 120_000);

  it('delivers, after the replay, an event published while the replay\'s last page was being checked', async () => {
    const first = open(member);
    await until(async () => s.data.hub.size(), (n) => n === 1);
    await create(member, 'Cursor');
    const cursor = changesOf((await first.until(1))[0]!).eventId;
    await end(first);
    await create(member, 'Replayed');
    // Published before the subscriber comes back: else it may arrive live, the replay read nothing to check,
    // and the case below never happens.
    await s.settle();
    // The replay has read its (only) page; before it is checked, a change is committed and published: it
    // is in no page, so only the live stream can bring it.
    const hub = s.data.hub;
    const judge = hub.judge;
    let once = true;
    hub.judge = async (...args) => {
      if (once) {
        once = false;
        await create(member, 'Meanwhile');
        await s.settle();
      }
      return judge.apply(hub, args);
    };
    const back = open(member, { after: cursor });
    try {
      await back.until(2);
      await new Promise((r) => setTimeout(r, 300));
      expect(once, 'the replay checked a page').toBe(false);
      expect(back.results.map((r) => changesOf(r).record!.name)).toEqual(['Replayed', 'Meanwhile']);
    } finally {
      hub.judge = judge;
      // Ended whatever happened: a subscription left open would hold the next test's count of live ones.
      await end(back);
    }
  }, 60_000);

  it('refuses a cursor that is not an event, of another organization, or removed by retention, naming the oldest available', async () => {
    const refused = async (who: Headers, after: string) => {
      const op = open(who, { after });
      await op.until(Infinity);
      // One result: the error, no data (nothing replayed), then the subscription is over.
      expect(op.results).toHaveLength(1);
      expect(op.results[0]!.data).toBeNull();
      expect(op.results[0]!.errors?.map((e) => (e.extensions as { code?: string }).code)).toEqual(['BAD_USER_INPUT']);
      expect(op.completed).toBe(true);
      return op.results[0]!.errors![0]!.message;
    };
    expect(await refused(member, 'abc')).toMatch(/after: "abc" is not an event id/);
    const theirs = open(outsider);
    await until(async () => s.data.hub.size(), (n) => n === 1);
    await create(outsider, 'Their Own');
    const foreign = changesOf((await theirs.until(1))[0]!).eventId;
    await end(theirs);

    const first = open(member);
    await until(async () => s.data.hub.size(), (n) => n === 1);
    await create(member, 'Old');
    const old = changesOf((await first.until(1))[0]!).eventId;
    await end(first);
    expect(await refused(member, foreign)).toMatch(new RegExp(`^after: "${foreign}" is not an event of Account in this organization; the oldest Account event still available is "\\d+"\\.$`));
    await s.settle();
    // Retention passes (the relay's own prune, with a window of 0), then one more change is kept.
    await pruneOutbox(s.data.database.db, 0);
    const watch = open(member);
    await until(async () => s.data.hub.size(), (n) => n === 1);
    await create(member, 'Kept');
    const kept = changesOf((await watch.until(1))[0]!).eventId;
    await end(watch);
    const message = await refused(member, old);
    expect(message).toMatch(`after: "${old}" is older than the change retention window`);
    expect(message).toContain(`the oldest Account event still available is "${kept}"`);
    // The kept event is a good cursor: nothing after it yet, then live.
    const fine = open(member, { after: kept });
    await until(async () => s.data.hub.size(), (n) => n === 1);
    await create(member, 'Fresh');
    expect((await fine.until(1)).map((r) => changesOf(r).record?.name)).toEqual(['Fresh']);
    await end(fine);
  }, 60_000);
});
