import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { engines, until } from '@objectos/testkit';
import { collect, startRealtimeStack, type RealtimeStack } from './realtime-stack.ts';

const ALL = 'subscription { accountChanged { op record { name } } }';
const BIG = 'subscription { accountChanged(where: { employees: { gte: 1000 } }) { op record { name } } }';
const SOCKETS = 10;

/**
 * Issue #20 point 1: subscribers with the same access and the same `where` are one group, and an event
 * is checked once for every group of its organization and object, in one statement: 20 subscriptions
 * in two groups cost one check statement per event, not twenty.
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
});
