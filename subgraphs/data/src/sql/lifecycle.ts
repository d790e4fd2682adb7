import { randomUUID } from 'node:crypto';
import { and, eq, inArray, isNotNull, isNull, sql, type SQL } from 'drizzle-orm';
import type { GraphQLError } from 'graphql';
import { claimEffect } from '@objectos/db';
import { auditEvent, recordAuditEvents } from '@objectos/events';
import type { ObjectPlan } from '@objectos/schema';
import { badInput, dataError } from '../errors.ts';
import { col, deletedAtColumn, OWNER, TENANT, TRASH } from '../db/tables.ts';
import { accessRows, objectOf, type DataSource, type Row } from '../data-source.ts';
import { maskRows, requireObject } from '../security/fields.ts';
import { recordSql } from '../security/predicates.ts';
import { isMember } from '../security/api.ts';
import { requireUnlocked } from '../workflow/approval-lock.ts';
import { enforceValidationRules } from '../validation-rules.ts';
import { findConnection, type Connection, type ListArgs } from './read.ts';
import { isUuid } from './where.ts';
import { inChunks } from './chunks.ts';
import {
  cascadeEffects, checkRls, committed, relationsInto, missOrForbidden, nextVersion, notFound, recordChange, recordNulled, requireVersion, tenantOf, translate,
  type Cascaded, type Tx,
} from './write.ts';

/**
 * The record lifecycle beyond create/update/delete: the trash of objects with `enable.trash` (a delete
 * moves a record there, `restore` brings it back, `purge` deletes it for good) and owner transfer.
 * Records in the trash are absent from every read and write path (see visibleRows); here they are
 * reached on purpose.
 */

const inTrashNotFound = (p: ObjectPlan, id: string): GraphQLError => dataError('NOT_FOUND', `No ${p.typeName} with id "${id}" in the trash`);
const isLive = (row: Row): boolean => row[TRASH.deletedAt.key] === null || row[TRASH.deletedAt.key] === undefined;
const key = (c: Cascaded): string => `${c.p.object.name}:${c.row.id}`;
const behaviorOf = (f: ObjectPlan['relations'][number]['field']): string => (f as { deleteBehavior?: string }).deleteBehavior ?? 'set_null';

/**
 * The records a delete of `parents` takes along (deleteBehavior cascade, at any depth, parents first),
 * locked in id order. Without `batch`: those outside the trash, which a delete moves there; a restrict
 * (or required) reference from a record outside the trash refuses the delete, as the database would a
 * real one. With `batch`: those that went to the trash in that delete, which a restore brings back.
 */
async function takenAlong(tx: Tx, ds: DataSource, root: ObjectPlan, parents: Cascaded[], tenant: string, batch: string | null, out: Cascaded[] = [], seen = new Set(parents.map(key))): Promise<Cascaded[]> {
  for (const { object, byId, child, r } of relationsInto(ds, parents)) {
    const behavior = behaviorOf(r.field);
    const holds = behavior === 'restrict' || (behavior === 'set_null' && r.field.required);
    if (behavior !== 'cascade' && (batch !== null || !holds)) continue;
    const table = ds.tables[child.object.name]!;
    const fk = child.columns.find((c) => c.column === r.column)!;
    const deletedAt = deletedAtColumn(table);
    // Only trash objects are cascaded to from a trash object (the compiler checks it).
    const state: SQL | undefined = batch === null ? (deletedAt ? isNull(deletedAt) : undefined) : and(isNotNull(deletedAt!), eq(table[TRASH.batch.key]!, batch));
    const rows = await inChunks([...byId.keys()], async (slice) => (await tx.select().from(table)
      .where(and(eq(table[TENANT.key]!, tenant), inArray(col(table, fk), slice), state))
      .orderBy(col(table, child.columns[0]!)).for('update')) as Row[]);
    if (behavior !== 'cascade') {
      if (rows.length === 0) continue;
      const whose = object === root.object.name ? 'it' : `a ${ds.plan.objects[object]!.typeName} it would take along`;
      throw dataError('CONFLICT', `Cannot delete this ${root.typeName}: ${child.object.pluralLabel} still refer to ${whose} through ${r.field.name} (deleteBehavior ${behavior}${behavior === 'set_null' ? ', required' : ''})`);
    }
    // A cycle of cascades (a self-reference) reaches a record once.
    const fresh = rows.filter((row) => !seen.has(`${child.object.name}:${row.id}`)).map((row): Cascaded => {
      const parent = byId.get(row[fk.graphqlName] as string)!;
      return { p: child, row, ancestors: [{ object, record: parent.row }, ...parent.ancestors] };
    });
    for (const c of fresh) seen.add(key(c));
    out.push(...fresh);
    if (fresh.length > 0) await takenAlong(tx, ds, root, fresh, tenant, batch, out, seen);
  }
  return out;
}

