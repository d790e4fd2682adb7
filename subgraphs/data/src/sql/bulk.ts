import { and, eq } from 'drizzle-orm';
import type { Db } from '@objectos/db';
import { upsertColumns, type ObjectPlan } from '@objectos/schema';
import { objectOf, type DataSource, type Row } from '../data-source.ts';
import { col } from '../db/tables.ts';
import { badInput, dataError } from '../errors.ts';
import { columnEditable, columnReadable, requireObject } from '../security/fields.ts';
import { filterSql } from './filter.ts';
import { trashRecord } from './lifecycle.ts';
import type { WhereInput } from './where.ts';
import { createRecord, deleteRecord, updateRecord } from './write.ts';

/**
 * Writes of many records, and of a record with its children, each in one transaction: every record goes
 * through the same path as a single write (validation, permissions, record access, RLS check, change
 * event), inside a savepoint of the one transaction, so a failure anywhere writes nothing.
 */

/** Runs `work` with the request's data source bound to one transaction; change events are published after commit. */
export async function inOneTransaction<T>(ds: DataSource, work: (tx: DataSource) => Promise<T>): Promise<T> {
  // Already inside one (an atomic request, a nested write): its commit is the one that counts.
  if (ds.inTransaction) return work(ds);
  const result = await ds.db.transaction((tx) => work({ ...ds, db: tx as unknown as Db, inTransaction: true, changes: null, root: ds.root ?? ds }));
  ds.changes?.notify();
  return result;
}

const capIssue = (p: ObjectPlan, field: string, n: number, cap: number, verb: string) =>
  badInput(p.typeName, [{ field, constraint: 'bulkLimit', message: `${field}: ${n} records would be ${verb}; at most ${cap} can be ${verb} at once (OBJECTOS_BULK_MAX), so nothing was ${verb}` }]);

/** Records a write touches besides its own: the children it creates (with theirs), connects and disconnects. */
function nestedCount(ds: DataSource, p: ObjectPlan, input: Record<string, unknown>): number {
  let n = 0;
  for (const [r, w] of splitNested(ds, p, input).nested) {
    n += (w.connect?.length ?? 0) + (w.disconnect?.length ?? 0);
    for (const c of w.create ?? []) n += 1 + nestedCount(ds, ds.plan.objects[r.child]!, c);
  }
  return n;
}

/** `createAccounts(inputs)`: all or nothing, at most `maxBulk` records (nested ones included). */
export async function createRecords(ds: DataSource, object: string, inputs: Record<string, unknown>[]): Promise<Row[]> {
  const { p } = objectOf(ds, object);
  const total = inputs.reduce((n, input) => n + 1 + nestedCount(ds, p, input), 0);
  if (total > ds.maxBulk) throw capIssue(p, 'inputs', total, ds.maxBulk, 'written');
  return inOneTransaction(ds, async (tx) => {
    const out: Row[] = [];
    for (const [i, input] of inputs.entries()) out.push(await atIndex(i, () => createNested(tx, object, input)));
    return out;
  });
}

/** Names the failing input of a bulk write in its issues (`inputs[3].name`). */
async function atIndex<T>(i: number, work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (e) {
    const ext = (e as { extensions?: { issues?: { field: string }[] } }).extensions;
    for (const issue of ext?.issues ?? []) issue.field = `inputs[${i}].${issue.field}`;
    if (e instanceof Error && ext) e.message = `inputs[${i}]: ${e.message}`;
    throw e;
  }
}

/**
 * The ids of the records matching `where` that the request may `op`, locked for the write, in id
 * order (so two bulk writes lock in the same order): refused over the cap before anything is written.
 */
async function matching(ds: DataSource, p: ObjectPlan, where: WhereInput, op: 'edit' | 'delete', verb: string): Promise<string[]> {
  const { table, visible } = objectOf(ds, p.object.name, op);
  const id = col(table, p.columns[0]!);
  const rows = await ds.db.select({ id }).from(table).where(and(visible, filterSql(ds, p, table, where))).orderBy(id).limit(ds.maxBulk + 1).for('update');
  if (rows.length > ds.maxBulk) throw overCap(p, ds.maxBulk, verb);
  return rows.map((r) => r.id as string);
}

const overCap = (p: ObjectPlan, cap: number, verb: string) =>
  badInput(p.typeName, [{ field: 'where', constraint: 'bulkLimit', message: `where: more than ${cap} records match; at most ${cap} can be ${verb} at once (OBJECTOS_BULK_MAX), so nothing was ${verb}. Narrow the filter.` }]);

export interface BulkResult { count: number; records: Row[] }

