import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { engines } from '@objectos/testkit';
import { resultStream } from '../src/realtime/sse-stream.ts';
import { CASES, type Hostile } from './hostile-cases.ts';
import { PASSWORD } from './secure-stack.ts';
import { collect, startRealtimeStack, type RealtimeStack } from './realtime-stack.ts';
import { eventually, openRaw } from './realtime-raw.ts';

// Security reference, case 14: every depth/cost/auth rule gives the same verdict over plain HTTP,
// over SSE (HTTP with `accept: text/event-stream`) and over WS (one shared case table, 100 % parity). A verdict is the set of (extensions.code, message) of the
// errors (requestId and locations ignored) plus the data.

interface Err { message: string; extensions?: { code?: string } }
interface Result { data?: unknown; errors?: Err[] }
type Who = 'owner' | 'member';
/** `refusedBy: 'data'`: the data subgraph refuses it (input checks), so it is called once per transport. */
interface Case { name: string; who: Who; query: string; variables?: Record<string, unknown>; expect: { code?: string; message?: RegExp; data?: boolean }; refusedBy?: 'data' }

/** A hostile case whose request is one JSON operation: it can be sent as it is over a socket. */
const asOperation = (c: Hostile): { query: string; variables?: Record<string, unknown> } | null => {
  const type = new Headers(c.init.headers).get('content-type');
  if (c.init.method !== 'POST' || c.init.path || type !== 'application/json' || typeof c.init.body !== 'string') return null;
  try {
    const body = JSON.parse(c.init.body) as unknown;
    return body && typeof body === 'object' && !Array.isArray(body) && typeof (body as { query?: unknown }).query === 'string' ? (body as { query: string }) : null;
  } catch {
    return null;
  }
};

const TABLE: Case[] = [
  ...CASES.flatMap((c) => {
    const op = asOperation(c);
    return op ? [{ name: c.name, who: 'owner' as const, ...op, expect: { ...(c.code ? { code: c.code } : {}), message: c.message } }] : [];
  }),
  // Field and object access (standard_user, the default profile of the `member` role, hides account.annual_revenue).
  { name: 'member reads a hidden field', who: 'member', query: '{ accounts { nodes { name annualRevenue } } }', expect: { code: 'FORBIDDEN' } },
  { name: 'member filters on a hidden field', who: 'member', query: '{ accounts(where: { annualRevenue: { gt: 0 } }) { totalCount } }', expect: { code: 'FORBIDDEN' } },
  { name: 'member writes a hidden field', who: 'member', query: 'mutation { createAccount(input: { name: "Spy", annualRevenue: 1 }) { id } }', expect: { code: 'FORBIDDEN', message: /Not allowed to edit Account\.annualRevenue/ }, refusedBy: 'data' },
  { name: 'member reads what the profile allows', who: 'member', query: '{ accounts(orderBy: [{ field: NAME }]) { totalCount nodes { name } } }', expect: { data: true } },
  { name: 'owner reads the field the member cannot', who: 'owner', query: '{ accounts(orderBy: [{ field: NAME }]) { nodes { name annualRevenue } } }', expect: { data: true } },
  { name: 'an ordinary query', who: 'owner', query: '{ accounts(first: 50) { totalCount nodes { name contacts { lastName account { name } } } } }', expect: { data: true } },
  { name: 'a query with variables', who: 'owner', query: 'query($n: String!) { accounts(where: { name: { eq: $n } }) { nodes { name annualRevenue } } }', variables: { n: 'Parity One' }, expect: { data: true } },
  { name: 'a wrong variable type', who: 'owner', query: 'query($n: Int!) { accounts(first: $n) { totalCount } }', variables: { n: 'ten' }, expect: { code: 'BAD_USER_INPUT' } },
  { name: 'an unknown field (no suggestions)', who: 'owner', query: '{ acounts { totalCount } }', expect: { code: 'GRAPHQL_VALIDATION_FAILED', message: /Cannot query field .{1,2}acounts.{1,2} on type/ } },
  { name: 'member subscribes to a hidden field', who: 'member', query: 'subscription { accountChanged { op record { name annualRevenue } } }', expect: { code: 'FORBIDDEN' } },
];

