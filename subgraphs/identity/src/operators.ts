import { sql } from 'drizzle-orm';
import { APIError } from 'better-auth/api';
import { adminAc, userAc } from 'better-auth/plugins/admin/access';
import { queryRows, type Db } from '@objectos/db';

/**
 * The platform role: better-auth's admin plugin (list every user, ban, impersonate, set a password…)
 * answers to this role only. Organization owners and admins are organization roles (`auth.member`)
 * and never reach these routes' powers.
 */
export const OPERATOR_ROLE = 'operator';
/** Everyone else's global role. */
export const USER_ROLE = 'user';
/** @default 15 minutes: an impersonation session ends this long after it starts, used or not. */
export const DEFAULT_IMPERSONATION_MINUTES = 15;

/**
 * better-auth's built-in `admin` role is not defined here, so a `role = 'admin'` left in the database
 * (the demo seed of earlier versions) grants nothing; operators may not impersonate one another
 * (`impersonate-admins` is not in the operator role).
 */
export function adminPluginOptions(impersonationMinutes: number) {
  return {
    roles: { [OPERATOR_ROLE]: adminAc, [USER_ROLE]: userAc },
    adminRoles: [OPERATOR_ROLE],
    defaultRole: USER_ROLE,
    // Never 0: better-auth would read it as "unset" and give an hour. Disabled impersonation is refused before.
    impersonationSessionDuration: Math.max(1, impersonationMinutes) * 60,
  };
}

const roleList = (v: unknown): string[] => (Array.isArray(v) ? v.map(String) : typeof v === 'string' ? v.split(',') : []).map((r) => r.trim());

/** The operator role comes from configuration alone: no route may grant it (set-role, create-user, update-user). */
export function refuseOperatorGrants(path: string, body: unknown, impersonationMinutes: number): void {
  const b = (body ?? {}) as { role?: unknown; data?: { role?: unknown } };
  const requested =
    path === '/admin/set-role' || path === '/admin/create-user' ? roleList(b.role) : path === '/admin/update-user' ? roleList(b.data?.role) : [];
  if (requested.some((r) => r !== USER_ROLE))
    throw new APIError('FORBIDDEN', { code: 'OPERATOR_BY_CONFIGURATION', message: `Only the "${USER_ROLE}" role can be set here: operators are configured (OBJECTOS_OPERATORS).` });
  if (path === '/admin/impersonate-user' && impersonationMinutes <= 0)
    throw new APIError('FORBIDDEN', { code: 'IMPERSONATION_DISABLED', message: 'Impersonation is turned off (OBJECTOS_IMPERSONATION_MINUTES=0).' });
}

export interface OperatorChange { userId: string; email: string; role: string }

/**
 * Makes the configured emails the only operators: their users get the role, everyone else (and any
 * other global role, such as a stale `admin`) goes back to `user`. Run at every start, so removing an
 * email from the configuration removes the power at the next start. Accounts are matched by email as
 * they exist at that moment: create the account first, then list it.
 */
export async function applyOperators(db: Db, emails: readonly string[]): Promise<OperatorChange[]> {
  const wanted = JSON.stringify([...new Set(emails.map((e) => e.trim().toLowerCase()).filter(Boolean))]);
  return queryRows<OperatorChange>(
    db,
    sql`update auth."user" u
      set role = case when lower(u.email) in (select jsonb_array_elements_text(${wanted}::jsonb)) then ${OPERATOR_ROLE} else ${USER_ROLE} end
      where u.role is distinct from (case when lower(u.email) in (select jsonb_array_elements_text(${wanted}::jsonb)) then ${OPERATOR_ROLE} else ${USER_ROLE} end)
      returning u.id as "userId", u.email, u.role`,
  );
}

/** True when a better-auth `user.role` value (comma-separated) holds the operator role. */
export const isOperator = (role: string | null | undefined): boolean => roleList(role ?? '').includes(OPERATOR_ROLE);
