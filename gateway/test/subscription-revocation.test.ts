import { describe, expect, it } from 'vitest';
import { engines, gql, subscribeSse } from '@objectos/testkit';
import type { ObjectName } from './security/oracle.ts';
import type { Op } from './security/subscription-model.ts';
import { checkCounter, sleep, until, type CheckCounter, type Stream } from './security/subscription-plumbing.ts';
import { USER_IDS, type ObjPerm, type Rec, type User, type World } from './security/world.ts';
import { startWorldStack, suiteDatabase } from './security/world-stack.ts';

// A revoked manual share stops delivery from the next event on (security-reliability.md case 24, the
// named case beside subscription-oracle's randomized run): the grant is an ENTERED event, before the
// revocation the recipient gets every event, the revocation is a LEFT event (the record's id, no values),
// after it nothing, while the owner's stream proves those later events were published. A detail readable
// through the shared parent (controlled_by_parent) gets no ENTERED/LEFT of its own: its changes are
// delivered while the share holds, and not after.

describe.each(engines())('subscriptions after a revoked share on $name', (engine) => {
  const database = suiteDatabase(engine);
  let worldNo = 0;


  it('stops delivering events about a record to a user once their manual share of it is revoked', async () => {
    const all: ObjPerm = { allowRead: true, allowCreate: true, allowEdit: true, allowDelete: true, viewAllRecords: false, modifyAllRecords: false };
    const rec = (id: string, name: string, parent: string | null): Rec => ({ id, org: 'A', owner: 'user-0', name, amount: 1, secret: 's', status: 'open', note: null, parent });
    const w: World = {
      roles: [{ name: 'r0', parent: null }],
      groups: ['g0', 'g1'],
      sets: [{ name: 'p_member', isProfile: true, defaultForMember: true, objects: { parent: all, child: all, detail: all }, fields: {} }],
      owd: { parent: 'private', child: 'private' },
      rules: [],
      rls: [],
      users: USER_IDS.map((id, i): User => ({ id, org: i < 5 ? 'A' : 'B', role: null, groups: [], sets: [] })),
      records: { parent: [rec('p0', 'shared', null), rec('p1', 'other', null)], child: [], detail: [rec('d0', 'detail', 'p0')] },
      shares: [],
    };
    const db = database();
    const stack = await startWorldStack(db, w, worldNo++);
    const counter: CheckCounter = checkCounter(() => stack.data.hub);
    const streams: Stream[] = [];
    try {
      const owner = stack.as(0);
      const open = async (user: number, object: ObjectName) => {
        const s = await subscribeSse<Record<string, unknown>>(stack.as(user), `subscription { c: ${object}Changed { eventId op recordId record { id name amount } } }`, {});
        streams.push(s);
        return s;
      };
      const ownerParents = await open(0, 'parent');
      const recipientParents = await open(1, 'parent');
      const recipientDetails = await open(1, 'detail');
      const bystander = await open(2, 'parent');
      await until(() => stack.data.hub.size() === 4, 10_000, () => `${stack.data.hub.size()} of 4 subscriptions live`);
      const events = (s: Stream) => s.results.map((r) => {
        expect(r.errors, JSON.stringify(r.errors)).toBeUndefined();
        return r.data!['c'] as { eventId: string; op: Op; recordId: string; record: { id: string } | null };
      });
      const p0 = stack.rid('p0');
      const d0 = stack.rid('d0');
      const ok = async (query: string, variables: Record<string, unknown> = {}) => {
        const r = await gql(owner, query, variables);
        expect(r.errors, JSON.stringify(r.errors)).toBeUndefined();
        return r.data!;
      };
      const settle = async (checks: number) => {
        await stack.data.relay.drain();
        await until(() => counter.done >= checks && counter.started === counter.done, 10_000, () => `${counter.done} of ${checks} delivery checks ran`);
      };
      const share = await ok('mutation($i: ShareRecordInput!) { shareRecord(input: $i) { id } }', {
        i: { object: 'parent', recordId: p0, sharedWithType: 'USER', sharedWith: 'user-1', accessLevel: 'READ' },
      });
      const shareId = (share['shareRecord'] as { id: string }).id;
      for (let i = 1; i <= 3; i++) await ok(`mutation { updateParent(id: "${p0}", input: { amount: ${i * 10} }) { id } }`);
      await ok(`mutation { updateDetail(id: "${d0}", input: { amount: 5 }) { id } }`);
      // The share and 3 updates × 3 parent subscribers; the share (its detail, controlled by the parent)
      // and 1 detail event × 1 detail subscriber.
      await settle(14);
      await until(() => recipientParents.results.length === 4 && recipientDetails.results.length === 2, 10_000, () => `shared: ${recipientParents.results.length}/4 parent and ${recipientDetails.results.length}/2 detail events`);
      expect(events(recipientParents).map((e) => [e.op, e.record?.id])).toEqual([['ENTERED', p0], ['UPDATED', p0], ['UPDATED', p0], ['UPDATED', p0]]);
      expect(events(recipientDetails).map((e) => [e.op, e.record?.id])).toEqual([['ENTERED', d0], ['UPDATED', d0]]);
      const lastBefore = Math.max(...[...events(recipientParents), ...events(recipientDetails)].map((e) => Number(e.eventId)));

      // The revocation commits; every later change to the record (and to its detail) is kept from user-1.
      expect((await ok(`mutation { unshareRecord(id: "${shareId}") }`))['unshareRecord']).toBe(true);
      for (let i = 1; i <= 5; i++) await ok(`mutation { updateParent(id: "${p0}", input: { amount: ${100 + i}, name: "after-${i}" }) { id } }`);
      await ok(`mutation { updateDetail(id: "${d0}", input: { amount: 6 }) { id } }`);
      await ok(`mutation { deleteDetail(id: "${d0}") { id } }`);
      await settle(14 + 3 + 1 + 5 * 3 + 2);
      // The owner's stream proves the later events were published and delivered to whoever may read them.
      await until(() => ownerParents.results.length === 8, 10_000, () => `owner: ${ownerParents.results.length}/8 events`);
      await sleep(100);
      expect(events(ownerParents).map((e) => e.op)).toEqual(Array(8).fill('UPDATED'));
      const after = [...events(recipientParents), ...events(recipientDetails)].filter((e) => Number(e.eventId) > lastBefore);
      // The revocation itself: the record and its detail left user-1's view (ids, no values); then nothing.
      expect(after.map((e) => [e.op, e.recordId, e.record]), 'events reaching user-1 after the revocation committed').toEqual([['LEFT', p0, null], ['LEFT', d0, null]]);
      expect(recipientParents.results).toHaveLength(5);
      expect(recipientDetails.results).toHaveLength(3);
      expect(bystander.results, 'user-2 never had access').toEqual([]);
      console.log(`[subscription-oracle] ${engine.name}: revocation: ENTERED and 4 events before the unshare (and the detail's ENTERED), LEFT at it for both, 0 of 7 after it reached the former recipient (the owner got all 8 parent events)`);
    } finally {
      for (const s of streams) s.close();
      await stack.dispose();
    }
  }, 60_000);
});
