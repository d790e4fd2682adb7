import { and, eq, inArray, sql, type SQL } from 'drizzle-orm';
import type { GraphQLError } from 'graphql';
import { errorChain } from '@objectos/observability';
import type { ObjectPlan } from '@objectos/schema';
import { badInput, dataError } from '../errors.ts';
import { col, OWNER, TENANT, type DynTable } from '../db/tables.ts';
import { fkName } from '../db/migrate.ts';
import { objectOf, type DataSource, type Row } from '../data-source.ts';
import { validateInput } from '../validate-input.ts';
import { enforceValidationRules } from '../validation-rules.ts';
import { isUuid } from './where.ts';
import { inChunks } from './chunks.ts';
import { maskRows, requireEditable, requireObject } from '../security/fields.ts';
import { rlsSql } from '../security/predicates.ts';
import { writeChange } from '../events/outbox.ts';
import { claimEffect, noteEffectRecord } from '@objectos/db';
import type { ChangeEvent } from '@objectos/events';
import { guardStateFields, recordGrantedTransition } from '../workflow/state-guard.ts';
import { requireUnlocked } from '../workflow/approval-lock.ts';

type DeletedWith = NonNullable<ChangeEvent['deletedWith']>;

export const notFound = (p: ObjectPlan, id: string): GraphQLError => dataError('NOT_FOUND', `No ${p.typeName} with id "${id}"`);

export type Tx = Parameters<Parameters<DataSource['db']['transaction']>[0]>[0];

/** The request's tenant; writes without one are refused (reads simply match nothing). */
export function tenantOf(ds: DataSource, p: ObjectPlan): string {
  if (ds.tenant === null) throw dataError('FORBIDDEN', `Cannot write ${p.typeName}: the request acts in no organization`);
  return ds.tenant;
}

/**
 * Every record a write points at must exist in the writer's organization. The database's foreign key
 * alone would accept another tenant's id, and its error would reveal that the id exists; this check
 * answers a missing id and another tenant's id with the same words.
 */
async function checkReferences(tx: Tx, ds: DataSource, p: ObjectPlan, values: Record<string, unknown>): Promise<void> {
  for (const r of p.relations) {
    const c = p.columns.find((x) => x.column === r.column)!;
    const id = values[c.graphqlName];
    if (id === null || id === undefined) continue;
    // A record the writer cannot read is answered like a missing one.
    const { p: targetPlan, table: target, visible } = objectOf(ds, r.target);
    const idCol = col(target, targetPlan.columns[0]!);
    // FOR SHARE: the referenced record cannot be deleted before this write commits.
    const found = typeof id === 'string' && isUuid(id)
      ? await tx.select({ id: idCol }).from(target).where(and(visible, eq(idCol, id))).for('share')
      : [];
    if (found.length === 0)
      throw badInput(p.typeName, [{ field: c.graphqlName, constraint: 'reference', message: `${c.graphqlName}: no ${targetPlan.typeName} with id "${String(id)}"` }]);
  }
}

/**
 * RLS `check` of the written row (insert or update): a row the policies would not accept is refused and
 * the transaction rolls back, so nothing is written.
 */
export async function checkRls(tx: Tx, ds: DataSource, p: ObjectPlan, id: string, op: 'insert' | 'update'): Promise<void> {
  if (!ds.sc) return;
  const table = ds.tables[p.object.name]!;
  const check = rlsSql(ds.sc, p.object.name, table, op, 'check');
  if (!check) return;
  const idCol = col(table, p.columns[0]!);
  const ok = await tx.select({ id: idCol }).from(table).where(and(eq(idCol, id), check));
  if (ok.length === 0) throw dataError('FORBIDDEN', `This ${op} of ${p.typeName} is refused by row-level security: the record would not satisfy its ${op} policies`);
}

