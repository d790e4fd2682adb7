import { and, eq, gt, gte, ilike, inArray, is, isNotNull, isNull, lt, lte, not, or, sql, SQL } from 'drizzle-orm';
import type { PgColumn } from 'drizzle-orm/pg-core';
import type { GraphQLError } from 'graphql';
import type { ColumnPlan, DataPlan, FilterOp, ObjectPlan } from '@objectos/schema';
import { badInput, unreadableField, type InputIssue } from '../errors.ts';
import { col, type DynTable } from '../db/tables.ts';
import { computedSql } from './computed.ts';

export type WhereInput = { [key: string]: unknown };

/**
 * What filters through relationships need: the related objects' tables (under fresh aliases) and the
 * request's security, so a related record counts only when the request may read it and a related field
 * may be filtered only when it is readable. Without a scope, relationship keys are unknown fields.
 */
export interface WhereScope {
  plan: DataPlan;
  /** The table of `object` under the alias `name`. */
  alias(object: string, name: string): DynTable;
  /** The rows of `object` (as `t`) the request may read: tenant wall and record security. */
  visible(object: string, t: DynTable): SQL;
  objectReadable(object: string): boolean;
  readable(object: string, c: ColumnPlan): boolean;
}

/** Quantifiers over a relationship's children (`contacts: { some: { … } }`). */
const QUANTIFIERS = ['some', 'none', 'every'] as const;

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
export const isUuid = (v: unknown): v is string => typeof v === 'string' && UUID.test(v);

const TRUE = sql`true`;
const FALSE = sql`false`;
/** `%`, `_` and `\` are literal in contains/startsWith/endsWith. */
const escapeLike = (s: string): string => s.replace(/[\\%_]/g, (c) => `\\${c}`);

/** A stored column, or a computed field's value (sql/computed.ts). */
export type Operand = PgColumn | SQL;
type OpFn = (c: Operand, v: unknown, plan: ColumnPlan) => SQL;

/** drizzle types a column and an SQL expression in separate overloads: narrowed once here for either. */
type Binary = { (l: PgColumn, r: unknown): SQL; (l: SQL, r: unknown): SQL };
const on = (f: Binary) => (c: Operand, v: unknown): SQL => (is(c, SQL) ? f(c, v) : f(c, v));
export const [eqOn, gtOn, gteOn, ltOn, lteOn] = [on(eq), on(gt), on(gte), on(lt), on(lte)] as const;
const inOn = (c: Operand, v: unknown): SQL => (is(c, SQL) ? inArray(c, v as unknown[]) : inArray(c, v as unknown[]));
const likeOn = (c: Operand, pattern: string): SQL => (is(c, SQL) ? ilike(c, pattern) : ilike(c, pattern));

/** One row per filter operator: the only place filter semantics live. `ne`/`nin` keep nulls, as users expect. */
export const OPERATORS: Record<FilterOp, OpFn> = {
  eq: (c, v) => eqOn(c, v),
  ne: (c, v) => sql`${c} is distinct from ${v}`,
  gt: (c, v) => gtOn(c, v),
  gte: (c, v) => gteOn(c, v),
  lt: (c, v) => ltOn(c, v),
  lte: (c, v) => lteOn(c, v),
  in: (c, v) => ((v as unknown[]).length === 0 ? FALSE : inOn(c, v)),
  nin: (c, v) => ((v as unknown[]).length === 0 ? TRUE : or(isNull(c), not(inOn(c, v)))!),
  between: (c, v) => sql`${c} between ${(v as unknown[])[0]} and ${(v as unknown[])[1]}`,
  contains: (c, v, p) => (p.type === 'json' ? sql`${c} @> ${JSON.stringify(v)}::jsonb` : likeOn(c, `%${escapeLike(String(v))}%`)),
  notContains: (c, v) => or(isNull(c), not(likeOn(c, `%${escapeLike(String(v))}%`)))!,
  startsWith: (c, v) => likeOn(c, `${escapeLike(String(v))}%`),
  endsWith: (c, v) => likeOn(c, `%${escapeLike(String(v))}`),
  isNull: (c, v) => (v ? isNull(c) : isNotNull(c)),
  hasKey: (c, v) => sql`jsonb_exists(${c}, ${String(v)})`,
  hasAll: (c, v) => sql`${c} @> ${toTextArray(v)}`,
  hasAny: (c, v) => sql`${c} && ${toTextArray(v)}`,
  isEmpty: (c, v) => (v ? sql`coalesce(cardinality(${c}), 0) = 0` : sql`coalesce(cardinality(${c}), 0) > 0`),
};

const toTextArray = (v: unknown): SQL => sql`${sql.param(v as string[])}::text[]`;

/** Operators whose argument may be null in GraphQL but means nothing as SQL. */
const NEEDS_VALUE = new Set<FilterOp>(['eq', 'ne', 'gt', 'gte', 'lt', 'lte', 'in', 'nin', 'between', 'contains', 'notContains', 'startsWith', 'endsWith', 'hasKey', 'hasAll', 'hasAny']);

