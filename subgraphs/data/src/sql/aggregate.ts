import { and, inArray, not, or, sql, type SQL } from 'drizzle-orm';
import type { PgColumn } from 'drizzle-orm/pg-core';
import { getNamedType, isObjectType, type GraphQLResolveInfo } from 'graphql';
import { aggregateRoles, type ColumnPlan, type DateTruncation, type FilterOp, type ObjectPlan } from '@objectos/schema';
import { queryRows } from '@objectos/db';
import type { DataSource } from '../data-source.ts';
import { col, type DynTable } from '../db/tables.ts';
import { badInput, unreadableField, type InputIssue } from '../errors.ts';
import { columnReadable } from '../security/fields.ts';
import { collectFields } from '../compiled/collect.ts';
import { OPERATORS } from './where.ts';
import { inChunks } from './chunks.ts';

/** Aggregate functions over one field, as named in the schema (`sum { amount }`). */
export const FIELD_FUNCTIONS = ['countDistinct', 'sum', 'avg', 'min', 'max'] as const;
export type FieldFunction = (typeof FIELD_FUNCTIONS)[number];

/** What a selection asks for: `count`, and each function over each field (one SQL expression each). */
export interface Aggregation {
  count: boolean;
  items: { fn: FieldFunction; c: ColumnPlan }[];
}

const ROLE: Record<FieldFunction, 'distinct' | 'numeric' | 'ordered'> = { countDistinct: 'distinct', sum: 'numeric', avg: 'numeric', min: 'ordered', max: 'ordered' };

/** The aggregates a resolver's selection asks for, refusing (FORBIDDEN) any over a field the request cannot read. */
export function requestedAggregation(ds: DataSource, p: ObjectPlan, info: GraphQLResolveInfo): Aggregation {
  const type = getNamedType(info.returnType);
  if (!isObjectType(type)) throw new Error(`${info.parentType.name}.${info.fieldName} is not an aggregate type`);
  const selections = info.fieldNodes.flatMap((n) => (n.selectionSet ? [n.selectionSet] : []));
  const agg: Aggregation = { count: false, items: [] };
  const seen = new Set<string>();
  for (const nodes of collectFields(info.schema, type, selections, info.fragments, info.variableValues).values()) {
    const name = nodes[0]!.name.value;
    if (name === 'count') agg.count = true;
    if (!(FIELD_FUNCTIONS as readonly string[]).includes(name)) continue;
    const fn = name as FieldFunction;
    const inner = getNamedType(type.getFields()[fn]!.type);
    if (!isObjectType(inner)) continue;
    for (const fnodes of collectFields(info.schema, inner, nodes.flatMap((n) => (n.selectionSet ? [n.selectionSet] : [])), info.fragments, info.variableValues).values()) {
      const field = fnodes[0]!.name.value;
      const c = p.columns.find((x) => x.graphqlName === field);
      if (!c || seen.has(`${fn}.${field}`)) continue;
      if (!columnReadable(ds, p, c)) throw unreadableField(p.typeName, c.graphqlName, 'aggregate');
      seen.add(`${fn}.${field}`);
      agg.items.push({ fn, c });
    }
  }
  return agg;
}

/** A date-time as epoch milliseconds (a float, the same on pg and PGlite), turned back into a Date in {@link shape}. */
const epoch = (e: SQL): SQL => sql`(extract(epoch from ${e}) * 1000)::float8`;

/** The value of `fn(column)` as the driver hands it over the same way on every engine. */
function functionSql(fn: FieldFunction, c: ColumnPlan, column: PgColumn): SQL {
  if (fn === 'countDistinct') return sql`count(distinct ${column})::int`;
  if (fn === 'sum' || fn === 'avg') return sql`${sql.raw(fn)}(${column})::float8`;
  const value = sql`${sql.raw(fn)}(${column})`;
  if (c.type === 'datetime') return epoch(value);
  return c.type === 'date' || c.type === 'time' ? sql`${value}::text` : sql`${value}::float8`;
}

/** The select list of an aggregation: `count` as `a_count`, the others `a0…`. */
function aggregateSql(agg: Aggregation, t: DynTable): SQL[] {
  const out = agg.count ? [sql`count(*)::int as "a_count"`] : [];
  agg.items.forEach((it, i) => out.push(sql`${functionSql(it.fn, it.c, col(t, it.c))} as ${sql.identifier(`a${i}`)}`));
  return out;
}

const value = (c: ColumnPlan, v: unknown): unknown => (v === null || v === undefined ? null : c.type === 'datetime' ? new Date(Number(v)) : v);

/** A result row as the aggregate type's shape: `{ count, sum: { amount }, … }` (no rows: count 0, the rest null). */
function shape(agg: Aggregation, row: Record<string, unknown> | undefined): Record<string, unknown> {
  const out: Record<string, Record<string, unknown> | number> = { count: Number(row?.['a_count'] ?? 0) };
  for (const fn of FIELD_FUNCTIONS) out[fn] = {};
  agg.items.forEach((it, i) => {
    const v = row?.[`a${i}`];
    (out[it.fn] as Record<string, unknown>)[it.c.graphqlName] = it.fn === 'countDistinct' ? Number(v ?? 0) : value(it.c, v);
  });
  return out;
}

