import { and, asc, desc, isNotNull, isNull, or, sql, type SQL } from 'drizzle-orm';
import type { ColumnPlan, ObjectPlan } from '@objectos/schema';
import { badInput, unreadableField } from '../errors.ts';
import type { DynTable } from '../db/tables.ts';
import { valueOf } from './computed.ts';
import { eqOn, gtOn, ltOn, type Operand, type WhereScope } from './where.ts';

export type Direction = 'ASC' | 'DESC';
export interface OrderItem {
  column: ColumnPlan;
  direction: Direction;
}
export interface OrderByInput {
  field: string;
  direction?: Direction | null;
}

/** The requested order plus `id` as the final tie-breaker, so every order is total (cursors need that). */
export function resolveOrder(
  p: ObjectPlan, orderBy: readonly OrderByInput[] | null | undefined, readable: (c: ColumnPlan) => boolean = () => true,
): OrderItem[] {
  const requested = orderBy && orderBy.length > 0 ? orderBy : [{ field: 'CREATED_AT', direction: 'ASC' as const }];
  const items: OrderItem[] = requested.map((o, i) => {
    const column = p.columns.find((c) => c.sortValue === o.field) ?? p.computed.find((c) => c.sortValue === o.field);
    if (!column) throw badInput(p.typeName, [{ field: `orderBy[${i}].field`, constraint: 'sortable', message: `${p.typeName} cannot be sorted by ${o.field}` }]);
    if (!readable(column)) throw unreadableField(p.typeName, column.graphqlName, 'sort');
    return { column, direction: o.direction ?? 'ASC' };
  });
  if (!items.some((i) => i.column.type === 'id')) items.push({ column: p.columns.find((c) => c.type === 'id')!, direction: 'ASC' });
  return items;
}

export const reverseOrder = (items: OrderItem[]): OrderItem[] =>
  items.map((i) => ({ ...i, direction: i.direction === 'ASC' ? 'DESC' : 'ASC' }));

/**
 * ASC puts nulls last and DESC nulls first (PostgreSQL's defaults), so reversing an order mirrors it
 * exactly. `scope` (the request's, see sql/filter.ts): how a computed sort key reads other records.
 */
export function orderSql(table: DynTable, items: OrderItem[], p: ObjectPlan, scope?: WhereScope): SQL[] {
  return items.map((i) => (i.direction === 'ASC' ? asc(valueOf(table, i.column, scope, p)) : desc(valueOf(table, i.column, scope, p))));
}

/**
 * Rows strictly after `values` in the given order (keyset pagination), null-aware:
 * OR over i of (keys before i equal AND key i after its value).
 */
export function afterCondition(table: DynTable, items: OrderItem[], values: readonly unknown[], p: ObjectPlan, scope?: WhereScope): SQL {
  const key = (it: OrderItem) => valueOf(table, it.column, scope, p);
  const branches: SQL[] = [];
  for (let i = 0; i < items.length; i++) {
    const equal = items.slice(0, i).map((it, j) => equalTo(key(it), values[j]));
    const after = afterOne(key(items[i]!), items[i]!, values[i]);
    if (after) branches.push(equal.length ? and(...equal, after)! : after);
  }
  return branches.length ? or(...branches)! : sql`false`;
}

function equalTo(c: Operand, v: unknown): SQL {
  return v === null ? isNull(c) : eqOn(c, v);
}

/** Columns that can never be null compare plainly (simpler SQL, index-friendly). */
const nullable = (c: ColumnPlan): boolean => c.field !== null && !c.field.required && c.type !== 'autonumber';

function afterOne(c: Operand, item: OrderItem, v: unknown): SQL | undefined {
  if (item.direction === 'ASC') return v === null ? undefined : nullable(item.column) ? or(gtOn(c, v), isNull(c)) : gtOn(c, v);
  return v === null ? isNotNull(c) : ltOn(c, v);
}

/** Opaque cursor: the sort-key values of a row, base64url JSON. */
export function encodeCursor(row: Record<string, unknown>, items: OrderItem[]): string {
  const values = items.map((i) => {
    const v = row[i.column.graphqlName];
    return v instanceof Date ? { d: v.toISOString() } : v ?? null;
  });
  return Buffer.from(JSON.stringify(values)).toString('base64url');
}

export function decodeCursor(p: ObjectPlan, cursor: string, items: OrderItem[], arg: 'after' | 'before'): unknown[] {
  const invalid = () =>
    badInput(p.typeName, [{ field: arg, constraint: 'cursor', message: `${arg} is not a cursor of this list with this orderBy` }]);
  let values: unknown;
  try {
    values = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
  } catch {
    throw invalid();
  }
  if (!Array.isArray(values) || values.length !== items.length) throw invalid();
  return values.map((v, i) => {
    const type = items[i]!.column.type;
    if (v !== null && typeof v === 'object' && typeof (v as { d?: unknown }).d === 'string') {
      const d = new Date((v as { d: string }).d);
      if (Number.isNaN(d.getTime()) || type !== 'datetime') throw invalid();
      return d;
    }
    if (v !== null && typeof v === 'object') throw invalid();
    if (type === 'id' && typeof v !== 'string') throw invalid();
    return v;
  });
}
