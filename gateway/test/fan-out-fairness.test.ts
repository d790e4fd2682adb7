import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { engines, subscribeSse, until, type SseSubscription } from '@objectos/testkit';
import { startRealtimeStack, type RealtimeStack } from './realtime-stack.ts';

const SUBSCRIBERS = 2_000;
const WATCH = 'subscription { accountChanged { op record { name } } }';

/**
 * Issue #20 point 1: checks and deliveries do not starve writes. An event's fan-out to thousands of
 * subscribers is a long run of work on the one event loop (each delivery is executed, written to its
 * stream, passed through the gateway); a write that arrives meanwhile is answered while that fan-out is
 * still going, not after its last delivery. Ordering, not timing: the write is sent once the first
 * subscriber has the event, and must be answered before the last one has it.
 */
describe.each(engines())('a fan-out leaves room for writes on $name', (engine) => {
  let s: RealtimeStack;
  let alice: { headers: Record<string, string> };
  let subs: SseSubscription[] = [];
  beforeAll(async () => {
    s = await startRealtimeStack(engine);
    alice = await s.user('alice@fairness.test', 'Fairco');
  }, 60_000);
  afterAll(async () => {
    for (const x of subs) x.close();
    await s?.close();
  });

  it(`answers a write sent during an event's fan-out to ${SUBSCRIBERS} subscribers before that fan-out ends`, async () => {
    subs = await Promise.all(Array.from({ length: SUBSCRIBERS }, () => subscribeSse(s.as(alice.headers), WATCH)));
    expect(await until(async () => s.data.hub.size(), (n) => n === SUBSCRIBERS, 60_000)).toBe(SUBSCRIBERS);
    // Over HTTP on loopback, as clients write: a request read from a socket when the event loop takes its turn.
    const write = async (name: string): Promise<void> => {
      const r = await fetch(s.url, { method: 'POST', headers: { ...alice.headers, 'content-type': 'application/json' }, body: JSON.stringify({ query: `mutation { createAccount(input: { name: "${name}" }) { id } }` }) });
      expect(await r.json()).toMatchObject({ data: { createAccount: { id: expect.any(String) } } });
    };
    const arrived = () => subs.filter((x) => x.results.length >= 1).length;
    await write('First');
    await until(async () => arrived(), (n) => n > 0, 30_000);
    const during = arrived();
    let answeredAt = -1;
    const second = write('Second').then(() => (answeredAt = arrived()));
    expect(await until(async () => arrived(), (n) => n === SUBSCRIBERS, 60_000)).toBe(SUBSCRIBERS);
    await second;
    // The second write was answered while the first event was still reaching its subscribers.
    expect(during).toBeLessThan(SUBSCRIBERS);
    expect(answeredAt).toBeLessThan(SUBSCRIBERS);
    // And nothing was lost or reordered for it: every subscriber has both events, in order.
    await until(async () => subs.filter((x) => x.results.length >= 2).length, (n) => n === SUBSCRIBERS, 60_000);
    for (const x of subs) expect(x.results.map((r) => (r.data as { accountChanged: { record: { name: string } } }).accountChanged.record.name)).toEqual(['First', 'Second']);
  }, 180_000);
});
