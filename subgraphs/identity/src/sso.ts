import { sql } from 'drizzle-orm';
import { sso } from '@better-auth/sso';
import { queryRows, type Db } from '@objectos/db';
import type { AuditEvent, AuditEventType } from '@objectos/events';
import type { SsoMappingDefinition } from '@objectos/metadata';
import { removedProviderOrganization } from './sso-guard.ts';

/** SSO providers one user may register (each organization's admins register their own). */
const PROVIDERS_PER_USER = 20;
/** How far a SAML IdP's clock may be off ours. */
export const SAML_CLOCK_SKEW_MS = 5 * 60_000;

/**
 * Single sign-on per organization (better-auth's SSO plugin: OIDC authorization code with PKCE, state
 * bound to the provider, the ID token's signature, issuer and audience checked; SAML 2.0 with signed
 * assertions, InResponseTo bound to our AuthnRequest, replayed assertions refused, timestamps required). A user signing in
 * through an organization's provider becomes a member of it with the `member` role.
 */
/**
 * What a provider said about a user at this sign-in, as the plugin mapped it (a SAML provider's
 * attributes named in its `mapping.extraFields`), kept until the sign-in's after hook applies the
 * metadata's mapping (same request, same process; a minute at most).
 */
const pendingClaims = new Map<string, { at: number; userInfo: Record<string, unknown> }>();
const CLAIMS_TTL_MS = 60_000;

function rememberClaims(userId: string, providerId: string, userInfo: Record<string, unknown>): void {
  const now = Date.now();
  for (const [k, v] of pendingClaims) if (now - v.at > CLAIMS_TTL_MS || pendingClaims.size > 10_000) pendingClaims.delete(k); else break;
  pendingClaims.set(`${userId}|${providerId}`, { at: now, userInfo });
}

function takeClaims(userId: string, providerId: string): Record<string, unknown> | null {
  const key = `${userId}|${providerId}`;
  const found = pendingClaims.get(key);
  pendingClaims.delete(key);
  return found && Date.now() - found.at <= CLAIMS_TTL_MS ? found.userInfo : null;
}

/** With `verifyDomains`, a provider signs in only once each of its domains holds the TXT record `_objectos-sso-<providerId>.<domain>`. */
export const ssoPlugin = (verifyDomains: boolean) => sso({
  domainVerification: { enabled: verifyDomains, tokenPrefix: 'objectos-sso' },
  organizationProvisioning: { defaultRole: 'member' },
  providersLimit: PROVIDERS_PER_USER,
  provisionUserOnEveryLogin: true,
  // What the provider said at this sign-in: the verified ID token's claims (OIDC), under the attributes the
  // provider's mapping names (SAML, or an OIDC user-info answer).
  provisionUser: ({ user, userInfo, provider, token }) => rememberClaims(user.id, provider.providerId, { ...idTokenClaims(token?.idToken ?? null), ...Object.fromEntries(Object.entries(userInfo).filter(([, v]) => v !== undefined)) }),
  saml: {
    // Said explicitly: left unset, the plugin's own timestamp check allows 5 minutes of clock skew but
    // samlify's allows none, so an IdP a few seconds ahead is refused (found by sso-saml.test.ts).
    clockSkew: SAML_CLOCK_SKEW_MS,
    // SAML2Int: an assertion without NotBefore/NotOnOrAfter is refused.
    requireTimestamps: true,
  },
});

type Emit = (type: AuditEventType, e: Partial<AuditEvent> & { userId?: string | null; ip?: string | null; userAgent?: string | null }) => Promise<unknown>;

/**
 * The audit events of the SSO routes: a sign-in through a provider (OIDC or SAML) is `auth.login`
 * (method `sso`) or, refused (the callback redirects with an `error`, or answers one), `auth.login_failed`; registering, changing and
 * removing a provider are `system.integration_added`, `system.config_changed`, `system.integration_removed`
 * in its organization.
 */
