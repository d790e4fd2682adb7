import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDataSubgraph, type DataSubgraph } from '@objectos/data-subgraph';
import { connectDatabase, type Database } from '@objectos/db';
import { createMemoryEventBus } from '@objectos/events';
import { createIdentitySubgraph, type IdentitySubgraph } from '@objectos/identity-subgraph';
import { loadMetadata, type MetadataModel } from '@objectos/metadata';
import { createLocalJWKSet, type JSONWebKeySet, type JWTVerifyGetKey } from 'jose';
import { audienceKey, createRedisReplayStore, createSubgraphTokenVerifier, JWKS_PATH, PRINCIPAL_HEADER, SIGNATURE_HEADER, SUBSCRIPTION_ACCESS_ENDPOINT, type ReplayStore } from '@objectos/principal';
import { engines, gql, services, TEST_SECRET, testAuth, type EngineHandle, type FetchHandler } from '@objectos/testkit';
import { createGateway, type Gateway } from '../src/index.ts';
import { BILLING_SDL, billingResolvers, startExternalSubgraph, type ExternalSubgraph } from './external-subgraph.ts';
import { METADATA } from './stack.ts';

/**
 * Security regression class "signature binding": what the gateway sends a subgraph is good for that
 * subgraph, that method, path and body, once. Every header pair below is a real one, captured from the
 * gateway's own call and held back from its subgraph, so the signature itself is valid and unused:
 * only the binding (or single use) can be what refuses it.
 */

const ORIGIN = 'http://objectos.test';

/** A subgraph's handler that can hold back the gateway's next call instead of delivering it. */
interface Tap {
  handler: FetchHandler;
  /** The next call that matches is kept (answered 503) instead of delivered. */
  hold(match: (r: Request) => boolean): Promise<Request>;
}

function tap(target: FetchHandler): Tap {
  let pending: { match: (r: Request) => boolean; resolve: (r: Request) => void } | null = null;
  return {
    handler: async (r) => {
      if (pending?.match(r)) {
        const p = pending;
        pending = null;
        p.resolve(r);
        return new Response('held by the test', { status: 503 });
      }
      return target(r);
    },
    hold: (match) => new Promise((resolve) => (pending = { match, resolve })),
  };
}

interface Captured {
  method: string;
  url: string;
  headers: Headers;
  body: string;
}

const capture = async (r: Request): Promise<Captured> => ({ method: r.method, url: r.url, headers: new Headers(r.headers), body: await r.text() });

/** The captured header pair on another request (method, URL or body changed, or none). */
const resend = (c: Captured, change: Partial<Omit<Captured, 'headers'>> = {}): Request => {
  const method = change.method ?? c.method;
  const body = change.body ?? c.body;
  return new Request(change.url ?? c.url, { method, headers: c.headers, ...(method === 'GET' || method === 'HEAD' ? {} : { body }) });
};

async function expect401(response: Promise<Response>, reason: RegExp): Promise<void> {
  const r = await response;
  const text = await r.text();
  expect(r.status, text).toBe(401);
  expect(r.headers.get('www-authenticate')).toBe('ObjectOS-HMAC');
  // GraphQL routes answer `{ errors: [...] }`, identity's HTTP routes `{ error: {...} }`: the same reason in both.
  const body = JSON.parse(text) as { data?: unknown; errors?: { message: string }[]; error?: { code: string; message: string } };
  expect(body.data).toBeUndefined();
  expect(body.errors?.[0]?.message ?? body.error?.message).toMatch(reason);
}

const gatewayPost = (gateway: Gateway, query: string, variables: Record<string, unknown> = {}) =>
  gql(gateway.fetch, query, variables);
/** Tests run one at a time, so the next GraphQL call to a subgraph is the one the test caused. */
const isGraphQL = (r: Request) => r.method === 'POST' && new URL(r.url).pathname === '/graphql';

interface BindingStack {
  gateway: Gateway;
  data: DataSubgraph;
  identity: IdentitySubgraph;
  billing: ExternalSubgraph;
  taps: { data: Tap; identity: Tap };
  model: MetadataModel;
  database: Database;
  close(): Promise<void>;
}

