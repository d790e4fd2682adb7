import { and, count, getTableColumns, inArray, sql, type SQL } from 'drizzle-orm';
import { badInput } from '../errors.ts';
import { col } from '../db/tables.ts';
import { objectOf, type DataSource, type Row } from '../data-source.ts';
import { afterCondition, decodeCursor, encodeCursor, orderSql, resolveOrder, reverseOrder, type OrderByInput } from './order.ts';
import type { WhereInput } from './where.ts';
import { filterSql, whereScope } from './filter.ts';
import { computedOutput } from './computed.ts';
import { inChunks } from './chunks.ts';
import { columnReadable, maskRows } from '../security/fields.ts';
import type { ColumnPlan } from '@objectos/schema';
import type { GraphQLResolveInfo } from 'graphql';
import { aggregateOver, groupedOver, type GroupedArgs } from './aggregate.ts';
import { listSearch } from './search.ts';

export interface ListArgs {
  where?: WhereInput | null;
  /** Full-text search over the object's searchable fields (see search.ts). */
  search?: string | null;
  orderBy?: OrderByInput[] | null;
  first?: number | null;
  after?: string | null;
  last?: number | null;
  before?: string | null;
  offset?: number | null;
}

interface Page {
  edges: { cursor: string; node: Row }[];
  nodes: Row[];
  pageInfo: { hasNextPage: boolean; hasPreviousPage: boolean; startCursor: string | null; endCursor: string | null };
}

/** Every part is resolved only when selected (the default field resolver calls it): a request for aggregates alone reads no page. */
export interface Connection {
  edges: () => Promise<Page['edges']>;
  nodes: () => Promise<Page['nodes']>;
  pageInfo: () => Promise<Page['pageInfo']>;
  totalCount: () => Promise<number>;
  /** Aggregates over every matching record (resolved only when selected, from the selection). */
  aggregates: (args: unknown, ctx: unknown, info: GraphQLResolveInfo) => Promise<Record<string, unknown>>;
  groupedAggregates: (args: GroupedArgs, ctx: unknown, info: GraphQLResolveInfo) => Promise<Record<string, unknown>[]>;
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
  // With a search and no orderBy, the best matches come first (then the default order breaks ties).
  const search = args.search != null ? listSearch(ds, p, table, args.search) : null;
  const ranked = search !== null && !args.orderBy?.length;
  if (ranked && (args.after != null || args.before != null || args.last != null))
    throw badInput(p.typeName, [{ field: 'search', constraint: 'pagination', message: 'search results in rank order are paged with first and offset; give orderBy to page them with cursors' }]);
  const where = and(visible, filterSql(ds, p, table, args.where), search?.match);
  const scope = whereScope(ds);
  const conds: (SQL | undefined)[] = [where];
  if (args.after != null) conds.push(afterCondition(table, order, decodeCursor(p, args.after, order, 'after'), p, scope));
  if (args.before != null) conds.push(afterCondition(table, reverseOrder(order), decodeCursor(p, args.before, order, 'before'), p, scope));
  // A computed sort key is selected too: its value makes the cursor (and answers the field).
  const keys = order.filter((i) => i.column.computed).map((i) => [i.column.graphqlName, computedOutput(scope, p, table, i.column)] as const);
  const read = async (): Promise<Page> => {
    const rows = (await (keys.length > 0 ? ds.db.select({ ...getTableColumns(table), ...Object.fromEntries(keys) }) : ds.db.select())
      .from(table)
      .where(and(...conds))
      .orderBy(...(ranked ? [sql`${search.rank} desc`] : []), ...orderSql(table, effective, p, scope))
      .limit(n + 1)
      .offset(args.offset ?? 0)) as Row[];
    const more = rows.length > n;
    const nodes = maskRows(ds, p, rows.slice(0, n));
    if (backward) nodes.reverse();
    const edges = nodes.map((node) => ({ cursor: encodeCursor(node, order), node }));
    return {
      edges,
      nodes,
      pageInfo: {
        hasNextPage: backward ? args.before != null : more,
        hasPreviousPage: backward ? more : args.after != null || (args.offset ?? 0) > 0,
        startCursor: edges[0]?.cursor ?? null,
        endCursor: edges.at(-1)?.cursor ?? null,
      },
    };
  };
  let page: Promise<Page> | null = null;
  const once = () => (page ??= read());
  return {
    edges: async () => (await once()).edges,
    nodes: async () => (await once()).nodes,
    pageInfo: async () => (await once()).pageInfo,
    totalCount: async () => {
      const [r] = await ds.db.select({ n: count() }).from(table).where(where);
      return Number(r?.n ?? 0);
    },
    aggregates: (_args, _ctx, info) => aggregateOver(ds, p, table, where, info),
    groupedAggregates: (args, _ctx, info) => groupedOver(ds, p, table, where, args, info),
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
  const order = orderSql(table, resolveOrder(p, args.orderBy, readable), p, whereScope(ds));
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
