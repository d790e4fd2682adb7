import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort, signIn } from '@objectos/testkit';
import { socialFromEnv } from '@objectos/identity-subgraph/social-config';
import { startRulesApp, type RulesApp } from './rules-app.ts';
import { CookieJar, followRedirects, startOidcIdp, type OidcIdp } from './oidc-idp.ts';

const PASSWORD = 'Sup3r-secret-pass!';
const CLIENT = { clientId: 'objectos-corp', clientSecret: 'corp-client-secret-0123456789' };

/**
 * Issue #21 point 3: social sign-in. Google, GitHub and Microsoft are configured from environment
 * variables, and any OAuth 2.0 / OpenID Connect provider by its discovery document
 * (OBJECTOS_OAUTH_PROVIDERS). The generic path is walked end to end against a real OpenID provider on
 * loopback; the built-in ones are checked up to the provider's authorization URL (no network here).
 * Sign-ins are audited (`auth.login`, method `oauth`); a changed state is refused with no session.
 */
describe('social sign-in: built-in providers from the environment, any OIDC provider by discovery', () => {
  let rig: RulesApp;
  let idp: OidcIdp;
  let base: string;
  const start = (provider: string, jar: CookieJar) => fetch(`${base}/api/auth/sign-in/social`, {
    method: 'POST', headers: { 'content-type': 'application/json', origin: base, ...(jar.header(base) ? { cookie: jar.header(base) } : {}) },
    body: JSON.stringify({ provider, callbackURL: `${base}/welcome`, errorCallbackURL: `${base}/oauth-error` }),
  });
  const sessionOf = async (jar: CookieJar) =>
    (await (await fetch(`${base}/api/auth/get-session`, { headers: { cookie: jar.header(base) } })).json()) as { user: { id: string; email: string; name: string } } | null;
  /** A browser signing in with the corp provider: to it, through its login and consent, and back. */
  const corpSignIn = async (rewrite?: (u: URL) => URL) => {
    const jar = new CookieJar();
    const r = await start('corp', jar);
    expect(r.status, await r.clone().text()).toBe(200);
    jar.take(base, r);
    const { url } = (await r.json()) as { url: string };
    const walked = await followRedirects(url, jar, (u) => u.origin === base && ['/welcome', '/oauth-error'].includes(u.pathname), rewrite);
    return { jar, landed: walked.url, visited: walked.visited };
  };
  const audit = async (type: string) => {
    await rig.app.audit?.capture.drain();
    return rig.app.identity!.database.run<{ actor_id: string | null; details: Record<string, unknown> }>(
      `select actor_id, details from audit.events where event_type = $1 and details->>'method' = 'oauth' order by seq`, [type]);
  };

  beforeAll(async () => {
    const port = await freePort();
    base = `http://127.0.0.1:${port}`;
    idp = await startOidcIdp({ clients: [{ ...CLIENT, redirectUris: [`${base}/api/auth/callback/corp`] }] });
    rig = await startRulesApp({
      engine: 'pglite', slug: 'social', env: {
        PORT: String(port), OBJECTOS_PUBLIC_URL: base,
        OBJECTOS_OAUTH_PROVIDERS: 'corp', OBJECTOS_OAUTH_CORP_DISCOVERY_URL: `${idp.issuer}/.well-known/openid-configuration`,
        OBJECTOS_OAUTH_CORP_CLIENT_ID: CLIENT.clientId, OBJECTOS_OAUTH_CORP_CLIENT_SECRET: CLIENT.clientSecret,
        OBJECTOS_GOOGLE_CLIENT_ID: 'google-client.apps.googleusercontent.com', OBJECTOS_GOOGLE_CLIENT_SECRET: 'google-secret',
        OBJECTOS_GITHUB_CLIENT_ID: 'github-client', OBJECTOS_GITHUB_CLIENT_SECRET: 'github-secret',
        OBJECTOS_MICROSOFT_CLIENT_ID: 'microsoft-client', OBJECTOS_MICROSOFT_CLIENT_SECRET: 'microsoft-secret', OBJECTOS_MICROSOFT_TENANT_ID: 'contoso-tenant',
      },
    });
  }, 120_000);
  afterAll(async () => {
    await rig?.close();
    await idp?.close();
  });

  it('a generic OIDC provider: code flow with PKCE through real redirects, back signed in; the next time the same account', async () => {
    idp.signInAs({ sub: 'erin-1', email: 'erin@corp.test', name: 'Erin Corp' });
    const first = await corpSignIn();
    expect(first.landed.toString(), first.visited.join(' → ')).toBe(`${base}/welcome`);
    const authorize = new URL(first.visited.find((u) => u.startsWith(`${idp.issuer}/auth`))!);
    expect(authorize.searchParams.get('code_challenge_method')).toBe('S256');
    expect(authorize.searchParams.get('redirect_uri')).toBe(`${base}/api/auth/callback/corp`);
    const session = await sessionOf(first.jar);
    expect(session?.user).toMatchObject({ email: 'erin@corp.test', name: 'Erin Corp' });

    idp.signInAs({ sub: 'erin-1', email: 'erin@corp.test', name: 'Erin Corp' });
    const again = await corpSignIn();
    expect((await sessionOf(again.jar))?.user.id).toBe(session!.user.id);
    const logins = await audit('auth.login');
    expect(logins.filter((e) => e.actor_id === session!.user.id).map((e) => e.details['provider'])).toEqual(['corp', 'corp']);
  });

  it('a changed state is refused, with no session, and audited', async () => {
    idp.signInAs({ sub: 'finn-1', email: 'finn@corp.test', name: 'Finn' });
    const tampered = await corpSignIn((u) => {
      if (u.origin === base && u.pathname === '/api/auth/callback/corp') u.searchParams.set('state', 'forged-state');
      return u;
    });
    expect(tampered.landed.searchParams.get('error'), tampered.visited.join(' → ')).toMatch(/state/);
    expect(await sessionOf(tampered.jar)).toBeNull();
    const failed = await audit('auth.login_failed');
    expect(failed.map((e) => [e.details['provider'], e.details['error']])).toEqual([['corp', tampered.landed.searchParams.get('error')]]);
    expect(failed[0]!.actor_id).toBeNull();
  });

  it('account linking follows better-auth: only when the provider verified the address and so did the existing account', async () => {
    // An account made with a password first (its address not verified yet); the provider says it verified the same address.
    const signedUp = await fetch(`${base}/api/auth/sign-up/email`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ email: 'gus@corp.test', password: PASSWORD, name: 'Gus' }) });
    expect(signedUp.status).toBe(200);
    const existing = ((await signedUp.json()) as { user: { id: string } }).user.id;
    // Whoever registered the address first without proving it does not get the provider's identity (nor the reverse).
    idp.signInAs({ sub: 'gus-1', email: 'gus@corp.test', name: 'Gus', emailVerified: true });
    const refused = await corpSignIn();
    expect(refused.landed.pathname).toBe('/oauth-error');
    expect(refused.landed.searchParams.get('error')).toBe('account_not_linked');
    expect(await sessionOf(refused.jar)).toBeNull();
    // Once the account's address is verified (its verification link followed), the provider signs in to it.
    await rig.app.identity!.database.run('update auth."user" set email_verified = true where id = $1', [existing]);
    idp.signInAs({ sub: 'gus-1', email: 'gus@corp.test', name: 'Gus', emailVerified: true });
    const linked = await corpSignIn();
    expect((await sessionOf(linked.jar))?.user.id, linked.visited.join(' → ')).toBe(existing);
    // The password still works: one account, two ways in.
    expect(await signIn(base, 'gus@corp.test', PASSWORD)).toBeTruthy();
  });

  it('Google, GitHub and Microsoft from their variables: each sign-in goes to that provider with this client', async () => {
    const where = async (provider: string) => {
      const r = await start(provider, new CookieJar());
      expect(r.status, await r.clone().text()).toBe(200);
      return new URL(((await r.json()) as { url: string }).url);
    };
    const google = await where('google');
    expect(`${google.origin}${google.pathname}`).toBe('https://accounts.google.com/o/oauth2/v2/auth');
    expect(google.searchParams.get('client_id')).toBe('google-client.apps.googleusercontent.com');
    expect(google.searchParams.get('redirect_uri')).toBe(`${base}/api/auth/callback/google`);
    const github = await where('github');
    expect(`${github.origin}${github.pathname}`).toBe('https://github.com/login/oauth/authorize');
    expect(github.searchParams.get('client_id')).toBe('github-client');
    const microsoft = await where('microsoft');
    expect(`${microsoft.origin}${microsoft.pathname}`).toBe('https://login.microsoftonline.com/contoso-tenant/oauth2/v2.0/authorize');
    expect(microsoft.searchParams.get('client_id')).toBe('microsoft-client');
    // One not configured is refused, naming it.
    const none = await start('facebook', new CookieJar());
    expect(none.status).toBeGreaterThanOrEqual(400);
  });

  it('a half-configured provider is a start-up error naming the missing variable', () => {
    expect(() => socialFromEnv({ OBJECTOS_GITHUB_CLIENT_ID: 'x' })).toThrow(/OBJECTOS_GITHUB_CLIENT_SECRET is missing/);
    expect(() => socialFromEnv({ OBJECTOS_OAUTH_PROVIDERS: 'corp', OBJECTOS_OAUTH_CORP_CLIENT_ID: 'x', OBJECTOS_OAUTH_CORP_CLIENT_SECRET: 'y' })).toThrow(/OBJECTOS_OAUTH_CORP_DISCOVERY_URL is missing/);
    expect(() => socialFromEnv({ OBJECTOS_OAUTH_PROVIDERS: 'google' })).toThrow(/built-in provider/);
    expect(() => socialFromEnv({ OBJECTOS_OAUTH_PROVIDERS: 'Corp!' })).toThrow(/not a provider id/);
    expect(socialFromEnv({})).toEqual({ generic: [] });
  });
});
