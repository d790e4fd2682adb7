import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { engines } from '@objectos/testkit';
import { PASSWORD } from './secure-stack.ts';
import { startRealtimeStack, type RealtimeStack } from './realtime-stack.ts';
import { openRaw } from './realtime-raw.ts';

// Security regression class "origin policy": one allow-list (the public URL, OBJECTOS_TRUSTED_ORIGINS
// and the endpoint's own host) decides for every route and transport: CORS headers on HTTP, cookie
// requests from other origins, SSE, and the WebSocket upgrade. A new route or transport joins ROUTES
// or TRANSPORTS below.

const TRUSTED = 'https://app.objectos.test';
const FOREIGN = ['https://evil.example', 'null', 'http://127.0.0.1.evil.example', 'https://app.objectos.test.evil.example'];
const CSRF = { 'x-graphql-yoga-csrf': '1' };
const MUTATION = JSON.stringify({ query: 'mutation { createAccount(input: { name: "Cross-site" }) { id } }' });

describe.each(engines())('one origin policy for every route and transport on $name', (engine) => {
  let s: RealtimeStack;
  let cookie: string;
  let bearer: Record<string, string>;
  const own = () => `http://${new URL(s.url).host}`;
  const at = (path: string) => new URL(path, s.url).toString();

  /** Every route the gateway serves that a browser may call, as a request from `origin` (with cookie). */
  const ROUTES: Record<string, (origin: string, headers?: Record<string, string>) => Promise<Response>> = {
    'POST /graphql (mutation)': (origin, h = {}) => fetch(at('/graphql'), { method: 'POST', headers: { origin, 'content-type': 'application/json', ...CSRF, ...h }, body: MUTATION }),
    'GET /graphql (query)': (origin, h = {}) => fetch(at('/graphql?query=%7B__typename%7D'), { headers: { origin, ...CSRF, ...h } }),
    'POST /graphql (SSE subscription)': (origin, h = {}) =>
      fetch(at('/graphql'), { method: 'POST', headers: { origin, 'content-type': 'application/json', accept: 'text/event-stream', ...CSRF, ...h }, body: JSON.stringify({ query: 'subscription { accountChanged { op } }' }), signal: AbortSignal.timeout(2_000) }),
    'GET /api/auth/get-session': (origin, h = {}) => fetch(at('/api/auth/get-session'), { headers: { origin, ...h } }),
    'POST /api/auth/organization/create': (origin, h = {}) =>
      fetch(at('/api/auth/organization/create'), { method: 'POST', headers: { origin, 'content-type': 'application/json', ...h }, body: JSON.stringify({ name: `X ${Math.random()}`, slug: `x-${Date.now()}-${Math.floor(Math.random() * 1e6)}` }) }),
    // SSO (#21): registering a provider, starting a sign-in, a provider's OIDC and SAML answers.
    'POST /api/auth/sso/register': (origin, h = {}) => fetch(at('/api/auth/sso/register'), { method: 'POST', headers: { origin, 'content-type': 'application/json', ...h }, body: JSON.stringify({ providerId: 'p', issuer: 'https://idp.example', domain: 'example.test' }) }),
    'POST /api/auth/sso/request-domain-verification': (origin, h = {}) => fetch(at('/api/auth/sso/request-domain-verification'), { method: 'POST', headers: { origin, 'content-type': 'application/json', ...h }, body: JSON.stringify({ providerId: 'p' }) }),
    'POST /api/auth/sso/verify-domain': (origin, h = {}) => fetch(at('/api/auth/sso/verify-domain'), { method: 'POST', headers: { origin, 'content-type': 'application/json', ...h }, body: JSON.stringify({ providerId: 'p' }) }),
    'POST /api/auth/sign-in/sso': (origin, h = {}) => fetch(at('/api/auth/sign-in/sso'), { method: 'POST', headers: { origin, 'content-type': 'application/json', ...h }, body: JSON.stringify({ email: 'x@nowhere.test', callbackURL: '/' }) }),
    'GET /api/auth/sso/callback/nobody': (origin, h = {}) => fetch(at('/api/auth/sso/callback/nobody?code=c&state=s'), { redirect: 'manual', headers: { origin, ...h } }),
    'POST /api/auth/sso/saml2/sp/acs/nobody': (origin, h = {}) => fetch(at('/api/auth/sso/saml2/sp/acs/nobody'), { method: 'POST', redirect: 'manual', headers: { origin, 'content-type': 'application/x-www-form-urlencoded', ...h }, body: 'SAMLResponse=x' }),
    // SCIM (#21): an identity provider's requests (bearer token); a cookie never authenticates them.
    'GET /api/auth/scim/v2/Users': (origin, h = {}) => fetch(at('/api/auth/scim/v2/Users'), { headers: { origin, ...h } }),
    'POST /api/auth/scim/v2/Users': (origin, h = {}) => fetch(at('/api/auth/scim/v2/Users'), { method: 'POST', headers: { origin, 'content-type': 'application/scim+json', ...h }, body: JSON.stringify({ schemas: ['urn:ietf:params:scim:schemas:core:2.0:User'], userName: 'x@nowhere.test' }) }),
    'GET /unknown': (origin, h = {}) => fetch(at('/unknown'), { headers: { origin, ...h } }),
    'GET /health': (origin, h = {}) => fetch(at('/health'), { headers: { origin, ...h } }),
    'GET /ready': (origin, h = {}) => fetch(at('/ready'), { headers: { origin, ...h } }),
    'GET /metrics': (origin, h = {}) => fetch(at('/metrics'), { headers: { origin, ...h } }),
    'GET /.well-known/jwks.json': (origin, h = {}) => fetch(at('/.well-known/jwks.json'), { headers: { origin, ...h } }),
    'GET /api/audit/export': (origin, h = {}) => fetch(at('/api/audit/export?format=ndjson&eventType=data.create'), { headers: { origin, ...h } }),
    'GET /api/v1/meta/objects': (origin, h = {}) => fetch(at('/api/v1/meta/objects'), { headers: { origin, ...h } }),
    'GET /.well-known/objectstack': (origin, h = {}) => fetch(at('/.well-known/objectstack'), { headers: { origin, ...h } }),
  };
  const corsHeaders = (r: Response) => [...r.headers.keys()].filter((k) => k.startsWith('access-control-'));
  const count = async () => (await s.q<{ accounts: { totalCount: number } }>(bearer, '{ accounts { totalCount } }')).data!.accounts.totalCount;

  beforeAll(async () => {
    s = await startRealtimeStack(engine, { origins: [TRUSTED], audit: true });
    const u = await s.user('origin@policy.test', 'Originco');
    bearer = u.headers;
    const signedIn = await fetch(at('/api/auth/sign-in/email'), { method: 'POST', headers: { 'content-type': 'application/json', origin: TRUSTED }, body: JSON.stringify({ email: 'origin@policy.test', password: PASSWORD }) });
    expect(signedIn.status).toBe(200);
    cookie = signedIn.headers.getSetCookie().map((c) => c.split(';')[0]).join('; ');
    expect(cookie).toMatch(/session_token=/);
  });
  afterAll(() => s?.close());

  describe('CORS is an allow-list, not an echo', () => {
    it.each(Object.keys(ROUTES))('%s: allowed origins get CORS headers (with credentials), others none', async (route) => {
      for (const origin of [TRUSTED, own()]) {
        const r = await ROUTES[route]!(origin, { authorization: bearer.authorization! });
        await r.body?.cancel();
        expect(r.headers.get('access-control-allow-origin'), `${route} from ${origin}`).toBe(origin);
        expect(r.headers.get('access-control-allow-credentials')).toBe('true');
      }
      for (const origin of FOREIGN) {
        const r = await ROUTES[route]!(origin, { authorization: bearer.authorization! });
        await r.body?.cancel();
        expect(corsHeaders(r), `${route} from ${origin}`).toEqual([]);
      }
    });

    it('preflights: allowed origins may send the CSRF header and credentials; others get no CORS headers', async () => {
      const preflight = (origin: string, path: string) =>
        fetch(at(path), { method: 'OPTIONS', headers: { origin, 'access-control-request-method': 'POST', 'access-control-request-headers': 'content-type,x-graphql-yoga-csrf' } });
      for (const path of ['/graphql', '/api/auth/sign-in/email']) {
        const ok = await preflight(TRUSTED, path);
        expect(ok.headers.get('access-control-allow-origin')).toBe(TRUSTED);
        expect(ok.headers.get('access-control-allow-headers')).toMatch(/x-graphql-yoga-csrf/);
        for (const origin of FOREIGN) expect(corsHeaders(await preflight(origin, path)), `${path} from ${origin}`).toEqual([]);
      }
    });
  });

  describe('cookies from other origins are refused on every route', () => {
    it.each(Object.keys(ROUTES))('%s: a cookie request from another origin is refused 403; from an allowed origin it runs', async (route) => {
      const before = await count();
      for (const origin of FOREIGN) {
        const r = await ROUTES[route]!(origin, { cookie });
        expect(r.status, `${route} from ${origin}`).toBe(403);
        expect(await r.text()).not.toMatch(/session_token|"token"/);
      }
      expect(await count(), 'nothing written').toBe(before);
      const ok = await ROUTES[route]!(TRUSTED, { cookie });
      await ok.body?.cancel();
      expect(ok.status, `${route} from ${TRUSTED}`).not.toBe(403);
    });

    it('a cross-site request without Origin (Fetch Metadata says cross-site) carrying a cookie is refused too', async () => {
      const r = await fetch(at('/api/auth/get-session'), { headers: { cookie, 'sec-fetch-site': 'cross-site' } });
      expect(r.status).toBe(403);
    });

    it('bearer tokens are not ambient: another origin may use one (it only cannot read the answer without CORS)', async () => {
      const r = await ROUTES['POST /graphql (mutation)']!(FOREIGN[0]!, bearer);
      expect(r.status).toBe(200);
      expect(corsHeaders(r)).toEqual([]);
    });
  });

  describe('the session token never reaches a cookie-authenticated client in a body', () => {
    it('get-session and list-sessions answer a cookie request without any token in the body', async () => {
      for (const path of ['/api/auth/get-session', '/api/auth/list-sessions']) {
        const r = await fetch(at(path), { headers: { cookie, origin: TRUSTED } });
        expect(r.status, path).toBe(200);
        const text = await r.text();
        expect(text, path).not.toMatch(/"token"/);
        expect(text.length).toBeGreaterThan(10);
      }
      // Same-origin page, no Origin header (a GET): still no token.
      expect(await (await fetch(at('/api/auth/get-session'), { headers: { cookie } })).text()).not.toMatch(/"token"/);
      // A malformed Authorization or API key beside the cookie (better-auth falls back to the cookie): no token.
      for (const junk of <Record<string, string>[]>[{ authorization: 'Basic x' }, { authorization: 'Bearer junk' }, { 'x-api-key': 'junk' }]) {
        const r = await fetch(at('/api/auth/get-session'), { headers: { cookie, origin: TRUSTED, ...junk } });
        expect(await r.text(), JSON.stringify(junk)).not.toMatch(/"token"/);
      }
    });

    it('a browser signing in gets its cookie and, for bearer use, the set-auth-token header; never the token in the body', async () => {
      const r = await fetch(at('/api/auth/sign-in/email'), { method: 'POST', headers: { 'content-type': 'application/json', origin: TRUSTED }, body: JSON.stringify({ email: 'origin@policy.test', password: PASSWORD }) });
      expect(r.status).toBe(200);
      expect(await r.text()).not.toMatch(/"token"/);
      expect(r.headers.get('set-auth-token')).toBeTruthy();
      expect(r.headers.get('access-control-expose-headers')).toMatch(/set-auth-token/);
    });
  });

  describe('the WebSocket upgrade follows the same policy', () => {
    it('allowed origins connect, others are refused 403, with the same verdict as HTTP', async () => {
      for (const origin of [TRUSTED, own()]) {
        const ws = await openRaw(s.wsUrl, { origin, headers: { cookie } });
        await ws.init({});
        ws.ws.terminate();
      }
      for (const origin of FOREIGN) {
        await expect(openRaw(s.wsUrl, { origin, headers: { cookie } }), origin).rejects.toThrow('HTTP 403');
        expect((await ROUTES['POST /graphql (SSE subscription)']!(origin, { cookie })).status, origin).toBe(403);
      }
    });
  });
});