/**
 * How much one `where` may expand to. PostgreSQL refuses a statement with more than 65,535 bind
 * parameters (and the pg protocol counts them in 16 bits), and its parser recurses on nesting: a filter
 * past either would fail in the database as an internal error. Well below both, leaving room for the
 * rest of the statement (visibility, cursor, parent ids); the gateway's input limits are lower still.
 */
export const WHERE_LIMITS = { maxParams: 30_000, maxDepth: 64 } as const;

interface Budget {
  params: number;
  /** Aliases of related tables made so far (each relationship hop is a subquery of its own alias). */
  aliases: number;
}

/** Bind parameters one operator adds (an upper bound: `in` on ids drops malformed ones later). */
const paramsOf = (op: string, arg: unknown): number => (Array.isArray(arg) && (op === 'in' || op === 'nin') ? arg.length : op === 'between' ? 2 : 1);

const tooLarge = (p: ObjectPlan, path: string, what: string): GraphQLError =>
  badInput(p.typeName, [{ field: path, constraint: 'size', message: `${path}: the filter is too ${what}; split it into smaller queries` }]);

/**
 * Turns a `where` input (GraphQL names) into one SQL condition. Pure: tested with `.toSQL()`.
 * Unknown fields or operators are refused (GraphQL validation catches them first; this is the backstop),
 * and so is a filter past {@link WHERE_LIMITS}, before any SQL is sent.
 */
export function buildWhere(
  p: ObjectPlan, table: DynTable, where: WhereInput | null | undefined, path = 'where', readable: (c: ColumnPlan) => boolean = () => true, scope?: WhereScope,
): SQL | undefined {
  return whereOf(p, table, where, path, readable, 0, { params: 0, aliases: 0 }, scope);
}

function whereOf(
  p: ObjectPlan, table: DynTable, where: WhereInput | null | undefined, path: string, readable: (c: ColumnPlan) => boolean, depth: number, budget: Budget, scope?: WhereScope,
): SQL | undefined {
  if (where === null || where === undefined) return undefined;
  if (depth >= WHERE_LIMITS.maxDepth) throw tooLarge(p, path, 'deeply nested');
  const issues: InputIssue[] = [];
  const parts: SQL[] = [];
  for (const [key, value] of Object.entries(where)) {
    if (value === undefined) continue;
    const at = `${path}.${key}`;
    if (key === 'and' || key === 'or') {
      const list = (value ?? []) as WhereInput[];
      const subs = list.map((w, i) => whereOf(p, table, w, `${at}[${i}]`, readable, depth + 1, budget, scope) ?? TRUE);
      parts.push(key === 'and' ? (subs.length ? and(...subs)! : TRUE) : subs.length ? or(...subs)! : FALSE);
      continue;
    }
    if (key === 'not') {
      if (value !== null) parts.push(not(whereOf(p, table, value as WhereInput, at, readable, depth + 1, budget, scope) ?? TRUE));
      continue;
    }
    const related = scope ? relationship(p, key, scope) : null;
    if (related) {
      if (value !== null) parts.push(relatedSql(p, table, related, value as WhereInput, at, readable, depth, budget, scope!));
      continue;
    }
    // A computed field filters on its value (with a scope: it reads other records under the request's security).
    const c = p.columns.find((x) => x.graphqlName === key) ?? (scope ? p.computed.find((x) => x.graphqlName === key) : undefined);
    if (!c) {
      issues.push({ field: at, constraint: 'unknownField', message: `${at}: ${p.typeName} has no field "${key}"` });
      continue;
    }
    if (!readable(c)) throw unreadableField(p.typeName, c.graphqlName, 'filter');
    if (value === null) continue;
    for (const [op, arg] of Object.entries(value as Record<string, unknown>)) {
      const fn = OPERATORS[op as FilterOp];
      if (!fn) {
        issues.push({ field: `${at}.${op}`, constraint: 'unknownOperator', message: `${at}: unknown operator "${op}"` });
        continue;
      }
      if (arg === undefined) continue;
      if (arg === null) {
        if (NEEDS_VALUE.has(op as FilterOp))
          issues.push({ field: `${at}.${op}`, constraint: 'nullOperand', message: `${at}.${op} cannot be null (use isNull: true to match missing values)` });
        continue;
      }
      if (op === 'between' && (arg as unknown[]).length !== 2) {
        issues.push({ field: `${at}.between`, constraint: 'between', message: `${at}.between needs exactly two values [low, high]` });
        continue;
      }
      budget.params += paramsOf(op, arg);
      if (budget.params > WHERE_LIMITS.maxParams) throw tooLarge(p, path, 'large');
      parts.push(c.computed ? fn(computedSql(scope!, p, table, c), plainValue(arg), c) : apply(fn, col(table, c), c, op as FilterOp, arg));
    }
  }
  if (issues.length > 0) throw badInput(p.typeName, issues);
  if (parts.length === 0) return undefined;
  return parts.length === 1 ? parts[0] : and(...parts);
}

