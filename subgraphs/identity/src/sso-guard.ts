import { sql } from 'drizzle-orm';
import { APIError } from 'better-auth/api';
import { domainToASCII } from 'node:url';
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
  // Entries are separated by commas and spaces only: a tab or a newline is part of an entry (and wrong).
  const entries = raw.split(',').map((d) => d.replace(/^ +| +$/g, '')).filter((d) => d !== '');
  if (entries.length === 0) return ['domain: name at least one email domain'];
  const problems: string[] = [];
  for (const entry of entries) {
    // One spelling per name: lower-case ASCII (an internationalized name in its xn-- form), as DNS and the plugin compare it.
    const ascii = domainToASCII(entry.trim()) || getHostname(entry.trim().toLowerCase()) || '';
    const host = ascii ? getHostname(ascii) : null;
    const parsed = parse(ascii, { allowPrivateDomains: true });
    if (!host || host !== entry || entry.endsWith('.')) problems.push(`"${entry}" is not a bare lower-case domain name${host && host !== entry ? ` (write ${host})` : ''}`);
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
      // A SAML entity ID (the issuer) may be a URN: not a place anything is fetched from or sent to.
      if (field !== 'issuer') out.push({ field, origin: v });
      return;
    }
    if (url.protocol === 'http:' || url.protocol === 'https:') out.push({ field, origin: url.origin });
    else if (field !== 'issuer') out.push({ field, origin: v });
  };
  add('issuer', body?.['issuer']);
  const oidc = body?.['oidcConfig'] as Record<string, unknown> | undefined;
  for (const k of ['discoveryEndpoint', 'authorizationEndpoint', 'tokenEndpoint', 'userInfoEndpoint', 'jwksEndpoint']) add(`oidcConfig.${k}`, oidc?.[k]);
  const saml = body?.['samlConfig'] as Record<string, unknown> | undefined;
  add('samlConfig.entryPoint', saml?.['entryPoint']);
  const idp = saml?.['idpMetadata'] as Record<string, unknown> | undefined;
  // The IdP's services, listed or in its metadata XML (which, when given, the plugin prefers to entryPoint).
  for (const kind of ['singleSignOnService', 'singleLogoutService'])
    for (const s of Array.isArray(idp?.[kind]) ? (idp[kind] as { Location?: unknown }[]) : []) add(`samlConfig.idpMetadata.${kind}`, s?.Location);
  if (typeof idp?.['metadata'] === 'string')
    for (const m of idp['metadata'].matchAll(/\bLocation\s*=\s*(?:"([^"]*)"|'([^']*)')/g)) add('samlConfig.idpMetadata.metadata', m[1] ?? m[2]);
  return out;
}

/** The claims table (one row per claimed domain), filled from the providers already registered. */
export async function ensureSsoClaims(db: Db): Promise<void> {
  await db.execute(sql`create table if not exists ${CLAIMS} (domain text primary key, organization_id text not null, claimed_at timestamptz not null default now())`);
  const providers = await queryRows<{ domain: string | null; organization_id: string | null }>(db, sql`select domain, organization_id from auth.sso_provider where organization_id is not null`).catch(() => []);
  for (const p of providers)
    for (const d of domainsOf(p.domain)) await db.execute(sql`insert into ${CLAIMS} (domain, organization_id) values (${d}, ${p.organization_id}) on conflict (domain) do nothing`);
  // Providers registered before overrideUserInfo was refused stop rewriting the accounts they sign in.
  for (const column of ['oidc_config', 'saml_config'])
    await db.execute(sql`update auth.sso_provider set ${sql.raw(column)} = (${sql.raw(column)}::jsonb - 'overrideUserInfo')::text where ${sql.raw(column)} like '%overrideUserInfo%'`).catch(() => undefined);
}

/**
 * Registering or changing a provider, before the plugin runs: it belongs to an organization (the plugin
 * then lets only that organization's owners and admins register it), names only listed origins, and claims
 * domains no other organization holds (the same, a parent or a child name). Refused with a clear error,
 * nothing written; accepted, its domains are claimed for the organization before the plugin writes.
 */