/** Nothing matched a write: a record the request cannot see is "not found"; one it can only read is "forbidden". */
export async function missOrForbidden(tx: Tx, ds: DataSource, p: ObjectPlan, id: string, op: 'edit' | 'delete'): Promise<GraphQLError> {
  const { table, visible } = objectOf(ds, p.object.name, 'read');
  const idCol = col(table, p.columns[0]!);
  const seen = await tx.select({ id: idCol }).from(table).where(and(visible, eq(idCol, id)));
  return seen.length > 0 ? dataError('FORBIDDEN', `You can read this ${p.typeName} but not ${op} it`) : notFound(p, id);
}

/** Fields (GraphQL names) whose stored value differs between two states of a record (`version` is no field: never listed). */
function changedFields(p: ObjectPlan, before: Row | null, after: Row | null): string[] {
  return p.columns
    .filter((c) => c.field !== null && (before === null || after === null || JSON.stringify(before[c.graphqlName]) !== JSON.stringify(after[c.graphqlName])))
    .map((c) => c.graphqlName);
}

/** The outbox row of a change, in the transaction that makes it (rows unmasked: subscribers are masked on delivery). */
export function recordChange(tx: Tx, ds: DataSource, p: ObjectPlan, op: 'create' | 'update' | 'delete', before: Row | null, after: Row | null, deletedWith: DeletedWith = [], also: string[] = []): Promise<void> {
  const row = (after ?? before)!;
  return writeChange(tx, {
    organizationId: String(row[TENANT.key]), object: p.object.name, recordId: row.id, op,
    record: after, previous: before, changedFields: [...changedFields(p, before, after), ...also], actorId: ds.actor, context: ds.context ?? null,
    ...(deletedWith.length > 0 ? { deletedWith } : {}),
  });
}

/** A keyed write done before (a job run again): nothing changes; the answer is the record as it is now. */
async function repeatedEffect(tx: Tx, ds: DataSource, p: ObjectPlan, id: string | null): Promise<Row> {
  const { table, visible } = objectOf(ds, p.object.name, 'read');
  const [row] = id ? ((await tx.select().from(table).where(and(visible, eq(col(table, p.columns[0]!), id)))) as Row[]) : [];
  if (!row) throw dataError('NOT_FOUND', `The ${p.typeName} this effect (${ds.effect!.key}) made earlier no longer exists`);
  return maskRows(ds, p, [row])[0]!;
}

/** After commit: the relay publishes the change now. */
export function committed<T>(ds: DataSource, result: T): T {
  ds.changes?.notify();
  return result;
}

export async function createRecord(ds: DataSource, object: string, input: Record<string, unknown>): Promise<Row> {
  const { p, table } = objectOf(ds, object);
  requireObject(ds, p, 'create');
  const given = validateInput(p, input, 'create');
  requireEditable(ds, p, given);
  // A governed state field starts in its machine's initial state (filled in even where the writer may not edit it).
  const values = guardStateFields(ds.stateGuards, p, given, null, ds.transition ?? null);
  const tenant = tenantOf(ds, p);
  return committed(ds, await ds.db.transaction(async (tx) => {
    try {
      const repeat = ds.effect ? await claimEffect(tx, ds.effect.key) : null;
      if (repeat) return await repeatedEffect(tx, ds, p, repeat.recordId);
      await checkReferences(tx, ds, p, values);
      enforceValidationRules(ds, p, 'insert', null, values);
      const [row] = await tx.insert(table).values({ ...values, [TENANT.key]: tenant, [OWNER.key]: ds.actor }).returning();
      if (ds.effect) await noteEffectRecord(tx, ds.effect.key, (row as Row).id);
      await checkRls(tx, ds, p, (row as Row).id, 'insert');
      await recordChange(tx, ds, p, 'create', null, row as Row);
      return maskRows(ds, p, [row as Row])[0]!;
    } catch (e) {
      throw translate(ds, p, e, values);
    }
  }));
}

