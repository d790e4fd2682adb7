import { randomUUID } from 'node:crypto';
import { sql } from 'drizzle-orm';
import { loadMemberAccess, queryRows, saveMemberAccess, splitRoles, type SqlRunner, type Db } from '@objectos/db';
import { auditEvent, type AuditEvent, type AuditEventType } from '@objectos/events';
import type { Logger } from '@objectos/observability';

/** pg_advisory_xact_lock key serializing SCIM applications across identity replicas ('SCIM'). */
const APPLY_LOCK = 0x5343494d;
/** Why an account is locked when its directory deactivated it (and only such a lock is lifted by the directory). */
export const SCIM_BAN_REASON = 'Deactivated by the organization directory (SCIM)';

export interface ObjectosGroup { name: string; label?: string | undefined }

/**
 * The ObjectOS group a SCIM group stands for: the declared group whose name is the SCIM group's name
 * written in snake case, or whose label is its name (case aside), or whose name is its externalId.
 * `Key Account Team` → `key_account_team`. A group that matches none is left out (directories push many).
 */
export function objectosGroupOf(groups: readonly ObjectosGroup[], displayName: string, externalId: string | null): string | null {
  const snake = displayName.trim().toLowerCase().replace(/[^a-z0-9]+/g, '_').replace(/^_+|_+$/g, '');
  const lower = displayName.trim().toLowerCase();
  return groups.find((g) => g.name === snake || g.label?.trim().toLowerCase() === lower || (externalId !== null && g.name === externalId))?.name ?? null;
}

type Pending = { domain: string; userId: string };
type Out = { type: AuditEventType; tenantId: string | null; userId: string; description: string; details: Record<string, unknown>; result?: 'success' | 'failure'; severity?: 'notice' | 'warning' };

/**
 * Applies what SCIM decided to ObjectOS once the plugin's transaction has committed, for every user it
 * marked: in each organization (provisioning domain), an active user is a member whose groups are the
 * ObjectOS groups of their SCIM groups; a deactivated or deleted one is no longer a member (their access
 * and shares go, their sessions in that organization end). A user no directory keeps active and who
 * belongs to no organization any more is locked (banned, every session ended); reactivated, unlocked.
 * Every change is an audit event naming the user, so every gateway drops their cached access and
 * re-checks their sockets at once. Serialized across replicas; what fails stays marked and is retried
 * by the next request and at start.
 */