/** `accounts(where) { aggregates { … } }`: one statement over every matching record the request can read. */
export async function aggregateOver(ds: DataSource, p: ObjectPlan, table: DynTable, where: SQL | undefined, info: GraphQLResolveInfo): Promise<Record<string, unknown>> {
  const agg = requestedAggregation(ds, p, info);
  const columns = aggregateSql(agg, table);
  if (columns.length === 0) return shape(agg, undefined);
  const [row] = await queryRows<Record<string, unknown>>(ds.db, sql`select ${sql.join(columns, sql`, `)} from ${table} where ${where ?? sql`true`}`);
  return shape(agg, row);
}

/**
 * `account { opportunitiesAggregate(where) { … } }` for many parents in one statement per slice of
 * parents: grouped by the foreign key, each parent gets its own (count 0 when it has no readable children).
 */
export async function aggregateChildren(ds: DataSource, child: ObjectPlan, table: DynTable, fk: ColumnPlan, where: SQL | undefined, agg: Aggregation, parentIds: readonly string[]): Promise<Record<string, unknown>[]> {
  const byParent = new Map<string, Record<string, unknown>>();
  const columns = aggregateSql(agg, table);
  if (columns.length > 0)
    await inChunks(parentIds, async (slice) => {
      const rows = await queryRows<Record<string, unknown>>(ds.db, sql`select ${col(table, fk)}::text as "a_parent", ${sql.join(columns, sql`, `)}
        from ${table} where ${and(where, inArray(col(table, fk), [...slice]))} group by 1`);
      for (const r of rows) byParent.set(String(r['a_parent']), r);
      return rows;
    });
  return parentIds.map((id) => shape(agg, byParent.get(id)));
}

export interface GroupByInput { field: string; truncate?: DateTruncation | null }
export interface GroupedArgs { groupBy: GroupByInput[]; having?: HavingInput | null; limit?: number | null }
export type HavingInput = { [key: string]: unknown };

/** At most this many keys per group: each is a column of the statement's GROUP BY. */
export const MAX_GROUP_KEYS = 8;

const UNIT: Record<DateTruncation, string> = { DAY: 'day', WEEK: 'week', MONTH: 'month', YEAR: 'year' };

/** The key expression of one `groupBy` entry, as the driver hands it over the same way on every engine. */
function keySql(c: ColumnPlan, column: PgColumn, truncate: DateTruncation | null): SQL {
  if (c.type === 'datetime') return epoch(truncate ? sql`date_trunc(${UNIT[truncate]}, ${column}, 'UTC')` : sql`${column}`);
  if (c.type === 'date') return truncate ? sql`date_trunc(${UNIT[truncate]}, ${column})::date::text` : sql`${column}::text`;
  if (c.type === 'time') return sql`${column}::text`;
  if (c.type === 'lookup' || c.type === 'master_detail') return sql`${column}::text`;
  return aggregateRoles(c).numeric ? sql`${column}::float8` : sql`${column}`;
}

/** `groupBy` entries as columns, refusing unknown, hidden, duplicate or untruncatable ones (nothing is run). */
function groupKeys(ds: DataSource, p: ObjectPlan, groupBy: GroupByInput[]): { c: ColumnPlan; truncate: DateTruncation | null }[] {
  const issue = (field: string, constraint: string, message: string) => badInput(p.typeName, [{ field, constraint, message }]);
  if (groupBy.length === 0) throw issue('groupBy', 'groupBy', 'groupBy needs at least one field (use aggregates for totals)');
  if (groupBy.length > MAX_GROUP_KEYS) throw issue('groupBy', 'groupBy', `groupBy has ${groupBy.length} fields; at most ${MAX_GROUP_KEYS} are allowed`);
  const seen = new Set<string>();
  return groupBy.map((g, i) => {
    const c = p.columns.find((x) => x.sortValue === g.field && aggregateRoles(x).groupable);
    if (!c) throw issue(`groupBy[${i}].field`, 'groupBy', `groupBy[${i}]: ${p.typeName} cannot be grouped by "${g.field}"`);
    if (!columnReadable(ds, p, c)) throw unreadableField(p.typeName, c.graphqlName, 'group');
    if (g.truncate && !aggregateRoles(c).truncatable)
      throw issue(`groupBy[${i}].truncate`, 'groupBy', `groupBy[${i}]: ${c.graphqlName} is not a date or date-time, so it cannot be truncated to ${g.truncate}`);
    if (seen.has(c.graphqlName)) throw issue(`groupBy[${i}].field`, 'groupBy', `groupBy[${i}]: ${c.graphqlName} is grouped by twice`);
    seen.add(c.graphqlName);
    return { c, truncate: g.truncate ?? null };
  });
}

