import { sql } from 'drizzle-orm';
import { APIError } from 'better-auth/api';
import { getHostname, parse } from 'tldts';
import { queryRows, type Db } from '@objectos/db';

/**
 * ObjectOS's rules for who may sign in through whose SSO provider, over what better-auth's SSO plugin
 * checks. The plugin routes an email to the provider whose `domain` list holds the email's domain or a
 * parent of it (hosts parsed with tldts), and signs in whatever email that provider vouches for. So:
 * - a provider's domains are bare registrable names (no scheme, port, trailing dot, IP, or public
 *   suffix such as `com`, `co.uk` or `github.io`), and no two organizations claim the same or nested
 *   names (`acme.com` and `eng.acme.com`), checked under a lock against the claims table so concurrent
 *   registrations cannot both pass;
 * - every origin a provider names (issuer, discovery and protocol endpoints, a SAML entry point) is one
 *   the operator listed in OBJECTOS_SSO_ISSUERS;
 * - a provider signs in, creates and links only users whose email is within its own domains.
 */

const CLAIMS = sql.raw('auth.sso_domain_claim');
/** pg_advisory_xact_lock key serializing SSO domain claims ('SSOD'). */
const CLAIM_LOCK = 0x53534f44;
/** A claim no provider of its organization covers is released after this long (a registration that failed). */
const STALE_CLAIM = sql.raw(`interval '2 minutes'`);

export const SSO_ROUTES = new Set(['/sso/register', '/sso/update-provider']);

/** The email domains a provider's `domain` claims (comma-separated, as the plugin reads it). */
export const domainsOf = (domain: unknown): string[] =>
  typeof domain === 'string' ? domain.split(',').map((d) => d.trim().toLowerCase()).filter(Boolean) : [];

const nested = (a: string, b: string): boolean => a === b || a.endsWith(`.${b}`) || b.endsWith(`.${a}`);

/** Whether `email`'s domain is one of `domains` or below one (as the plugin routes it). */
export function emailWithin(email: string, domains: readonly string[]): boolean {
  const at = email.lastIndexOf('@');
  const host = at > 0 ? email.slice(at + 1).trim().toLowerCase() : '';
  return host !== '' && domains.some((d) => host === d || host.endsWith(`.${d}`));
}

/** What is wrong with a provider's `domain` entries, each named; empty when every entry is a bare registrable domain name. */
export function domainProblems(raw: unknown): string[] {
  if (typeof raw !== 'string') return ['domain: a comma-separated list of email domains is required'];
  const entries = raw.split(',').map((d) => d.trim()).filter(Boolean);
  if (entries.length === 0) return ['domain: name at least one email domain'];
  const problems: string[] = [];
  for (const entry of entries) {
    const lower = entry.toLowerCase();
    const host = getHostname(lower);
    const parsed = parse(lower, { allowPrivateDomains: true });
    if (!host || host !== lower || lower.endsWith('.')) problems.push(`"${entry}" is not a bare domain name${host ? ` (write ${host})` : ''}`);
    else if (parsed.isIp) problems.push(`"${entry}" is an IP address, not an email domain`);
    else if (!parsed.domain) problems.push(`"${entry}" is a public suffix: every organization's addresses end in it`);
  }
  return problems;
}

/** The http(s) origins a provider's registration names: where the server fetches from and where browsers are sent. */
export function providerOrigins(body: Record<string, unknown> | undefined): { field: string; origin: string }[] {
  const out: { field: string; origin: string }[] = [];
  const add = (field: string, v: unknown) => {
    if (typeof v !== 'string' || v === '') return;
    let url: URL;
    try {
      url = new URL(v);
    } catch {
      // A SAML entity ID may be a URN: not a place anything is fetched from or sent to.
      if (field === 'issuer' || field === 'samlConfig.issuer') return;
      out.push({ field, origin: v });
      return;
    }
    if (url.protocol === 'http:' || url.protocol === 'https:') out.push({ field, origin: url.origin });
    else if (field !== 'issuer' && field !== 'samlConfig.issuer') out.push({ field, origin: v });
  };
  add('issuer', body?.['issuer']);
  const oidc = body?.['oidcConfig'] as Record<string, unknown> | undefined;
  for (const k of ['discoveryEndpoint', 'authorizationEndpoint', 'tokenEndpoint', 'userInfoEndpoint', 'jwksEndpoint']) add(`oidcConfig.${k}`, oidc?.[k]);
  const saml = body?.['samlConfig'] as Record<string, unknown> | undefined;
  add('samlConfig.entryPoint', saml?.['entryPoint']);
  add('samlConfig.issuer', saml?.['issuer']);
  const slo = saml?.['idpMetadata'] as Record<string, unknown> | undefined;
  add('samlConfig.idpMetadata.entityURL', slo?.['entityURL']);
  add('samlConfig.idpMetadata.redirectURL', slo?.['redirectURL']);
  return out;
}

