import { and, eq, sql, type SQL } from 'drizzle-orm';
import { loadMemberAccess, loadOrganizationRoles, queryRows, type SqlRunner } from '@objectos/db';
import { auditEvent, recordAuditEvents, type AuditEvent } from '@objectos/events';
import type { Principal } from '@objectos/principal';
import { accessFor, recordGrants, rlsFor, type Access, type AccessLevel, type ObjectPlan } from '@objectos/schema';
import { col, OWNER } from '../db/tables.ts';
import { objectOf, type DataSource } from '../data-source.ts';
import { badInput, dataError } from '../errors.ts';
import { isUuid } from '../sql/where.ts';
import { committed } from '../sql/write.ts';
import { recordAccessChange } from '../events/access-change.ts';
import { conditionSql, grantSql, recordSql, type SecurityContext } from './predicates.ts';
import type { PgColumn } from 'drizzle-orm/pg-core';

interface Reason { layer: string; rule: string; access: string; effect: 'grants' | 'denies' }

function securedObject(ds: DataSource, name: string): ObjectPlan {
  // A client names the object: `toString` or `__proto__` must be unknown, not a property of every object.
  const p = Object.hasOwn(ds.plan.objects, name) ? ds.plan.objects[name] : undefined;
  if (!p || p.methods.length === 0)
    throw badInput('explainAccess', [{ field: 'object', constraint: 'unknownObject', message: `unknown object "${name}" (known: ${Object.values(ds.plan.objects).filter((x) => x.methods.length > 0).map((x) => x.object.name).join(', ')})` }]);
  return p;
}

function sc(ds: DataSource): SecurityContext {
  if (!ds.sc || ds.tenant === null) throw dataError('FORBIDDEN', 'You act in no organization: create one or ask to be invited, then sign in again.');
  return ds.sc;
}

/** Can the request read this record? (A record it cannot read and a missing one are the same to it.) */
export async function readable(ds: DataSource, p: ObjectPlan, id: string): Promise<boolean> {
  if (!isUuid(id)) return false;
  const { table, visible } = objectOf(ds, p.object.name, 'read');
  const idCol = col(table, p.columns[0]!);
  return (await ds.db.select({ id: idCol }).from(table).where(and(visible, eq(idCol, id)))).length > 0;
}

/**
 * Whether a user belongs to the request's organization: a better-auth membership (where the identity
 * tables live in this database), or an access assignment (security.member_access, which identity
 * clears when a member leaves).
 */
export async function isMember(ds: DataSource, userId: string, db: SqlRunner = ds.db): Promise<boolean> {
  const hasAuth = (await queryRows<{ t: string | null }>(db, sql`select to_regclass('auth.member')::text as t`))[0]?.t;
  const rows = await queryRows<{ one: number }>(db, sql`select 1 as one from security.member_access where organization_id = ${ds.tenant} and user_id = ${userId}
    ${hasAuth ? sql`union all select 1 from auth.member where organization_id = ${ds.tenant} and user_id = ${userId}` : sql``} limit 1`);
  return rows.length > 0;
}

/** The principal of another member of the request's organization, as the gateway would build it. */
async function memberPrincipal(ds: DataSource, userId: string): Promise<Principal> {
  const org = ds.tenant!;
  const assigned = await loadMemberAccess(ds.db, org, userId);
  const hasAuth = (await queryRows<{ t: string | null }>(ds.db, sql`select to_regclass('auth.member')::text as t`))[0]?.t;
  const orgRoles = hasAuth ? await loadOrganizationRoles(ds.db, org, userId) : null;
  if (orgRoles === null && assigned.role === null && assigned.permissionSets.length === 0)
    throw dataError('NOT_FOUND', `No member with id "${userId}" in this organization`);
  return {
    kind: 'user', userId, organizationId: org, roles: orgRoles ?? [],
    permissionSets: assigned.permissionSets, role: assigned.role, groups: assigned.groups, isAdmin: false, sessionId: null, apiKeyId: null, impersonatedBy: null,
  };
}

function fieldOf(p: ObjectPlan, name: string) {
  const c = p.columns.find((x) => x.field !== null && (x.graphqlName === name || x.name === name));
  if (!c) throw badInput('explainAccess', [{ field: 'field', constraint: 'unknownField', message: `${p.object.name} has no field "${name}"` }]);
  return c;
}