/** `updateAccounts(where, input)`: every matching record the request may edit, or none. */
export async function updateWhere(ds: DataSource, object: string, where: WhereInput, input: Record<string, unknown>): Promise<BulkResult> {
  const { p } = objectOf(ds, object);
  requireObject(ds, p, 'edit');
  return inOneTransaction(ds, async (tx) => {
    const ids = await matching(tx, p, where, 'edit', 'updated');
    const records: Row[] = [];
    for (const id of ids) records.push(await updateNested(tx, object, id, input));
    return { count: records.length, records };
  });
}

/** `deleteAccounts(where)`: every matching record the request may delete (to the trash when the object has one), or none. */
export async function deleteWhere(ds: DataSource, object: string, where: WhereInput): Promise<BulkResult> {
  const { p } = objectOf(ds, object);
  requireObject(ds, p, 'delete');
  const remove = p.object.enable.trash ? trashRecord : deleteRecord;
  return inOneTransaction(ds, async (tx) => {
    const ids = await matching(tx, p, where, 'delete', 'deleted');
    const records: Row[] = [];
    // A record an earlier one's cascade already took is gone (the matched rows are locked: nothing
    // else could have removed them): it is not deleted twice, nor counted.
    for (const id of ids) {
      try {
        records.push(await tx.db.transaction((sp) => remove({ ...tx, db: sp as unknown as Db }, object, id)));
      } catch (e) {
        if ((e as { extensions?: { code?: string } }).extensions?.code !== 'NOT_FOUND') throw e;
      }
    }
    return { count: records.length, records };
  });
}


/**
 * `upsertAccount(input, on)`: the record whose `on` field has the input's value is updated (when the
 * request may edit it), else one is created. A concurrent upsert of the same value that created it
 * first turns this one into its update.
 */
export async function upsertRecord(ds: DataSource, object: string, input: Record<string, unknown>, on: string): Promise<{ created: boolean; record: Row }> {
  const { p } = objectOf(ds, object);
  const key = upsertColumns(p).find((c) => c.sortValue === on || c.graphqlName === on);
  if (!key) throw badInput(p.typeName, [{ field: 'on', constraint: 'upsertKey', message: `on: ${p.typeName} cannot be upserted on "${on}"; only a unique or externalId field can (${upsertColumns(p).map((c) => c.graphqlName).join(', ') || 'none'})` }]);
  // Matching on a field is reading it, and the match writes it: both must be allowed, before any lookup
  // (else which values exist would show through the answer).
  requireObject(ds, p, 'create');
  requireObject(ds, p, 'edit');
  if (!columnReadable(ds, p, key) || !columnEditable(ds, p, key)) throw dataError('FORBIDDEN', `Cannot upsert on ${p.typeName}.${key.graphqlName}: the field is not readable and editable for you`);
  const value = input[key.graphqlName];
  if (value === null || value === undefined) throw badInput(p.typeName, [{ field: key.graphqlName, constraint: 'upsertKey', message: `${key.graphqlName}: an upsert on it needs its value in the input` }]);
  const existing = async (tx: DataSource): Promise<string | null> => {
    const { table, visible } = objectOf(tx, object, 'read');
    const [row] = await tx.db.select({ id: col(table, p.columns[0]!) }).from(table).where(and(visible, eq(col(table, key), value))).for('update');
    return (row?.id as string | undefined) ?? null;
  };
  // The record found is updated with the rest of the input (its key already has the value).
  const { [key.graphqlName]: _same, ...rest } = input;
  return inOneTransaction(ds, async (tx) => {
    const found = await existing(tx);
    if (found) return { created: false, record: await updateNested(tx, object, found, rest) };
    try {
      return { created: true, record: await tx.db.transaction((sp) => createNested({ ...tx, db: sp as unknown as Db }, object, input)) };
    } catch (e) {
      // Created meanwhile by another request (the unique index said so): update that one instead.
      const again = (e as { extensions?: { code?: string } }).extensions?.code === 'CONFLICT' ? await existing(tx) : null;
      if (!again) throw e;
      return { created: false, record: await updateNested(tx, object, again, rest) };
    }
  });
}

/** What a nested write does to one reverse relationship's children. */
export interface ChildWrites { create?: Record<string, unknown>[] | null; connect?: string[] | null; disconnect?: string[] | null }

/** The parent's own input, and the children writes it carries under reverse relationship names. */
function splitNested(ds: DataSource, p: ObjectPlan, input: Record<string, unknown>): { own: Record<string, unknown>; nested: [ObjectPlan['reverse'][number], ChildWrites][] } {
  const own: Record<string, unknown> = {};
  const nested: [ObjectPlan['reverse'][number], ChildWrites][] = [];
  for (const [k, v] of Object.entries(input)) {
    const r = p.reverse.find((x) => x.graphqlName === k && ds.plan.objects[x.child]!.methods.length > 0);
    if (r) {
      if (v !== null && v !== undefined) nested.push([r, v as ChildWrites]);
    } else own[k] = v;
  }
  return { own, nested };
}

