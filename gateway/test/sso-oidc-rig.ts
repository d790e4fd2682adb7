import { expect } from 'vitest';
import { freePort, gqlOk, signIn, withHeaders } from '@objectos/testkit';
import { startRulesApp, type RulesApp, type RulesEngine } from './rules-app.ts';
import { CookieJar, followRedirects, startOidcIdp, type OidcIdp } from './oidc-idp.ts';
import { startTxtDns, type TxtDns } from './dns-txt.ts';

export const PASSWORD = 'Sup3r-secret-pass!';
export const CLIENT = { clientId: 'objectos-acme', clientSecret: 'acme-client-secret-0123456789' };
export interface Trail { auditEvents: { edges: { node: { eventType: string; description: string; tenantId: string | null; actor: { id: string | null }; details: Record<string, unknown> | null } }[] } }
const TRAIL = 'query($w: AuditEventWhere) { auditEvents(where: $w, first: 100) { edges { node { eventType description tenantId actor { id } details } } } }';

/** What an SSO sign-in in a browser came to: where it landed (or the start's refusal), its cookies. */
export interface SsoFlow { status: number; text: string; jar: CookieJar; landed: URL | null; visited?: string[]; last?: Response | null }

/**
 * ObjectOS through `npm start`'s path with two OpenID providers on loopback (`idp`, and `other`, with the
 * same client: where an ID token of another issuer comes from), a DNS server for domain proofs, and
 * helpers to act as its users and as a browser.
 */
export interface SsoOidcRig {
  rig: RulesApp;
  idp: OidcIdp;
  other: OidcIdp;
  /** The organizations' DNS: where they publish the TXT records that prove their domains. */
  dns: TxtDns;
  base: string;
  /** The rig owner's organization. */
  org: string;
  auth(path: string, body: unknown, token?: string): Promise<Response>;
  register(token: string, body: Record<string, unknown>): Promise<Response>;
  /** A new user, signed up and signed in (its bearer token). */
  person(email: string): Promise<string>;
  trail(types: string[]): Promise<Trail>;
  /**
   * A browser signing in with its work address: ObjectOS answers where to go, the browser follows the
   * redirects through the provider's login and consent and back, and lands on `callbackURL` (or its error).
   */
  ssoSignIn(email: string, rewrite?: (u: URL) => URL | Promise<URL>, callbackURL?: string): Promise<SsoFlow>;
  sessionOf(jar: CookieJar): Promise<{ user: { email: string; id: string }; session: { activeOrganizationId: string | null } } | null>;
  close(): Promise<void>;
}

export async function startSsoOidcRig(engine: RulesEngine, o: { slug: string; providers: string[]; extra?: Record<string, string> }): Promise<SsoOidcRig> {
  const dns = await startTxtDns();
  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;
  const redirectUris = o.providers.map((id) => `${base}/api/auth/sso/callback/${id}`);
  const idp = await startOidcIdp({ clients: [{ ...CLIENT, redirectUris }] });
  const other = await startOidcIdp({ clients: [{ ...CLIENT, redirectUris }] });
  const rig = await startRulesApp({ engine, slug: o.slug, extra: o.extra ?? {}, env: { PORT: String(port), OBJECTOS_PUBLIC_URL: base, OBJECTOS_SSO_ISSUERS: `${idp.issuer},${other.issuer}` } });
  const org = (await rig.q<{ activeOrganization: { id: string } }>('{ activeOrganization { id } }')).activeOrganization.id;
  const auth = (path: string, body: unknown, token?: string) =>
    fetch(`${base}/api/auth${path}`, { method: 'POST', headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) }, body: JSON.stringify(body) });
  return {
    rig, idp, other, dns, base, org, auth,
    register: (token, body) => auth('/sso/register', { oidcConfig: { ...CLIENT, pkce: true }, ...body }, token),
    async person(email) {
      expect((await auth('/sign-up/email', { email, password: PASSWORD, name: email.split('@')[0] })).status).toBe(200);
      return signIn(base, email, PASSWORD);
    },
    trail: async (types) => (await rig.app.audit?.capture.drain(), gqlOk<Trail>(withHeaders(`${base}/graphql`, { authorization: `Bearer ${rig.owner}` }), TRAIL, { w: { eventType: types } })),
    async ssoSignIn(email, rewrite, callbackURL = `${base}/welcome`) {
      const jar = new CookieJar();
      const started = await fetch(`${base}/api/auth/sign-in/sso`, { method: 'POST', headers: { 'content-type': 'application/json', origin: base }, body: JSON.stringify({ email, callbackURL, errorCallbackURL: `${base}/sso-error` }) });
      const text = await started.text();
      if (started.status !== 200) return { status: started.status, text, jar, landed: null };
      jar.take(base, started);
      const { url } = JSON.parse(text) as { url: string };
      const landed = await followRedirects(url, jar, (u) => u.origin === base && ['/welcome', '/sso-error'].includes(u.pathname), rewrite);
      return { status: 200, text, jar, landed: landed.url, visited: landed.visited, last: landed.last };
    },
    async sessionOf(jar) {
      const r = await fetch(`${base}/api/auth/get-session`, { headers: { cookie: jar.header(base) } });
      return (await r.json()) as { user: { email: string; id: string }; session: { activeOrganizationId: string | null } } | null;
    },
    async close() {
      await dns.close();
      await rig.close();
      await idp.close();
      await other.close();
    },
  };
}