/** explainAccess: what a member can do with a record and which rules decided it. */
export async function explainAccess(ds: DataSource, args: { object: string; id: string; field?: string | null; userId?: string | null }) {
  const caller = sc(ds);
  const p = securedObject(ds, args.object);
  const column = args.field ? fieldOf(p, args.field) : null;
  const self = !args.userId || args.userId === caller.access.userId;
  if (!self && !caller.access.orgAdmin) throw dataError('FORBIDDEN', 'Only organization owners and admins can explain the access of another member');
  const access: Access = self ? caller.access : accessFor(ds.plan, caller.security, await memberPrincipal(ds, args.userId!));
  const base = {
    object: p.object.name, recordId: args.id, field: column?.graphqlName ?? null, userId: access.userId,
    profile: access.profile, permissionSets: access.permissionSets, role: access.role,
  };
  if (!(await readable(ds, p, args.id)))
    return { ...base, allowed: false, read: false, edit: false, delete: false, fieldReadable: null, fieldEditable: null,
      reasons: [{ layer: 'record', rule: 'not visible to you, or does not exist', access: 'read', effect: 'denies' }] };

  const target: SecurityContext = { ...caller, access };
  const table = ds.tables[p.object.name]!;
  const idCol = col(table, p.columns[0]!);
  const name = p.object.name;
  const reasons: Reason[] = [];
  const sets = access.permissionSets.map((s) => caller.security.permissionSets[s]!);
  const objectFlags = [['read', 'allowRead'], ['edit', 'allowEdit'], ['delete', 'allowDelete']] as const;
  for (const [what, flag] of objectFlags) {
    const granting = sets.filter((s) => s.objects[name]?.[flag]).map((s) => s.name);
    reasons.push(granting.length
      ? { layer: 'object_permission', rule: granting.join(', '), access: what, effect: 'grants' }
      : { layer: 'object_permission', rule: `no permission set grants ${flag} on ${name}${access.permissionSets.length ? '' : ' (no profile: none assigned and none is the default for the organization role)'}`, access: what, effect: 'denies' });
  }
  // Evaluate every grant and RLS policy on this one row, in one statement.
  const probes: { reason: Omit<Reason, 'effect'>; sql: SQL; kind: 'grant' | 'rls' }[] = [];
  for (const level of ['read', 'edit'] as AccessLevel[]) {
    for (const g of recordGrants(caller.security, access, name, level))
      probes.push({ reason: { layer: g.layer, rule: g.rule, access: level }, sql: grantSql(target, name, table, g, 0), kind: 'grant' });
  }
  for (const op of ['select', 'update', 'delete'] as const) {
    const policies = rlsFor(caller.security, access, name, op);
    if (policies === null) continue;
    if (policies.length === 0) reasons.push({ layer: 'row_level_security', rule: `no ${op} policy of ${name} applies to role ${access.role ?? '(none)'}`, access: op, effect: 'denies' });
    for (const pol of policies) probes.push({ reason: { layer: 'row_level_security', rule: pol.name, access: op }, sql: conditionSql(target, name, table, pol.using), kind: 'rls' });
  }
  const selection: Record<string, SQL> = {
    read: sql`coalesce(${recordSql(target, name, table, 'read')}, false)`,
    edit: sql`coalesce(${recordSql(target, name, table, 'edit')}, false)`,
    del: sql`coalesce(${recordSql(target, name, table, 'delete')}, false)`,
  };
  probes.forEach((x, i) => {
    selection[`p${i}`] = sql`coalesce(${x.sql}, false)`;
  });
  const [row] = (await ds.db.select(selection as Record<string, SQL<unknown>>).from(table).where(eq(idCol, args.id))) as Record<string, unknown>[];
  const truthy = (v: unknown) => v === true || v === 't';
  probes.forEach((x, i) => {
    const hit = truthy(row?.[`p${i}`]);
    if (x.kind === 'grant' && hit) reasons.push({ ...x.reason, effect: 'grants' });
    if (x.kind === 'rls') reasons.push({ ...x.reason, effect: hit ? 'grants' : 'denies' });
  });
  const read = truthy(row?.['read']);
  const edit = truthy(row?.['edit']);
  if (!reasons.some((r) => r.access === 'read' && r.effect === 'grants' && r.layer !== 'object_permission' && r.layer !== 'row_level_security'))
    reasons.push({ layer: 'record', rule: `no ${caller.security.objects[name]!.owd} grant, ownership, hierarchy or share reaches this record`, access: 'read', effect: 'denies' });
  let fieldReadable: boolean | null = null;
  let fieldEditable: boolean | null = null;
  if (column) {
    const fa = access.objects[name]?.fields[column.field!.name];
    fieldReadable = fa?.readable ?? false;
    fieldEditable = fa?.editable ?? false;
    const key = `${name}.${column.field!.name}`;
    const listing = sets.filter((s) => s.objects[name]?.allowRead && s.fields[key]);
    reasons.push({
      layer: 'field_permission',
      rule: listing.length ? listing.map((s) => `${s.name}: ${s.fields[key]!.readable ? 'readable' : 'hidden'}${s.fields[key]!.editable ? ', editable' : ''}`).join('; ') : 'not restricted by any permission set: follows the object',
      access: column.graphqlName,
      effect: fieldReadable ? 'grants' : 'denies',
    });
  }
  return {
    ...base, allowed: read && (fieldReadable ?? true), read, edit, delete: truthy(row?.['del']), fieldReadable, fieldEditable, reasons,
  };
}

