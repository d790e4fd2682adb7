import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { engines } from '@objectos/testkit';
import { PASSWORD } from './secure-stack.ts';
import { collect, startRealtimeStack, type RealtimeStack } from './realtime-stack.ts';
import { eventually, listen, sockets, type Endpoint, type Message } from './realtime-raw.ts';

// Security reference, case 14 (WebSocket abuse) and case 29 (revoked access closes open sockets within 5 s).
const WATCH = 'subscription { accountChanged { op record { name } } }';
const COUNT = '{ accounts { totalCount } }';
const codesOf = (m: Message | undefined) => (m?.payload as { extensions?: { code?: string } }[] | undefined)?.map((e) => e.extensions?.code);
const bearer = (headers: Record<string, string>) => ({ authorization: headers['authorization']! });

describe.each(engines())('WebSocket abuse on $name', (engine) => {
  let s: RealtimeStack;
  /** Same gateway, small limits: cap 5, 300 ms init wait, 4 KiB messages. */
  let small: Endpoint;
  let alice: { headers: Record<string, string>; token: string; userId: string };
  const raw = sockets();
  const openAlice = async (url: string) => {
    const ws = await raw.open(url);
    await ws.init(bearer(alice.headers));
    return ws;
  };

  beforeAll(async () => {
    // A long principal cache: only the auth events on the bus can close a socket quickly.
    s = await startRealtimeStack(engine, { cacheTtlMs: 60_000 });
    small = await listen(s, { maxOperationsPerSocket: 5, connectionInitWaitTimeoutMs: 300, maxPayloadBytes: 4096 });
    alice = await s.user('alice@abuse.test', 'Abuseco');
  });
  afterEach(() => raw.closeAll());
  afterAll(async () => {
    raw.closeAll();
    await small?.close();
    await s?.close();
  });

  describe('protocol (graphql-transport-ws)', () => {
    it('closes 4401 on a subscribe before connection_init, and 4406 without the subprotocol', async () => {
      const ws = await raw.open(s.wsUrl);
      ws.subscribe('1', COUNT);
      expect(await ws.closed).toMatchObject({ code: 4401, reason: 'Unauthorized' });
      const none = await raw.open(s.wsUrl, { protocols: [] });
      expect((await none.closed).code).toBe(4406);
    });

    it('closes 4408 when no connection_init arrives: after 300 ms when configured, after the 3000 ms default', async () => {
      const [short, dflt] = [await raw.open(small.wsUrl), await raw.open(s.wsUrl)];
      const opened = Date.now();
      const [a, b] = await Promise.all([short.closed, dflt.closed]);
      expect(a).toMatchObject({ code: 4408, reason: 'Connection initialisation timeout' });
      expect(a.at - opened).toBeGreaterThanOrEqual(250);
      expect(a.at - opened).toBeLessThan(1_500);
      expect(b.code).toBe(4408);
      expect(b.at - opened).toBeGreaterThanOrEqual(2_900);
      expect(b.at - opened).toBeLessThan(4_500);
    }, 10_000);

    it('closes 4429 on a second connection_init', async () => {
      const ws = await openAlice(s.wsUrl);
      ws.send({ type: 'connection_init', payload: bearer(alice.headers) });
      expect(await ws.closed).toMatchObject({ code: 4429, reason: 'Too many initialisation requests' });
    });

    it('closes 4409 on a duplicate id while the first operation runs, and ends that operation', async () => {
      const ws = await openAlice(s.wsUrl);
      ws.subscribe('dup', WATCH);
      await eventually(() => s.data.hub.size(), 1);
      ws.subscribe('dup', COUNT);
      expect(await ws.closed).toMatchObject({ code: 4409, reason: 'Subscriber for dup already exists' });
      await eventually(() => s.data.hub.size(), 0);
    });

    it.each([
      ['truncated JSON', '{"type": "subscribe", "id": '],
      ['not JSON at all', 'hello'],
      ['an unknown message type', JSON.stringify({ type: 'start', id: '1', payload: { query: COUNT } })],
      ['a subscribe without an id', JSON.stringify({ type: 'subscribe', payload: { query: COUNT } })],
      ['a subscribe whose query is not a string', JSON.stringify({ type: 'subscribe', id: '1', payload: { query: 42 } })],
      ['a batch (JSON array) of subscribes', JSON.stringify([{ type: 'subscribe', id: '1', payload: { query: COUNT } }])],
    ])('closes 4400 on a malformed message: %s', async (_name, text) => {
      const ws = await openAlice(s.wsUrl);
      ws.send(text);
      expect(await ws.closed).toMatchObject({ code: 4400, reason: 'Invalid message received' });
      expect(ws.messages.filter((m) => m.type !== 'connection_ack')).toEqual([]);
    });

    it('closes 1009 on a message over maxPayloadBytes (4 KiB here; the 1 MiB body limit + 64 KiB by default)', async () => {
      const ws = await openAlice(small.wsUrl);
      ws.send(JSON.stringify({ type: 'subscribe', id: '1', payload: { query: `{ __typename } # ${'x'.repeat(4096)}` } }));
      expect((await ws.closed).code).toBe(1009);
      const big = await openAlice(s.wsUrl);
      big.send('x'.repeat(1_048_576 + 65_536 + 1));
      expect((await big.closed).code).toBe(1009);
    });

    it('refuses an operation within the frame limit but over the 1 MiB body limit as PAYLOAD_TOO_LARGE, socket kept', async () => {
      const ws = await openAlice(s.wsUrl);
      ws.subscribe('big', `{ __typename } # ${'x'.repeat(1_048_576)}`);
      const error = await ws.next((m) => m.id === 'big');
      expect(error.type, JSON.stringify(error).slice(0, 300)).toBe('error');
      expect(codesOf(error)).toEqual(['PAYLOAD_TOO_LARGE']);
      ws.subscribe('ok', COUNT);
      expect(await ws.next((m) => m.id === 'ok' && m.type === 'next')).toMatchObject({ payload: { data: { accounts: { totalCount: 0 } } } });
      expect(ws.isOpen()).toBe(true);
    });

    it('answers a request error (parse, validation, variables) with an `error` message, and field errors with `next`', async () => {
      const ws = await openAlice(s.wsUrl);
      const cases: [string, string, Record<string, unknown> | undefined, string][] = [
        ['parse', '{ accounts { totalCount }', undefined, 'GRAPHQL_PARSE_FAILED'],
        ['validation', '{ acounts { totalCount } }', undefined, 'GRAPHQL_VALIDATION_FAILED'],
        ['subscription validation', 'subscription { accountChanged { nope } }', undefined, 'GRAPHQL_VALIDATION_FAILED'],
        ['variables', 'query($n: Int!) { accounts(first: $n) { totalCount } }', { n: 'ten' }, 'BAD_USER_INPUT'],
      ];
      for (const [id, query, variables, code] of cases) {
        ws.subscribe(id, query, variables);
        const m = await ws.next((x) => x.id === id);
        expect(m.type, `${id}: ${JSON.stringify(m).slice(0, 300)}`).toBe('error');
        expect(codesOf(m)).toContain(code);
      }
      // Nothing else was sent for those operations (an `error` ends an operation: no next, no complete).
      expect(ws.messages.filter((m) => cases.some(([id]) => id === m.id)).map((m) => m.type)).toEqual(['error', 'error', 'error', 'error']);
      // A valid query still answers with next, then complete; the socket stays open.
      ws.subscribe('ok', COUNT);
      expect(await ws.next((m) => m.id === 'ok' && m.type === 'next')).toMatchObject({ payload: { data: { accounts: { totalCount: 0 } } } });
      await ws.next((m) => m.id === 'ok' && m.type === 'complete');
      expect(ws.isOpen()).toBe(true);
    });

    it('closes 1007 on invalid UTF-8 in a text frame', async () => {
      const ws = await openAlice(s.wsUrl);
      ws.send(Buffer.from([...Buffer.from('{"type":"subscribe","id":"1","payload":{"query":"{ __typename }","x":"'), 0xff, 0xfe, ...Buffer.from('"}}')]));
      expect((await ws.closed).code).toBe(1007);
    });
  });

  describe('authentication (connectionParams)', () => {
    it.each([
      ['a wrong bearer token', { authorization: 'Bearer not-a-token' }],
      ['an empty bearer token', { authorization: 'Bearer ' }],
      ['a non-string authorization', { authorization: 42 }],
      ['an authorization array', { authorization: ['Bearer a', 'Bearer b'] }],
      ['an object as the API key', { 'x-api-key': { key: 'oos_x' } }],
      ['an unknown API key', { 'x-api-key': 'oos_definitely-not-a-key' }],
      ['an oversized token', { authorization: `Bearer ${'a'.repeat(5000)}` }],
      ['no credentials', {}],
      ['an unrelated param only', { token: 'x' }],
    ])('closes 4403 before connection_ack on %s', async (_name, params) => {
      const ws = await raw.open(s.wsUrl);
      ws.send({ type: 'connection_init', payload: params });
      const closed = await ws.closed;
      expect(closed.code).toBe(4403);
      expect(closed.reason).toMatch(/^Forbidden/);
      expect(ws.messages).toEqual([]);
      await eventually(() => s.realtime.sockets(), 0);
    });

    it('closes 4403 on connection_init without a payload', async () => {
      const ws = await raw.open(s.wsUrl);
      ws.send({ type: 'connection_init' });
      expect((await ws.closed).code).toBe(4403);
    });

    it('accepts an API key and the session cookie of the upgrade; a revoked key closes the open socket (4403) and is refused after', async () => {
      const created = await s.q<{ createApiKey: { key: string; apiKey: { id: string } } }>(alice.headers, 'mutation { createApiKey(input: { name: "ws" }) { key apiKey { id } } }');
      const { key, apiKey } = created.data!.createApiKey;
      const viaKey = await raw.open(s.wsUrl);
      await viaKey.init({ 'x-api-key': key });
      const signedIn = await s.auth('/sign-in/email', { email: 'alice@abuse.test', password: PASSWORD });
      const cookie = signedIn.headers.getSetCookie().map((c) => c.split(';')[0]).join('; ');
      const viaCookie = await raw.open(s.wsUrl, { headers: { cookie } });
      await viaCookie.init();
      viaKey.subscribe('1', WATCH);
      await eventually(() => s.data.hub.size(), 1);
      const t0 = Date.now();
      expect((await s.q(alice.headers, 'mutation($id: ID!) { revokeApiKey(id: $id) }', { id: apiKey.id })).data).toEqual({ revokeApiKey: true });
      const closed = await viaKey.closed;
      expect(closed.code).toBe(4403);
      expect(closed.at - t0).toBeLessThan(5_000);
      expect(viaCookie.isOpen()).toBe(true);
      const again = await raw.open(s.wsUrl);
      again.send({ type: 'connection_init', payload: { 'x-api-key': key } });
      expect((await again.closed).code).toBe(4403);
      await eventually(() => s.data.hub.size(), 0);
    });

    it('closes the socket of a signed-out session with 4403 within 5 s; the user\'s other session stays', async () => {
      const u = await s.user('bob@abuse.test', 'Bobco');
      const second = await s.auth('/sign-in/email', { email: 'bob@abuse.test', password: PASSWORD });
      const kept = await raw.open(s.wsUrl);
      await kept.init({ authorization: `Bearer ${second.headers.get('set-auth-token')}` });
      const ws = await raw.open(s.wsUrl);
      await ws.init(bearer(u.headers));
      ws.subscribe('w', WATCH);
      await eventually(() => s.data.hub.size(), 1);
      const t0 = Date.now();
      expect((await s.auth('/sign-out', {}, u.headers)).status).toBe(200);
      const closed = await ws.closed;
      const elapsed = closed.at - t0;
      console.log(`signed-out session: socket closed ${closed.code} after ${elapsed} ms`);
      expect(closed.code).toBe(4403);
      expect(closed.reason).toMatch(/^Forbidden/);
      expect(elapsed).toBeLessThan(5_000);
      // What lets every listener act: the logout event names the user (its session is gone by then).
      expect(s.events.filter((e) => e.eventType === 'auth.logout').at(-1)?.details).toEqual({ userId: u.userId });
      await new Promise((r) => setTimeout(r, 200));
      expect(kept.isOpen()).toBe(true);
      await eventually(() => s.data.hub.size(), 0);
    });

    it('closes only the socket of a session revoked by revokeSession (4403 within 5 s); the other session stays', async () => {
      const u = await s.user('carol@abuse.test', 'Carolco');
      const second = await s.auth('/sign-in/email', { email: 'carol@abuse.test', password: PASSWORD });
      const other = { authorization: `Bearer ${second.headers.get('set-auth-token')}` };
      const [kept, revoked] = [await raw.open(s.wsUrl), await raw.open(s.wsUrl)];
      await kept.init(bearer(u.headers));
      await revoked.init(other);
      revoked.subscribe('w', WATCH);
      await eventually(() => s.data.hub.size(), 1);
      const sessions = await s.q<{ mySessions: { id: string; current: boolean }[] }>(u.headers, '{ mySessions { id current } }');
      const target = sessions.data!.mySessions.find((x) => !x.current)!;
      const t0 = Date.now();
      expect((await s.q(u.headers, 'mutation($id: ID!) { revokeSession(id: $id) }', { id: target.id })).data).toEqual({ revokeSession: true });
      const closed = await revoked.closed;
      console.log(`revoked session: socket closed ${closed.code} after ${closed.at - t0} ms`);
      expect(closed.code).toBe(4403);
      expect(closed.at - t0).toBeLessThan(5_000);
      await new Promise((r) => setTimeout(r, 200));
      expect(kept.isOpen()).toBe(true);
      kept.subscribe('q', COUNT);
      expect((await kept.next((m) => m.id === 'q')).type).toBe('next');
      await eventually(() => s.data.hub.size(), 0);
    });
  });

  describe('per-socket operation cap', () => {
    it('refuses the 6th operation with TOO_MANY_SUBSCRIPTIONS (cap 5); the first 5 keep running', async () => {
      const ws = await openAlice(small.wsUrl);
      for (let i = 1; i <= 6; i++) ws.subscribe(String(i), WATCH);
      const refused = await ws.next((m) => m.id === '6');
      expect(refused.type).toBe('error');
      expect(codesOf(refused)).toEqual(['TOO_MANY_SUBSCRIPTIONS']);
      await eventually(() => s.data.hub.size(), 5);
      await s.q(alice.headers, 'mutation { createAccount(input: { name: "Capped" }) { id } }');
      for (let i = 1; i <= 5; i++)
        expect(await ws.next((m) => m.id === String(i) && m.type === 'next')).toMatchObject({ payload: { data: { accountChanged: { op: 'CREATED', record: { name: 'Capped' } } } } });
      // Completing one frees a slot.
      ws.send({ type: 'complete', id: '1' });
      await eventually(() => s.data.hub.size(), 4);
      ws.subscribe('7', WATCH);
      await eventually(() => s.data.hub.size(), 5);
      expect(ws.messages.filter((m) => m.type === 'error')).toHaveLength(1);
      for (const id of ['2', '3', '4', '5', '7']) ws.send({ type: 'complete', id });
      await eventually(() => s.data.hub.size(), 0);
      expect(ws.isOpen()).toBe(true);
    });

    it('allows 50 operations per socket by default and refuses the 51st', async () => {
      const ws = await openAlice(s.wsUrl);
      for (let i = 1; i <= 51; i++) ws.subscribe(`s${i}`, WATCH);
      const refused = await ws.next((m) => m.id === 's51', 15_000);
      expect(codesOf(refused)).toEqual(['TOO_MANY_SUBSCRIPTIONS']);
      await eventually(() => s.data.hub.size(), 50, 15_000);
      expect(ws.messages.filter((m) => m.type === 'error')).toHaveLength(1);
      ws.ws.close(1000);
      await ws.closed;
      await eventually(() => s.data.hub.size(), 0);
    }, 30_000);
  });

  describe('Origin (cross-site WebSocket hijacking)', () => {
    it('refuses a cross-site, "null" or malformed Origin with 403 before any protocol', async () => {
      for (const origin of ['https://evil.example', 'null', 'http://127.0.0.1.evil.example', 'not a url'])
        await expect(raw.open(s.wsUrl, { origin }), origin).rejects.toThrow('HTTP 403');
      // An origin the gateway was not configured with (security-origin-policy.test.ts covers configured ones).
      await expect(raw.open(s.wsUrl, { origin: 'https://app.objectos.test' })).rejects.toThrow('HTTP 403');
    });

    it('connects from the same host', async () => {
      const same = await raw.open(s.wsUrl, { origin: `http://${new URL(s.wsUrl).host}` });
      await same.init(bearer(alice.headers));
      same.subscribe('1', COUNT);
      expect((await same.next((m) => m.id === '1')).type).toBe('next');
    });
  });

  it('refuses the operation over the rate limit with RATE_LIMITED and retryAfter, as HTTP does', async () => {
    const limited = await startRealtimeStack(engine, { protection: { rateLimit: { points: 3, durationSeconds: 60 } } });
    try {
      const u = await limited.user('dan@abuse.test', 'Danco');
      const ws = await raw.open(limited.wsUrl);
      await ws.init(bearer(u.headers));
      for (let i = 1; i <= 3; i++) {
        ws.subscribe(`q${i}`, COUNT);
        expect((await ws.next((m) => m.id === `q${i}`)).type).toBe('next');
      }
      ws.subscribe('q4', COUNT);
      const refused = await ws.next((m) => m.id === 'q4');
      expect(refused.type).toBe('error');
      const [e] = refused.payload as { message: string; extensions: { code: string; retryAfter: number } }[];
      expect(e!.extensions.code).toBe('RATE_LIMITED');
      expect(e!.extensions.retryAfter).toBeGreaterThanOrEqual(1);
      expect(e!.extensions.retryAfter).toBeLessThanOrEqual(60);
      // One budget per user, whichever transport: HTTP is refused the same way, with the same message.
      const http = await fetch(limited.url, { method: 'POST', headers: { 'content-type': 'application/json', ...u.headers }, body: JSON.stringify({ query: COUNT }) });
      expect(http.status).toBe(429);
      const body = (await http.json()) as { errors: { message: string; extensions: { code: string } }[] };
      expect(body.errors.map((x) => [x.extensions.code, x.message])).toEqual([['RATE_LIMITED', e!.message]]);
      expect(ws.isOpen()).toBe(true);
    } finally {
      raw.closeAll();
      await limited.close();
    }
  });

  it('leaves no listeners or sockets behind after completing, disconnecting or dropping', async () => {
    await eventually(() => s.realtime.sockets(), 0);
    const client = s.client(bearer(alice.headers));
    const subs = [collect(client, WATCH), collect(client, WATCH), collect(client, WATCH)];
    await eventually(() => s.data.hub.size(), 3);
    expect(s.realtime.sockets()).toBe(1);
    subs.forEach((x) => x.stop());
    await eventually(() => s.data.hub.size(), 0);
    const again = [collect(client, WATCH), collect(client, WATCH)];
    await eventually(() => s.data.hub.size(), 2);
    await client.dispose();
    await eventually(() => s.data.hub.size(), 0);
    await eventually(() => s.realtime.sockets(), 0);
    expect(again.every((x) => x.completed || x.error !== null)).toBe(true);
    // Dropped without a close frame.
    const ws = await openAlice(s.wsUrl);
    ws.subscribe('1', WATCH);
    ws.subscribe('2', WATCH);
    await eventually(() => s.data.hub.size(), 2);
    ws.ws.terminate();
    await eventually(() => s.data.hub.size(), 0);
    await eventually(() => s.realtime.sockets(), 0);
    // Closed while connection_init is being authenticated: nothing stays watched (access re-checks).
    for (let i = 0; i < 20; i++) {
      // Not cached: the lookup takes long enough for the close to arrive first.
      s.gateway.principals.forget(bearer(alice.headers));
      const quick = await raw.open(s.wsUrl);
      quick.send({ type: 'connection_init', payload: bearer(alice.headers) });
      quick.ws.terminate();
    }
    await eventually(() => s.realtime.sockets(), 0);
    await eventually(() => s.gateway.access.size(), 0);
  });
});