/** The claims table (one row per claimed domain), filled from the providers already registered. */
export async function ensureSsoClaims(db: Db): Promise<void> {
  await db.execute(sql`create table if not exists ${CLAIMS} (domain text primary key, organization_id text not null, claimed_at timestamptz not null default now())`);
  const providers = await queryRows<{ domain: string | null; organization_id: string | null }>(db, sql`select domain, organization_id from auth.sso_provider where organization_id is not null`).catch(() => []);
  for (const p of providers)
    for (const d of domainsOf(p.domain)) await db.execute(sql`insert into ${CLAIMS} (domain, organization_id) values (${d}, ${p.organization_id}) on conflict (domain) do nothing`);
}

/**
 * Registering or changing a provider, before the plugin runs: it belongs to an organization (the plugin
 * then lets only that organization's owners and admins register it), names only listed origins, and claims
 * domains no other organization holds (the same, a parent or a child name). Refused with a clear error,
 * nothing written; accepted, its domains are claimed for the organization before the plugin writes.
 */
export async function guardSsoProvider(db: Db, path: string, body: Record<string, unknown> | undefined, issuers: readonly string[]): Promise<void> {
  if (path === '/sso/delete-provider') return void await noteRemoval(db, body?.['providerId']);
  if (!SSO_ROUTES.has(path)) return;
  let organizationId: string | null;
  if (path === '/sso/register') {
    organizationId = typeof body?.['organizationId'] === 'string' && body['organizationId'] ? body['organizationId'] : null;
    if (!organizationId)
      throw new APIError('BAD_REQUEST', { code: 'SSO_ORGANIZATION_REQUIRED', message: 'organizationId: an SSO provider belongs to an organization; name yours (its owners and admins may register providers).' });
  } else {
    const providerId = typeof body?.['providerId'] === 'string' ? body['providerId'] : '';
    const [row] = await queryRows<{ organization_id: string | null }>(db, sql`select organization_id from auth.sso_provider where provider_id = ${providerId}`);
    // An unknown provider: the plugin answers it (not found, or not yours).
    if (!row) return;
    organizationId = row.organization_id;
  }
  const allowed = originMatcher(issuers);
  const foreign = providerOrigins(body).filter((o) => !allowed(o.origin));
  if (foreign.length > 0)
    throw new APIError('BAD_REQUEST', {
      code: 'SSO_ISSUER_NOT_ALLOWED',
      message: `${foreign.map((o) => `${o.field}: ${o.origin}`).join(', ')} ${foreign.length === 1 ? 'is' : 'are'} not among the identity provider origins this server may use (OBJECTOS_SSO_ISSUERS${issuers.length ? `: ${issuers.join(', ')}` : ' is empty'}).`,
    });
  if (path === '/sso/update-provider' && body?.['domain'] === undefined) return;
  const problems = domainProblems(body?.['domain']);
  if (problems.length > 0) throw new APIError('BAD_REQUEST', { code: 'SSO_DOMAIN_INVALID', message: `domain: ${problems.join('; ')}.` });
  const wanted = domainsOf(body?.['domain']);
  await db.transaction(async (tx) => {
    await tx.execute(sql`select pg_advisory_xact_lock(${CLAIM_LOCK})`);
    // Claims left by registrations that failed (no provider of the organization covers them) are released.
    await tx.execute(sql`delete from ${CLAIMS} c where c.claimed_at < now() - ${STALE_CLAIM} and not exists (
      select 1 from auth.sso_provider p, unnest(string_to_array(p.domain, ',')) d where p.organization_id = c.organization_id and lower(trim(d)) = c.domain)`);
    const others = await queryRows<{ domain: string }>(tx, sql`select domain from ${CLAIMS} where organization_id <> ${organizationId}`);
    const taken = wanted.filter((w) => others.some((o) => nested(w, o.domain)));
    if (taken.length > 0)
      throw new APIError('CONFLICT', { code: 'SSO_DOMAIN_CLAIMED', message: `domain: ${taken.join(', ')} is already claimed by another organization's SSO provider (the same name, or one above or below it); an email domain signs in through one organization only.` });
    for (const d of wanted)
      await tx.execute(sql`insert into ${CLAIMS} (domain, organization_id) values (${d}, ${organizationId}) on conflict (domain) do update set claimed_at = now()`);
  });
}

/** Providers being removed, with their organization: the removal is audited there, not in the caller's active one. */
const removing = new Map<string, { at: number; organizationId: string | null }>();