const TYPE_IN: Record<string, string> = { USER: 'user', ROLE: 'role', ROLE_AND_SUBORDINATES: 'role_and_subordinates', GROUP: 'group' };
const TYPE_OUT = Object.fromEntries(Object.entries(TYPE_IN).map(([k, v]) => [v, k]));

interface ShareRow { id: string; object: string; record_id: string; shared_with_type: string; shared_with: string; access_level: string; granted_by: string | null; created_at: Date }
const shareOut = (r: ShareRow) => ({
  id: r.id, object: r.object, recordId: r.record_id, sharedWithType: TYPE_OUT[r.shared_with_type], sharedWith: r.shared_with,
  accessLevel: r.access_level.toUpperCase(), grantedBy: r.granted_by, createdAt: new Date(r.created_at),
});

async function mayShare(ds: DataSource, p: ObjectPlan, id: string): Promise<void> {
  const s = sc(ds);
  if (!(await readable(ds, p, id))) throw dataError('NOT_FOUND', `No ${p.typeName} with id "${id}"`);
  if (s.access.orgAdmin || s.access.objects[p.object.name]?.modifyAll) return;
  const table = ds.tables[p.object.name]!;
  const idCol = col(table, p.columns[0]!);
  const owned = await ds.db.select({ id: idCol }).from(table).where(and(eq(idCol, id), eq(table[OWNER.key] as PgColumn, s.access.userId ?? '')));
  if (owned.length === 0) throw dataError('FORBIDDEN', `Only the ${p.typeName}'s owner, an organization admin or a holder of modifyAllRecords can change its shares`);
}

export async function recordShares(ds: DataSource, args: { object: string; id: string }) {
  sc(ds);
  const p = securedObject(ds, args.object);
  if (!(await readable(ds, p, args.id))) throw dataError('NOT_FOUND', `No ${p.typeName} with id "${args.id}"`);
  const rows = await queryRows<ShareRow>(ds.db, sql`select * from security.record_share
    where organization_id = ${ds.tenant} and object = ${p.object.name} and record_id = ${args.id} order by created_at, id`);
  return rows.map(shareOut);
}

/** A record share granted or revoked, as an audit event of the request that did it. */
function shareEvent(ds: DataSource, type: 'authz.permission_granted' | 'authz.permission_revoked', share: ShareRow): AuditEvent {
  const c = ds.context;
  return auditEvent({
    eventType: type,
    actor: { type: c?.actorType ?? 'user', id: ds.actor, ipAddress: c?.ipAddress ?? null, userAgent: c?.userAgent ?? null },
    target: { type: share.object, id: share.record_id },
    description: `${type === 'authz.permission_granted' ? 'shared' : 'unshared'} ${share.object} ${share.record_id} (${share.access_level}) with ${share.shared_with_type} ${share.shared_with}`,
    tenantId: ds.tenant,
    requestId: c?.requestId ?? null,
    details: { share: { id: share.id, sharedWithType: share.shared_with_type, sharedWith: share.shared_with, accessLevel: share.access_level } },
  });
}

