import { sql } from 'drizzle-orm';
import { queryRows, type Db, type SqlRunner } from './connect.ts';

const SECURITY_LOCK = 7_734_013;

/**
 * The security catalog both subgraphs share (one database): who holds which role, permission sets and
 * groups in an organization (written by the identity subgraph, read by it to build principals and by the
 * data subgraph for role-based sharing), and the manual record shares (written by the data subgraph).
 */
export async function ensureSecurityTables(db: Db): Promise<void> {
  await db.transaction(async (tx) => {
    await tx.execute(sql`select pg_advisory_xact_lock(${SECURITY_LOCK})`);
    await tx.execute(sql.raw('create schema if not exists security'));
    await tx.execute(sql.raw(`create table if not exists security.member_access (
      organization_id text not null,
      user_id text not null,
      role text,
      permission_sets text[] not null default '{}',
      groups text[] not null default '{}',
      updated_at timestamptz not null default now(),
      primary key (organization_id, user_id))`));
    await tx.execute(sql.raw('create index if not exists member_access_role on security.member_access (organization_id, role)'));
    await tx.execute(sql.raw(`create table if not exists security.record_share (
      id uuid primary key default gen_random_uuid(),
      organization_id text not null,
      object text not null,
      record_id uuid not null,
      shared_with_type text not null check (shared_with_type in ('user', 'role', 'role_and_subordinates', 'group')),
      shared_with text not null,
      access_level text not null check (access_level in ('read', 'edit')),
      granted_by text,
      created_at timestamptz not null default now(),
      unique (organization_id, object, record_id, shared_with_type, shared_with))`));
    await tx.execute(sql.raw('create index if not exists record_share_record on security.record_share (organization_id, object, record_id)'));
    // What a principal reads through manual shares: the records shared with them, their role or group
    // (row security asks this once per statement; record_id included, so the index answers it alone).
    await tx.execute(sql.raw('create index if not exists record_share_grantee on security.record_share (organization_id, object, shared_with_type, shared_with, record_id)'));
    // Users who must use a second factor before any session of theirs acts again (written by the audit
    // subgraph's require_mfa action, read by identity when it builds a principal).
    await tx.execute(sql.raw(`create table if not exists security.mfa_required (
      user_id text primary key,
      reason text not null,
      since timestamptz not null default now())`));
  });
}

export interface MemberAccess {
  role: string | null;
  permissionSets: string[];
  groups: string[];
}

/** A member's assigned role, permission sets and groups (none assigned → empty). */
export async function loadMemberAccess(db: SqlRunner, organizationId: string, userId: string): Promise<MemberAccess> {
  const rows = await queryRows<{ role: string | null; permission_sets: string[]; groups: string[] }>(db, sql`
    select role, permission_sets, groups from security.member_access where organization_id = ${organizationId} and user_id = ${userId}`);
  const r = rows[0];
  return { role: r?.role ?? null, permissionSets: r?.permission_sets ?? [], groups: r?.groups ?? [] };
}

/** Replaces a member's assignment. */
export async function saveMemberAccess(db: SqlRunner, organizationId: string, userId: string, a: MemberAccess): Promise<void> {
  await queryRows(db, sql`
    insert into security.member_access (organization_id, user_id, role, permission_sets, groups)
    values (${organizationId}, ${userId}, ${a.role}, ${sql.param(a.permissionSets)}::text[], ${sql.param(a.groups)}::text[])
    on conflict (organization_id, user_id) do update
      set role = excluded.role, permission_sets = excluded.permission_sets, groups = excluded.groups, updated_at = now()`);
}

/** better-auth keeps a member's organization roles in `auth.member.role`, comma-separated. */
export const splitRoles = (role: string): string[] => role.split(',').map((r) => r.trim()).filter(Boolean);

/**
 * A user's organization roles (better-auth's `auth.member`), or null when the user is not a member.
 * `lock` holds the member row until the transaction ends.
 */
export async function loadOrganizationRoles(db: SqlRunner, organizationId: string, userId: string, lock = false): Promise<string[] | null> {
  const rows = await queryRows<{ role: string }>(db, lock
    ? sql`select role from auth.member where organization_id = ${organizationId} and user_id = ${userId} for update`
    : sql`select role from auth.member where organization_id = ${organizationId} and user_id = ${userId}`);
  return rows[0] ? splitRoles(rows[0].role) : null;
}