async function startBindingStack(replay: { data?: ReplayStore; identity?: ReplayStore } = {}): Promise<BindingStack> {
  const handle: EngineHandle = await engines()[0]!.open();
  const database = await connectDatabase(handle.options);
  const model = await loadMetadata(METADATA);
  const identity = await createIdentitySubgraph({ database, secret: TEST_SECRET, baseURL: ORIGIN, bus: createMemoryEventBus(), ...(replay.identity ? { replay: replay.identity } : {}) });
  const data = await createDataSubgraph({ metadata: model, database, secret: TEST_SECRET, ...(replay.data ? { replay: replay.data } : {}) });
  // A team's service, verifying the gateway's tokens against its JWKS (audience: its name), no shared secret.
  let gatewayRef: Gateway | null = null;
  const jwks: JWTVerifyGetKey = async (header, token) => {
    const keys = (await (await gatewayRef!.fetch(new Request(`${ORIGIN}${JWKS_PATH}`))).json()) as JSONWebKeySet;
    return createLocalJWKSet(keys)(header, token);
  };
  const billing = await startExternalSubgraph(BILLING_SDL, billingResolvers, { token: { jwks, audience: 'billing', issuer: ORIGIN } });
  const taps = { data: tap(data.fetch), identity: tap(identity.fetch) };
  const gateway = await createGateway({
    subgraphs: [
      { name: 'identity', url: 'http://identity.test/graphql', sdl: identity.sdl, fetch: taps.identity.handler },
      { name: 'data', url: 'http://data.test/graphql', sdl: data.sdl, fetch: taps.data.handler },
      { name: 'billing', url: billing.url, sdl: billing.sdl },
    ],
    auth: { ...testAuth(), identity: { fetch: taps.identity.handler, baseUrl: 'http://identity.test' } },
    publicUrl: ORIGIN,
  });
  gatewayRef = gateway;
  return {
    gateway, data, identity, billing, taps, model, database,
    async close() {
      await gateway.dispose();
      await billing.close();
      await data.dispose();
      await identity.dispose();
      await database.close();
      await handle.cleanup();
    },
  };
}

/** Sends a mutation through the gateway and returns the data subgraph's call for it, held back (valid, unused). */
async function heldDataCall(s: BindingStack, query: string): Promise<Captured> {
  const held = s.taps.data.hold(isGraphQL);
  await gatewayPost(s.gateway, query);
  return capture(await held);
}

const countNamed = async (s: BindingStack, name: string): Promise<number> => {
  const r = await gql<{ accounts: { nodes: { name: string }[] } }>(s.gateway.fetch, '{ accounts(first: 500) { nodes { name } } }');
  expect(r.errors).toBeUndefined();
  return r.data!.accounts.nodes.filter((n) => n.name === name).length;
};

