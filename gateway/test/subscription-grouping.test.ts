import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { engines, until } from '@objectos/testkit';
import { collect, startRealtimeStack, type RealtimeStack } from './realtime-stack.ts';

const ALL = 'subscription { accountChanged { op record { name } } }';
const BIG = 'subscription { accountChanged(where: { employees: { gte: 1000 } }) { op record { name } } }';
const SOCKETS = 10;

/**
 * Issue #20 point 1: subscribers with the same access and the same `where` are one group, and an event
 * is checked once for every group of its organization and object, in one statement: 20 subscriptions
 * in two groups cost one check statement per event, not twenty. And an event is executed (its selection
 * resolved) and serialized once per group, selection and principal, not once per subscriber.
 */
describe.each(engines())('grouped subscription checks on $name', (engine) => {
  let s: RealtimeStack;
  let alice: { headers: Record<string, string> };
  beforeAll(async () => {
    s = await startRealtimeStack(engine);
    alice = await s.user('alice@grouping.test', 'Groupco');
  });
  afterAll(() => s?.close());

  it('checks each event once for all groups, and delivers it to every subscriber of a group it passes', async () => {
    const clients = Array.from({ length: SOCKETS }, () => s.client({ authorization: alice.headers['authorization']! }));
    const all = clients.map((c) => collect(c, ALL));
    const big = clients.map((c) => collect(c, BIG));
    expect(await until(async () => s.data.hub.size(), (n) => n === 2 * SOCKETS)).toBe(2 * SOCKETS);
    expect(s.data.hub.stats().groups).toBe(2);
    const before = s.data.hub.stats();
    await s.q(alice.headers, 'mutation { createAccount(input: { name: "Small", employees: 5 }) { id } }');
    await s.q(alice.headers, 'mutation { createAccount(input: { name: "Large", employees: 5000 }) { id } }');
    expect(await until(async () => all.filter((x) => x.results.length === 2).length, (n) => n === SOCKETS)).toBe(SOCKETS);
    expect(await until(async () => big.filter((x) => x.results.length === 1).length, (n) => n === SOCKETS)).toBe(SOCKETS);
    const after = s.data.hub.stats();
    // Two events: at most one statement each (one when both arrive in one batch), every (event, subscriber) pair checked.
    expect(after.statements - before.statements).toBeGreaterThanOrEqual(1);
    expect(after.statements - before.statements).toBeLessThanOrEqual(2);
    expect(after.checks - before.checks).toBe(2 * 2 * SOCKETS);
    for (const x of all) expect(x.results.map((r) => (r.data as { accountChanged: { record: { name: string } } }).accountChanged.record.name)).toEqual(['Small', 'Large']);
    for (const x of big) expect(x.results.map((r) => (r.data as { accountChanged: { record: { name: string } } }).accountChanged.record.name)).toEqual(['Large']);
    await Promise.all(clients.map((c) => c.dispose()));
    expect(await until(async () => s.data.hub.stats().groups, (n) => n === 0)).toBe(0);
  }, 60_000);

  it('executes and serializes an event once per group, selection and principal, whoever else receives it', async () => {
    // Same user, same access: one group. Two selections; and an API key of the same user, a principal of its own.
    const created = await s.q<{ createApiKey: { key: string } }>(alice.headers, 'mutation { createApiKey(input: { name: "grouping" }) { key } }');
    const viaKey = s.client({ 'x-api-key': created.data!.createApiKey.key });
    const clients = Array.from({ length: SOCKETS }, () => s.client({ authorization: alice.headers['authorization']! }));
    const WITH_CONTACTS = 'subscription { accountChanged { op record { name contacts { lastName } } } }';
    const plain = clients.map((c) => collect(c, ALL));
    const deep = clients.slice(0, 4).map((c) => collect(c, WITH_CONTACTS));
    const keyed = collect(viaKey, ALL);
    const subscribers = SOCKETS + 4 + 1;
    expect(await until(async () => s.data.hub.size(), (n) => n === subscribers)).toBe(subscribers);
    const before = { ...s.data.deliveries };
    await s.q(alice.headers, 'mutation { createAccount(input: { name: "Shared", employees: 5 }) { id } }');
    const all = [...plain, ...deep, keyed];
    expect(await until(async () => all.filter((x) => x.results.length === 1).length, (n) => n === all.length)).toBe(all.length);
    // Executed three times (two selections for the session, one for the key), taken by the others as it was.
    expect(s.data.deliveries.executions - before.executions).toBe(3);
    expect(s.data.deliveries.reused - before.reused).toBe(subscribers - 3);
    // One JSON text each for yoga's SSE writer, written to every subscriber's stream as it is.
    expect(s.data.deliveries.serialized - before.serialized).toBe(3);
    for (const x of [...plain, keyed]) expect(x.results[0]!.data).toEqual({ accountChanged: { op: 'CREATED', record: { name: 'Shared' } } });
    for (const x of deep) expect(x.results[0]!.data).toEqual({ accountChanged: { op: 'CREATED', record: { name: 'Shared', contacts: [] } } });
    await Promise.all([...clients, viaKey].map((c) => c.dispose()));
    expect(await until(async () => s.data.hub.stats().groups, (n) => n === 0)).toBe(0);
  }, 60_000);
});
