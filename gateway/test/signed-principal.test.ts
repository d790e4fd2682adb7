import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import {
  audienceKey, createMemoryReplayStore, deriveKey, encodePrincipal, freezePrincipal, INTERNAL_AUDIENCES, principalJson, signPayload, signPrincipal, signRequest, SYSTEM,
  verifyPrincipal, verifyRequest,
} from '@objectos/principal';
import { TEST_SECRET, testPrincipal } from '@objectos/testkit';

// The signed principal as a unit: what a signature covers, key derivation, single use. The contract
// against running subgraphs is in identity.test.ts; captured real signatures replayed against them in
// security-signature-binding.test.ts.

describe('the signed principal', () => {
  const key = audienceKey(TEST_SECRET, 'data');
  const headers = (h: Record<string, string>) => new Headers(h);
  const call = { audience: 'data', method: 'POST', url: 'http://data.test/graphql', body: '{"query":"{ accounts { totalCount } }"}' };

  it('verifies a fresh signature and refuses a missing, forged, tampered, stale or future one', () => {
    const p = testPrincipal();
    const now = Date.now();
    const signed = signPrincipal(p, key, call, { now });
    expect(verifyPrincipal(headers(signed), key, call, { now })).toEqual({ ok: true, principal: p, nonce: expect.stringMatching(/^[\w-]{22}$/), expiresAt: now + 30_000 });
    expect(verifyPrincipal(headers({}), key, call)).toMatchObject({ ok: false, reason: 'missing gateway signature' });
    const otherKey = audienceKey('another-secret-of-at-least-thirty-two-characters', 'data');
    expect(verifyPrincipal(headers(signPrincipal(p, otherKey, call, { now })), key, call, { now })).toMatchObject({ ok: false, reason: expect.stringMatching(/^invalid gateway signature/) });
    // The principal edited after signing (another tenant), signature kept.
    const forged = { ...signed, 'x-objectos-principal': Buffer.from(JSON.stringify({ ...p, organizationId: randomUUID() })).toString('base64url') };
    expect(verifyPrincipal(headers(forged), key, call, { now })).toMatchObject({ ok: false, reason: expect.stringMatching(/^invalid gateway signature/) });
    // A captured request replayed later.
    expect(verifyPrincipal(headers(signed), key, call, { now: now + 31_000 })).toMatchObject({ ok: false, reason: 'stale gateway signature' });
    expect(verifyPrincipal(headers(signPrincipal(p, key, call, { now: now + 60_000 })), key, call, { now })).toMatchObject({ ok: false, reason: 'gateway signature from the future' });
    expect(verifyPrincipal(headers({ ...signed, 'x-objectos-signature': 'garbage' }), key, call, { now })).toMatchObject({ ok: false, reason: 'malformed gateway signature' });
  });

  it('binds a signature to its audience, method, path, query and body', () => {
    const now = Date.now();
    const signed = headers(signPrincipal(SYSTEM, key, call, { now }));
    const refused = (binding: typeof call, k = key) => verifyPrincipal(signed, k, binding, { now });
    expect(refused({ ...call, body: '{"query":"mutation { deleteAccount(id: \\"1\\") { id } }"}' })).toEqual({ ok: false, reason: 'gateway signature is for another body' });
    expect(refused({ ...call, body: '' })).toEqual({ ok: false, reason: 'gateway signature is for another body' });
    expect(refused({ ...call, method: 'GET' })).toMatchObject({ ok: false, reason: expect.stringMatching(/^invalid gateway signature/) });
    expect(refused({ ...call, url: 'http://data.test/internal/metadata' })).toMatchObject({ ok: false, reason: expect.stringMatching(/^invalid gateway signature/) });
    expect(refused({ ...call, url: 'http://data.test/graphql?x=1' })).toMatchObject({ ok: false, reason: expect.stringMatching(/^invalid gateway signature/) });
    expect(refused({ ...call, audience: 'identity' }, audienceKey(TEST_SECRET, 'identity'))).toEqual({ ok: false, reason: 'gateway signature is for subgraph "data", not "identity"' });
    // The host is not bound (in-process routing and proxies differ); the same bytes to the same path are.
    expect(refused({ ...call, url: 'http://127.0.0.1:4001/graphql' })).toMatchObject({ ok: true });
    // A GET has the empty body's digest, whether given as null or as no bytes.
    const get = { audience: 'data', method: 'GET', url: 'http://data.test/internal/metadata' };
    expect(verifyPrincipal(headers(signPrincipal(SYSTEM, key, get, { now })), key, { ...get, body: new ArrayBuffer(0) }, { now })).toMatchObject({ ok: true });
    // Every signature is unique (random nonce), even for the same call in the same millisecond.
    expect(signPrincipal(SYSTEM, key, call, { now })['x-objectos-signature']).not.toBe(signed.get('x-objectos-signature'));
  });

  it('derives a key per purpose and per subgraph; external subgraphs get keys from their own namespace', () => {
    expect(deriveKey(TEST_SECRET, 'principal-hmac:data')).not.toBe(deriveKey(TEST_SECRET, 'better-auth'));
    expect(audienceKey(TEST_SECRET, 'data')).toBe(deriveKey(TEST_SECRET, 'principal-hmac:data'));
    expect(audienceKey(TEST_SECRET, 'identity')).toBe(deriveKey(TEST_SECRET, 'principal-hmac:identity'));
    expect(audienceKey(TEST_SECRET, 'audit')).toBe(deriveKey(TEST_SECRET, 'principal-hmac:audit'));
    expect(audienceKey(TEST_SECRET, 'billing')).toBe(deriveKey(TEST_SECRET, 'principal-hmac:external:billing'));
    const keys = ['data', 'identity', 'audit', 'billing', 'external', 'crm_legacy'].map((a) => audienceKey(TEST_SECRET, a));
    expect(new Set(keys).size).toBe(keys.length);
    expect(INTERNAL_AUDIENCES).toEqual(['data', 'identity', 'audit', 'automation', 'workflow', 'metrics']);
    expect(() => audienceKey(TEST_SECRET, 'a:b')).toThrow(/cannot be a signature audience/);
    expect(() => deriveKey('short', 'principal-hmac:data')).toThrow(/at least 32 characters/);
  });

  it('accepts a signed request once: a replay store remembers nonces until they go stale', async () => {
    const replay = createMemoryReplayStore();
    const request = () => new Request(call.url, { method: 'POST', body: call.body });
    const signed = await signRequest(request(), key, 'data', SYSTEM);
    const again = () => new Request(signed.url, { method: 'POST', headers: signed.headers, body: call.body });
    expect(await verifyRequest(again(), key, 'data', { replay })).toMatchObject({ ok: true, principal: { kind: 'system' } });
    expect(await verifyRequest(again(), key, 'data', { replay })).toEqual({ ok: false, reason: 'gateway signature already used (replay)' });
    // The same call signed again (a new nonce) is a new signature.
    expect(await verifyRequest(await signRequest(request(), key, 'data', SYSTEM), key, 'data', { replay })).toMatchObject({ ok: true });
    // The body is read from a clone: the request stays readable for the subgraph.
    const fresh = await signRequest(request(), key, 'data', SYSTEM);
    expect(await verifyRequest(fresh, key, 'data', { replay })).toMatchObject({ ok: true });
    expect(await fresh.text()).toBe(call.body);
    // The store forgets a claim once its time is up.
    expect(await replay.claim('short-lived', 20)).toBe(true);
    expect(await replay.claim('short-lived', 20)).toBe(false);
    await new Promise((r) => setTimeout(r, 40));
    expect(await replay.claim('short-lived', 20)).toBe(true);
  });

  it('gives every signature its own nonce, across refills of the random pool', () => {
    const nonces = new Set<string>();
    // 256 nonces per refill: this crosses several.
    for (let i = 0; i < 2_000; i++) {
      const sig = signPrincipal(SYSTEM, key, call)['x-objectos-signature']!;
      nonces.add(/n=([\w-]{22}),/.exec(sig)![1]!);
    }
    expect(nonces.size).toBe(2_000);
  });

  it('encodes a frozen principal once, and never serves a stale encoding of one that can still change', () => {
    const changing = testPrincipal();
    const before = encodePrincipal(changing);
    changing.roles = ['member'];
    changing.permissionSets.push('support_agent');
    const after = encodePrincipal(changing);
    expect(after).not.toBe(before);
    expect(JSON.parse(Buffer.from(after, 'base64url').toString())).toMatchObject({ roles: ['member'], permissionSets: expect.arrayContaining(['support_agent']) });
    expect(principalJson(changing)).toBe(JSON.stringify(changing));
    // Frozen, lists included: nothing can change it, so the encoding is made once and reused.
    const frozen = freezePrincipal(testPrincipal());
    expect(() => (frozen.roles as string[]).push('admin')).toThrow(TypeError);
    expect(encodePrincipal(frozen)).toBe(encodePrincipal(frozen));
    expect(principalJson(frozen)).toBe(JSON.stringify(frozen));
  });

  it('hands every request signed for the same principal one frozen principal, and decodes nothing it did not verify', () => {
    const p = testPrincipal();
    const now = Date.now();
    const first = verifyPrincipal(headers(signPrincipal(p, key, call, { now })), key, call, { now });
    const second = verifyPrincipal(headers(signPrincipal(p, key, call, { now })), key, call, { now });
    if (!first.ok || !second.ok) throw new Error('both signatures should verify');
    expect(second.principal).toBe(first.principal);
    expect(first.principal).toEqual(p);
    expect(Object.isFrozen(first.principal) && Object.isFrozen(first.principal.permissionSets)).toBe(true);
    // Another principal under the same key is another object, not the cached one.
    const other = verifyPrincipal(headers(signPrincipal({ ...p, roles: ['member'] }, key, call, { now })), key, call, { now });
    expect(other).toMatchObject({ ok: true, principal: { roles: ['member'] } });
    // A payload that is not a principal is refused even when signed with the key, every time (nothing is cached).
    const bad = Buffer.from(JSON.stringify({ kind: 'user', roles: 'admin' })).toString('base64url');
    for (let i = 0; i < 2; i++) expect(verifyPrincipal(headers(signPayload(bad, key, call, { now })), key, call, { now })).toEqual({ ok: false, reason: 'malformed principal' });
    // Swapped into another principal's signature, it fails the MAC first.
    const forged = { ...signPrincipal(p, key, call, { now }), 'x-objectos-principal': bad };
    expect(verifyPrincipal(headers(forged), key, call, { now })).toMatchObject({ ok: false, reason: expect.stringMatching(/^invalid gateway signature/) });
  });
});
