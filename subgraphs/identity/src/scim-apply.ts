import { randomUUID } from 'node:crypto';
import { sql } from 'drizzle-orm';
import { loadMemberAccess, queryRows, saveMemberAccess, splitRoles, type SqlRunner, type Db } from '@objectos/db';
import { auditEvent, recordAuditEvents, type AuditEvent, type AuditEventType, type EventBus } from '@objectos/events';
import type { ScimMappingDefinition } from '@objectos/metadata';
import type { Logger } from '@objectos/observability';
import { ssoAccessOf } from './sso.ts';

/** pg_advisory_xact_lock key serializing SCIM applications across identity replicas ('SCIM'). */
const APPLY_LOCK = 0x5343494d;
/** Why an account is locked when its directory deactivated it (and only such a lock is lifted by the directory). */
const SCIM_BAN_REASON = 'Deactivated by the organization directory (SCIM)';

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

type Out = { type: AuditEventType; tenantId: string | null; userId: string; description: string; details: Record<string, unknown>; result?: 'success' | 'failure'; severity?: 'notice' | 'warning' };

/**
 * Applies what SCIM decided to ObjectOS once the plugin's transaction has committed, for every user it
 * marked: in each organization (provisioning domain), an active user is a member whose groups are the
 * ObjectOS groups of their SCIM groups; a deactivated or deleted one is no longer a member (their access
 * and shares go, their sessions in that organization end). An account a directory made, that no directory
 * keeps active and that belongs to no organization any more, is locked (banned, every session ended);
 * reactivated, unlocked. Every change is an audit event naming the user, so every gateway drops their
 * cached access and re-checks their sockets at once. Serialized across replicas; what fails stays marked
 * and is retried every `retryMs`, by the next request and at start.
 */