/** `expectedVersion`: the version the writer read; another one fails with CONFLICT and nothing is written. */
export async function updateRecord(ds: DataSource, object: string, id: string, input: Record<string, unknown>, options: { expectedVersion?: number | null } = {}): Promise<Row> {
  const { p, table, visible: editable } = objectOf(ds, object, 'edit');
  requireObject(ds, p, 'edit');
  const values = validateInput(p, input, 'update');
  requireEditable(ds, p, values);
  tenantOf(ds, p);
  if (!isUuid(id)) throw notFound(p, id);
  const idCol = col(table, p.columns[0]!);
  return committed(ds, await ds.db.transaction(async (tx) => {
    try {
      const repeat = ds.effect ? await claimEffect(tx, ds.effect.key) : null;
      if (repeat) return await repeatedEffect(tx, ds, p, id);
      await checkReferences(tx, ds, p, values);
      // The state before, locked: the change event carries both states.
      const [before] = (await tx.select().from(table).where(and(editable, eq(idCol, id))).for('update')) as Row[];
      if (!before) throw await missOrForbidden(tx, ds, p, id, 'edit');
      requireVersion(p, before, options.expectedVersion);
      // Checked against the locked state: two transitions from one state cannot both apply.
      guardStateFields(ds.stateGuards, p, values, before, ds.transition ?? null);
      await requireUnlocked(tx, ds, p, id, 'edit');
      if (Object.keys(values).length === 0) return maskRows(ds, p, [before])[0]!;
      enforceValidationRules(ds, p, 'update', before, values);
      const [after] = (await tx.update(table).set({ ...values, updatedAt: new Date(), version: nextVersion(table) }).where(eq(idCol, id)).returning()) as Row[];
      await checkRls(tx, ds, p, id, 'update');
      await recordGrantedTransition(tx, ds.transition ?? null, p, after!, ds.tenant!, ds.actor);
      // An update that changes no value is not an event.
      if (changedFields(p, before, after!).length > 0) await recordChange(tx, ds, p, 'update', before, after!);
      return maskRows(ds, p, [after!])[0]!;
    } catch (e) {
      throw translate(ds, p, e, values);
    }
  }));
}

/**
 * Optimistic concurrency, checked against the row locked for the write: a writer that read version n
 * and names it finds out, instead of overwriting, that someone else changed the record since.
 */
export function requireVersion(p: ObjectPlan, row: Row, expected: number | null | undefined): void {
  if (expected === null || expected === undefined || row['version'] === expected) return;
  const message = `This ${p.typeName} is at version ${String(row['version'])}, not ${expected} (expectedVersion): it changed since you read it. Read it again and retry; nothing was written`;
  throw dataError('CONFLICT', message, { issues: [{ field: 'expectedVersion', constraint: 'version', message }] });
}

/** The version a write leaves: one more than the row's. */
export const nextVersion = (table: DynTable): SQL => sql`${table['version']} + 1`;

/** A record deleted along with the one a mutation names, and the deleted records its access may depend on. */
export interface Cascaded { p: ObjectPlan; row: Row; ancestors: DeletedWith }

export interface CascadeEffects {
  /** Records the database deletes with this one (deleteBehavior cascade, at any depth), parents first. */
  deleted: Cascaded[];
  /** Records whose references the database clears (deleteBehavior set_null): one entry per record. */
  nulled: Map<string, { p: ObjectPlan; row: Row; fields: Set<string> }>;
}

/**
 * What deleting a record makes the database do to others: found (and locked, in id order) before the
 * delete, so each record it deletes or changes gets its own change event. These are effects of a delete
 * the writer may make, so they are found whatever the writer can read (subscribers are checked on
 * delivery). A cascaded record carries its deleted ancestors: access controlled by a parent is decided
 * at delivery against the parent as it was.
 */
/**
 * Every relationship pointing at the objects of these records: the records of that object by id, the
 * child object and its relation (what a delete, to the trash or for good, must follow).
 */
