import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import Provider, { type Configuration } from 'oidc-provider';

/** A person the identity provider knows (the `sub` is their id). */
export interface IdpUser { sub: string; email: string; name: string; emailVerified?: boolean; groups?: string[] }

export interface OidcIdp {
  /** http://127.0.0.1:<port>: the issuer (discovery at /.well-known/openid-configuration). */
  issuer: string;
  provider: Provider;
  /** Who signs in at the next login prompt (the IdP's login page, answered by the test). */
  signInAs(user: IdpUser): void;
  /** How long the codes it issues from now on are valid. */
  codeTtl(seconds: number): void;
  close(): Promise<void>;
}

/**
 * A real OpenID provider (the `oidc-provider` package) on loopback, for SSO tests: authorization code
 * with PKCE required, signed ID tokens, discovery and JWKS. Its login and consent pages are answered
 * by the test (the person set by `signInAs`), as a user at the provider would.
 */
export async function startOidcIdp(o: { clients: { clientId: string; clientSecret: string; redirectUris: string[] }[] }): Promise<OidcIdp> {
  let codeSeconds = 60;
  const users = new Map<string, IdpUser>();
  let next: IdpUser | null = null;
  const server: Server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const issuer = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const configuration: Configuration = {
    clients: o.clients.map((c) => ({
      client_id: c.clientId, client_secret: c.clientSecret, redirect_uris: c.redirectUris,
      grant_types: ['authorization_code', 'refresh_token'], response_types: ['code'], token_endpoint_auth_method: 'client_secret_basic',
    })),
    async findAccount(_ctx, sub) {
      const u = users.get(sub);
      if (!u) return undefined;
      return { accountId: sub, claims: async () => ({ sub, email: u.email, email_verified: u.emailVerified ?? true, name: u.name, ...(u.groups ? { groups: u.groups } : {}) }) };
    },
    // Group membership in the ID token, as Okta's and Entra's groups claims put it there.
    claims: { openid: ['sub'], email: ['email', 'email_verified'], profile: ['name', 'groups'] },
    conformIdTokenClaims: false,
    features: { devInteractions: { enabled: false } },
    interactions: { url: (_ctx, interaction) => `/interaction/${interaction.uid}` },
    pkce: { required: () => true },
    ttl: { AuthorizationCode: () => codeSeconds, IdToken: 3600, AccessToken: 3600, Interaction: 600, Session: 3600, Grant: 3600 },
    cookies: { keys: ['objectos-test-idp-cookie-key'] },
  };
  const provider = new Provider(issuer, configuration);
  const callback = provider.callback();
  server.on('request', (req, res) => {
    if (!req.url?.startsWith('/interaction/')) return void callback(req, res);
    void (async () => {
      const details = await provider.interactionDetails(req, res);
      if (details.prompt.name === 'login') {
        if (!next) throw new Error('the IdP was asked to sign someone in, but the test named nobody');
        users.set(next.sub, next);
        return provider.interactionFinished(req, res, { login: { accountId: next.sub } }, { mergeWithLastSubmission: false });
      }
      const grant = new provider.Grant({ accountId: details.session!.accountId, clientId: String(details.params['client_id']) });
      grant.addOIDCScope(String(details.params['scope'] ?? 'openid'));
      return provider.interactionFinished(req, res, { consent: { grantId: await grant.save() } }, { mergeWithLastSubmission: true });
    })().catch((err: unknown) => {
      res.statusCode = 500;
      res.end(String(err));
    });
  });
  return {
    issuer, provider,
    signInAs: (user) => void (next = user),
    codeTtl: (seconds) => void (codeSeconds = seconds),
    close: () => new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    }),
  };
}

/** Cookies per origin, as a browser keeps them (name=value; attributes beyond that ignored). */
export class CookieJar {
  private readonly jars = new Map<string, Map<string, string>>();
  header(url: string): string {
    return [...(this.jars.get(new URL(url).origin) ?? new Map<string, string>())].map(([k, v]) => `${k}=${v}`).join('; ');
  }
  take(url: string, response: Response): void {
    const origin = new URL(url).origin;
    const jar = this.jars.get(origin) ?? new Map<string, string>();
    for (const line of response.headers.getSetCookie()) {
      const [pair] = line.split(';');
      const at = pair!.indexOf('=');
      const name = pair!.slice(0, at).trim();
      const value = pair!.slice(at + 1).trim();
      if (/max-age=0|expires=thu, 01 jan 1970/i.test(line) || value === '') jar.delete(name);
      else jar.set(name, value);
    }
    this.jars.set(origin, jar);
  }
}

/**
 * Follows redirects as a browser does (GET, cookies per origin) from `url` until `stop` says the URL
 * is where the flow lands (not fetched), or a response is not a redirect; `rewrite` may change (or
 * delay) each hop, as an attacker or a slow network would. Where it stopped, and the URLs visited.
 */
export async function followRedirects(url: string, jar: CookieJar, stop: (u: URL) => boolean, rewrite?: (u: URL) => URL | Promise<URL>): Promise<{ url: URL; visited: string[]; last: Response | null }> {
  let at = new URL(url);
  const visited: string[] = [];
  for (let hops = 0; hops < 20; hops++) {
    if (rewrite) at = await rewrite(at);
    visited.push(at.toString());
    if (stop(at)) return { url: at, visited, last: null };
    const cookie = jar.header(at.toString());
    const r = await fetch(at, { redirect: 'manual', headers: cookie ? { cookie } : {} });
    jar.take(at.toString(), r);
    const location = r.headers.get('location');
    if (r.status < 300 || r.status >= 400 || !location) return { url: at, visited, last: r };
    await r.arrayBuffer();
    at = new URL(location, at);
  }
  throw new Error(`more than 20 redirects: ${visited.join(' → ')}`);
}
