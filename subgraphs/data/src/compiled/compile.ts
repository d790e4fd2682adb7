import { and, eq, sql, type SQL } from 'drizzle-orm';
import { alias } from 'drizzle-orm/pg-core';
import {
  getNamedType, getOperationAST, getVariableValues, isNonNullType, isObjectType, Kind,
  type FieldNode, type FragmentDefinitionNode, type GraphQLField, type GraphQLObjectType, type GraphQLSchema,
} from 'graphql';
import { getArgumentValues } from 'graphql/execution/values.js';
import type { ColumnPlan, ObjectPlan } from '@objectos/schema';
import { literal } from '@objectos/db';
import { visibleRows, type DataSource } from '../data-source.ts';
import { col, type DynTable } from '../db/tables.ts';
import type { VisibleParent } from '../security/predicates.ts';
import { columnReadable } from '../security/fields.ts';
import { isUuid, type WhereInput } from '../sql/where.ts';
import { filterSql, whereScope } from '../sql/filter.ts';
import { listSearch } from '../sql/search.ts';
import { orderSql, resolveOrder, type OrderByInput } from '../sql/order.ts';
import { pageSize, type ChildArgs, type ListArgs } from '../sql/read.ts';
import { collectFields } from './collect.ts';
import { columnJson, fallback } from './json-values.ts';

/** What the compiled path does not cover: the request goes through graphql-js execution instead. */
class Unsupported extends Error {}

/** A JSON object's text as one SQL expression: constant pieces (keys, typenames) and non-null text values, concatenated. */
class JsonObject {
  private readonly parts: SQL[] = [];
  private pending = '{';
  constant(key: string, json: string): void {
    this.pending += `${this.pending === '{' ? '' : ','}${JSON.stringify(key)}:${json}`;
  }
  value(key: string, text: SQL): void {
    this.parts.push(sql.raw(literal(`${this.pending}${this.pending === '{' ? '' : ','}${JSON.stringify(key)}:`)), text);
    this.pending = '';
  }
  sql(): SQL {
    return sql.join([...this.parts, sql.raw(literal(`${this.pending}}`))], sql` || `);
  }
}
const unsupported = (why: string): never => {
  throw new Unsupported(why);
};

/** One statement for a whole query: a JSON text column per root response key (null = JSON null). */
export interface CompiledRead {
  statement: SQL;
  /** Root response keys, in order; `sql` entries are columns `c0…`, strings are JSON written as is. */
  roots: { key: string; json?: string }[];
}

interface Ctx {
  ds: DataSource;
  schema: GraphQLSchema;
  fragments: Record<string, FragmentDefinitionNode>;
  variables: Record<string, unknown>;
  aliases: number;
}

function aliased(ctx: Ctx, p: ObjectPlan): { t: DynTable; from: SQL } {
  const name = `_c${ctx.aliases++}`;
  return { t: alias(ctx.ds.tables[p.object.name]!, name) as unknown as DynTable, from: sql`${sql.identifier(p.table)} as ${sql.identifier(name)}` };
}

const subSelections = (nodes: readonly FieldNode[]) => nodes.flatMap((n) => (n.selectionSet ? [n.selectionSet] : []));

/** JSON text of one record's selected fields, built by concatenation (compact, in selection order, as JSON.stringify writes). */
function rowJson(ctx: Ctx, p: ObjectPlan, t: DynTable, type: GraphQLObjectType, nodes: readonly FieldNode[]): SQL {
  const fields = collectFields(ctx.schema, type, subSelections(nodes), ctx.fragments, ctx.variables);
  const defs = type.getFields();
  const object = new JsonObject();
  for (const [key, fnodes] of fields) {
    const name = fnodes[0]!.name.value;
    if (name === '__typename') {
      object.constant(key, JSON.stringify(type.name));
      continue;
    }
    const def = defs[name] ?? unsupported(`unknown field ${type.name}.${name}`);
    const nonNull = isNonNullType(def.type);
    const column = p.columns.find((c) => c.graphqlName === name);
    const relation = column ? undefined : p.relations.find((r) => r.graphqlName === name);
    const reverse = column || relation ? undefined : p.reverse.find((r) => r.graphqlName === name);
    if (column) object.value(key, readableColumn(ctx, p, t, column, nonNull));
    else if (relation) object.value(key, lookupJson(ctx, p, t, relation, def, fnodes, nonNull));
    else if (reverse) object.value(key, childrenJson(ctx, p, t, reverse, def, fnodes));
    else unsupported(`${type.name}.${name} is not a column or relationship`);
  }
  return object.sql();
}