export async function guardSsoProvider(db: Db, path: string, body: Record<string, unknown> | undefined, issuers: readonly string[], appOrigins: readonly string[]): Promise<void> {
  if (path === '/sso/delete-provider') return void await noteRemoval(db, body?.['providerId']);
  // ObjectOS sets no shared redirect URI: a callback names its provider, so the sign-in checks know whose answer it is.
  if (path === '/sso/callback') throw new APIError('NOT_FOUND', { code: 'SSO_PROVIDER_UNKNOWN', message: 'The SSO callback is /api/auth/sso/callback/<providerId>.' });
  if (!SSO_ROUTES.has(path)) return;
  const oidc = body?.['oidcConfig'] as Record<string, unknown> | undefined;
  // A provider rewriting a user's address at each sign-in could move an account out of (and back into) its domains.
  if (body?.['overrideUserInfo'] === true || oidc?.['overrideUserInfo'] === true)
    throw new APIError('BAD_REQUEST', { code: 'SSO_OVERRIDE_REFUSED', message: 'overrideUserInfo: a provider may not rewrite the profile (address) of the accounts it signs in.' });
  const saml = body?.['samlConfig'] as Record<string, unknown> | undefined;
  for (const field of ['callbackUrl', 'idpInitiatedCallbackUrl']) redirectTarget(`samlConfig.${field}`, saml?.[field], appOrigins);
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
    // Claims left by registrations that failed (no provider of the organization covers them) are released,
    // judged by the same parsing as everywhere else.
    const old = await queryRows<{ domain: string; organization_id: string }>(tx, sql`select domain, organization_id from ${CLAIMS} where claimed_at < now() - ${STALE_CLAIM}`);
    if (old.length > 0) {
      const providers = await queryRows<{ domain: string | null; organization_id: string }>(tx, sql`select domain, organization_id from auth.sso_provider where organization_id = any(${sql.param([...new Set(old.map((c) => c.organization_id))])}::text[])`);
      const covered = new Set(providers.flatMap((p) => domainsOf(p.domain).map((d) => `${p.organization_id}|${d}`)));
      const stale = old.filter((c) => !covered.has(`${c.organization_id}|${c.domain}`)).map((c) => c.domain);
      if (stale.length > 0) await tx.execute(sql`delete from ${CLAIMS} where domain = any(${sql.param(stale)}::text[])`);
    }
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
    // An SSO route that names no provider (a shared callback): whose answer it is cannot be judged.
    if (ctx?.path?.startsWith('/sso/'))
      throw new APIError('FORBIDDEN', { code: 'SSO_PROVIDER_UNKNOWN', message: 'This SSO sign-in names no provider; nothing was created or signed in.' });
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

/**
 * The user hooks of an SSO sign-in: a user is created only within the provider's domains, and no SSO route
 * changes a user's address (a provider cannot move an account out of its domains and back).
 */
export function ssoUserHooks(db: Db) {
  type Ctx = { path?: string; params?: unknown } | null | undefined;
  return {
    create: { before: async (user: { email: string }, ctx: Ctx) => void await guardSsoEmail(db, ctx, { email: user.email }) },
    update: {
      before: async (user: { email?: unknown }, ctx: Ctx) => {
        if (ctx?.path?.startsWith('/sso/') && user.email !== undefined)
          throw new APIError('FORBIDDEN', { code: 'SSO_EMAIL_CHANGE_REFUSED', message: 'An SSO sign-in does not change the address of an account.' });
      },
    },
  };
}

/** Routes where an identity provider's origin is fetched from (discovery, tokens, keys, user info). */
const IDP_ROUTES = ['/sso/register', '/sso/update-provider', '/sso/callback/', '/sso/saml2/sp/acs/', '/sign-in/sso', '/sign-in/social', '/sign-in/oauth2', '/callback/', '/oauth2/'];

/** A place the browser is sent: a path of this application, or one of its origins. Anything else is refused, naming the field. */
function redirectTarget(field: string, v: unknown, appOrigins: readonly string[]): void {
  if (typeof v !== 'string' || v === '' || (v.startsWith('/') && !v.startsWith('//') && !v.startsWith('/\\'))) return;
  let origin: string | null = null;
  try {
    origin = new URL(v).origin;
  } catch {
    origin = null;
  }
  if (origin === null || !appOrigins.includes(origin))
    throw new APIError('FORBIDDEN', { code: 'INVALID_REDIRECT', message: `${field}: ${v.slice(0, 200)} is not a path or origin of this application; the browser is sent back to the application only.` });
}

export const originMatcher = (patterns: readonly string[]) => {
  const res = patterns.map((p) => new RegExp(`^${p.split('*').map((x) => x.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')).join('[^/.]+')}$`));
  return (origin: string) => res.some((r) => r.test(origin));
};

/**
 * better-auth checks both the URLs it fetches and the URLs it redirects to against one trusted-origins
 * list. Identity providers' origins are trusted for fetching only: added to the list on the routes that
 * talk to a provider, where every place the browser is sent (`callbackURL`, `redirectTo`…, a SAML
 * `RelayState`) must be a path or an origin of the application itself.
 */
export function idpTrust(baseURL: string, trustedOrigins: readonly string[], idpOrigins: readonly string[]) {
  const appOrigins = [...new Set([new URL(baseURL).origin, ...trustedOrigins])];
  const routeOf = (pathname: string) => IDP_ROUTES.find((r) => pathname.startsWith(`/api/auth${r}`)) ?? null;
  return {
    appOrigins,
    trustedOrigins: (request?: Request): string[] => (request && routeOf(new URL(request.url).pathname) ? [...appOrigins, ...idpOrigins] : [...appOrigins]),
    refuseRedirects(path: string, body: unknown, query: unknown): void {
      if (!IDP_ROUTES.some((r) => path.startsWith(r))) return;
      for (const field of ['callbackURL', 'errorCallbackURL', 'newUserCallbackURL', 'redirectTo', 'RelayState']) {
        const v = (body as Record<string, unknown> | undefined)?.[field] ?? (query as Record<string, unknown> | undefined)?.[field];
        // A SAML RelayState is ours when it is not a URL (the plugin's own state).
        if (field === 'RelayState' && typeof v === 'string' && !/^[a-z][a-z0-9+.-]*:|^\/\//i.test(v)) continue;
        redirectTarget(field, v, appOrigins);
      }
    },
  };
}