/** Sets the trash columns (and the next version) of these records, per object; returns them as they are now. */
async function setTrash(tx: Tx, ds: DataSource, records: Cascaded[], values: { at: SQL | null; by: string | null; batch: string | null }): Promise<Map<string, Row>> {
  const after = new Map<string, Row>();
  const byObject = new Map<string, Cascaded[]>();
  for (const c of records) byObject.set(c.p.object.name, [...(byObject.get(c.p.object.name) ?? []), c]);
  for (const [object, group] of byObject) {
    const p = ds.plan.objects[object]!;
    const table = ds.tables[object]!;
    const idCol = col(table, p.columns[0]!);
    const rows = await inChunks(group.map((c) => c.row.id), async (slice) => (await tx.update(table)
      .set({ [TRASH.deletedAt.key]: values.at, [TRASH.deletedBy.key]: values.by, [TRASH.batch.key]: values.batch, version: nextVersion(table) })
      .where(and(eq(table[TENANT.key]!, ds.tenant!), inArray(idCol, slice))).returning()) as Row[]);
    for (const row of rows) after.set(key({ p, row, ancestors: [] }), row);
  }
  return after;
}

/** `delete<Type>` on an object with a trash: the record, and what its delete cascades to, go to the trash. */
export async function trashRecord(ds: DataSource, object: string, id: string): Promise<Row> {
  const { p, table, visible: deletable } = objectOf(ds, object, 'delete');
  requireObject(ds, p, 'delete');
  const tenant = tenantOf(ds, p);
  if (!isUuid(id)) throw notFound(p, id);
  return committed(ds, await ds.db.transaction(async (tx) => {
    try {
      // A keyed delete done before (its job ran again after a crash): the record is gone, as asked.
      if (ds.effect && (await claimEffect(tx, ds.effect.key))) return { id } as Row;
      const [target] = (await tx.select().from(table).where(and(deletable, eq(col(table, p.columns[0]!), id))).for('update')) as Row[];
      if (!target) throw await missOrForbidden(tx, ds, p, id, 'delete');
      await requireUnlocked(tx, ds, p, id, 'delete');
      // Validation rules on delete judge a delete to the trash (a purge or restore later is not judged again).
      enforceValidationRules(ds, p, 'delete', target, {});
      const root: Cascaded = { p, row: target, ancestors: [] };
      const along = await takenAlong(tx, ds, p, [root], tenant, null);
      // What goes along is deleted too: each record's own delete rules may keep it (and so its parent).
      for (const d of along) enforceValidationRules(ds, d.p, 'delete', d.row, {});
      await setTrash(tx, ds, [root, ...along], { at: sql`now()`, by: ds.actor, batch: randomUUID() });
      // To everyone watching, a record in the trash is deleted: the same events as a real delete.
      await recordChange(tx, ds, p, 'delete', target, null);
      for (const d of along) await recordChange(tx, ds, d.p, 'delete', d.row, null, d.ancestors);
      return maskRows(ds, p, [target])[0]!;
    } catch (e) {
      throw translate(ds, p, e, {});
    }
  }));
}

/**
 * The record in the trash a restore or purge names, locked: one the request could delete. One it can
 * read but not delete is refused as such; anything else is "not in the trash".
 */
async function trashedRow(tx: Tx, ds: DataSource, p: ObjectPlan, id: string, verb: 'restore' | 'purge'): Promise<Row> {
  const table = ds.tables[p.object.name]!;
  const idCol = col(table, p.columns[0]!);
  const { visible: deletable } = objectOf({ ...ds, trashed: table }, p.object.name, 'delete');
  const [row] = (await tx.select().from(table).where(and(deletable, eq(idCol, id))).for('update')) as Row[];
  if (row) return row;
  const readable = ds.sc ? recordSql(ds.sc, p.object.name, table, 'read') : eq(table[TENANT.key]!, ds.tenant!);
  const seen = await tx.select({ id: idCol }).from(table).where(and(readable, isNotNull(deletedAtColumn(table)!), eq(idCol, id)));
  throw seen.length > 0 ? dataError('FORBIDDEN', `You can read this ${p.typeName} in the trash but not ${verb} it (that needs delete access)`) : inTrashNotFound(p, id);
}