export function scimApplier(o: { db: Db; groups: readonly ObjectosGroup[]; mappings?: readonly ScimMappingDefinition[]; bus: EventBus; logger?: Logger; retryMs?: number }) {
  let chain: Promise<void> = Promise.resolve();
  let retry: NodeJS.Timeout | null = null;
  let closed = false;

  /**
   * Each marked user in a transaction of its own (a failure leaves that user marked, not the others), its
   * marks removed and its audit events stored in the same transaction; published once it commits.
   */
  async function run(): Promise<void> {
    const keys = await queryRows<{ provisioning_domain_id: string; user_id: string }>(o.db, sql`select distinct provisioning_domain_id, user_id from auth.scim_pending`);
    // Organizations first: whether an account is locked depends on the memberships left.
    keys.sort((a, b) => Number(a.provisioning_domain_id === '') - Number(b.provisioning_domain_id === ''));
    const failures: string[] = [];
    const failed = new Set<string>();
    for (const k of keys) {
      // Whether to lock an account depends on its memberships: not judged while one of them is still to apply.
      if (!k.provisioning_domain_id && failed.has(k.user_id)) continue;
      try {
        const events = await o.db.transaction(async (tx) => {
          await tx.execute(sql`select pg_advisory_xact_lock(${APPLY_LOCK})`);
          const taken = await queryRows<{ id: string }>(tx, sql`delete from auth.scim_pending where provisioning_domain_id = ${k.provisioning_domain_id} and user_id = ${k.user_id} returning id`);
          // Another replica applied it meanwhile.
          if (taken.length === 0) return [];
          const out = (k.provisioning_domain_id ? await member(tx, k.provisioning_domain_id, k.user_id) : await account(tx, k.user_id)).map(eventOf);
          await recordAuditEvents(tx, out);
          return out;
        });
        for (const e of events) await o.bus.publish(e).catch(() => {});
      } catch (e) {
        failed.add(k.user_id);
        failures.push(`user ${k.user_id}${k.provisioning_domain_id ? ` in organization ${k.provisioning_domain_id}` : ''}: ${e instanceof Error ? e.message : String(e)}`);
      }
    }
    if (failures.length) throw new Error(failures.join('; '));
  }

  const eventOf = (e: Out): AuditEvent => auditEvent({
    eventType: e.type, actor: { type: 'integration', id: 'scim' }, description: e.description, tenantId: e.tenantId,
    target: { type: 'user', id: e.userId }, details: { method: 'scim', userId: e.userId, ...e.details },
    ...(e.result ? { result: e.result } : {}), ...(e.severity ? { severity: e.severity } : {}),
  });

  async function member(tx: SqlRunner, org: string, userId: string): Promise<Out[]> {
    const [state] = await queryRows<{ active: boolean; slug: string | null }>(tx, sql`select
      exists (select 1 from auth.scim_user where user_id = ${userId} and provisioning_domain_id = ${org} and active is true) as active,
      (select slug from auth.organization where id = ${org}) as slug`);
    // The organization was deleted meanwhile: nothing to apply (its memberships went with it).
    if (!state?.slug) return [];
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
        // Its last membership gone, the account may now be locked (whether or not its own mark was applied before).
        ...(await account(tx, userId)),
      ];
    }
    // An owner's access is not the directory's to change (as setMemberAccess keeps it from admins).
    if (m && splitRoles(m.role).includes('owner')) return [];
    const scimGroups = await queryRows<{ display_name: string; external_id: string | null }>(tx, sql`select distinct g.display_name, g.external_id
      from auth.scim_projection_grant p join auth.scim_group g on g.id = p.source_id
      where p.provisioning_domain_id = ${org} and p.user_id = ${userId} order by g.display_name`);
    const mapped = scimGroups.map((g) => ({ scim: g.display_name, group: objectosGroupOf(o.groups, g.display_name, g.external_id) }));
    const named = mapped.flatMap((x) => (x.group ? [x.group] : []));
    const unmapped = mapped.filter((x) => !x.group).map((x) => x.scim);
    // With the organization's `*.scim.yaml`, its groups decide role, permission sets, more groups and the organization role.
    const mapping = o.mappings?.find((x) => x.organization === state.slug);
    const granted = mapping ? ssoAccessOf(mapping, scimGroups.flatMap((g) => [g.display_name, ...(g.external_id ? [g.external_id] : [])])) : null;
    const groups = [...new Set([...named, ...(granted?.groups ?? [])])].sort();
    const organizationRole = granted?.organizationRole ?? 'member';
    const out: Out[] = [];
    if (!m) {
      await tx.execute(sql`insert into auth.member (id, organization_id, user_id, role, created_at)
        select ${randomUUID()}, ${org}, ${userId}, ${organizationRole}, now() where not exists (select 1 from auth.member where organization_id = ${org} and user_id = ${userId})`);
      out.push({ ...tenant, type: 'authz.role_assigned', description: 'added to the organization by its directory (SCIM)', details: { organizationRole, groups, unmappedGroups: unmapped } });
    } else if (granted && m.role !== organizationRole) {
      await tx.execute(sql`update auth.member set role = ${organizationRole} where organization_id = ${org} and user_id = ${userId}`);
      out.push({ ...tenant, type: 'authz.role_assigned', description: 'organization role from the directory (SCIM)', details: { organizationRole, previousOrganizationRole: m.role } });
    }
    const before = await loadMemberAccess(tx, org, userId);
    // The directory owns the member's groups; their role and permission sets too when the organization maps them.
    const next = granted ? { role: granted.role, permissionSets: granted.permissionSets, groups } : { ...before, groups };
    const diff = (a: readonly string[], b: readonly string[]) => b.filter((x) => !a.includes(x));
    if (before.role === next.role && !diff(before.groups, next.groups).length && !diff(next.groups, before.groups).length
      && !diff(before.permissionSets, next.permissionSets).length && !diff(next.permissionSets, before.permissionSets).length) return out;
    await saveMemberAccess(tx, org, userId, next);
    if (before.role !== next.role)
      out.push({ ...tenant, type: next.role ? 'authz.role_assigned' : 'authz.role_removed', description: 'hierarchy role from the directory (SCIM)', details: { role: next.role, previousRole: before.role } });
    const added = { permissionSets: diff(before.permissionSets, next.permissionSets), groups: diff(before.groups, next.groups) };
    const removed = { permissionSets: diff(next.permissionSets, before.permissionSets), groups: diff(next.groups, before.groups) };
    if (added.permissionSets.length || added.groups.length) out.push({ ...tenant, type: 'authz.permission_granted', description: 'access from the directory (SCIM)', details: { ...added, unmappedGroups: unmapped } });
    if (removed.permissionSets.length || removed.groups.length) out.push({ ...tenant, type: 'authz.permission_revoked', description: 'access from the directory (SCIM)', details: removed });
    return out;
  }

  async function account(tx: SqlRunner, userId: string): Promise<Out[]> {
    // Kept active by a directory of an organization that still exists; made by a directory (not an existing
    // account one took over, auth.scim_linked); a platform operator.
    const [s] = await queryRows<{ active: boolean; memberships: number; managed: boolean; operator: boolean }>(tx, sql`select
      exists (select 1 from auth.scim_user su join auth.organization g on g.id = su.provisioning_domain_id where su.user_id = ${userId} and su.active is true) as active,
      (select count(*)::int from auth.member where user_id = ${userId}) as memberships,
      not exists (select 1 from auth.scim_linked x where x.user_id = ${userId}) as managed,
      exists (select 1 from auth."user" u where u.id = ${userId} and coalesce(u.role, '') like '%operator%') as operator`);
    if (!s) return [];
    if (s.active) {
      const lifted = await queryRows<{ id: string }>(tx, sql`update auth."user" set banned = false, ban_reason = null, ban_expires = null
        where id = ${userId} and banned is true and ban_reason = ${SCIM_BAN_REASON} returning id`);
      return lifted.length ? [{ tenantId: null, userId, type: 'auth.account_unlocked', description: 'reactivated by the directory (SCIM)', details: {} }] : [];
    }
    // Still a member somewhere else (an organization that did not provision them): that organization's access stays.
    // An account the directory only took over (it existed before), or an operator's, is never locked by it.
    if (s.memberships > 0 || !s.managed || s.operator) return [];
    const locked = await queryRows<{ id: string }>(tx, sql`update auth."user" set banned = true, ban_reason = ${SCIM_BAN_REASON}, ban_expires = null
      where id = ${userId} and banned is not true returning id`);
    const ended = await queryRows<{ id: string }>(tx, sql`delete from auth.session where user_id = ${userId} returning id`);
    if (!locked.length && !ended.length) return [];
    return [{ tenantId: null, userId, type: 'auth.account_locked', severity: 'notice', description: 'deactivated by the directory (SCIM): account locked, sessions ended', details: { sessionIds: ended.map((x) => x.id) } }];
  }

  return {
    /** Applies every marked user (serialized in this process; across processes by a lock). */
    apply(): Promise<void> {
      const self = this;
      chain = chain.then(run).catch((e: unknown) => {
        o.logger?.error(`SCIM changes not applied yet (retried in ${(o.retryMs ?? 5_000) / 1000} s, on the next SCIM request and at start): ${e instanceof Error ? e.message : String(e)}`);
        // A deactivation waiting here leaves sessions open: retried soon, not only when the provider calls again.
        if (!retry && !closed) retry = setTimeout(() => ((retry = null), void self.apply()), o.retryMs ?? 5_000).unref();
      });
      return chain;
    },
    /** Stops retrying and waits for an application in progress. */
    async close(): Promise<void> {
      closed = true;
      if (retry) clearTimeout(retry);
      await chain;
    },
  };
}