const hasNested = (ds: DataSource, p: ObjectPlan, input: Record<string, unknown>): boolean => splitNested(ds, p, input).nested.length > 0;

/** A nested write touches at most `maxBulk` records besides its own (checked once, at the top of the tree). */
function requireWithinCap(ds: DataSource, p: ObjectPlan, input: Record<string, unknown>): void {
  if (ds.inTransaction) return;
  const n = nestedCount(ds, p, input);
  if (n > ds.maxBulk) throw capIssue(p, 'input', n, ds.maxBulk, 'written');
}

/** A create with children (`contacts: { create: [...], connect: [ids] }`): one transaction. */
export async function createNested(ds: DataSource, object: string, input: Record<string, unknown>): Promise<Row> {
  const { p } = objectOf(ds, object);
  if (!hasNested(ds, p, input)) return createRecord(ds, object, input);
  requireWithinCap(ds, p, input);
  const { own, nested } = splitNested(ds, p, input);
  return inOneTransaction(ds, async (tx) => {
    const row = await createRecord(tx, object, own);
    await writeChildren(tx, p, row.id, nested, 'create');
    return row;
  });
}

/** An update with children (`contacts: { create, connect, disconnect }`): one transaction. */
export async function updateNested(ds: DataSource, object: string, id: string, input: Record<string, unknown>, options: { expectedVersion?: number | null } = {}): Promise<Row> {
  const { p } = objectOf(ds, object);
  if (!hasNested(ds, p, input)) return updateRecord(ds, object, id, input, options);
  requireWithinCap(ds, p, input);
  const { own, nested } = splitNested(ds, p, input);
  return inOneTransaction(ds, async (tx) => {
    const row = await updateRecord(tx, object, id, own, options);
    await writeChildren(tx, p, row.id, nested, 'update');
    return row;
  });
}

async function writeChildren(tx: DataSource, p: ObjectPlan, parentId: string, nested: [ObjectPlan['reverse'][number], ChildWrites][], mode: 'create' | 'update'): Promise<void> {
  for (const [r, w] of nested) {
    const child = tx.plan.objects[r.child]!;
    const fk = child.columns.find((c) => c.column === r.column)!;
    const at = (what: string, i: number) => `${r.graphqlName}.${what}[${i}]`;
    for (const [i, c] of (w.create ?? []).entries()) {
      if (fk.graphqlName in c) throw badInput(p.typeName, [{ field: `${at('create', i)}.${fk.graphqlName}`, constraint: 'nested', message: `${at('create', i)}: ${fk.graphqlName} is set by the parent; leave it out` }]);
      await createNested(tx, r.child, { ...c, [fk.graphqlName]: parentId });
    }
    for (const [i, id] of (w.connect ?? []).entries()) await named(at('connect', i), () => updateRecord(tx, r.child, id, { [fk.graphqlName]: parentId }));
    if (w.disconnect?.length && mode === 'create')
      throw badInput(p.typeName, [{ field: `${r.graphqlName}.disconnect`, constraint: 'nested', message: `${r.graphqlName}.disconnect: a new ${p.typeName} has no ${child.object.pluralLabel} to disconnect` }]);
    for (const [i, id] of (w.disconnect ?? []).entries()) {
      // Whether a child belongs to the parent is its foreign key: only one the caller may edit is looked at.
      requireObject(tx, child, 'edit');
      if (!columnEditable(tx, child, fk)) throw dataError('FORBIDDEN', `Not allowed to edit ${child.typeName}.${fk.graphqlName}`);
      if (fk.field?.required) throw badInput(p.typeName, [{ field: at('disconnect', i), constraint: 'required', message: `${at('disconnect', i)}: ${child.typeName}.${fk.graphqlName} is required, so a ${child.typeName} cannot be disconnected (move it with connect on another ${p.typeName}, or delete it)` }]);
      const { table, visible } = objectOf(tx, r.child, 'read');
      const idCol = col(table, child.columns[0]!);
      const [linked] = await tx.db.select({ id: idCol }).from(table).where(and(visible, eq(idCol, id), eq(col(table, fk), parentId)));
      if (!linked) throw dataError('NOT_FOUND', `${at('disconnect', i)}: no ${child.typeName} with id "${id}" belongs to this ${p.typeName}`);
      await named(at('disconnect', i), () => updateRecord(tx, r.child, id, { [fk.graphqlName]: null }));
    }
  }
}

/** Prefixes a nested write's error with where it happened (`contacts.connect[2]: …`). */
async function named<T>(at: string, work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (e) {
    if (e instanceof Error && (e as { extensions?: unknown }).extensions) e.message = `${at}: ${e.message}`;
    throw e;
  }
}