/**
 * The HTTP cases that are not one JSON operation, and what the same attempt is over a socket. Rows with
 * `ws` are tested below; the others are not applicable to a socket (no fake test).
 */
const TRANSPORT: Record<string, { ws: 'oversize' | 'utf8' | 'json' | null; why: string }> = {
  'body over 1 MiB': { ws: 'oversize', why: 'a message over maxPayloadBytes closes 1009; an operation under the frame limit but over the body limit is refused PAYLOAD_TOO_LARGE' },
  'streamed body over 1 MiB (no Content-Length)': { ws: 'oversize', why: 'a WS message is whole frames bounded by maxPayloadBytes: same as above' },
  'invalid UTF-8': { ws: 'utf8', why: 'invalid UTF-8 in a text frame closes 1007' },
  'malformed JSON': { ws: 'json', why: 'a message that is not JSON closes 4400' },
  // Not applicable: graphql-transport-ws carries one operation per subscribe message (a JSON array is a
  // malformed message, 4400, covered in realtime-abuse.test.ts).
  'batch of 11 operations (batching is off)': { ws: null, why: 'no batching in graphql-transport-ws' },
  // Not applicable: a socket's messages have no content type (the subprotocol is negotiated: 4406 without it, realtime-abuse).
  'wrong content type': { ws: null, why: 'no content type on WS messages' },
  // Not applicable: the CSRF header guards simple cross-site requests; a socket is opened once, and a
  // cross-site upgrade is refused by its Origin check (403, realtime-abuse.test.ts).
  'GET without the CSRF header': { ws: null, why: 'CSRF: the Origin check of the upgrade instead' },
  'url-encoded POST without the CSRF header': { ws: null, why: 'CSRF: the Origin check of the upgrade instead' },
  'text/plain POST without the CSRF header': { ws: null, why: 'CSRF: the Origin check of the upgrade instead' },
  // Not applicable: a socket has no HTTP method; a mutation over WS is a POST.
  'GET mutation (with the CSRF header)': { ws: null, why: 'no HTTP method on a socket' },
};

/** Codes and messages, sorted; requestId and locations are ignored. */
const verdict = (r: Result) => ({
  errors: (r.errors ?? []).map((e) => `${e.extensions?.code ?? '-'} | ${e.message}`).sort(),
  data: r.data ?? null,
});