/** A record whose deletes cascade from a parent in the trash comes back after that parent, not before. */
async function requireParentsLive(tx: Tx, ds: DataSource, p: ObjectPlan, row: Row): Promise<void> {
  for (const r of p.relations) {
    if (behaviorOf(r.field) !== 'cascade') continue;
    const parentId = row[p.columns.find((c) => c.column === r.column)!.graphqlName];
    const target = ds.plan.objects[r.target]!;
    const table = ds.tables[r.target]!;
    const deletedAt = deletedAtColumn(table);
    if (typeof parentId !== 'string' || !deletedAt) continue;
    const trashed = await tx.select({ id: col(table, target.columns[0]!) }).from(table).where(and(eq(col(table, target.columns[0]!), parentId), isNotNull(deletedAt)));
    if (trashed.length > 0)
      throw dataError('CONFLICT', `Cannot restore this ${p.typeName} before its ${target.typeName} (${r.field.name}), which is in the trash: restore that one, and this comes back with it`);
  }
}

/** `restore<Type>`: the record and the records that went to the trash with it are back, as they were. */
export async function restoreRecord(ds: DataSource, object: string, id: string): Promise<Row> {
  const { p } = objectOf(ds, object);
  requireObject(ds, p, 'delete');
  const tenant = tenantOf(ds, p);
  if (!isUuid(id)) throw inTrashNotFound(p, id);
  return committed(ds, await ds.db.transaction(async (tx) => {
    try {
      const row = await trashedRow(tx, ds, p, id, 'restore');
      await requireParentsLive(tx, ds, p, row);
      const root: Cascaded = { p, row, ancestors: [] };
      const along = await takenAlong(tx, ds, p, [root], tenant, String(row[TRASH.batch.key]));
      const after = await setTrash(tx, ds, [root, ...along], { at: null, by: null, batch: null });
      // Back in view: a create to subscribers and the audit trail, parents first.
      for (const c of [root, ...along]) await recordChange(tx, ds, c.p, 'create', null, after.get(key(c))!);
      return maskRows(ds, p, [after.get(key(root))!])[0]!;
    } catch (e) {
      throw translate(ds, p, e, {});
    }
  }));
}

/**
 * `purge<Type>`: the record leaves the trash for good, with what its delete cascades to (in the trash
 * too). Subscribers saw it deleted when it went to the trash: only records outside the trash that the
 * database changes (set_null references) make change events. The purge itself is an audit event.
 */
export async function purgeRecord(ds: DataSource, object: string, id: string): Promise<Row> {
  const { p, table } = objectOf(ds, object);
  requireObject(ds, p, 'delete');
  const tenant = tenantOf(ds, p);
  if (!isUuid(id)) throw inTrashNotFound(p, id);
  return committed(ds, await ds.db.transaction(async (tx) => {
    try {
      const row = await trashedRow(tx, ds, p, id, 'purge');
      await requireUnreferenced(tx, ds, p, id);
      const effects = await cascadeEffects(tx, ds, [{ p, row, ancestors: [] }], tenant);
      await tx.delete(table).where(eq(col(table, p.columns[0]!), id));
      for (const d of effects.deleted) if (isLive(d.row)) await recordChange(tx, ds, d.p, 'delete', d.row, null, d.ancestors);
      await recordNulled(tx, ds, effects, isLive);
      const c = ds.context;
      await recordAuditEvents(tx, [auditEvent({
        eventType: 'data.delete',
        actor: { type: c?.actorType ?? (ds.actor ? 'user' : 'system'), id: ds.actor, ipAddress: c?.ipAddress ?? null, userAgent: c?.userAgent ?? null },
        target: { type: p.object.name, id },
        description: `purge ${p.object.name} ${id} from the trash${effects.deleted.length ? ` (with ${effects.deleted.length} records deleted with it)` : ''}`,
        tenantId: ds.tenant,
        requestId: c?.requestId ?? null,
        details: { object: p.object.name, purged: true, with: effects.deleted.map((d) => ({ object: d.p.object.name, id: d.row.id })) },
      })]);
      return maskRows(ds, p, [row])[0]!;
    } catch (e) {
      throw translate(ds, p, e, {});
    }
  }));
}

/**
 * A restrict reference holds a record in the trash too: the records that refer to it (in the trash
 * themselves, since a delete was refused while others did) are purged first. Said before the database's
 * foreign key would refuse it less clearly.
 */
async function requireUnreferenced(tx: Tx, ds: DataSource, p: ObjectPlan, id: string): Promise<void> {
  for (const child of Object.values(ds.plan.objects)) {
    for (const r of child.relations) {
      if (r.target !== p.object.name || behaviorOf(r.field) !== 'restrict') continue;
      const table = ds.tables[child.object.name]!;
      const fk = col(table, child.columns.find((c) => c.column === r.column)!);
      const [held] = await tx.select({ id: col(table, child.columns[0]!) }).from(table).where(and(eq(table[TENANT.key]!, ds.tenant!), eq(fk, id))).limit(1);
      if (held) throw dataError('CONFLICT', `Cannot purge this ${p.typeName}: ${child.object.pluralLabel} still refer to it through ${r.field.name} (deleteBehavior restrict); purge or change them first`);
    }
  }
}

