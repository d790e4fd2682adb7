import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { engines, until } from '@objectos/testkit';
import { collect, startRealtimeStack, type RealtimeStack } from './realtime-stack.ts';

interface Presence { object: string; recordId: string; viewers: { userId: string; status: string; lastSeen: string }[] }
type Who = { headers: Record<string, string>; userId: string };

const WATCH = 'subscription($id: ID!) { presence(object: "account", id: $id) { object recordId viewers { userId status lastSeen } } }';

/**
 * Issue #20 point 4: `presence(object, id)` makes you a viewer of a record while it lasts and streams who
 * views it; `setPresence` marks you AWAY/ONLINE. Only for records you can read (one you cannot is "not
 * found", as for reads); losing read access ends the stream. Across replicas: subgraphs/data/test/presence.test.ts.
 */
describe.each(engines())('presence on $name', (engine) => {
  let s: RealtimeStack;
  let owner: Who;
  let member: Who;
  let stranger: Who;
  let outsider: Who;
  let accountId: string;

  const watch = (who: Who, id = accountId) => collect<{ presence: Presence }>(s.client({ authorization: who.headers['authorization']! }), WATCH, { id });
  const lastOf = (op: { results: { data?: unknown }[] }) => (op.results.at(-1)?.data as { presence: Presence } | undefined)?.presence.viewers.map((v) => [v.userId, v.status]) ?? [];
  const sorted = (...xs: [string, string][]) => xs.sort((a, b) => a[0].localeCompare(b[0]));

  beforeAll(async () => {
    s = await startRealtimeStack(engine);
    const o = await s.user('owner@presence.test', 'Presenceco');
    owner = { headers: o.headers, userId: o.userId };
    const org = (await s.q<{ activeOrganization: { id: string } }>(owner.headers, '{ activeOrganization { id } }')).data!.activeOrganization.id;
    member = await s.member('member@presence.test', org);
    stranger = await s.member('stranger@presence.test', org);
    const x = await s.user('outsider@presence.test', 'Elsewhere');
    outsider = { headers: x.headers, userId: x.userId };
    // The member's account: the member (owner of it) and the organization owner read it; the other member does not.
    accountId = (await s.q<{ createAccount: { id: string } }>(member.headers, 'mutation { createAccount(input: { name: "Watched" }) { id } }')).data!.createAccount.id;
  });
  afterAll(() => s?.close());

  it('streams who views a record as they arrive, go away, come back and leave', async () => {
    const mine = watch(member);
    await mine.until(1);
    expect(lastOf(mine)).toEqual([[member.userId, 'ONLINE']]);
    const theirs = watch(owner);
    await until(async () => lastOf(mine).length, (n) => n === 2);
    expect(lastOf(mine)).toEqual(sorted([member.userId, 'ONLINE'], [owner.userId, 'ONLINE']));
    await theirs.until(1);
    expect(lastOf(theirs)).toEqual(sorted([member.userId, 'ONLINE'], [owner.userId, 'ONLINE']));
    const first = (theirs.results[0]!.data as { presence: Presence }).presence;
    expect(first).toMatchObject({ object: 'account', recordId: accountId });
    expect(Date.parse(first.viewers[0]!.lastSeen)).toBeGreaterThan(Date.now() - 60_000);

    const away = await s.q<{ setPresence: boolean }>(owner.headers, 'mutation($id: ID!) { setPresence(object: "account", id: $id, status: AWAY) }', { id: accountId });
    expect(away.data?.setPresence).toBe(true);
    await until(async () => JSON.stringify(lastOf(mine)), (t) => t === JSON.stringify(sorted([member.userId, 'ONLINE'], [owner.userId, 'AWAY'])));
    expect(lastOf(mine)).toEqual(sorted([member.userId, 'ONLINE'], [owner.userId, 'AWAY']));
    await s.q(owner.headers, 'mutation($id: ID!) { setPresence(object: "account", id: $id, status: ONLINE) }', { id: accountId });
    await until(async () => JSON.stringify(lastOf(mine)), (t) => t === JSON.stringify(sorted([member.userId, 'ONLINE'], [owner.userId, 'ONLINE'])));

    // Leaving: the socket closes, the others are told at once.
    theirs.stop();
    await until(async () => lastOf(mine).length, (n) => n === 1);
    expect(lastOf(mine)).toEqual([[member.userId, 'ONLINE']]);
    // Nothing is sent when nothing changed (a second AWAY, a status for a record you are not viewing).
    const count = mine.results.length;
    await s.q(owner.headers, 'mutation($id: ID!) { setPresence(object: "account", id: $id, status: AWAY) }', { id: accountId });
    await new Promise((r) => setTimeout(r, 300));
    expect(mine.results).toHaveLength(count);
    mine.stop();
    await until(async () => s.data.presence.size(), (n) => n === 0);
  }, 60_000);

  it('is only for those who can read the record: others get "not found", and losing access ends the stream', async () => {
    for (const who of [stranger, outsider]) {
      const op = watch(who);
      await op.until(Infinity);
      expect(op.results).toHaveLength(1);
      expect(op.results[0]!.errors?.map((e) => [(e.extensions as { code?: string }).code, e.message])).toEqual([['NOT_FOUND', `No Account with id "${accountId}"`]]);
      const set = await s.q(who.headers, 'mutation($id: ID!) { setPresence(object: "account", id: $id, status: AWAY) }', { id: accountId });
      expect(set.errors?.map((e) => e.extensions?.['code'])).toEqual(['NOT_FOUND']);
    }
    expect(s.data.presence.size(), 'a refused viewer never joined').toBe(0);

    // The stranger reads the record through a share, views it, and loses it when the share is revoked.
    const share = await s.q<{ shareRecord: { id: string } }>(member.headers, 'mutation($id: ID!, $to: String!) { shareRecord(input: { object: "account", recordId: $id, sharedWithType: USER, sharedWith: $to, accessLevel: READ }) { id } }', { id: accountId, to: stranger.userId });
    expect(share.errors).toBeUndefined();
    const theirs = watch(stranger);
    await theirs.until(1);
    expect(lastOf(theirs)).toEqual([[stranger.userId, 'ONLINE']]);
    expect((await s.q(member.headers, 'mutation($id: ID!) { unshareRecord(id: $id) }', { id: share.data!.shareRecord.id })).errors).toBeUndefined();
    // The next change of viewers is not sent to them: their stream ends instead.
    const mine = watch(member);
    await mine.until(1);
    await theirs.until(Infinity, 10_000);
    const end = theirs.results.at(-1)!;
    expect(end.errors?.map((e) => (e.extensions as { code?: string }).code)).toEqual(['FORBIDDEN']);
    expect(theirs.results.filter((r) => r.data).map((r) => (r.data as { presence: Presence }).presence.viewers.length)).toEqual([1]);
    await until(async () => lastOf(mine).length, (n) => n === 1);
    expect(lastOf(mine)).toEqual([[member.userId, 'ONLINE']]);
    mine.stop();
    await until(async () => s.data.presence.size(), (n) => n === 0);
  }, 60_000);

  it('refuses an unknown object and a malformed id, naming them', async () => {
    const bad = await s.q(member.headers, 'mutation { setPresence(object: "nope", id: "x", status: AWAY) }');
    expect(bad.errors?.map((e) => e.message)).toEqual(['object: unknown object "nope"']);
    const malformed = await s.q(member.headers, 'mutation { setPresence(object: "account", id: "not-an-id", status: AWAY) }');
    expect(malformed.errors?.map((e) => e.message)).toEqual(['No Account with id "not-an-id"']);
  });
});