describe.each(engines())('HTTP and WebSocket reach the same verdict on $name', (engine) => {
  let s: RealtimeStack;
  const headers = {} as Record<Who, Record<string, string>>;
  const same = new Map<string, boolean>();

  /** The response text too: the hostile cases' message patterns are written against it. */
  const http = async (who: Who, query: string, variables?: Record<string, unknown>): Promise<{ result: Result; text: string }> => {
    const r = await fetch(s.url, { method: 'POST', headers: { 'content-type': 'application/json', ...headers[who] }, body: JSON.stringify({ query, ...(variables ? { variables } : {}) }), signal: AbortSignal.timeout(10_000) });
    const text = await r.text();
    return { result: JSON.parse(text) as Result, text };
  };
  /** The same request read as a server-sent event stream: all its results, merged (one result per query). */
  const sse = async (who: Who, query: string, variables?: Record<string, unknown>): Promise<Result> => {
    const r = await fetch(s.url, { method: 'POST', headers: { 'content-type': 'application/json', accept: 'text/event-stream', ...headers[who] }, body: JSON.stringify({ query, ...(variables ? { variables } : {}) }), signal: AbortSignal.timeout(10_000) });
    const results: Result[] = [];
    for await (const one of resultStream(r, () => {})) results.push(one as Result);
    expect(results.length, 'one result per query').toBeLessThanOrEqual(1);
    return results[0] ?? { errors: [{ message: `no result (HTTP ${r.status})` }] };
  };
  /** One operation over a fresh graphql-ws client: its results, or the errors of an `error` message. */
  const ws = async (who: Who, query: string, variables?: Record<string, unknown>): Promise<Result> => {
    const client = s.client(headers[who]);
    try {
      const op = collect(client, query, variables);
      await op.until(Infinity);
      if (op.error !== null) {
        expect(Array.isArray(op.error), `closed instead of an error message: ${JSON.stringify(op.error)}`).toBe(true);
        return { errors: op.error as Err[] };
      }
      expect(op.completed).toBe(true);
      expect(op.results, 'one result per query').toHaveLength(1);
      return op.results[0] as Result;
    } finally {
      await client.dispose();
    }
  };

  beforeAll(async () => {
    s = await startRealtimeStack(engine);
    const owner = await s.user('owner@parity.test', 'Parityco');
    headers.owner = owner.headers;
    const org = (await s.q<{ activeOrganization: { id: string } }>(owner.headers, '{ activeOrganization { id } }')).data!.activeOrganization.id;
    const joined = await s.user('member@parity.test');
    await s.identity.auth.api.addMember({ body: { userId: joined.userId, organizationId: org, role: 'member' } });
    const signedIn = await s.auth('/sign-in/email', { email: 'member@parity.test', password: PASSWORD });
    headers.member = { authorization: `Bearer ${signedIn.headers.get('set-auth-token')}` };
    for (const [who, input] of [['owner', '{ name: "Parity One", annualRevenue: 100 }'], ['member', '{ name: "Parity Two" }']] as const) {
      const made = await s.q(headers[who], `mutation { createAccount(input: ${input}) { id } }`);
      expect(made.errors, `${who} creates an account`).toBeUndefined();
    }
  });
  afterAll(() => s?.close());

  it('covers every hostile HTTP case: as one operation, or as a transport row', () => {
    for (const c of CASES) expect(asOperation(c) !== null || c.name in TRANSPORT, `${c.name}: add it to TRANSPORT`).toBe(true);
    for (const name of Object.keys(TRANSPORT)) expect(CASES.some((c) => c.name === name && asOperation(c) === null), name).toBe(true);
  });

  it.each(TABLE)('$name: same verdict', async ({ name, who, query, variables, expect: want, refusedBy }) => {
    const calls = s.dataCalls();
    const { result, text } = await http(who, query, variables);
    const viaHttp = verdict(result);
    const viaWs = verdict(await ws(who, query, variables));
    const viaSse = verdict(await sse(who, query, variables));
    // Cases refused by the gateway never reach the data subgraph, on any transport.
    if (!want.data) expect(s.dataCalls() - calls, 'data subgraph calls').toBe(refusedBy === 'data' ? 3 : 0);
    same.set(name, JSON.stringify(viaHttp) === JSON.stringify(viaWs) && JSON.stringify(viaHttp) === JSON.stringify(viaSse));
    expect(viaWs).toEqual(viaHttp);
    expect(viaSse).toEqual(viaHttp);
    // …and the verdict is the expected one, not just the same one.
    if (want.data) {
      expect(viaHttp.errors).toEqual([]);
      expect(viaHttp.data).not.toBeNull();
    } else {
      expect(viaHttp.errors.length, JSON.stringify(viaHttp)).toBeGreaterThan(0);
      if (want.code) expect(viaHttp.errors.map((e) => e.split(' | ')[0])).toContain(want.code);
      if (want.message) expect(text).toMatch(want.message);
      expect(text).not.toMatch(/Did you mean/);
    }
  });

  it('wrote nothing for the refused write, on either transport', async () => {
    const all = await s.q<{ accounts: { nodes: { name: string }[] } }>(headers.owner, '{ accounts { nodes { name } } }');
    expect(all.data!.accounts.nodes.map((n) => n.name).sort()).toEqual(['Parity One', 'Parity Two']);
  });

  it('member subscription: the same change event over WS and over HTTP (SSE)', async () => {
    const query = 'subscription { accountChanged { op changedFields record { name } } }';
    const sse = await fetch(s.url, { method: 'POST', headers: { 'content-type': 'application/json', accept: 'text/event-stream', ...headers.member }, body: JSON.stringify({ query }), signal: AbortSignal.timeout(15_000) });
    expect(sse.status).toBe(200);
    const stream = resultStream(sse, () => {});
    const client = s.client(headers.member);
    try {
      const op = collect(client, query);
      await eventually(() => s.data.hub.size(), 2);
      await s.q(headers.member, 'mutation { createAccount(input: { name: "Live Parity" }) { id } }');
      const [viaWs] = await op.until(1);
      const viaHttp = (await stream.next()).value as Result;
      same.set('member subscription (allowed)', JSON.stringify(verdict(viaHttp)) === JSON.stringify(verdict(viaWs as Result)));
      expect(verdict(viaWs as Result)).toEqual(verdict(viaHttp));
      expect(viaHttp).toEqual({ data: { accountChanged: { op: 'CREATED', changedFields: expect.any(Array), record: { name: 'Live Parity' } } } });
      op.stop();
    } finally {
      await stream.return();
      await client.dispose();
    }
    await eventually(() => s.data.hub.size(), 0);
  });

  it('member subscription to a hidden field: the same refusal over SSE as over WS', async () => {
    const query = 'subscription { accountChanged { record { annualRevenue } } }';
    const calls = s.dataCalls();
    const sse = await fetch(s.url, { method: 'POST', headers: { 'content-type': 'application/json', accept: 'text/event-stream', ...headers.member }, body: JSON.stringify({ query }), signal: AbortSignal.timeout(10_000) });
    const viaHttp: Result = { errors: [] };
    for await (const r of resultStream(sse, () => {})) viaHttp.errors!.push(...((r as Result).errors ?? []));
    const viaWs = await ws('member', query);
    same.set('member subscription (hidden field)', JSON.stringify(verdict(viaHttp)) === JSON.stringify(verdict(viaWs)));
    expect(verdict(viaWs)).toEqual(verdict(viaHttp));
    expect(verdict(viaHttp).errors.join()).toMatch(/^FORBIDDEN \| .*annualRevenue/);
    expect(s.dataCalls() - calls).toBe(0);
  });

  describe('HTTP-only cases: the WebSocket equivalent', () => {
    const tested = Object.entries(TRANSPORT).filter(([, t]) => t.ws !== null);
    it.each(tested)('%s', async (name, { ws: kind }) => {
      const socket = await openRaw(s.wsUrl);
      try {
        await socket.init(headers.owner);
        if (kind === 'json') {
          socket.send('{"type": "subscribe", "id": "1", "payload": ');
          expect((await socket.closed).code).toBe(4400);
        } else if (kind === 'utf8') {
          socket.send(Buffer.from([...Buffer.from('{"type":"subscribe","id":"1","payload":{"query":"{ accounts(where: { name: { eq: \\"'), 0xff, 0xfe, ...Buffer.from('\\" } }) { totalCount } }"}}')]));
          expect((await socket.closed).code).toBe(1007);
        } else {
          // Under the frame limit (1 MiB + 64 KiB) but over the body limit: the HTTP refusal, as a graphql-ws error.
          const query = `{ __typename } # ${'x'.repeat(1_048_576)}`;
          const viaHttp = await fetch(s.url, { method: 'POST', headers: { 'content-type': 'application/json', ...headers.owner }, body: JSON.stringify({ query }) });
          expect(viaHttp.status).toBe(413);
          socket.subscribe('big', query);
          const refused = await socket.next((m) => m.id === 'big');
          expect(refused.type).toBe('error');
          expect(verdict({ errors: refused.payload as Err[] })).toEqual(verdict((await viaHttp.json()) as Result));
          expect(socket.isOpen()).toBe(true);
          // Over the frame limit: closed before anything is parsed.
          socket.send('x'.repeat(1_048_576 + 65_536 + 1));
          expect((await socket.closed).code).toBe(1009);
        }
        same.set(`transport: ${name}`, true);
      } finally {
        socket.ws.terminate();
      }
    });
  });

  it('prints the parity summary', () => {
    const shared = TABLE.length + 2;
    const agreed = [...same.entries()].filter(([k, v]) => v && !k.startsWith('transport: ')).length;
    const transport = Object.values(TRANSPORT);
    console.log(`parity: ${agreed}/${shared} cases same verdict over HTTP, SSE and WS (${engine.name}); HTTP-only: ${[...same.keys()].filter((k) => k.startsWith('transport: ')).length}/${transport.filter((t) => t.ws).length} WS equivalents pass, ${transport.filter((t) => !t.ws).length} not applicable`);
    expect(agreed).toBe(shared);
  });
});
