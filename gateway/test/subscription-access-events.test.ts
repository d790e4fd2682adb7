import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { engines, until } from '@objectos/testkit';
import { collect, startRealtimeStack, type RealtimeStack } from './realtime-stack.ts';

interface Change { op: string; recordId: string; record: { name: string } | null; previous: { name: string } | null; changedFields: string[] }
type Headers = { headers: Record<string, string> };

const SUB = 'subscription($where: AccountWhere, $ops: [ChangeOperation!]) { accountChanged(where: $where, operations: $ops) { op recordId record { name } previous { name } changedFields } }';

/**
 * Issue #20 point 3: a share granted is an ENTERED event for the subscribers it brought the record into
 * view of (the record, masked for them), and a share revoked is a LEFT event (its id, no values) for
 * those it took it from. Subscribers whose view did not change, or whose `where`/`operations` exclude it,
 * hear nothing. An owner transfer that takes a record out of its old owner's view is a LEFT event too.
 */
describe.each(engines())('share events for live subscribers on $name', (engine) => {
  let s: RealtimeStack;
  let owner: Headers;
  let member: Headers;
  let memberId: string;
  let ownerId: string;

  const open = (who: Headers, variables: Record<string, unknown> = {}) => collect<{ accountChanged: Change }>(s.client({ authorization: who.headers['authorization']! }), SUB, variables);
  const changes = (op: { results: { data?: unknown }[] }) => op.results.map((r) => (r.data as { accountChanged: Change }).accountChanged);

  beforeAll(async () => {
    s = await startRealtimeStack(engine);
    const signedUp = await s.user('owner@share-events.test', 'Sharingco');
    owner = signedUp;
    ownerId = signedUp.userId;
    const org = (await s.q<{ activeOrganization: { id: string } }>(owner.headers, '{ activeOrganization { id } }')).data!.activeOrganization.id;
    const joined = await s.member('member@share-events.test', org);
    member = joined;
    memberId = joined.userId;
  });
  afterAll(() => s?.close());

  it('tells a subscriber a shared record entered its view, and that it left when the share was revoked', async () => {
    const made = await s.q<{ createAccount: { id: string } }>(owner.headers, 'mutation { createAccount(input: { name: "Shared Later", annualRevenue: 5 }) { id } }');
    const id = made.data!.createAccount.id;
    // Its creation published before anyone subscribes: no subscription here hears of it.
    await s.data.relay.drain();
    const mine = open(member);
    const filtered = open(member, { where: { name: { eq: 'Something Else' } } });
    const createsOnly = open(member, { ops: ['CREATED'] });
    const owners = open(owner);
    await until(async () => s.data.hub.size(), (n) => n === 4);

    const shared = await s.q<{ shareRecord: { id: string } }>(owner.headers, 'mutation($id: ID!, $to: String!) { shareRecord(input: { object: "account", recordId: $id, sharedWithType: USER, sharedWith: $to, accessLevel: READ }) { id } }', { id, to: memberId });
    expect(shared.errors).toBeUndefined();
    await mine.until(1);
    expect(changes(mine)).toEqual([{ op: 'ENTERED', recordId: id, record: { name: 'Shared Later' }, previous: null, changedFields: [] }]);

    // While shared, its changes reach the member as any visible record's do.
    expect((await s.q(owner.headers, 'mutation($id: ID!) { updateAccount(id: $id, input: { name: "Shared Now" }) { id } }', { id })).errors).toBeUndefined();
    await mine.until(2);
    expect(changes(mine)[1]).toMatchObject({ op: 'UPDATED', record: { name: 'Shared Now' }, previous: { name: 'Shared Later' } });

    expect((await s.q(owner.headers, 'mutation($id: ID!) { unshareRecord(id: $id) }', { id: shared.data!.shareRecord.id })).errors).toBeUndefined();
    await mine.until(3);
    expect(changes(mine)[2]).toEqual({ op: 'LEFT', recordId: id, record: null, previous: null, changedFields: [] });

    // Out of view again: its next change is nobody's news but the owner's.
    expect((await s.q(owner.headers, 'mutation($id: ID!) { updateAccount(id: $id, input: { name: "Private Again" }) { id } }', { id })).errors).toBeUndefined();
    await owners.until(2);
    await new Promise((r) => setTimeout(r, 300));
    expect(changes(mine)).toHaveLength(3);
    // The owner saw the record all along: the share changed nothing for them, so no ENTERED or LEFT.
    expect(changes(owners).map((c) => c.op)).toEqual(['UPDATED', 'UPDATED']);
    expect(filtered.results, 'a where the record does not match').toEqual([]);
    expect(createsOnly.results, 'operations without ENTERED/LEFT').toEqual([]);
    for (const op of [mine, filtered, createsOnly, owners]) op.stop();
    await until(async () => s.data.hub.size(), (n) => n === 0);
  }, 60_000);

  it('says nothing when a grant changes no one\'s view (the same share again, or a higher level)', async () => {
    const made = await s.q<{ createAccount: { id: string } }>(owner.headers, 'mutation { createAccount(input: { name: "Shared Twice" }) { id } }');
    const id = made.data!.createAccount.id;
    const mine = open(member);
    await until(async () => s.data.hub.size(), (n) => n === 1);
    const share = (level: string) => s.q(owner.headers, `mutation($id: ID!, $to: String!) { shareRecord(input: { object: "account", recordId: $id, sharedWithType: USER, sharedWith: $to, accessLevel: ${level} }) { id } }`, { id, to: memberId });
    for (const level of ['READ', 'READ', 'EDIT']) expect((await share(level)).errors).toBeUndefined();
    await mine.until(1);
    await new Promise((r) => setTimeout(r, 300));
    expect(changes(mine).map((c) => c.op)).toEqual(['ENTERED']);
    mine.stop();
    await until(async () => s.data.hub.size(), (n) => n === 0);
  }, 60_000);

  it('tells the owner of a record transferred away that it left their view, and that it came back when returned', async () => {
    const made = await s.q<{ createAccount: { id: string } }>(member.headers, 'mutation { createAccount(input: { name: "Handed Over" }) { id } }');
    expect(made.errors).toBeUndefined();
    const id = made.data!.createAccount.id;
    await s.data.relay.drain();
    const mine = open(member);
    const owners = open(owner);
    await until(async () => s.data.hub.size(), (n) => n === 2);
    // The organization's owner takes it over: the member (private records) no longer sees it.
    const taken = await s.q(owner.headers, 'mutation($id: ID!, $to: ID!) { transferAccount(id: $id, newOwnerId: $to) { id } }', { id, to: ownerId });
    expect(taken.errors).toBeUndefined();
    await mine.until(1);
    expect(changes(mine)).toEqual([{ op: 'LEFT', recordId: id, record: null, previous: null, changedFields: [] }]);
    // Given back: it comes into the member's view, with nothing of the state they could not see.
    expect((await s.q(owner.headers, 'mutation($id: ID!, $to: ID!) { transferAccount(id: $id, newOwnerId: $to) { id } }', { id, to: memberId })).errors).toBeUndefined();
    await mine.until(2);
    expect(changes(mine)[1]).toMatchObject({ op: 'UPDATED', recordId: id, record: { name: 'Handed Over' }, previous: null });
    // The organization's owner sees every record all along, and a transfer changes none of the fields
    // they read (the owner is not a field): for them it is no event at all.
    await new Promise((r) => setTimeout(r, 300));
    expect(owners.results).toEqual([]);
    expect(changes(mine)).toHaveLength(2);
    for (const op of [mine, owners]) op.stop();
    await until(async () => s.data.hub.size(), (n) => n === 0);
  }, 60_000);

  it('tells the subscribers of a shared record\'s details (controlled_by_parent) that they entered, then left, their view', async () => {
    const made = await s.q<{ createAccount: { id: string } }>(owner.headers, 'mutation { createAccount(input: { name: "With Contacts", contacts: { create: [{ lastName: "Ada" }, { lastName: "Grace" }] } }) { id contacts { id } } }');
    expect(made.errors).toBeUndefined();
    const id = made.data!.createAccount.id;
    const contacts = (made.data!.createAccount as unknown as { contacts: { id: string }[] }).contacts.map((c) => c.id).sort();
    expect(contacts).toHaveLength(2);
    await s.data.relay.drain();
    const CONTACTS = 'subscription { contactChanged { op recordId record { lastName } } }';
    type ContactChange = { op: string; recordId: string; record: { lastName: string } | null };
    const details = collect<{ contactChanged: ContactChange }>(s.client({ authorization: member.headers['authorization']! }), CONTACTS);
    const ownersDetails = collect<{ contactChanged: ContactChange }>(s.client({ authorization: owner.headers['authorization']! }), CONTACTS);
    await until(async () => s.data.hub.size(), (n) => n === 2);
    const of = (op: { results: { data?: unknown }[] }) => op.results.map((r) => (r.data as { contactChanged: ContactChange }).contactChanged);

    const shared = await s.q<{ shareRecord: { id: string } }>(owner.headers, 'mutation($id: ID!, $to: String!) { shareRecord(input: { object: "account", recordId: $id, sharedWithType: USER, sharedWith: $to, accessLevel: READ }) { id } }', { id, to: memberId });
    expect(shared.errors).toBeUndefined();
    await details.until(2);
    expect(of(details).map((c) => c.op)).toEqual(['ENTERED', 'ENTERED']);
    expect(of(details).map((c) => c.recordId).sort()).toEqual(contacts);
    expect(of(details).map((c) => c.record?.lastName).sort()).toEqual(['Ada', 'Grace']);

    expect((await s.q(owner.headers, 'mutation($id: ID!) { unshareRecord(id: $id) }', { id: shared.data!.shareRecord.id })).errors).toBeUndefined();
    await details.until(4);
    expect(of(details).slice(2)).toEqual(expect.arrayContaining(contacts.map((c) => ({ op: 'LEFT', recordId: c, record: null }))));
    // The owner read them all along: neither the grant nor the revocation is news to them.
    await new Promise((r) => setTimeout(r, 300));
    expect(ownersDetails.results).toEqual([]);
    expect(of(details)).toHaveLength(4);
    for (const op of [details, ownersDetails]) op.stop();
    await until(async () => s.data.hub.size(), (n) => n === 0);
  }, 60_000);
});
