import { sql, type SQL } from 'drizzle-orm';
import type { PgColumn } from 'drizzle-orm/pg-core';
import type { ComputedModel, FormulaNode, FormulaRef } from '@objectos/metadata';
import type { ColumnPlan, ObjectPlan } from '@objectos/schema';
import { col, OWNER, type DynTable } from '../db/tables.ts';
import type { WhereScope } from './where.ts';

/**
 * Formula and roll-up fields as SQL (their models were parsed and type-checked at load). A value is
 * computed on the row as the reader sees it: a lookup's field is read from the related record only when
 * the reader can read that record (else NULL), and a roll-up counts only the children the reader can read,
 * tenant wall, record security and trash included. Which fields the reader may read at all (a computed field
 * needs every field it reads) is decided with the rest of field security (schema access.ts).
 */
interface Ctx {
  scope: WhereScope;
  /** Aliases made so far in this expression (each lookup hop and roll-up is a subquery of its own alias). */
  n: { next: number };
}

const ARITH: Record<string, (l: SQL, r: SQL) => SQL> = {
  '+': (l, r) => sql`(${l} + ${r})`,
  '-': (l, r) => sql`(${l} - ${r})`,
  '*': (l, r) => sql`(${l} * ${r})`,
  // Dividing by zero gives NULL (the value is unknown), not an error that would fail the whole read.
  '/': (l, r) => sql`(${l} / nullif(${r}, 0))`,
  '%': (l, r) => sql`(mod((${l})::numeric, nullif(${r}, 0)::numeric))::float8`,
};
const COMPARE = { eq: '=', ne: '<>', gt: '>', gte: '>=', lt: '<', lte: '<=' } as const;

/** The value of computed field `c` of `p` on the row `table`, typed for comparison (float8, text, boolean, date, timestamptz). */
export function computedSql(scope: WhereScope, p: ObjectPlan, table: DynTable, c: ColumnPlan): SQL {
  return modelSql({ scope, n: { next: 0 } }, p, table, c.computed!);
}

/** What a select returns for it: numbers as float8, dates as YYYY-MM-DD, date-times as ISO 8601 text (as the scalars expect). */
export function computedOutput(scope: WhereScope, p: ObjectPlan, table: DynTable, c: ColumnPlan): SQL {
  const v = computedSql(scope, p, table, c);
  switch (c.type) {
    case 'date': return sql`to_char(${v}, 'YYYY-MM-DD')`;
    case 'datetime': return sql`to_char((${v}) at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')`;
    case 'boolean': return v;
    case 'text': return sql`(${v})::text`;
    default: return sql`(${v})::float8`;
  }
}

/** A stored column, or a computed field's value (filters and sort keys take either). */
export function valueOf(table: DynTable, c: ColumnPlan, scope: WhereScope | undefined, p: ObjectPlan): PgColumn | SQL {
  if (!c.computed) return col(table, c);
  if (!scope) throw new Error(`${p.typeName}.${c.graphqlName} is computed: its SQL needs the request's scope`);
  return computedSql(scope, p, table, c);
}

function modelSql(ctx: Ctx, p: ObjectPlan, table: DynTable, m: ComputedModel): SQL {
  // A currency formula is an amount, in cents like a currency field: filters and sorts see what is shown.
  if (m.kind === 'formula') return m.type === 'currency' ? sql`round((${node(ctx, p, table, m.expr)})::numeric, 2)::float8` : node(ctx, p, table, m.expr);
  const q = ctx.scope.plan.objects[m.child]!;
  const name = `_f${ctx.n.next++}`;
  const a = ctx.scope.alias(m.child, name);
  const fk = col(a, q.columns.find((c) => c.name === m.via)!);
  const v = m.field === null ? sql`*` : field(ctx, q, a, m.field);
  // The count and sum of no children are 0; their average, minimum and maximum are unknown (NULL).
  const agg = m.fn === 'count' ? sql`count(${v})::float8` : m.fn === 'sum' ? sql`coalesce(sum(${v}), 0)::float8`
    : m.fn === 'avg' ? sql`avg(${v})::float8` : sql`${sql.raw(m.fn)}(${v})`;
  const filter = m.filter ? sql` and (${node(ctx, q, a, m.filter)}) is true` : sql``;
  return sql`(select ${agg} from ${sql.identifier(q.table)} as ${sql.identifier(name)} where ${fk} = ${col(table, p.columns[0]!)} and ${ctx.scope.visible(m.child, a)}${filter})`;
}

