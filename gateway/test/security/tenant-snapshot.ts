import { sql } from 'drizzle-orm';
import { queryRows, type Db } from '@objectos/db';

/** Everything a tenant owns in the identity tables: users, credentials, sessions, membership, invitations, keys, 2FA, access. */
export interface TenantSnapshot {
  users: unknown[];
  accounts: unknown[];
  sessions: unknown[];
  organization: unknown[];
  members: unknown[];
  invitations: unknown[];
  apiKeys: unknown[];
  twoFactors: unknown[];
  memberAccess: unknown[];
  ssoProviders: unknown[];
}

/** A tenant's state, rows sorted, so two snapshots compare equal exactly when nothing of it changed. */
export async function snapshotTenant(db: Db, organizationId: string, userIds: readonly string[]): Promise<TenantSnapshot> {
  const ids = JSON.stringify(userIds);
  const of = (q: ReturnType<typeof sql>) => queryRows<unknown>(db, q);
  const users = sql`(select jsonb_array_elements_text(${ids}::jsonb))`;
  return {
    users: await of(sql`select * from auth."user" where id in ${users} order by id`),
    accounts: await of(sql`select * from auth.account where user_id in ${users} order by id`),
    sessions: await of(sql`select * from auth.session where user_id in ${users} order by id`),
    organization: await of(sql`select * from auth.organization where id = ${organizationId}`),
    members: await of(sql`select * from auth.member where organization_id = ${organizationId} or user_id in ${users} order by id`),
    invitations: await of(sql`select * from auth.invitation where organization_id = ${organizationId} order by id`),
    apiKeys: await of(sql`select * from auth.apikey where reference_id in ${users} order by id`),
    twoFactors: await of(sql`select * from auth.two_factor where user_id in ${users} order by id`),
    memberAccess: await of(sql`select * from security.member_access where organization_id = ${organizationId} order by user_id`),
    ssoProviders: await of(sql`select * from auth.sso_provider where organization_id = ${organizationId} order by id`),
  };
}
