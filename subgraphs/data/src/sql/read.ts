import { and, count, getTableColumns, inArray, sql, type SQL } from 'drizzle-orm';
import { badInput } from '../errors.ts';
import { col } from '../db/tables.ts';
import { objectOf, type DataSource, type Row } from '../data-source.ts';
import { afterCondition, decodeCursor, encodeCursor, orderSql, resolveOrder, reverseOrder, type OrderByInput } from './order.ts';
import type { WhereInput } from './where.ts';
import { filterSql } from './filter.ts';
import { inChunks } from './chunks.ts';
import { columnReadable, maskRows } from '../security/fields.ts';
import type { ColumnPlan } from '@objectos/schema';

export interface ListArgs {
  where?: WhereInput | null;
  orderBy?: OrderByInput[] | null;
  first?: number | null;
  after?: string | null;
  last?: number | null;
  before?: string | null;
  offset?: number | null;
}

export interface Connection {
  edges: { cursor: string; node: Row }[];
  nodes: Row[];
  pageInfo: { hasNextPage: boolean; hasPreviousPage: boolean; startCursor: string | null; endCursor: string | null };
  /** Resolved only when selected: the default field resolver calls it. */
  totalCount: () => Promise<number>;
}

export function pageSize(ds: DataSource, typeName: string, args: ListArgs): number {
  const issue = (field: string, message: string) => badInput(typeName, [{ field, constraint: 'pagination', message }]);
  if (args.first != null && args.last != null) throw issue('first', 'use either first or last, not both');
  if (args.last != null && args.offset != null) throw issue('offset', 'offset goes with first, not last');
  const n = args.first ?? args.last ?? ds.defaultPageSize;
  const arg = args.last != null ? 'last' : 'first';
  if (n < 0) throw issue(arg, `${arg} cannot be negative`);
  if (n > ds.maxPageSize) throw issue(arg, `${arg} is ${n}; at most ${ds.maxPageSize} records can be asked for at once`);
  if (args.offset != null && args.offset < 0) throw issue('offset', 'offset cannot be negative');
  return n;
}

/** One page of a list query: one SQL statement for the page, one more for totalCount if selected. */
export async function findConnection(ds: DataSource, objectName: string, args: ListArgs): Promise<Connection> {
  const { p, table, visible } = objectOf(ds, objectName);
  const n = pageSize(ds, p.typeName, args);
  const readable = (c: ColumnPlan) => columnReadable(ds, p, c);
  const order = resolveOrder(p, args.orderBy, readable);
  const backward = args.last != null || (args.before != null && args.first == null);
  const effective = backward ? reverseOrder(order) : order;
  const where = and(visible, filterSql(ds, p, table, args.where));
  const conds: (SQL | undefined)[] = [where];
  if (args.after != null) conds.push(afterCondition(table, order, decodeCursor(p, args.after, order, 'after')));
  if (args.before != null) conds.push(afterCondition(table, reverseOrder(order), decodeCursor(p, args.before, order, 'before')));
  const rows = (await ds.db
    .select()
    .from(table)
    .where(and(...conds))
    .orderBy(...orderSql(table, effective))
    .limit(n + 1)
    .offset(args.offset ?? 0)) as Row[];
  const more = rows.length > n;
  const page = maskRows(ds, p, rows.slice(0, n));
  if (backward) page.reverse();
  const edges = page.map((node) => ({ cursor: encodeCursor(node, order), node }));
  return {
    edges,
    nodes: page,
    pageInfo: {
      hasNextPage: backward ? args.before != null : more,
      hasPreviousPage: backward ? more : args.after != null || (args.offset ?? 0) > 0,
      startCursor: edges[0]?.cursor ?? null,
      endCursor: edges.at(-1)?.cursor ?? null,
    },
    totalCount: async () => {
      const [r] = await ds.db.select({ n: count() }).from(table).where(where);
      return Number(r?.n ?? 0);
    },
  };
}

export async function findByIds(ds: DataSource, objectName: string, ids: readonly string[]): Promise<Row[]> {
  const { p, table, visible } = objectOf(ds, objectName);
  const id = col(table, p.columns[0]!);
  return maskRows(ds, p, await inChunks(ids, async (slice) => (await ds.db.select().from(table).where(and(visible, inArray(id, slice)))) as Row[]));
}

export interface ChildArgs {
  where?: WhereInput | null;
  orderBy?: OrderByInput[] | null;
  limit?: number | null;
  offset?: number | null;
}

/**
 * Children of many parents in one statement (unmasked: the caller groups them by foreign key, then masks). With limit/offset, a window function pages each parent's
 * children separately, so the cost stays one statement however many parents there are.
 */
export async function findChildren(ds: DataSource, child: string, column: string, parentIds: readonly string[], args: ChildArgs): Promise<Row[]> {
  // Each parent's children (and their window) depend on that parent alone: slices of parents are exact.
  return inChunks(parentIds, (slice) => findChildrenOf(ds, child, column, slice, args));
}

async function findChildrenOf(ds: DataSource, child: string, column: string, parentIds: readonly string[], args: ChildArgs): Promise<Row[]> {
  const { p, table, visible } = objectOf(ds, child);
  const c = p.columns.find((x) => x.column === column)!;
  const fk = col(table, c);
  const readable = (x: ColumnPlan) => columnReadable(ds, p, x);
  const where = and(visible, inArray(fk, [...parentIds]), filterSql(ds, p, table, args.where));
  const order = orderSql(table, resolveOrder(p, args.orderBy, readable));
  if (args.limit != null && (args.limit < 0 || args.limit > ds.maxPageSize))
    throw badInput(p.typeName, [{ field: 'limit', constraint: 'pagination', message: `limit must be between 0 and ${ds.maxPageSize}` }]);
  if (args.offset != null && args.offset < 0)
    throw badInput(p.typeName, [{ field: 'offset', constraint: 'pagination', message: 'offset cannot be negative' }]);
  if (args.limit == null && !args.offset) return (await ds.db.select().from(table).where(where).orderBy(...order)) as Row[];
  const rn = sql<number>`row_number() over (partition by ${fk} order by ${sql.join(order, sql`, `)})`.as('_rn');
  const inner = ds.db.select({ ...getTableColumns(table), _rn: rn }).from(table).where(where).as('_page');
  const lo = args.offset ?? 0;
  const hi = args.limit == null ? null : lo + args.limit;
  const rows = await ds.db
    .select()
    .from(inner)
    .where(hi == null ? sql`${inner._rn} > ${lo}` : sql`${inner._rn} > ${lo} and ${inner._rn} <= ${hi}`)
    .orderBy(inner._rn);
  return rows.map(({ _rn, ...row }) => row as Row);
}