type Related =
  | { kind: 'lookup'; r: ObjectPlan['relations'][number]; fk: ColumnPlan }
  | { kind: 'children'; r: ObjectPlan['reverse'][number]; fk: ColumnPlan };

/** A `where` key naming a relationship to an object with an API: a lookup, or the children of a reverse relationship. */
function relationship(p: ObjectPlan, key: string, scope: WhereScope): Related | null {
  const r = p.relations.find((x) => x.graphqlName === key);
  if (r && scope.plan.objects[r.target]!.methods.length > 0) return { kind: 'lookup', r, fk: p.columns.find((c) => c.column === r.column)! };
  const rev = p.reverse.find((x) => x.graphqlName === key);
  if (rev && scope.plan.objects[rev.child]!.methods.length > 0)
    return { kind: 'children', r: rev, fk: scope.plan.objects[rev.child]!.columns.find((c) => c.column === rev.column)! };
  return null;
}

/**
 * A filter through a relationship, as a correlated subquery over the related table: the lookup's record
 * (`account: { industry: { eq: finance } }`) or the children (`contacts: { some | none | every: { … } }`).
 * Only related records the request may read take part (row security inside the relationship), and
 * related fields are filtered under their own field permissions. `every` holds when no readable child
 * fails the filter (a child whose filter is unknown, SQL NULL, fails it).
 */
function relatedSql(p: ObjectPlan, table: DynTable, rel: Related, value: WhereInput, at: string, readable: (c: ColumnPlan) => boolean, depth: number, budget: Budget, scope: WhereScope): SQL {
  if (depth >= WHERE_LIMITS.maxDepth) throw tooLarge(p, at, 'deeply nested');
  const object = rel.kind === 'lookup' ? rel.r.target : rel.r.child;
  const q = scope.plan.objects[object]!;
  // Filtering through a lookup reads its foreign key; through children, the children's foreign key.
  const name = rel.kind === 'lookup' ? `${p.typeName}.${rel.r.graphqlName}` : `${q.typeName}.${rel.fk.graphqlName}`;
  if (!scope.objectReadable(object) || !(rel.kind === 'lookup' ? readable(rel.fk) : scope.readable(object, rel.fk)))
    throw unreadableField(rel.kind === 'lookup' ? p.typeName : q.typeName, rel.kind === 'lookup' ? rel.r.graphqlName : rel.fk.graphqlName, 'filter');
  const alias = `_w${budget.aliases++}`;
  const t = scope.alias(object, alias);
  const id = (x: ObjectPlan, tt: DynTable) => col(tt, x.columns[0]!);
  const join = rel.kind === 'lookup' ? eq(id(q, t), col(table, rel.fk)) : eq(col(t, rel.fk), id(p, table));
  const from = sql`${sql.identifier(q.table)} as ${sql.identifier(alias)}`;
  const sub = (w: unknown, path: string) => whereOf(q, t, w as WhereInput, path, (c) => scope.readable(object, c), depth + 1, budget, scope);
  const exists = (cond: SQL | undefined) => sql`exists (select 1 from ${from} where ${and(join, scope.visible(object, t), cond)})`;
  if (rel.kind === 'lookup') return exists(sub(value, at));
  const parts: SQL[] = [];
  for (const [quantifier, w] of Object.entries(value)) {
    if (w === undefined || w === null) continue;
    if (!(QUANTIFIERS as readonly string[]).includes(quantifier))
      throw badInput(p.typeName, [{ field: `${at}.${quantifier}`, constraint: 'unknownOperator', message: `${at}: unknown quantifier "${quantifier}" (use some, none or every) for ${name}` }]);
    const cond = sub(w, `${at}.${quantifier}`);
    if (quantifier === 'some') parts.push(exists(cond));
    else if (quantifier === 'none') parts.push(not(exists(cond)));
    else parts.push(cond ? not(exists(sql`(${cond}) is not true`)) : TRUE);
  }
  return parts.length === 0 ? TRUE : parts.length === 1 ? parts[0]! : and(...parts)!;
}

/** A computed value has no column type to encode its operand: a date-time goes as ISO text (PostgreSQL casts it). */
const plainValue = (v: unknown): unknown => (v instanceof Date ? v.toISOString() : Array.isArray(v) ? v.map(plainValue) : v);

/** uuid columns reject malformed text with an SQL error; a malformed id simply matches nothing. */
function apply(fn: OpFn, column: PgColumn | SQL, c: ColumnPlan, op: FilterOp, arg: unknown): SQL {
  if (c.type === 'id' || c.type === 'lookup' || c.type === 'master_detail') {
    if (op === 'eq' && !isUuid(arg)) return FALSE;
    if (op === 'ne' && !isUuid(arg)) return TRUE;
    if (op === 'in' || op === 'nin') return fn(column, (arg as unknown[]).filter(isUuid), c);
  }
  return fn(column, arg, c);
}
