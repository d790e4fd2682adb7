import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { engines, spawnTs, until } from '@objectos/testkit';
import { collect, startRealtimeStack, type RealtimeStack } from './realtime-stack.ts';

const WATCH = 'subscription { accountChanged { op record { name } } }';
const SOCKETS = 20;
const PER_SOCKET = 3;

/**
 * Issue #20 point 5: when its socket closes, a subscription ends in the data subgraph within 1 s (it no
 * longer waits for its stream's next write, an event or a keep-alive seconds later: 9 s measured before),
 * with no write going on, and on PostgreSQL under a stream of writes each subscription is checking events for.
 */
describe.each(engines())('subscriptions end with their socket on $name', (engine) => {
  let s: RealtimeStack;
  let alice: { headers: Record<string, string>; token: string };
  beforeAll(async () => {
    s = await startRealtimeStack(engine);
    alice = await s.user('alice@linger.test', 'Lingerco');
  });
  afterAll(() => s?.close());

  /** Opens the sockets and their subscriptions, closes every socket, and answers how long the data subgraph held them after. */
  const heldAfterClose = async (load: boolean): Promise<number> => {
    const clients = Array.from({ length: SOCKETS }, () => s.client({ authorization: alice.headers['authorization']! }));
    const subs = clients.flatMap((c) => Array.from({ length: PER_SOCKET }, () => collect(c, WATCH)));
    expect(await until(async () => s.data.hub.size(), (n) => n === subs.length)).toBe(subs.length);
    let writing = load;
    let written = 0;
    const writer = (async () => {
      while (writing) await s.q(alice.headers, `mutation { createAccount(input: { name: "Load ${written++}" }) { id } }`);
    })();
    // Under load: events are reaching every subscription when the sockets close.
    if (load) expect(await until(async () => subs.filter((x) => x.results.length > 0).length, (n) => n === subs.length)).toBe(subs.length);
    const closing = performance.now();
    await Promise.all(clients.map((c) => c.dispose()));
    const left = await until(async () => s.data.hub.size(), (n) => n === 0, 15_000);
    const held = performance.now() - closing;
    writing = false;
    await writer;
    expect(left).toBe(0);
    return held;
  };

  it('with no write going on: the subscriptions of closed sockets end within 1 s', async () => {
    expect(await heldAfterClose(false)).toBeLessThan(1_000);
  }, 30_000);

  // Under a continuous stream of writes with the clients in this process too, the embedded engine's
  // process is saturated (PGlite's queries, the writes, 60 deliveries per event, and the clients parsing
  // them all share one event loop): the close frames are read ~5 s late and the sockets end ~12 s late
  // (measured 2026-12-02). So there this case runs with its clients in their own process, as browsers are.
  if (engine.name === 'postgres')
    it('under a stream of writes: they end within 1 s too', async () => {
      expect(await heldAfterClose(true)).toBeLessThan(1_000);
    }, 60_000);

  it('under a stream of writes, with the clients in their own process: they end within 1 s', async () => {
    const clients = spawnTs('gateway/test/linger-clients.ts', { LINGER_URL: s.wsUrl, LINGER_TOKEN: alice.token, LINGER_SOCKETS: String(SOCKETS), LINGER_PER_SOCKET: String(PER_SOCKET) });
    try {
      expect(await until(async () => s.data.hub.size(), (n) => n === SOCKETS * PER_SOCKET)).toBe(SOCKETS * PER_SOCKET);
      let writing = true;
      let written = 0;
      // Over HTTP, as a client writes: an in-process request never leaves the microtask queue, so a loop of
      // them would keep the event loop from reading any socket at all.
      const writer = (async () => {
        while (writing) {
          const r = await fetch(s.url, { method: 'POST', headers: { ...alice.headers, 'content-type': 'application/json' }, body: JSON.stringify({ query: `mutation { createAccount(input: { name: "Far ${written++}" }) { id } }` }) });
          expect(r.status).toBe(200);
          await r.text();
        }
      })();
      await clients.waitFor(/ready/, 30_000);
      // Well into the stream: the sockets close while events keep coming for them.
      expect(await until(async () => written, (n) => n >= 100, 30_000)).toBeGreaterThanOrEqual(100);
      const closing = performance.now();
      clients.child.kill('SIGUSR2');
      const left = await until(async () => s.data.hub.size(), (n) => n === 0, 15_000);
      const held = performance.now() - closing;
      writing = false;
      await writer;
      expect(left).toBe(0);
      console.log(`[realtime-linger] ${engine.name}: ${SOCKETS * PER_SOCKET} subscriptions under ${written} writes ended ${held.toFixed(0)} ms after their client process closed its sockets`);
      expect(held).toBeLessThan(1_000);
    } finally {
      clients.child.kill();
    }
  }, 60_000);
});