export async function ssoEvent(db: Db, x: {
  mappings: readonly SsoMappingDefinition[]; path: string; failed: boolean; returned: unknown; userId: string | null; newSession: { id: string; userId: string } | null;
  body: Record<string, unknown>; params: unknown; emit: Emit; ip: string | null; userAgent: string | null;
}): Promise<void> {
  const { path, failed, returned, body, params, emit, ip, userAgent } = x;
  const userId = x.newSession?.userId ?? x.userId;
  // An OIDC provider's answer (callback) or a SAML one (assertion consumer service).
  if (path.startsWith('/sso/callback') || path.startsWith('/sso/saml2/sp/acs')) {
    const providerId = String((params as { providerId?: unknown } | undefined)?.providerId ?? '');
    const { error, description } = callbackOutcome(returned);
    // Signed in when a session was made: where the browser is sent (its callbackURL, chosen by the client,
    // may hold an `error` of its own) says nothing about it.
    if (x.newSession) {
      // The session was made before the provider's organization took the user in: it starts there.
      const [org] = await queryRows<{ organization_id: string; slug: string | null }>(db, sql`update auth.session s set active_organization_id = p.organization_id
        from auth.sso_provider p where s.id = ${x.newSession.id} and p.provider_id = ${providerId}
          and exists (select 1 from auth.member m where m.user_id = s.user_id and m.organization_id = p.organization_id)
        returning p.organization_id, (select o.slug from auth.organization o where o.id = p.organization_id) as slug`);
      const tenant = org ? { tenantId: org.organization_id } : {};
      await emit('auth.login', { userId, ip, description: 'signed in with SSO', ...tenant, details: { method: 'sso', providerId } });
      const mapping = x.mappings.find((m) => m.providerId === providerId && m.organization === org?.slug);
      if (!mapping || !org || !userId) return;
      const given = await applySsoMapping(db, mapping, userId, org.organization_id);
      // Names the user only (its organization is the event's tenant): every cache and socket drops this
      // member's access, not that of everyone in the organization (details.organizationId would).
      return void await emit('authz.role_assigned', {
        userId, ip, ...tenant, description: `access from the ${mapping.claim} claim of SSO provider ${providerId}`,
        target: { type: 'user', id: userId }, details: { method: 'sso', providerId, userId, ...given },
      });
    }
    // The provider's organization sees its refused sign-ins.
    const [owner] = await queryRows<{ organization_id: string | null }>(db, sql`select organization_id from auth.sso_provider where provider_id = ${providerId}`);
    return void await emit('auth.login_failed', {
      actor: { type: 'user', id: null, ipAddress: ip, userAgent }, result: 'failure', severity: 'warning', ...(owner?.organization_id ? { tenantId: owner.organization_id } : {}),
      description: `SSO sign-in refused: ${error}`, details: { method: 'sso', providerId, error, errorDescription: description },
    });
  }
  if (failed) return;
  if (path === '/sso/verify-domain') {
    const providerId = String(body['providerId'] ?? '');
    const [p] = await queryRows<{ organization_id: string | null; domain: string }>(db, sql`select organization_id, domain from auth.sso_provider where provider_id = ${providerId}`);
    return void await emit('system.config_changed', {
      userId, ip, severity: 'notice', description: `SSO provider ${providerId}: its domains are verified (DNS)`, ...(p?.organization_id ? { tenantId: p.organization_id } : {}),
      target: { type: 'sso_provider', id: providerId }, details: { kind: 'sso', providerId, domain: p?.domain ?? null, domainVerified: true },
    });
  }
  const provider = returned as { providerId?: string; organizationId?: string | null; domain?: string; issuer?: string } | null;
  const providerId = String(provider?.providerId ?? body['providerId'] ?? '');
  const type: AuditEventType | null = path === '/sso/register' ? 'system.integration_added' : path === '/sso/update-provider' ? 'system.config_changed' : path === '/sso/delete-provider' ? 'system.integration_removed' : null;
  if (!type) return;
  const organizationId = provider?.organizationId ?? (type === 'system.integration_removed' ? removedProviderOrganization(providerId) : null);
  await emit(type, {
    userId, ip, severity: 'notice', description: `SSO provider ${providerId} ${type === 'system.integration_added' ? 'registered' : type === 'system.config_changed' ? 'changed' : 'removed'}`,
    ...(organizationId ? { tenantId: organizationId } : {}),
    target: { type: 'sso_provider', id: providerId },
    details: { kind: 'sso', providerId, domain: provider?.domain ?? body['domain'] ?? null, issuer: provider?.issuer ?? body['issuer'] ?? null },
  });
}

/**
 * Why an OAuth or SSO callback made no session: the `error` its redirect names, else `no_session`; an
 * answer that is not a redirect, its error code (or `no_redirect`). Success is judged by the session alone.
 */