export function* relationsInto(ds: DataSource, parents: Cascaded[]): Generator<{ object: string; byId: Map<string, Cascaded>; child: ObjectPlan; r: ObjectPlan['relations'][number] }> {
  const byObject = new Map<string, Cascaded[]>();
  for (const c of parents) byObject.set(c.p.object.name, [...(byObject.get(c.p.object.name) ?? []), c]);
  for (const [object, group] of byObject) {
    const byId = new Map(group.map((c) => [c.row.id, c]));
    for (const child of Object.values(ds.plan.objects)) for (const r of child.relations) if (r.target === object) yield { object, byId, child, r };
  }
}

export async function cascadeEffects(tx: Tx, ds: DataSource, parents: Cascaded[], tenant: string, out: CascadeEffects = { deleted: [], nulled: new Map() }, seen = new Set<string>()): Promise<CascadeEffects> {
  for (const { object, byId, child, r } of relationsInto(ds, parents)) {
    const behavior = (r.field as { deleteBehavior?: string }).deleteBehavior ?? 'set_null';
    if (behavior === 'restrict') continue;
    const table = ds.tables[child.object.name]!;
    const fk = child.columns.find((c) => c.column === r.column)!;
    const idCol = col(table, child.columns[0]!);
    const rows = await inChunks([...byId.keys()], async (slice) => (await tx.select().from(table)
      .where(and(eq(table[TENANT.key]!, tenant), inArray(col(table, fk), slice)))
      .orderBy(idCol).for('update')) as Row[]);
    const key = (row: Row) => `${child.object.name}:${row.id}`;
    if (behavior === 'cascade') {
      const fresh = rows.filter((row) => !seen.has(key(row))).map((row): Cascaded => {
        seen.add(key(row));
        const parent = byId.get(row[fk.graphqlName] as string)!;
        return { p: child, row, ancestors: [{ object, record: parent.row }, ...parent.ancestors] };
      });
      out.deleted.push(...fresh);
      if (fresh.length > 0) await cascadeEffects(tx, ds, fresh, tenant, out, seen);
    } else {
      for (const row of rows) {
        const entry = out.nulled.get(key(row)) ?? { p: child, row, fields: new Set<string>() };
        entry.fields.add(fk.graphqlName);
        out.nulled.set(key(row), entry);
      }
    }
  }
  return out;
}

/**
 * The records whose references the database cleared (set_null) by a delete just made, outside what it
 * deleted and those `include` keeps: each is a changed record (a new version, updatedAt) and an update event.
 */
export async function recordNulled(tx: Tx, ds: DataSource, effects: CascadeEffects, include: (row: Row) => boolean): Promise<void> {
  const deleted = new Set(effects.deleted.map((d) => `${d.p.object.name}:${d.row.id}`));
  const changed = [...effects.nulled].filter(([key, n]) => !deleted.has(key) && include(n.row)).map(([, n]) => n);
  // One statement per object (and slice of ids), then the events in the order the effects were found.
  const after = new Map<string, Row>();
  for (const object of new Set(changed.map((n) => n.p.object.name))) {
    const p = changed.find((n) => n.p.object.name === object)!.p;
    const table = ds.tables[object]!;
    const ids = changed.filter((n) => n.p.object.name === object).map((n) => n.row.id);
    const rows = await inChunks(ids, async (slice) => (await tx.update(table).set({ updatedAt: new Date(), version: nextVersion(table) })
      .where(inArray(col(table, p.columns[0]!), slice)).returning()) as Row[]);
    for (const r of rows) after.set(`${object}:${r.id}`, r);
  }
  for (const n of changed) await recordChange(tx, ds, n.p, 'update', n.row, after.get(`${n.p.object.name}:${n.row.id}`)!);
}