export function scimApplier(o: { db: Db; groups: readonly ObjectosGroup[]; record: (e: AuditEvent) => Promise<unknown>; logger?: Logger }) {
  let chain: Promise<void> = Promise.resolve();

  async function run(): Promise<void> {
    const out = await o.db.transaction(async (tx) => {
      await tx.execute(sql`select pg_advisory_xact_lock(${APPLY_LOCK})`);
      const rows = await queryRows<{ provisioning_domain_id: string; user_id: string }>(tx, sql`delete from auth.scim_pending returning provisioning_domain_id, user_id`);
      const keys = new Map<string, Pending>();
      for (const r of rows) keys.set(`${r.provisioning_domain_id}|${r.user_id}`, { domain: r.provisioning_domain_id, userId: r.user_id });
      // Organizations first: whether an account is locked depends on the memberships left.
      const ordered = [...keys.values()].sort((a, b) => Number(a.domain === '') - Number(b.domain === ''));
      const events: Out[] = [];
      for (const k of ordered) events.push(...(k.domain ? await member(tx, k.domain, k.userId) : await account(tx, k.userId)));
      return events;
    });
    for (const e of out)
      await o.record(auditEvent({
        eventType: e.type, actor: { type: 'integration', id: 'scim' }, description: e.description, tenantId: e.tenantId,
        target: { type: 'user', id: e.userId }, details: { method: 'scim', userId: e.userId, ...e.details },
        ...(e.result ? { result: e.result } : {}), ...(e.severity ? { severity: e.severity } : {}),
      }));
  }

  async function member(tx: SqlRunner, org: string, userId: string): Promise<Out[]> {
    const [state] = await queryRows<{ active: boolean }>(tx, sql`select exists (select 1 from auth.scim_user
      where user_id = ${userId} and provisioning_domain_id = ${org} and active is true) as active`);
    const [m] = await queryRows<{ role: string }>(tx, sql`select role from auth.member where organization_id = ${org} and user_id = ${userId} for update`);
    const tenant = { tenantId: org, userId };
    if (!state?.active) {
      if (!m) return [];
      if (splitRoles(m.role).includes('owner'))
        return [{ ...tenant, type: 'security.access_denied', result: 'failure', severity: 'warning', description: 'the directory deactivated an organization owner: owners are not removed by SCIM', details: { action: 'scim_remove_owner' } }];
      await tx.execute(sql`delete from auth.member where organization_id = ${org} and user_id = ${userId}`);
      await tx.execute(sql`delete from security.member_access where organization_id = ${org} and user_id = ${userId}`);
      await tx.execute(sql`delete from security.record_share where organization_id = ${org} and shared_with_type = 'user' and shared_with = ${userId}`);
      const ended = await queryRows<{ id: string }>(tx, sql`delete from auth.session where user_id = ${userId} and active_organization_id = ${org} returning id`);
      return [
        { ...tenant, type: 'authz.role_removed', severity: 'notice', description: 'removed from the organization by its directory (SCIM)', details: { organizationRole: m.role } },
        ...(ended.length ? [{ ...tenant, type: 'auth.session_revoked' as const, severity: 'notice' as const, description: 'sessions ended: removed by the directory (SCIM)', details: { sessionIds: ended.map((s) => s.id) } }] : []),
      ];
    }
    const scimGroups = await queryRows<{ display_name: string; external_id: string | null }>(tx, sql`select distinct g.display_name, g.external_id
      from auth.scim_projection_grant p join auth.scim_group g on g.id = p.source_id
      where p.provisioning_domain_id = ${org} and p.user_id = ${userId} order by g.display_name`);
    const mapped = scimGroups.map((g) => ({ scim: g.display_name, group: objectosGroupOf(o.groups, g.display_name, g.external_id) }));
    const groups = [...new Set(mapped.flatMap((x) => (x.group ? [x.group] : [])))].sort();
    const unmapped = mapped.filter((x) => !x.group).map((x) => x.scim);
    const out: Out[] = [];
    if (!m) {
      await tx.execute(sql`insert into auth.member (id, organization_id, user_id, role, created_at) values (${randomUUID()}, ${org}, ${userId}, 'member', now())`);
      out.push({ ...tenant, type: 'authz.role_assigned', description: 'added to the organization by its directory (SCIM)', details: { organizationRole: 'member', groups, unmappedGroups: unmapped } });
    }
    const before = await loadMemberAccess(tx, org, userId);
    const same = before.groups.length === groups.length && before.groups.every((g) => groups.includes(g));
    if (same && m) return out;
    // The directory owns the member's groups; their role and permission sets stay as an admin (or SSO) set them.
    await saveMemberAccess(tx, org, userId, { ...before, groups });
    const added = groups.filter((g) => !before.groups.includes(g));
    const removed = before.groups.filter((g) => !groups.includes(g));
    if (added.length) out.push({ ...tenant, type: 'authz.permission_granted', description: 'groups from the directory (SCIM)', details: { groups: added, unmappedGroups: unmapped } });
    if (removed.length) out.push({ ...tenant, type: 'authz.permission_revoked', description: 'groups from the directory (SCIM)', details: { groups: removed } });
    return out;
  }

  async function account(tx: SqlRunner, userId: string): Promise<Out[]> {
    const [s] = await queryRows<{ active: boolean; memberships: number }>(tx, sql`select
      exists (select 1 from auth.scim_user where user_id = ${userId} and active is true) as active,
      (select count(*)::int from auth.member where user_id = ${userId}) as memberships`);
    if (!s) return [];
    if (s.active) {
      const lifted = await queryRows<{ id: string }>(tx, sql`update auth."user" set banned = false, ban_reason = null, ban_expires = null
        where id = ${userId} and banned is true and ban_reason = ${SCIM_BAN_REASON} returning id`);
      return lifted.length ? [{ tenantId: null, userId, type: 'auth.account_unlocked', description: 'reactivated by the directory (SCIM)', details: {} }] : [];
    }
    // Still a member somewhere else (an organization that did not provision them): that organization's access stays.
    if (s.memberships > 0) return [];
    const locked = await queryRows<{ id: string }>(tx, sql`update auth."user" set banned = true, ban_reason = ${SCIM_BAN_REASON}, ban_expires = null
      where id = ${userId} and banned is not true returning id`);
    const ended = await queryRows<{ id: string }>(tx, sql`delete from auth.session where user_id = ${userId} returning id`);
    if (!locked.length && !ended.length) return [];
    return [{ tenantId: null, userId, type: 'auth.account_locked', severity: 'notice', description: 'deactivated by the directory (SCIM): account locked, sessions ended', details: { sessionIds: ended.map((x) => x.id) } }];
  }

  return {
    /** Applies every marked user (serialized in this process; across processes by a lock). */
    apply(): Promise<void> {
      chain = chain.then(run).catch((e: unknown) => {
        o.logger?.error(`SCIM changes not applied yet (retried on the next SCIM request and at start): ${e instanceof Error ? e.message : String(e)}`);
      });
      return chain;
    },
  };
}
