import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createClient } from 'graphql-ws';
import WebSocket from 'ws';
import { STREAM_HEADER, SUBSCRIPTION_ACCESS_ENDPOINT, type Principal } from '@objectos/principal';
import { engines, signedFetch, subscribeSse, testPrincipal, until } from '@objectos/testkit';
import { PASSWORD } from './secure-stack.ts';
import { collect, startRealtimeStack, type RealtimeStack } from './realtime-stack.ts';

interface Change { op: string; recordId: string; eventId: string; record: { name: string } | null }
type Headers = Record<string, string>;

const SUB = 'subscription($where: AccountWhere, $ops: [ChangeOperation!], $after: ID, $id: ID) { accountChanged(where: $where, operations: $ops, after: $after, id: $id) { op recordId eventId record { name } } }';
const changesOf = (results: { data?: unknown }[]) => results.filter((r) => r.data).map((r) => (r.data as { accountChanged: Change }).accountChanged);
const errorsOf = (results: { errors?: readonly { message: string; extensions?: Record<string, unknown> }[] }[]) => results.flatMap((r) => r.errors ?? []).map((e) => `${e.extensions?.['code']}: ${e.message}`);

/**
 * Issue #20 point 3: a subscriber who loses records by a change of access (organization role, groups,
 * permission sets) is told which left its view: LEFT, the record's id and no values, for what its
 * `where` and `id` matched and it can no longer read, carrying the eventId of the last event it was given
 * (where it resumes with `after`). Then the operation ends (FORBIDDEN: subscribe again with the new
 * access); the socket stays. Only the subscriber's own session may say so to the data subgraph.
 */