export async function deleteRecord(ds: DataSource, object: string, id: string): Promise<Row> {
  const { p, table, visible: deletable } = objectOf(ds, object, 'delete');
  requireObject(ds, p, 'delete');
  tenantOf(ds, p);
  if (!isUuid(id)) throw notFound(p, id);
  return committed(ds, await ds.db.transaction(async (tx) => {
    try {
      // A keyed delete done before (its job ran again after a crash): the record is gone, as asked.
      if (ds.effect && (await claimEffect(tx, ds.effect.key))) return { id } as Row;
      const idCol = col(table, p.columns[0]!);
      const [target] = (await tx.select().from(table).where(and(deletable, eq(idCol, id))).for('update')) as Row[];
      if (!target) throw await missOrForbidden(tx, ds, p, id, 'delete');
      await requireUnlocked(tx, ds, p, id, 'delete');
      enforceValidationRules(ds, p, 'delete', target, {});
      const effects = await cascadeEffects(tx, ds, [{ p, row: target, ancestors: [] }], ds.tenant!);
      // What the delete cascades to is deleted too: each record's own delete rules may keep it (and so this one).
      for (const d of effects.deleted) enforceValidationRules(ds, d.p, 'delete', d.row, {});
      const [row] = await tx.delete(table).where(eq(idCol, id)).returning();
      await recordChange(tx, ds, p, 'delete', row as Row, null);
      // A record deleted or changed by the database is a change too: same transaction, same outbox.
      for (const d of effects.deleted) await recordChange(tx, ds, d.p, 'delete', d.row, null, d.ancestors);
      await recordNulled(tx, ds, effects, () => true);
      return maskRows(ds, p, [row as Row])[0]!;
    } catch (e) {
      throw translate(ds, p, e, {});
    }
  }));
}

interface PgErrorLike { code: string; constraint?: string; table?: string; detail?: string }

/** Drizzle wraps driver errors; find the PostgreSQL one (it has a five-character SQLSTATE). */
function pgError(e: unknown): PgErrorLike | null {
  const found = errorChain(e).find((x) => /^[0-9A-Z]{5}$/.test(String((x as { code?: unknown }).code)));
  return (found as PgErrorLike | undefined) ?? null;
}

/** Maps constraint violations to clear client errors naming the field; anything else stays masked. */
export function translate(ds: DataSource, p: ObjectPlan, e: unknown, values: Record<string, unknown>): unknown {
  const err = pgError(e);
  if (!err) return e;
  // 23503: foreign key violation; 23001: ON DELETE RESTRICT.
  if (err.code === '23503' || err.code === '23001') {
    const rel = p.relations.find((r) => fkName(p.table, r.column) === err.constraint);
    if (rel) {
      const c = p.columns.find((x) => x.column === rel.column)!;
      const target = ds.plan.objects[rel.target]!.typeName;
      return badInput(p.typeName, [{ field: c.graphqlName, constraint: 'reference', message: `${c.graphqlName}: no ${target} with id "${String(values[c.graphqlName])}"` }]);
    }
    for (const child of Object.values(ds.plan.objects)) {
      const r = child.relations.find((x) => x.target === p.object.name && fkName(child.table, x.column) === err.constraint);
      if (r) return dataError('CONFLICT', `Cannot delete this ${p.typeName}: ${child.object.pluralLabel} still refer to it through ${r.field.name} (deleteBehavior restrict)`);
    }
  }
  if (err.code === '23505') {
    const c = p.columns.find((x) => err.constraint?.startsWith(`${p.table}_${x.column}_`));
    const rule = p.object.validations.find((v) => err.constraint === `${p.table}_${v.name}_uq`);
    if (rule) return dataError('CONFLICT', rule.message, { issues: [{ field: rule.name, constraint: 'unique', message: rule.message }] });
    const field = c?.graphqlName ?? 'value';
    // A record in the trash keeps its values, unique ones included (so restoring it never conflicts).
    const trash = p.object.enable.trash ? ' (records in the trash count too)' : '';
    return dataError('CONFLICT', `${field}: another ${p.typeName} already has this value${trash}`, { issues: [{ field, constraint: 'unique', message: `${field} must be unique` }] });
  }
  if (err.code === '23502') return badInput(p.typeName, [{ field: 'input', constraint: 'required', message: 'a required field is missing' }]);
  if (err.code === '22003') return badInput(p.typeName, [{ field: 'input', constraint: 'precision', message: 'a number is out of range for its field' }]);
  return e;
}