/** `having` as SQL over the aggregate expressions (same operators as `where`, and/or/not alike). */
function havingSql(ds: DataSource, p: ObjectPlan, t: DynTable, having: HavingInput, path: string, depth = 0): SQL | undefined {
  if (depth > 16) throw badInput(p.typeName, [{ field: path, constraint: 'size', message: `${path}: the condition is too deeply nested` }]);
  const parts: SQL[] = [];
  const issues: InputIssue[] = [];
  const compare = (expr: SQL, ops: Record<string, unknown>, at: string) => {
    for (const [op, arg] of Object.entries(ops)) {
      const fn = OPERATORS[op as FilterOp];
      if (!fn || !['eq', 'ne', 'gt', 'gte', 'lt', 'lte', 'in', 'nin', 'between', 'isNull'].includes(op)) {
        issues.push({ field: `${at}.${op}`, constraint: 'unknownOperator', message: `${at}: unknown operator "${op}"` });
        continue;
      }
      if (arg === undefined || arg === null) continue;
      const v = arg instanceof Date ? arg.toISOString() : Array.isArray(arg) ? arg.map((x) => (x instanceof Date ? x.toISOString() : x)) : arg;
      parts.push(fn(expr as unknown as PgColumn, v, p.columns[0]!));
    }
  };
  for (const [key, v] of Object.entries(having)) {
    if (v === undefined || v === null) continue;
    const at = `${path}.${key}`;
    if (key === 'and' || key === 'or') {
      const subs = (v as HavingInput[]).map((h, i) => havingSql(ds, p, t, h, `${at}[${i}]`, depth + 1) ?? sql`true`);
      if (subs.length > 0) parts.push(key === 'and' ? and(...subs)! : or(...subs)!);
      else if (key === 'or') parts.push(sql`false`);
    } else if (key === 'not') parts.push(not(havingSql(ds, p, t, v as HavingInput, at, depth + 1) ?? sql`true`));
    else if (key === 'count') compare(sql`count(*)`, v as Record<string, unknown>, at);
    else if ((['sum', 'avg', 'min', 'max'] as string[]).includes(key)) {
      for (const [field, ops] of Object.entries(v as Record<string, unknown>)) {
        const c = p.columns.find((x) => x.graphqlName === field && aggregateRoles(x)[ROLE[key as FieldFunction]]);
        if (!c) {
          issues.push({ field: `${at}.${field}`, constraint: 'unknownField', message: `${at}: ${key} cannot be taken of "${field}"` });
          continue;
        }
        if (!columnReadable(ds, p, c)) throw unreadableField(p.typeName, c.graphqlName, 'aggregate');
        if (ops !== null) compare(sql`${sql.raw(key)}(${col(t, c)})`, ops as Record<string, unknown>, `${at}.${field}`);
      }
    } else issues.push({ field: at, constraint: 'unknownField', message: `${at}: unknown aggregate "${key}"` });
  }
  if (issues.length > 0) throw badInput(p.typeName, issues);
  return parts.length === 0 ? undefined : parts.length === 1 ? parts[0] : and(...parts);
}

/**
 * `accounts(where) { groupedAggregates(groupBy, having, limit) { key { … } count … } }`: one statement,
 * groups in key order (nulls last). Keys are the grouped fields' values (a truncated date is the first
 * day of its period); every group's aggregates count only records the request can read.
 */
export async function groupedOver(ds: DataSource, p: ObjectPlan, table: DynTable, where: SQL | undefined, args: GroupedArgs, info: GraphQLResolveInfo): Promise<Record<string, unknown>[]> {
  const keys = groupKeys(ds, p, args.groupBy);
  const limit = args.limit ?? ds.maxPageSize;
  if (limit < 0 || limit > ds.maxPageSize) throw badInput(p.typeName, [{ field: 'limit', constraint: 'pagination', message: `limit must be between 0 and ${ds.maxPageSize}` }]);
  const agg = requestedAggregation(ds, p, info);
  const having = args.having ? havingSql(ds, p, table, args.having, 'having') : undefined;
  const keyColumns = keys.map((k, i) => sql`${keySql(k.c, col(table, k.c), k.truncate)} as ${sql.identifier(`k${i}`)}`);
  const positions = keys.map((_, i) => sql.raw(String(i + 1)));
  const rows = await queryRows<Record<string, unknown>>(ds.db, sql`select ${sql.join([...keyColumns, ...aggregateSql(agg, table)], sql`, `)}
    from ${table} where ${where ?? sql`true`} group by ${sql.join(positions, sql`, `)}${having ? sql` having ${having}` : sql``}
    order by ${sql.join(positions.map((x) => sql`${x} nulls last`), sql`, `)} limit ${limit}`);
  return rows.map((r) => {
    const key: Record<string, unknown> = {};
    keys.forEach((k, i) => {
      key[k.c.graphqlName] = value(k.c, r[`k${i}`]);
    });
    return { key, ...shape(agg, r) };
  });
}