describe('signature binding: a captured gateway signature is good for one subgraph, one request, once', () => {
  let s: BindingStack;
  beforeAll(async () => {
    s = await startBindingStack();
  });
  afterAll(() => s?.close());

  it('normal traffic is served: queries, mutations, many calls per request (each freshly signed), the external subgraph', async () => {
    const created = await gatewayPost(s.gateway, 'mutation { createAccount(input: { name: "Normal" }) { id } }');
    expect(created.errors).toBeUndefined();
    // The same query at once, several times: each call has its own nonce, so single use never refuses one.
    const results = await Promise.all(Array.from({ length: 5 }, () => gatewayPost(s.gateway, '{ accounts { nodes { id name billingPlan } } }')));
    for (const r of results) expect(r.errors, JSON.stringify(r.errors)).toBeUndefined();
    expect(results[0]!.data).toMatchObject({ accounts: { nodes: [{ name: 'Normal', billingPlan: expect.any(String) }] } });
  });

  it('replayed with another body (another mutation): 401', async () => {
    const name = `Bound ${randomUUID()}`;
    const held = await heldDataCall(s, `mutation { createAccount(input: { name: "${name}" }) { id } }`);
    const forged = held.body.replace(name, 'Forged');
    expect(forged).not.toBe(held.body);
    await expect401(s.data.fetch(resend(held, { body: forged })), /for another body/);
    await expect401(s.data.fetch(resend(held, { body: '{"query":"{ accounts { nodes { id name } } }"}' })), /for another body/);
    expect(await countNamed(s, 'Forged')).toBe(0);
    // The signature itself was valid: its own body is served (once).
    const ok = await s.data.fetch(resend(held));
    expect(ok.status).toBe(200);
    expect(await countNamed(s, name)).toBe(1);
  });

  it('replayed with the same body a second time: 401 (single use, in memory)', async () => {
    const name = `Once ${randomUUID()}`;
    const held = await heldDataCall(s, `mutation { createAccount(input: { name: "${name}" }) { id } }`);
    expect((await s.data.fetch(resend(held))).status).toBe(200);
    await expect401(s.data.fetch(resend(held)), /already used \(replay\)/);
    await expect401(s.data.fetch(resend(held)), /already used \(replay\)/);
    expect(await countNamed(s, name)).toBe(1);
  });

  it('sent with another method or path: 401', async () => {
    const held = await heldDataCall(s, `mutation { createAccount(input: { name: "Path ${randomUUID()}" }) { id } }`);
    const query = encodeURIComponent('{ accounts { totalCount } }');
    await expect401(s.data.fetch(resend(held, { method: 'GET', url: `http://data.test/graphql?query=${query}` })), /invalid gateway signature/);
    await expect401(s.data.fetch(resend(held, { method: 'GET' })), /invalid gateway signature/);
    await expect401(s.data.fetch(resend(held, { method: 'PUT' })), /invalid gateway signature/);
    await expect401(s.data.fetch(resend(held, { url: 'http://data.test/graphql?operationName=x' })), /invalid gateway signature/);
    await expect401(s.data.fetch(resend(held, { method: 'GET', url: 'http://data.test/internal/metadata' })), /invalid gateway signature/);
    // The route that ends a live subscription with LEFT events takes a signed principal like the others.
    await expect401(s.data.fetch(resend(held, { url: `http://data.test${SUBSCRIPTION_ACCESS_ENDPOINT}` })), /invalid gateway signature/);
    const unsigned = new Request(`http://data.test${SUBSCRIPTION_ACCESS_ENDPOINT}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"stream":"any","delivered":0}' });
    await expect401(s.data.fetch(unsigned), /missing gateway signature/);
  });

  it("identity's header pair sent to data: 401 (signed for another subgraph)", async () => {
    const held = s.taps.identity.hold(isGraphQL);
    await gatewayPost(s.gateway, '{ me { id } }');
    const call = await capture(await held);
    expect(call.headers.get(SIGNATURE_HEADER)).toMatch(/,a=identity,/);
    await expect401(s.data.fetch(resend(call, { url: 'http://data.test/graphql' })), /for subgraph "identity", not "data"/);
  });

  it('an /api/auth call is bound to its route and body, and used once', async () => {
    const held = s.taps.identity.hold((r) => new URL(r.url).pathname === '/api/auth/sign-up/email');
    const email = `${randomUUID()}@example.com`;
    await s.gateway.fetch(new Request(`${ORIGIN}/api/auth/sign-up/email`, {
      method: 'POST', headers: { 'content-type': 'application/json', origin: ORIGIN }, body: JSON.stringify({ email, password: 'Sturdy-Passw0rd', name: 'Signup' }),
    }), { req: { socket: { remoteAddress: '127.0.0.1' } } });
    const call = await capture(await held);
    const other = call.body.replace(email, `attacker-${email}`);
    await expect401(s.identity.fetch(resend(call, { body: other })), /for another body/);
    await expect401(s.identity.fetch(resend(call, { url: 'http://identity.test/api/auth/sign-in/email' })), /invalid gateway signature/);
    await expect401(s.identity.fetch(resend(call, { url: 'http://identity.test/internal/principal' })), /invalid gateway signature/);
    await expect401(s.data.fetch(resend(call, { url: 'http://data.test/graphql' })), /for subgraph "identity", not "data"/);
    expect((await s.identity.fetch(resend(call))).status).toBe(200);
    await expect401(s.identity.fetch(resend(call)), /already used \(replay\)/);
  });

  it('an external subgraph gets a short-lived token for its audience only, which no internal subgraph accepts', async () => {
    const before = s.billing.received.length;
    const r = await gatewayPost(s.gateway, '{ accounts { nodes { id billingPlan } } }');
    expect(r.errors).toBeUndefined();
    const got = s.billing.received.slice(before).find((c) => c.method === 'POST');
    expect(got, 'the gateway called billing').toBeDefined();
    // A token, and nothing an internal subgraph checks: no principal header, no HMAC signature.
    expect(got!.headers['authorization']).toMatch(/^Bearer ey/);
    expect(got!.headers[SIGNATURE_HEADER]).toBeUndefined();
    expect(got!.headers[PRINCIPAL_HEADER]).toBeUndefined();
    const [, payload] = got!.headers['authorization']!.slice('Bearer '.length).split('.');
    const claims = JSON.parse(Buffer.from(payload!, 'base64url').toString()) as { aud: string; iss: string; exp: number; iat: number };
    expect(claims).toMatchObject({ aud: 'billing', iss: ORIGIN });
    expect(claims.exp - claims.iat).toBeLessThanOrEqual(60);
    const call: Captured = { method: got!.method, url: got!.url, headers: new Headers(got!.headers), body: got!.body };
    await expect401(s.data.fetch(resend(call, { url: 'http://data.test/graphql' })), /missing gateway signature/);
    await expect401(s.identity.fetch(resend(call, { url: 'http://identity.test/graphql' })), /missing gateway signature/);
    await expect401(s.identity.fetch(resend(call, { url: 'http://identity.test/internal/principal' })), /missing gateway signature/);
    // Another external subgraph (audience "ledger") refuses billing's token; billing refuses one without a token.
    const verifyAsLedger = createSubgraphTokenVerifier({ jwks: createLocalJWKSet((await (await s.gateway.fetch(new Request(`${ORIGIN}${JWKS_PATH}`))).json()) as JSONWebKeySet), audience: 'ledger', issuer: ORIGIN });
    expect(await verifyAsLedger(got!.headers['authorization']!)).toEqual({ ok: false, reason: 'the gateway token is not for this subgraph (aud)' });
    const fromGateway = [...s.billing.received];
    const bare = new Headers(call.headers);
    bare.delete('authorization');
    const refused = await fetch(s.billing.url, { method: 'POST', headers: bare, body: call.body });
    expect(refused.status).toBe(401);
    // The SDL and every other call billing received carried a token for billing, never an internal signature.
    for (const c of fromGateway) {
      expect(c.headers[SIGNATURE_HEADER]).toBeUndefined();
      expect(c.headers['authorization']).toMatch(/^Bearer /);
    }
  });
});

describe.skipIf(!services.redis)('signature binding: single use shared by replicas (Redis)', () => {
  let s: BindingStack;
  let replica: DataSubgraph;
  const stores: ReplayStore[] = [];
  const prefix = `objectos:test:sig:${randomUUID()}:`;
  beforeAll(async () => {
    const store = () => {
      const r = createRedisReplayStore(services.redis!, { keyPrefix: prefix });
      stores.push(r);
      return r;
    };
    s = await startBindingStack({ data: store(), identity: store() });
    await Promise.all(stores.map((r) => r.ready));
    // A second data replica on the same database, with its own connection to the same Redis.
    replica = await createDataSubgraph({ metadata: s.model, database: s.database, secret: TEST_SECRET, replay: store() });
    await stores[2]!.ready;
  });
  afterAll(async () => {
    await replica?.dispose();
    await s?.close();
    await Promise.all(stores.map((r) => r.close()));
  });

  it('a signature one replica accepted is refused by the other, with the same body', async () => {
    const name = `Replica ${randomUUID()}`;
    const held = await heldDataCall(s, `mutation { createAccount(input: { name: "${name}" }) { id } }`);
    expect((await s.data.fetch(resend(held))).status).toBe(200);
    await expect401(replica.fetch(resend(held)), /already used \(replay\)/);
    await expect401(s.data.fetch(resend(held)), /already used \(replay\)/);
    expect(await countNamed(s, name)).toBe(1);
  });

  it('is still bound to its body on every replica', async () => {
    const held = await heldDataCall(s, `mutation { createAccount(input: { name: "Bound ${randomUUID()}" }) { id } }`);
    await expect401(replica.fetch(resend(held, { body: held.body.replace('Bound', 'Forged') })), /for another body/);
    expect((await replica.fetch(resend(held))).status).toBe(200);
  });
});