/** A field of `p` on `t`, typed as formulas see it (numbers float8, ids text). */
function field(ctx: Ctx, p: ObjectPlan, t: DynTable, name: string): SQL {
  if (name === 'owner_id') return sql`${t[OWNER.key] as PgColumn}`;
  const c = p.columns.find((x) => x.name === name);
  if (c) {
    const v = col(t, c);
    if (c.type === 'number' || c.type === 'currency' || c.type === 'percent') return sql`(${v})::float8`;
    if (c.type === 'id' || c.type === 'lookup' || c.type === 'master_detail') return sql`(${v})::text`;
    return sql`${v}`;
  }
  const computed = p.computed.find((x) => x.name === name);
  if (!computed) throw new Error(`${p.object.name} has no field ${name}`);
  return modelSql(ctx, p, t, computed.computed!);
}

/** A field read through lookups: each hop a subquery over the related record the reader can read (NULL otherwise). */
function ref(ctx: Ctx, p: ObjectPlan, t: DynTable, r: FormulaRef, hop = 0): SQL {
  if (hop === r.hops.length) return field(ctx, p, t, r.field);
  const h = r.hops[hop]!;
  const fk = col(t, p.columns.find((c) => c.name === h.field)!);
  const target = p.relations.find((x) => x.field.name === h.field)!.target;
  const q = ctx.scope.plan.objects[target]!;
  const name = `_f${ctx.n.next++}`;
  const a = ctx.scope.alias(target, name);
  return sql`(select ${ref(ctx, q, a, r, hop + 1)} from ${sql.identifier(q.table)} as ${sql.identifier(name)} where ${col(a, q.columns[0]!)} = ${fk} and ${ctx.scope.visible(target, a)})`;
}

const literal = (v: string | number | boolean | null): SQL =>
  v === null ? sql`null` : typeof v === 'number' ? sql`${v}::float8` : typeof v === 'boolean' ? sql`${v}::boolean` : sql`${v}::text`;

function node(ctx: Ctx, p: ObjectPlan, t: DynTable, n: FormulaNode): SQL {
  const sub = (x: FormulaNode) => node(ctx, p, t, x);
  switch (n.k) {
    case 'ref': return ref(ctx, p, t, n);
    case 'lit': return literal(n.value);
    case 'op': {
      const [l, r] = n.args;
      if (n.op === '||') return sql`((${sub(l)})::text || (${sub(r)})::text)`;
      // Dates: date ± days, date - date (days).
      if (l.type === 'date' && r.type === 'date') return sql`((${sub(l)} - ${sub(r)}))::float8`;
      if (l.type === 'date') return sql`(${sub(l)} ${sql.raw(n.op)} (${sub(r)})::integer)`;
      return ARITH[n.op]!(sub(l), sub(r));
    }
    case 'cmp': return sql`(${sub(n.args[0])} ${sql.raw(COMPARE[n.op])} ${sub(n.args[1])})`;
    case 'logic': return sql`(${sql.join(n.args.map(sub), sql.raw(n.op === 'and' ? ' and ' : ' or '))})`;
    case 'not': return sql`(not ${sub(n.args[0])})`;
    case 'isNull': return sql`(${sub(n.args[0])} is null)`;
    case 'neg': return sql`(-${sub(n.args[0])})`;
    case 'in': return sql`(${sub(n.args[0]!)} in (${sql.join(n.args.slice(1).map(sub), sql`, `)}))`;
    case 'case': {
      const whens = n.whens.map(([w, v]) => sql` when ${sub(w)} then ${sub(v)}`);
      return sql`(case${sql.join(whens, sql``)}${n.otherwise ? sql` else ${sub(n.otherwise)}` : sql``} end)`;
    }
    case 'fn': return call(n, n.args.map(sub));
  }
}

function call(n: Extract<FormulaNode, { k: 'fn' }>, args: SQL[]): SQL {
  const list = sql.join(args, sql`, `);
  switch (n.fn) {
    case 'coalesce': case 'nullif': case 'greatest': case 'least': case 'abs': case 'floor': case 'ceil': case 'upper': case 'lower': case 'trim':
      return sql`${sql.raw(n.fn)}(${list})`;
    case 'round': {
      const digits = n.args[1]?.k === 'lit' ? Number(n.args[1].value) : 0;
      return sql`round((${args[0]})::numeric, ${sql.raw(String(Math.trunc(digits)))})::float8`;
    }
    case 'length': return sql`length(${args[0]})::float8`;
    case 'left': case 'right': return sql`${sql.raw(n.fn)}(${args[0]}, (${args[1]})::integer)`;
    case 'concat': return sql`concat(${sql.join(args.map((a) => sql`(${a})::text`), sql`, `)})`;
    case 'today': return sql`current_date`;
    case 'now': return sql`now()`;
    case 'year': case 'month': case 'day': return sql`extract(${sql.raw(n.fn)} from ${args[0]})::float8`;
    case 'if': return sql`(case when ${args[0]} then ${args[1]} else ${args[2]} end)`;
  }
}