/** A field the request cannot read is null, as on the general path (where a non-null one is an error). */
function readableColumn(ctx: Ctx, p: ObjectPlan, t: DynTable, c: ColumnPlan, nonNull: boolean): SQL {
  if (!columnReadable(ctx.ds, p, c)) return nonNull ? unsupported('hidden non-null field') : sql`'null'`;
  const v = columnJson(c, col(t, c)) ?? unsupported(`${c.type} columns`);
  // (The fallback names a column of the row: a constant would be evaluated, and fail, while planning.)
  return nonNull && c.field !== null ? sql`coalesce((${v})::text, ${fallback(col(t, p.columns[0]!))}::text)` : sql`coalesce((${v})::text, 'null')`;
}

/** The record a lookup points at; one the request cannot read is an error on the general path. */
function lookupJson(ctx: Ctx, p: ObjectPlan, t: DynTable, r: ObjectPlan['relations'][number], def: GraphQLField<unknown, unknown>, nodes: readonly FieldNode[], nonNull: boolean): SQL {
  const q = ctx.ds.plan.objects[r.target]!;
  if (!q.methods.length) unsupported('lookup to an object without API');
  const type = getNamedType(def.type);
  if (!isObjectType(type)) return unsupported('abstract lookup');
  const fk = col(t, p.columns.find((c) => c.column === r.column)!);
  const target = aliased(ctx, q);
  const found = sql`(select ${rowJson(ctx, q, target.t, type, nodes)} from ${target.from} where ${col(target.t, q.columns[0]!)} = ${fk} and ${visibleRows(ctx.ds, q.object.name, target.t)})`;
  return sql`case when ${fk} is null then ${nonNull ? sql`${fallback(col(t, p.columns[0]!))}::text` : sql`'null'`} else coalesce(${found}, ${fallback(fk)}::text) end`;
}

/** A page of records as a JSON array, in `order`, `limit`/`offset` applied (children: per parent). */
/** `rank`: a search's rank, ordered by first (best first) when the list gives no orderBy. */
function pageOf(ctx: Ctx, q: ObjectPlan, type: GraphQLObjectType, nodes: readonly FieldNode[] | null, where: (t: DynTable) => SQL | undefined, orderBy: OrderByInput[] | null | undefined, limit: number | null, offset: number, parent?: VisibleParent, rank?: (t: DynTable) => SQL) {
  const target = aliased(ctx, q);
  const readable = (c: ColumnPlan) => columnReadable(ctx.ds, q, c);
  const order = [...(rank && !orderBy?.length ? [sql`${rank(target.t)} desc`] : []), ...orderSql(target.t, resolveOrder(q, orderBy, readable), q, whereScope(ctx.ds))];
  const row = nodes ? rowJson(ctx, q, target.t, type, nodes) : sql`null`;
  const cond = and(visibleRows(ctx.ds, q.object.name, target.t, 'read', parent), where(target.t));
  // n counts from 1 within the page (rows before the offset are numbered too, then skipped).
  return sql`select ${row} as j, row_number() over (order by ${sql.join(order, sql`, `)})${offset ? sql` - ${offset}` : sql``} as n from ${target.from} where ${cond}
    order by ${sql.join(order, sql`, `)}${limit === null ? sql`` : sql` limit ${limit}`}${offset ? sql` offset ${offset}` : sql``}`;
}