/** `trashed<Types>`: the records in the trash the request could restore or purge, paged like the list. */
export function trashConnection(ds: DataSource, object: string, args: ListArgs): Promise<Connection> {
  const { p, table } = objectOf(ds, object);
  requireObject(ds, p, 'delete');
  return findConnection({ ...ds, trashed: table }, object, args);
}

/**
 * The targets of lookups to an object with a trash, by id, in one statement: the record (masked), or
 * TRASHED for one in the trash that the request could read otherwise. A lookup to it reads as empty
 * (null), as a set_null reference would after a real delete, until it is restored; a record the request
 * cannot read stays a hidden one (whether it is in the trash is not told).
 */
export const TRASHED = 'trashed' as const;
export async function findLookups(ds: DataSource, object: string, ids: readonly string[]): Promise<Map<string, Row | typeof TRASHED>> {
  const { p, table } = objectOf(ds, object);
  const idCol = col(table, p.columns[0]!);
  const rows = await inChunks(ids, async (slice) => (await ds.db.select().from(table).where(and(accessRows(ds, object, table), inArray(idCol, slice)))) as Row[]);
  const live = maskRows(ds, p, rows.filter(isLive));
  return new Map<string, Row | typeof TRASHED>([...rows.filter((r) => !isLive(r)).map((r) => [r.id, TRASHED] as const), ...live.map((r) => [r.id, r] as const)]);
}

/**
 * `transfer<Type>`: another owner for a record the request can edit, if it is the owner, an organization
 * admin, or holds modifyAllRecords or allowTransfer on the object (Salesforce's Transfer Record). The new
 * owner must be a member of the organization. A change like an update (version, event, audit with
 * `ownerId`): who can see the record follows its owner, and subscriptions re-check every event.
 */
export async function transferRecord(ds: DataSource, object: string, id: string, newOwnerId: string, options: { expectedVersion?: number | null } = {}): Promise<Row> {
  const { p, table, visible: editable } = objectOf(ds, object, 'edit');
  requireObject(ds, p, 'edit');
  tenantOf(ds, p);
  if (!isUuid(id)) throw notFound(p, id);
  const owner = newOwnerId.trim();
  if (owner === '' || owner.length > 255)
    throw badInput(p.typeName, [{ field: 'newOwnerId', constraint: 'member', message: 'newOwnerId: give the id of a member of this organization' }]);
  const idCol = col(table, p.columns[0]!);
  return committed(ds, await ds.db.transaction(async (tx) => {
    try {
      const [before] = (await tx.select().from(table).where(and(editable, eq(idCol, id))).for('update')) as Row[];
      if (!before) throw await missOrForbidden(tx, ds, p, id, 'edit');
      const a = ds.sc?.access;
      const mayTransfer = !a || a.orgAdmin || a.objects[object]?.modifyAll || a.objects[object]?.transfer || (a.userId !== null && before[OWNER.key] === a.userId);
      if (!mayTransfer)
        throw dataError('FORBIDDEN', `Only the ${p.typeName}'s owner, an organization admin or a holder of modifyAllRecords or allowTransfer on ${p.object.pluralLabel} can transfer it`);
      requireVersion(p, before, options.expectedVersion);
      await requireUnlocked(tx, ds, p, id, 'edit');
      if (!(await isMember(ds, owner, tx)))
        throw badInput(p.typeName, [{ field: 'newOwnerId', constraint: 'member', message: `newOwnerId: no member with id "${owner}" in this organization` }]);
      if (before[OWNER.key] === owner) return maskRows(ds, p, [before])[0]!;
      // A transfer is an update of the owner: the object's update rules judge it (ISCHANGED(owner_id)…).
      enforceValidationRules(ds, p, 'update', before, {}, owner);
      const [after] = (await tx.update(table).set({ [OWNER.key]: owner, updatedAt: new Date(), version: nextVersion(table) }).where(eq(idCol, id)).returning()) as Row[];
      await checkRls(tx, ds, p, id, 'update');
      // The owner is no field of the type: the event names it `ownerId` so the audit trail shows the change.
      await recordChange(tx, ds, p, 'update', { ...before, ownerId: before[OWNER.key] ?? null }, { ...after!, ownerId: owner }, [], ['ownerId']);
      return maskRows(ds, p, [after!])[0]!;
    } catch (e) {
      throw translate(ds, p, e, {});
    }
  }));
}