describe.each(engines())('access changes tell live subscribers what left their view on $name', (engine) => {
  let s: RealtimeStack;
  let owner: Headers;
  let org: string;
  let ownerA: string;
  let ownerB: string;
  let n = 0;

  /** An org admin (views all) signed in, with one account of their own. */
  const admin = async () => {
    const email = `admin${++n}@access-change.test`;
    const u = await s.user(email);
    const added = await s.identity.auth.api.addMember({ body: { userId: u.userId, organizationId: org, role: 'admin' } });
    const signedIn = await s.auth('/sign-in/email', { email, password: PASSWORD });
    const headers = { authorization: `Bearer ${signedIn.headers.get('set-auth-token')}` };
    const mine = await s.q<{ createAccount: { id: string } }>(headers, 'mutation($n: String!) { createAccount(input: { name: $n }) { id } }', { n: `Mine ${n}` });
    expect(mine.errors).toBeUndefined();
    // Its creation published before anyone subscribes: no test's subscription hears of it.
    await s.data.relay.drain();
    return { userId: u.userId, memberId: added!.id, headers, mine: mine.data!.createAccount.id };
  };
  const rename = async (who: Headers, id: string, name: string) => {
    const r = await s.q(who, 'mutation($id: ID!, $n: String!) { updateAccount(id: $id, input: { name: $n }) { id } }', { id, n: name });
    expect(r.errors).toBeUndefined();
  };
  const demote = async (memberId: string) => expect((await s.auth('/organization/update-member-role', { memberId, role: 'member' }, owner)).status).toBe(200);
  /** Every account of the organization but `mine`: what an admin demoted to member (private records) no longer sees. */
  const othersThan = async (mine: string) => {
    const r = await s.q<{ accounts: { nodes: { id: string }[] } }>(owner, '{ accounts(first: 1000) { nodes { id } } }');
    return r.data!.accounts.nodes.map((a) => a.id).filter((id) => id !== mine).sort();
  };

  beforeAll(async () => {
    s = await startRealtimeStack(engine);
    owner = (await s.user('owner@access-change.test', 'Accesschangeco')).headers;
    org = (await s.q<{ activeOrganization: { id: string } }>(owner, '{ activeOrganization { id } }')).data!.activeOrganization.id;
    const made = await s.q<{ a: { id: string }; b: { id: string } }>(owner, 'mutation { a: createAccount(input: { name: "Owner A" }) { id } b: createAccount(input: { name: "Owner B" }) { id } }');
    ownerA = made.data!.a.id;
    ownerB = made.data!.b.id;
  });
  afterAll(() => s?.close());

  it('a demoted admin is told each record that left its view (ids only), then the operation ends; the socket stays and resumes from the LEFT eventId', async () => {
    const m = await admin();
    let closed: number | null = null;
    // Not lazy: the socket stays open with no operation on it, as long as the server keeps it.
    const client = createClient({ url: s.wsUrl, webSocketImpl: WebSocket, connectionParams: m.headers, retryAttempts: 0, lazy: false, on: { closed: (e) => (closed = (e as { code: number }).code) } });
    const hub = s.data.hub.size();
    const all = collect<{ accountChanged: Change }>(client, SUB);
    const filtered = collect<{ accountChanged: Change }>(client, SUB, { where: { name: { eq: 'Owner A' } } });
    const noLeft = collect<{ accountChanged: Change }>(client, SUB, { ops: ['CREATED', 'UPDATED'] });
    const own = collect<{ accountChanged: Change }>(client, SUB, { id: m.mine });
    await until(async () => s.data.hub.size(), (x) => x === hub + 4);

    await rename(m.headers, m.mine, 'Mine before');
    await all.until(1);
    await own.until(1);
    const given = changesOf(all.results)[0]!;
    expect(given).toMatchObject({ op: 'UPDATED', recordId: m.mine });

    await demote(m.memberId);
    for (const op of [all, filtered, noLeft, own]) await until(async () => op.completed, Boolean, 5_000);

    // What it saw and no longer may: the owner's two accounts, ids only, resuming after the last event it was given.
    const left = changesOf(all.results).filter((c) => c.op === 'LEFT');
    const others = await othersThan(m.mine);
    expect(others).toEqual(expect.arrayContaining([ownerA, ownerB]));
    expect(left.map((c) => c.recordId).sort()).toEqual(others);
    expect(left.every((c) => c.record === null && c.eventId === given.eventId)).toBe(true);
    expect(errorsOf(all.results)).toEqual([expect.stringMatching(/^FORBIDDEN: .*access changed/)]);
    // `where` bounds what it is told; so do `operations` and `id` (its own record is still in view).
    expect(changesOf(filtered.results).map((c) => [c.op, c.recordId])).toEqual([['LEFT', ownerA]]);
    expect(changesOf(noLeft.results).map((c) => c.op)).toEqual(['UPDATED']);
    expect(changesOf(own.results).map((c) => c.op)).toEqual(['UPDATED']);
    for (const op of [filtered, noLeft, own]) expect(errorsOf(op.results)).toEqual([expect.stringMatching(/^FORBIDDEN: /)]);
    await until(async () => s.data.hub.size(), (x) => x === hub);

    // Meanwhile: its own record changes (its news), the owner's does (not any more).
    await rename(m.headers, m.mine, 'Mine meanwhile');
    await rename(owner, ownerA, 'Owner A meanwhile');
    // The same socket, the new access, from the LEFT eventId on: the change it missed, nothing of the owner's.
    expect(closed).toBeNull();
    const resumed = collect<{ accountChanged: Change }>(client, SUB, { after: left[0]!.eventId });
    await resumed.until(1);
    await new Promise((r) => setTimeout(r, 300));
    expect(changesOf(resumed.results).map((c) => [c.op, c.recordId, c.record?.name])).toEqual([['UPDATED', m.mine, 'Mine meanwhile']]);
    resumed.stop();
    // Given nothing, it resumes from before the first event its channel received after it joined.
    expect(BigInt(changesOf(filtered.results)[0]!.eventId)).toBeLessThan(BigInt(given.eventId));
    const filteredResumed = collect<{ accountChanged: Change }>(client, SUB, { where: { name: { eq: 'Owner A' } }, after: changesOf(filtered.results)[0]!.eventId });
    await new Promise((r) => setTimeout(r, 300));
    expect(filteredResumed.error, 'the LEFT eventId of a subscription that was given nothing is a valid cursor').toBeNull();
    expect(changesOf(filteredResumed.results)).toEqual([]);
    filteredResumed.stop();
    await until(async () => s.data.hub.size(), (x) => x === hub);
    await client.dispose();
  }, 60_000);

  it('over SSE: the same LEFT events, then the stream ends FORBIDDEN', async () => {
    const m = await admin();
    const hub = s.data.hub.size();
    const sub = await subscribeSse<{ accountChanged: Change }>(s.as(m.headers), SUB);
    await until(async () => s.data.hub.size(), (x) => x === hub + 1);
    await demote(m.memberId);
    await until(async () => sub.completed, Boolean, 5_000);
    const left = changesOf(sub.results).filter((c) => c.op === 'LEFT');
    expect(left.map((c) => c.recordId).sort()).toEqual(await othersThan(m.mine));
    expect(left.every((c) => c.record === null)).toBe(true);
    expect(errorsOf(sub.results)).toEqual([expect.stringMatching(/^FORBIDDEN: /)]);
  }, 60_000);

  it('the data subgraph takes the word of the subscription\'s own principal only: another one gets 403 and the stream goes on', async () => {
    const user = '00000000-0000-4000-8000-0000000000a1';
    const as = (p: Principal, stream?: string) => signedFetch((r) => {
      if (!stream) return s.data.fetch(r);
      const headers = new Headers(r.headers);
      headers.set(STREAM_HEADER, stream);
      return s.data.fetch(new Request(r, { headers }));
    }, p);
    const mine = testPrincipal(org, user);
    const sub = await subscribeSse<{ accountChanged: Change }>(as(mine, 'direct-1'), 'subscription { accountChanged { op recordId eventId } }');
    expect(sub.status).toBe(200);
    const say = (p: Principal, body: unknown) => as(p)(new Request(`http://data.test${SUBSCRIPTION_ACCESS_ENDPOINT}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) }));

    expect((await say(testPrincipal(org, '00000000-0000-4000-8000-0000000000a2'), { stream: 'direct-1', delivered: 0 })).status).toBe(403);
    expect((await say({ ...mine, sessionId: 'another-session' }, { stream: 'direct-1', delivered: 0 })).status).toBe(403);
    expect((await say(mine, { stream: 'no-such-stream', delivered: 0 })).status).toBe(404);
    expect((await say(mine, { stream: 'direct-1', delivered: -1 })).status).toBe(400);
    expect((await say(mine, { stream: 'direct-1' })).status).toBe(400);
    await rename(owner, ownerB, 'Owner B still heard');
    await sub.until(1);
    expect(sub.completed).toBe(false);

    await rename(owner, ownerB, 'Owner B heard again');
    const later = await s.q<{ createAccount: { id: string } }>(owner, 'mutation { createAccount(input: { name: "Owner C, never shown" }) { id } }');
    await sub.until(3);

    // Its own principal, with no role left, saying its client was given the first event only (the gateway
    // held the other two): every record it saw left its view, told from the first event on; the stream
    // ends. The account created after that event was never shown to it: it is not named.
    const answer = await say({ ...mine, roles: [], permissionSets: [] }, { stream: 'direct-1', delivered: 1 });
    expect(answer.status).toBe(200);
    const told = (await answer.json()) as { skip: number; left: number };
    expect(told.skip).toBe(2);
    await until(async () => sub.completed, Boolean, 5_000);
    const [first] = changesOf(sub.results);
    const left = changesOf(sub.results).filter((c) => c.op === 'LEFT');
    expect(left).toHaveLength(told.left);
    expect(left.map((c) => c.recordId)).toEqual(expect.arrayContaining([ownerA, ownerB]));
    expect(left.map((c) => c.recordId)).not.toContain(later.data!.createAccount.id);
    expect(new Set(left.map((c) => c.eventId))).toEqual(new Set([first!.eventId]));
    expect((await say(mine, { stream: 'direct-1', delivered: 0 })).status, 'ended: no longer there').toBe(404);
  }, 60_000);
});