function childrenJson(ctx: Ctx, p: ObjectPlan, t: DynTable, r: ObjectPlan['reverse'][number], def: GraphQLField<unknown, unknown>, nodes: readonly FieldNode[]): SQL {
  const q = ctx.ds.plan.objects[r.child]!;
  if (!q.methods.includes('list')) unsupported('children without list');
  const type = getNamedType(def.type);
  if (!isObjectType(type)) return unsupported('abstract children');
  const args = getArgumentValues(def, nodes[0]!, ctx.variables) as ChildArgs;
  // Out-of-range paging is the general path's error to give.
  if (args.limit != null && (args.limit < 0 || args.limit > ctx.ds.maxPageSize)) unsupported('limit out of range');
  if (args.offset != null && args.offset < 0) unsupported('negative offset');
  const parentId = col(t, p.columns[0]!);
  const fkColumn = q.columns.find((c) => c.column === r.column)!;
  const page = pageOf(ctx, q, type, nodes, (ct) => and(eq(col(ct, fkColumn), parentId), filterSql(ctx.ds, q, ct, args.where as WhereInput | null)),
    args.orderBy, args.limit ?? null, args.offset ?? 0, { object: p.object.name, column: r.column });
  return sql`(select coalesce('[' || string_agg(s.j, ',' order by s.n) || ']', '[]') from (${page}) s)`;
}

/** `account(id)`: the record or null. */
function getJson(ctx: Ctx, p: ObjectPlan, type: GraphQLObjectType, def: GraphQLField<unknown, unknown>, nodes: readonly FieldNode[]): SQL {
  const { id } = getArgumentValues(def, nodes[0]!, ctx.variables) as { id?: unknown };
  if (!isUuid(id)) return sql`'null'`;
  const target = aliased(ctx, p);
  return sql`coalesce((select ${rowJson(ctx, p, target.t, type, nodes)} from ${target.from} where ${col(target.t, p.columns[0]!)} = ${id} and ${visibleRows(ctx.ds, p.object.name, target.t)}), 'null')`;
}

/** `accounts(where, orderBy, first, offset)`: nodes, totalCount and pageInfo's booleans (cursors are the general path's). */
function listJson(ctx: Ctx, p: ObjectPlan, def: GraphQLField<unknown, unknown>, nodes: readonly FieldNode[]): SQL {
  const args = getArgumentValues(def, nodes[0]!, ctx.variables) as ListArgs;
  if (args.after != null || args.before != null || args.last != null) unsupported('cursor paging');
  // Every argument the compiler does not apply must send the request to the general path. A search
  // is applied: its match joins the filter, its rank leads the order (bad search text: the general path words it).
  const search = args.search;
  const n = pageSize(ctx.ds, p.typeName, args);
  const offset = args.offset ?? 0;
  const connection = getNamedType(def.type);
  const nodeType = ctx.schema.getType(p.typeName);
  if (!isObjectType(connection) || !isObjectType(nodeType)) return unsupported('connection type');
  const where = (t: DynTable) => and(filterSql(ctx.ds, p, t, args.where), search != null ? listSearch(ctx.ds, p, t, search).match : undefined);
  const rank = search != null ? (t: DynTable) => listSearch(ctx.ds, p, t, search).rank : undefined;
  const fields = collectFields(ctx.schema, connection, subSelections(nodes), ctx.fragments, ctx.variables);
  const object = new JsonObject();
  let page: readonly FieldNode[] | null = null;
  let paged = false;
  for (const [key, fnodes] of fields) {
    const name = fnodes[0]!.name.value;
    if (name === '__typename') object.constant(key, JSON.stringify(connection.name));
    else if (name === 'nodes') {
      if (page && page !== fnodes) unsupported('nodes under two keys');
      page = fnodes;
      paged = true;
      object.value(key, sql`coalesce('[' || string_agg(s.j, ',' order by s.n) filter (where s.n <= ${n}) || ']', '[]')`);
    } else if (name === 'totalCount') {
      const counted = aliased(ctx, p);
      object.value(key, sql`(select count(*) from ${counted.from} where ${and(visibleRows(ctx.ds, p.object.name, counted.t), where(counted.t))})::text`);
    } else if (name === 'pageInfo') {
      const info = ctx.schema.getType('PageInfo');
      if (!isObjectType(info)) return unsupported('PageInfo');
      const inner = new JsonObject();
      for (const [k, inodes] of collectFields(ctx.schema, info, subSelections(fnodes), ctx.fragments, ctx.variables)) {
        const f = inodes[0]!.name.value;
        if (f === '__typename') inner.constant(k, '"PageInfo"');
        else if (f === 'hasNextPage') {
          paged = true;
          inner.value(k, sql`(count(*) > ${n})::text`);
        } else if (f === 'hasPreviousPage') inner.constant(k, offset > 0 ? 'true' : 'false');
        else unsupported(`PageInfo.${f}`);
      }
      object.value(key, inner.sql());
    } else unsupported(`${connection.name}.${name}`);
  }
  if (!paged) return object.sql();
  return sql`(select ${object.sql()} from (${pageOf(ctx, p, nodeType, page, where, args.orderBy, n + 1, offset, undefined, rank)}) s)`;
}