export async function shareRecord(ds: DataSource, input: { object: string; recordId: string; sharedWithType: string; sharedWith: string; accessLevel: 'READ' | 'EDIT' }) {
  const s = sc(ds);
  const p = securedObject(ds, input.object);
  const o = s.security.objects[p.object.name]!;
  const level = input.accessLevel === 'EDIT' ? 'edit' : 'read';
  const issue = (field: string, message: string) => badInput('ShareRecordInput', [{ field, constraint: 'share', message }]);
  if (o.owd === 'controlled_by_parent') throw issue('object', `${p.object.name} is controlled_by_parent: share its ${o.parent!.object} instead`);
  if (o.owd === 'public_read_write' || (o.owd === 'public_read' && level === 'read'))
    throw issue('accessLevel', `${p.object.name} is ${o.owd}: a ${level} share would not widen anyone's access`);
  const type = TYPE_IN[input.sharedWithType]!;
  if ((type === 'role' || type === 'role_and_subordinates') && !s.security.roles[input.sharedWith]) throw issue('sharedWith', `unknown role "${input.sharedWith}"`);
  if (type === 'group' && !s.security.groups.includes(input.sharedWith)) throw issue('sharedWith', `unknown group "${input.sharedWith}"`);
  if (type === 'user' && input.sharedWith.trim() === '') throw issue('sharedWith', 'a user id is required');
  await mayShare(ds, p, input.recordId);
  // Only a member of this organization can hold a share: a share to anyone else would be a grant
  // waiting for a user who joins later, or a probe of other tenants' user ids.
  if (type === 'user' && !(await isMember(ds, input.sharedWith))) throw issue('sharedWith', `no member with id "${input.sharedWith}" in this organization`);
  // The share and its audit event commit together.
  const row = await ds.db.transaction(async (tx) => {
    const [before] = await queryRows<{ access_level: 'read' | 'edit' }>(tx, sql`select access_level from security.record_share where organization_id = ${ds.tenant}
      and object = ${p.object.name} and record_id = ${input.recordId} and shared_with_type = ${type} and shared_with = ${input.sharedWith} for update`);
    const [r] = await queryRows<ShareRow>(tx, sql`insert into security.record_share
        (organization_id, object, record_id, shared_with_type, shared_with, access_level, granted_by)
      values (${ds.tenant}, ${p.object.name}, ${input.recordId}, ${type}, ${input.sharedWith}, ${level}, ${ds.actor})
      on conflict (organization_id, object, record_id, shared_with_type, shared_with) do update set access_level = excluded.access_level, granted_by = excluded.granted_by
      returning *`);
    await recordAuditEvents(tx, [shareEvent(ds, 'authz.permission_granted', r!)]);
    await recordAccessChange(tx, ds, p, r!, true, before?.access_level ?? null);
    return r!;
  });
  return committed(ds, shareOut(row));
}

export async function unshareRecord(ds: DataSource, id: string): Promise<boolean> {
  sc(ds);
  const gone = () => dataError('NOT_FOUND', `No record share with id "${id}"`);
  if (!isUuid(id)) throw gone();
  const [share] = await queryRows<ShareRow>(ds.db, sql`select * from security.record_share where id = ${id} and organization_id = ${ds.tenant}`);
  if (!share) throw gone();
  const p = ds.plan.objects[share.object];
  if (!p) throw gone();
  try {
    await mayShare(ds, p, share.record_id);
  } catch (e) {
    if ((e as { extensions?: { code?: string } }).extensions?.code === 'NOT_FOUND') throw gone();
    throw e;
  }
  await ds.db.transaction(async (tx) => {
    await tx.execute(sql`delete from security.record_share where id = ${id} and organization_id = ${ds.tenant}`);
    await recordAuditEvents(tx, [shareEvent(ds, 'authz.permission_revoked', share)]);
    await recordAccessChange(tx, ds, p, share, false, null);
  });
  return committed(ds, true);
}

