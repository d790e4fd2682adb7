import { audienceKey, signRequest, type Principal } from '@objectos/principal';

/** A fixed secret for tests (never used outside them). */
export const TEST_SECRET = 'objectos-test-secret-0123456789abcdef-0123456789';
/** The organization tests act in when they do not exercise identity. */
export const TEST_ORG = '00000000-0000-4000-8000-00000000000a';

export function testPrincipal(organizationId: string | null = TEST_ORG, userId = '00000000-0000-4000-8000-0000000000u1'): Principal {
  return { kind: 'user', userId, organizationId, roles: ['owner'], permissionSets: [], role: null, groups: [], isAdmin: false, sessionId: null, apiKeyId: null, impersonatedBy: null };
}

/**
 * Gateway auth for suites that test something else than identity: every request acts as one member
 * of {@link TEST_ORG}. The identity suites use the real identity subgraph instead.
 */
export function testAuth(principal: Principal = testPrincipal()) {
  return { secret: TEST_SECRET, resolve: async () => ({ principal }) };
}

/**
 * A subgraph's fetch with the gateway's signature added, for tests that call a subgraph directly:
 * each request is signed for `audience` over its own method, URL and body, with a fresh nonce.
 */
export function signedFetch(target: (r: Request) => Promise<Response>, principal: Principal = testPrincipal(), secret = TEST_SECRET, audience = 'data') {
  const key = audienceKey(secret, audience);
  return async (r: Request): Promise<Response> => target(await signRequest(r, key, audience, principal));
}
