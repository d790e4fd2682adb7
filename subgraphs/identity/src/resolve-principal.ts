import { sql } from 'drizzle-orm';
import { loadMemberAccess, loadOrganizationRoles, queryRows, type Db, type MemberAccess } from '@objectos/db';
import type { PolicyDefinition } from '@objectos/metadata';
import { ANONYMOUS, API_KEY_HEADER, hasCredentials, type AuthFailure, type Principal, type Resolution } from '@objectos/principal';
import type { Auth } from './create-auth.ts';
import { DEFAULT_IMPERSONATION_MINUTES, isOperator } from './operators.ts';

const fail = (status: 401 | 403, code: AuthFailure['code'], message: string): { failure: AuthFailure } => ({ failure: { status, code, message } });

interface UserRow { id: string; role: string | null; banned: boolean | null; ban_expires: Date | null; two_factor_enabled: boolean | null; mfa_required: boolean }

/**
 * Turns credentials into a Principal: a session (cookie or bearer token) or an API key. Every check
 * that can end access is here: expiry (idle and absolute), revocation, ban, unfinished 2FA (no session
 * exists until it is finished), `forceMfa`, password expiry, organization membership.
 */
export function createPrincipalResolver(auth: Auth, db: Db, policy: PolicyDefinition, options: { impersonationMinutes?: number } = {}) {
  const impersonationMs = (options.impersonationMinutes ?? DEFAULT_IMPERSONATION_MINUTES) * 60_000;
  async function userRow(id: string): Promise<UserRow | undefined> {
    return (await queryRows<UserRow>(db, sql`select id, role, banned, ban_expires, two_factor_enabled,
      exists (select 1 from security.mfa_required m where m.user_id = u.id) as mfa_required from auth."user" u where id = ${id}`))[0];
  }

  const membership = (userId: string, organizationId: string | null): Promise<string[] | null> =>
    organizationId ? loadOrganizationRoles(db, organizationId, userId) : Promise.resolve(null);

  const banned = (u: UserRow): boolean => Boolean(u.banned) && (!u.ban_expires || new Date(u.ban_expires).getTime() > Date.now());

  async function passwordExpired(userId: string): Promise<boolean> {
    const days = policy.password.expirationDays;
    if (!days) return false;
    const rows = await queryRows<{ at: Date | null }>(db, sql`select max(created_at) as at from auth.password_history where user_id = ${userId}`);
    const at = rows[0]?.at;
    return at ? Date.now() - new Date(at).getTime() > days * 86_400_000 : false;
  }

  /** The member's security assignment in the organization (role, permission sets, groups); none for non-members. */
  async function access(userId: string, organizationId: string | null, roles: string[] | null): Promise<MemberAccess> {
    if (!roles || !organizationId) return { role: null, permissionSets: [], groups: [] };
    return loadMemberAccess(db, organizationId, userId);
  }

  async function principal(kind: 'user' | 'api_key', u: UserRow, organizationId: string | null, roles: string[] | null, ids: { sessionId?: string; apiKeyId?: string; impersonatedBy?: string | null }): Promise<Principal> {
    const a = await access(u.id, organizationId, roles);
    return {
      kind,
      userId: u.id,
      organizationId: roles ? organizationId : null,
      roles: roles ?? [],
      permissionSets: a.permissionSets,
      role: a.role,
      groups: a.groups,
      // The platform operator (configured), never an organization owner or admin; grants nothing in data.
      isAdmin: isOperator(u.role),
      sessionId: ids.sessionId ?? null,
      apiKeyId: ids.apiKeyId ?? null,
      // Who is really acting when an operator impersonates (null otherwise).
      impersonatedBy: ids.impersonatedBy ?? null,
    };
  }

  return async function resolve(headers: Headers): Promise<Resolution> {
    const key = headers.get(API_KEY_HEADER);
    if (key) {
      const r = await auth.api.verifyApiKey({ body: { key } }).catch(() => null);
      if (!r?.valid || !r.key) return fail(401, 'INVALID_API_KEY', 'The API key is not valid (unknown, disabled, expired or revoked).');
      const u = await userRow(r.key.referenceId);
      if (!u) return fail(401, 'INVALID_API_KEY', 'The API key is not valid (unknown, disabled, expired or revoked).');
      if (banned(u)) return fail(401, 'USER_BANNED', 'The account that owns this API key is banned.');
      const meta = (typeof r.key.metadata === 'string' ? JSON.parse(r.key.metadata) : r.key.metadata) as { organizationId?: unknown } | null;
      const org = typeof meta?.organizationId === 'string' ? meta.organizationId : null;
      const roles = await membership(u.id, org);
      // A key is bound to one organization; once its user leaves it, the key opens nothing.
      if (!roles) return fail(403, 'NOT_A_MEMBER', "The API key's user is no longer a member of the key's organization.");
      return { principal: await principal('api_key', u, org, roles, { apiKeyId: r.key.id }), ...(r.key.expiresAt ? { expiresAt: new Date(r.key.expiresAt).getTime() } : {}) };
    }
    if (!hasCredentials(headers)) return { principal: ANONYMOUS };
    const s = await auth.api.getSession({ headers, query: { disableCookieCache: true } }).catch(() => null);
    if (!s) return fail(401, 'UNAUTHENTICATED', 'The session is invalid, expired or revoked: sign in again.');
    const u = await userRow(s.user.id);
    if (!u) return fail(401, 'UNAUTHENTICATED', 'The session is invalid, expired or revoked: sign in again.');
    if (banned(u)) return fail(401, 'USER_BANNED', 'This account is banned.');
    const impersonatedBy = (s.session as { impersonatedBy?: string | null }).impersonatedBy ?? null;
    const started = new Date(s.session.createdAt).getTime();
    // better-auth extends a used session by the idle timeout, impersonated or not: the box is kept here.
    const absoluteEnd = started + (impersonatedBy ? Math.min(impersonationMs, policy.session.absoluteTimeout * 60_000) : policy.session.absoluteTimeout * 60_000);
    if (Date.now() >= absoluteEnd) {
      await auth.api.revokeSession({ headers, body: { token: s.session.token } }).catch(() => undefined);
      return fail(401, 'SESSION_EXPIRED', impersonatedBy ? 'The impersonation session has ended.' : `The session reached the ${policy.session.absoluteTimeout}-minute limit: sign in again.`);
    }
    if (policy.session.forceMfa && !u.two_factor_enabled)
      return fail(403, 'MFA_REQUIRED', 'The security policy requires two-factor authentication: enable it at /api/auth/two-factor/enable, then sign in again.');
    if (u.mfa_required && !u.two_factor_enabled)
      return fail(403, 'MFA_REQUIRED', 'Suspicious activity on this account requires two-factor authentication: enable it at /api/auth/two-factor/enable, then sign in again.');
    if (await passwordExpired(u.id)) return fail(403, 'PASSWORD_EXPIRED', 'The password has expired: change it at /api/auth/change-password.');
    const org = (s.session as { activeOrganizationId?: string | null }).activeOrganizationId ?? null;
    const roles = await membership(u.id, org);
    return {
      principal: await principal('user', u, org, roles, { sessionId: s.session.id, impersonatedBy }),
      expiresAt: Math.min(absoluteEnd, new Date(s.session.expiresAt).getTime()),
    };
  };
}