/**
 * Compiles a query that reads only records (by id, lists, lookups and children, at any depth) into
 * one SQL statement that builds the response's JSON in PostgreSQL, with the same security predicates
 * and field masking as the general path. Null when the operation needs anything else.
 */
export function compileRead(ds: DataSource, schema: GraphQLSchema, document: import('graphql').DocumentNode, operationName: string | null | undefined, rawVariables: Record<string, unknown> | null | undefined): CompiledRead | null {
  if (ds.tenant === null) return null;
  const op = getOperationAST(document, operationName);
  if (!op || op.operation !== 'query') return null;
  const coerced = getVariableValues(schema, op.variableDefinitions ?? [], rawVariables ?? {});
  if (coerced.errors) return null;
  const fragments: Record<string, FragmentDefinitionNode> = {};
  for (const d of document.definitions) if (d.kind === Kind.FRAGMENT_DEFINITION) fragments[d.name.value] = d;
  const ctx: Ctx = { ds, schema, fragments, variables: coerced.coerced, aliases: 0 };
  const root = schema.getQueryType()!;
  const defs = root.getFields();
  const roots: CompiledRead['roots'] = [];
  const columns: SQL[] = [];
  try {
    for (const [key, nodes] of collectFields(schema, root, [op.selectionSet], fragments, ctx.variables)) {
      const name = nodes[0]!.name.value;
      if (name === '__typename') {
        roots.push({ key, json: '"Query"' });
        continue;
      }
      const def = defs[name];
      const p = def ? Object.values(ds.plan.objects).find((o) => (o.singleField === name && o.methods.includes('get')) || (o.listField === name && o.methods.includes('list'))) : undefined;
      if (!def || !p) return null;
      const type = getNamedType(def.type);
      const json = p.singleField === name ? (isObjectType(type) ? getJson(ctx, p, type, def, nodes) : unsupported('type')) : listJson(ctx, p, def, nodes);
      columns.push(sql`${json} as ${sql.identifier(`c${columns.length}`)}`);
      roots.push({ key });
    }
  } catch {
    // Unsupported shapes and bad arguments alike: the general path answers (and words the error).
    return null;
  }
  if (columns.length === 0) return null;
  return { statement: sql`select ${sql.join(columns, sql`, `)}`, roots };
}

/** The response text of a compiled read's one row. */
export function responseText(read: CompiledRead, row: Record<string, string | null>): string {
  let i = 0;
  const members = read.roots.map((r) => `${JSON.stringify(r.key)}:${r.json ?? row[`c${i++}`] ?? 'null'}`);
  return `{"data":{${members.join(',')}}}`;
}