export function callbackOutcome(returned: unknown): { error: string | null; description: string | null } {
  const location = (returned as { headers?: Headers } | undefined)?.headers?.get?.('location') ?? null;
  const query = location ? new URL(location, 'http://x').searchParams : null;
  // A refusal that is not a redirect names its code (the body of the error the route answered).
  const code = (returned as { body?: { code?: unknown } } | undefined)?.body?.code;
  return { error: query?.get('error') ?? (location ? 'no_session' : typeof code === 'string' ? code : 'no_redirect'), description: query?.get('error_description') ?? null };
}

/** A social or generic OAuth sign-in's callback: `auth.login` or `auth.login_failed` with `details.method: "oauth"` and the provider. */
export async function oauthEvent(x: { returned: unknown; userId: string | null; params: unknown; emit: Emit; ip: string | null; userAgent: string | null }): Promise<void> {
  const provider = String((x.params as { id?: unknown } | undefined)?.id ?? '');
  const { error, description } = callbackOutcome(x.returned);
  // Signed in when a session was made (userId is the new session's), whatever the redirect's query says.
  if (x.userId) return void await x.emit('auth.login', { userId: x.userId, ip: x.ip, description: `signed in with ${provider}`, details: { method: 'oauth', provider } });
  await x.emit('auth.login_failed', {
    actor: { type: 'user', id: null, ipAddress: x.ip, userAgent: x.userAgent }, result: 'failure', severity: 'warning',
    description: `sign-in with ${provider} refused: ${error}`, details: { method: 'oauth', provider, error, errorDescription: description },
  });
}

/** What a member is given in their organization at an SSO sign-in. */
export interface SsoAccess { organizationRole: 'member' | 'admin'; role: string | null; permissionSets: string[]; groups: string[]; values: string[] }

/** A claim's values (a string, or a list of strings; anything else: none). */
const valuesOf = (v: unknown): string[] => (typeof v === 'string' ? [v] : Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : []);

/** The payload of an ID token (verified by the plugin in this sign-in), or null. */
function idTokenClaims(idToken: string | null): Record<string, unknown> | null {
  if (!idToken) return null;
  try {
    return JSON.parse(Buffer.from(idToken.split('.')[1] ?? '', 'base64url').toString('utf8')) as Record<string, unknown>;
  } catch {
    return null;
  }
}

/** The access `mapping` gives to a user whose claim holds `values`: every matching mapping, else the default. */
export function ssoAccessOf(mapping: Pick<SsoMappingDefinition, 'mappings' | 'default'>, values: readonly string[]): SsoAccess {
  const matched = mapping.mappings.filter((m) => values.includes(m.value));
  const grants = matched.length > 0 ? matched : mapping.default ? [mapping.default] : [];
  return {
    organizationRole: grants.some((g) => g.organizationRole === 'admin') ? 'admin' : 'member',
    role: grants.find((g) => g.role !== undefined)?.role ?? null,
    permissionSets: [...new Set(grants.flatMap((g) => g.permissionSets))],
    groups: [...new Set(grants.flatMap((g) => g.groups))],
    values: [...values],
  };
}

/**
 * Just-in-time access (`*.sso.yaml`): the claim decides the member's organization role (an owner stays
 * owner), hierarchy role, permission sets and groups in the provider's organization, replacing what they
 * had. Read from what the provider said at this sign-in: the SAML attribute (or OIDC claim) the
 * provider's `mapping.extraFields` names, else the claim of the ID token this sign-in verified (handed to
 * provisionUser in the same request), never a token stored from an earlier sign-in.
 */
export async function applySsoMapping(db: Db, mapping: SsoMappingDefinition, userId: string, organizationId: string): Promise<SsoAccess> {
  // Only what this sign-in was told: nothing said (or nothing kept) gives the default, never an older token's groups.
  const values = valuesOf(takeClaims(userId, mapping.providerId)?.[mapping.claim]);
  const access = ssoAccessOf(mapping, values);
  await db.transaction(async (tx) => {
    await tx.execute(sql`update auth.member set role = ${access.organizationRole}
      where user_id = ${userId} and organization_id = ${organizationId} and role not like '%owner%'`);
    await tx.execute(sql`insert into security.member_access (organization_id, user_id, role, permission_sets, groups, updated_at)
      values (${organizationId}, ${userId}, ${access.role}, ${sql.param(access.permissionSets)}::text[], ${sql.param(access.groups)}::text[], now())
      on conflict (organization_id, user_id) do update set role = excluded.role, permission_sets = excluded.permission_sets, groups = excluded.groups, updated_at = now()`);
  });
  return access;
}
