import type { ColumnPlan, ObjectPlan } from '@objectos/schema';
import type { DataSource, Row } from '../data-source.ts';
import { dataError } from '../errors.ts';

/** Can the request read this column? System columns (id, createdAt, updatedAt) go with the object. */
export function columnReadable(ds: DataSource, p: ObjectPlan, c: ColumnPlan): boolean {
  if (!ds.sc) return true;
  const a = ds.sc.access.objects[p.object.name];
  if (!a?.read) return false;
  return c.field === null || (a.fields[c.field.name]?.readable ?? false);
}

export function columnEditable(ds: DataSource, p: ObjectPlan, c: ColumnPlan): boolean {
  if (!ds.sc) return true;
  return c.field !== null && (ds.sc.access.objects[p.object.name]?.fields[c.field.name]?.editable ?? false);
}

/** A field the request cannot read is never returned (null), whatever path the row took. */
export function maskRows<T extends Row | null>(ds: DataSource, p: ObjectPlan, rows: T[]): T[] {
  if (!ds.sc) return rows;
  const hidden = p.columns.filter((c) => !columnReadable(ds, p, c));
  if (hidden.length === 0) return rows;
  return rows.map((r) => {
    if (r === null) return r;
    const out: Row = { ...r };
    for (const c of hidden) out[c.graphqlName] = null;
    return out as T;
  });
}

type Level = 'read' | 'create' | 'edit' | 'delete';

/** Object-level permission; a write is refused before anything is read or written. */
export function requireObject(ds: DataSource, p: ObjectPlan, level: Level): void {
  if (!ds.sc) return;
  const a = ds.sc.access.objects[p.object.name];
  if (!a?.[level]) throw dataError('FORBIDDEN', `Not allowed to ${level} ${p.object.pluralLabel}`);
}

/** Every input field must be editable; all of them are named at once and nothing is written. */
export function requireEditable(ds: DataSource, p: ObjectPlan, values: Record<string, unknown>): void {
  if (!ds.sc) return;
  const denied = Object.keys(values).filter((k) => {
    const c = p.columns.find((x) => x.graphqlName === k);
    return !c || !columnEditable(ds, p, c);
  });
  if (denied.length > 0) throw dataError('FORBIDDEN', `Not allowed to edit ${denied.map((k) => `${p.typeName}.${k}`).join(', ')}`);
}