async function noteRemoval(db: Db, providerId: unknown): Promise<void> {
  if (typeof providerId !== 'string') return;
  const now = Date.now();
  for (const [k, v] of removing) if (now - v.at > 60_000 || removing.size > 1_000) removing.delete(k);
  const [row] = await queryRows<{ organization_id: string | null }>(db, sql`select organization_id from auth.sso_provider where provider_id = ${providerId}`);
  if (row) removing.set(providerId, { at: now, organizationId: row.organization_id });
}

/** The organization of a provider a `/sso/delete-provider` request (this process, the last minute) removed. */
export function removedProviderOrganization(providerId: string): string | null {
  const found = removing.get(providerId);
  removing.delete(providerId);
  return found?.organizationId ?? null;
}

/**
 * At an SSO sign-in (`/sso/…` routes, the provider named in the route), before a user, account or session
 * is written: the email must be within the provider's own domains. Any other is refused, nothing written.
 */
export async function guardSsoEmail(db: Db, ctx: { path?: string; params?: unknown } | null | undefined, who: { email: string } | { userId: string }, accountProviderId?: string): Promise<void> {
  const routeProvider = ctx?.path?.startsWith('/sso/') ? (ctx.params as { providerId?: unknown } | undefined)?.providerId : undefined;
  const providerId = typeof routeProvider === 'string' ? routeProvider : accountProviderId;
  if (!providerId) {
    // An SSO route that names no provider (a shared callback): what it would create cannot be judged.
    if (ctx?.path?.startsWith('/sso/') && !('userId' in who))
      throw new APIError('FORBIDDEN', { code: 'SSO_PROVIDER_UNKNOWN', message: 'This SSO sign-in names no provider; nothing was created.' });
    return;
  }
  const [provider] = await queryRows<{ domain: string | null }>(db, sql`select domain from auth.sso_provider where provider_id = ${providerId}`);
  // Not an SSO provider (an account of another kind), or one the plugin refuses itself.
  if (!provider) return;
  let email = 'email' in who ? who.email : null;
  if (email === null) [{ email = '' } = { email: '' }] = await queryRows<{ email: string }>(db, sql`select email from auth."user" where id = ${(who as { userId: string }).userId}`);
  const domains = domainsOf(provider.domain);
  if (!emailWithin(email, domains))
    throw new APIError('FORBIDDEN', {
      code: 'SSO_EMAIL_OUTSIDE_DOMAIN',
      message: `SSO provider ${providerId} vouched for ${email || 'an address'}, outside its email domains (${domains.join(', ') || 'none'}); nothing was created or signed in.`,
    });
}

/** Routes where an identity provider's origin is fetched from (discovery, tokens, keys, user info). */
const IDP_ROUTES = ['/sso/', '/sign-in/sso', '/sign-in/social', '/sign-in/oauth2', '/callback/', '/oauth2/'];

export const originMatcher = (patterns: readonly string[]) => {
  const res = patterns.map((p) => new RegExp(`^${p.split('*').map((x) => x.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')).join('[^/.]+')}$`));
  return (origin: string) => res.some((r) => r.test(origin));
};

/**
 * better-auth checks both the URLs it fetches and the URLs it redirects to against one trusted-origins
 * list. Identity providers' origins are trusted for fetching only: added to the list on the routes that
 * talk to a provider, and, there, refused as a place to send the browser (`callbackURL`, `redirectTo`…),
 * unless they are also among the application's own origins.
 */
export function idpTrust(appOrigins: readonly string[], idpOrigins: readonly string[]) {
  const isIdp = originMatcher(idpOrigins);
  const routeOf = (pathname: string) => IDP_ROUTES.find((r) => pathname.startsWith(`/api/auth${r}`)) ?? null;
  return {
    trustedOrigins: (request?: Request): string[] => (request && routeOf(new URL(request.url).pathname) ? [...appOrigins, ...idpOrigins] : [...appOrigins]),
    refuseRedirects(path: string, body: unknown, query: unknown): void {
      if (!IDP_ROUTES.some((r) => path.startsWith(r))) return;
      for (const field of ['callbackURL', 'errorCallbackURL', 'newUserCallbackURL', 'redirectTo']) {
        const v = (body as Record<string, unknown> | undefined)?.[field] ?? (query as Record<string, unknown> | undefined)?.[field];
        if (typeof v !== 'string') continue;
        let origin: string;
        try {
          origin = new URL(v).origin;
        } catch {
          continue;
        }
        if (isIdp(origin) && !appOrigins.includes(origin))
          throw new APIError('FORBIDDEN', { code: 'INVALID_REDIRECT', message: `${field}: ${origin} is an identity provider's origin, not one of this application's; the browser is sent back to the application only.` });
      }
    },
  };
}
