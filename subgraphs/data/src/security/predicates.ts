import { and, eq, or, sql, type SQL } from 'drizzle-orm';
import { alias, type PgColumn } from 'drizzle-orm/pg-core';
import type { Condition, Operand } from '@objectos/metadata';
import { recordGrants, rlsFor, type Access, type AccessLevel, type Grant, type RlsOperation, type SecurityPlan } from '@objectos/schema';
import type { DataPlan } from '@objectos/schema';
import { col, OWNER, TENANT, type DynTable } from '../db/tables.ts';

const TRUE = sql`true`;
const FALSE = sql`false`;

/** What predicates are built from: the plans, the request's access and the tables. */
export interface SecurityContext {
  plan: DataPlan;
  security: SecurityPlan;
  access: Access;
  tables: Record<string, DynTable>;
}

export type Operation = 'read' | 'edit' | 'delete';
const RLS_OP: Record<Operation, RlsOperation> = { read: 'select', edit: 'update', delete: 'delete' };

const ownerCol = (t: DynTable): PgColumn => t[OWNER.key] as PgColumn;
const tenantCol = (t: DynTable): PgColumn => t[TENANT.key] as PgColumn;

function column(sc: SecurityContext, object: string, t: DynTable, name: string): SQL {
  if (name === 'owner_id') return sql`${ownerCol(t)}`;
  const c = sc.plan.objects[object]!.columns.find((x) => x.name === name);
  if (!c) throw new Error(`${object} has no column ${name}`);
  // ids are uuid columns; users are text ids: compare as text so any literal is valid SQL.
  return c.type === 'id' || c.type === 'lookup' || c.type === 'master_detail' ? sql`${col(t, c)}::text` : sql`${col(t, c)}`;
}

function operand(sc: SecurityContext, object: string, t: DynTable, o: Operand): SQL {
  if (o.kind === 'field') return column(sc, object, t, o.name);
  if (o.kind === 'value') return o.value === null ? sql`null` : sql`${o.value}`;
  const v = o.name === 'id' ? sc.access.userId : o.name === 'organization_id' ? sc.access.organizationId : sc.access.role;
  return v === null ? sql`null::text` : sql`${v}::text`;
}

/** A metadata condition as SQL over `t` (SQL's three-valued logic: NULL never passes). */
export function conditionSql(sc: SecurityContext, object: string, t: DynTable, c: Condition): SQL {
  const op = (o: Operand) => operand(sc, object, t, o);
  switch (c.op) {
    case 'and': return and(...c.args.map((x) => conditionSql(sc, object, t, x)))!;
    case 'or': return or(...c.args.map((x) => conditionSql(sc, object, t, x)))!;
    case 'not': return sql`not (${conditionSql(sc, object, t, c.arg)})`;
    case 'const': return c.value ? TRUE : FALSE;
    case 'isNull': return sql`(${op(c.arg)} is null)`;
    case 'in': return c.values.length === 0 ? FALSE : sql`(${op(c.left)} in (${sql.join(c.values.map(op), sql`, `)}))`;
    default: {
      const sym = { eq: '=', ne: '<>', gt: '>', gte: '>=', lt: '<', lte: '<=' }[c.op];
      return sql`(${op(c.left)} ${sql.raw(sym)} ${op(c.right)})`;
    }
  }
}

function ownersWhere(sc: SecurityContext, t: DynTable, filter: SQL): SQL {
  return sql`${ownerCol(t)} in (select m.user_id from security.member_access m where m.organization_id = ${sc.access.organizationId} and ${filter})`;
}

const textArray = (values: readonly string[]): SQL => sql`${sql.param([...values])}::text[]`;

/** Manual shares of this record that reach the member, at the level asked for. */
function manualShareSql(sc: SecurityContext, object: string, t: DynTable, level: AccessLevel): SQL {
  const a = sc.access;
  const idCol = col(t, sc.plan.objects[object]!.columns[0]!);
  const reach: SQL[] = [sql`(s.shared_with_type = 'user' and s.shared_with = ${a.userId ?? ''})`];
  if (a.role) {
    reach.push(sql`(s.shared_with_type = 'role' and s.shared_with = ${a.role})`);
    reach.push(sql`(s.shared_with_type = 'role_and_subordinates' and s.shared_with = any(${textArray([a.role, ...sc.security.roles[a.role]!.ancestors])}))`);
  }
  if (a.groups.length > 0) reach.push(sql`(s.shared_with_type = 'group' and s.shared_with = any(${textArray(a.groups)}))`);
  return sql`exists (select 1 from security.record_share s where s.organization_id = ${a.organizationId} and s.object = ${object}
    and s.record_id = ${idCol}${level === 'edit' ? sql` and s.access_level = 'edit'` : sql``} and (${or(...reach)}))`;
}

/**
 * A parent record already known to be readable: `t` is reached through its `column` from a row of
 * `object` that passed the read predicate in the same statement (children listed under their parent).
 */
export interface VisibleParent { object: string; column: string }

/** One grant as SQL over `t`. */
export function grantSql(sc: SecurityContext, object: string, t: DynTable, g: Grant, depth: number, parent?: VisibleParent): SQL {
  switch (g.kind) {
    case 'all': return TRUE;
    case 'owner': return sc.access.userId === null ? FALSE : eq(ownerCol(t), sc.access.userId);
    case 'ownerInRoles': return ownersWhere(sc, t, sql`m.role = any(${textArray(g.roles)})`);
    case 'ownedBy':
      if (g.ownedBy.type === 'user') return eq(ownerCol(t), g.ownedBy.value);
      if (g.ownedBy.type === 'group') return ownersWhere(sc, t, sql`${g.ownedBy.value} = any(m.groups)`);
      return ownersWhere(sc, t, sql`m.role = any(${textArray(g.roles)})`);
    case 'criteria': return conditionSql(sc, object, t, g.condition);
    case 'manualShare': return manualShareSql(sc, object, t, g.level);
    case 'parent': {
      // Controlled by a parent the statement already holds as readable: nothing left to check.
      if (parent && g.level === 'read' && g.object === parent.object && g.column === parent.column) return TRUE;
      const name = `_sec_parent_${depth}`;
      const p = alias(sc.tables[g.object]!, name) as unknown as DynTable;
      const pid = col(p, sc.plan.objects[g.object]!.columns[0]!);
      const fk = col(t, sc.plan.objects[object]!.columns.find((c) => c.column === g.column)!);
      return sql`exists (select 1 from ${sql.identifier(sc.plan.objects[g.object]!.table)} as ${sql.identifier(name)}
        where ${pid} = ${fk} and ${recordSql(sc, g.object, p, g.level, depth + 1)})`;
    }
  }
}

/** RLS of an operation over `t`: null when the object has no policy for it. */
export function rlsSql(sc: SecurityContext, object: string, t: DynTable, op: RlsOperation, clause: 'using' | 'check'): SQL | null {
  const policies = rlsFor(sc.security, sc.access, object, op);
  if (policies === null) return null;
  if (policies.length === 0) return FALSE;
  return or(...policies.map((p) => conditionSql(sc, object, t, p[clause])))!;
}

/**
 * The rows of `object` (as `t`) this member may read, edit or delete: the tenant wall, then object
 * permission and record access (OWD, owner, hierarchy, sharing rules, manual shares, parent), AND the
 * RLS policies of the operation. Everything a read path selects goes through this.
 */
export function recordSql(sc: SecurityContext, object: string, t: DynTable, op: Operation, depth = 0, parent?: VisibleParent): SQL {
  if (sc.access.organizationId === null) return FALSE;
  const a = sc.access.objects[object];
  if (!a || (op === 'delete' && !a.delete)) return FALSE;
  const grants = recordGrants(sc.security, sc.access, object, op === 'read' ? 'read' : 'edit');
  if (grants.length === 0) return FALSE;
  const open = (g: Grant) => g.kind === 'all' || (op === 'read' && g.kind === 'parent' && grantSql(sc, object, t, g, depth, parent) === TRUE);
  const access = grants.some(open) ? TRUE : or(...grants.map((g) => grantSql(sc, object, t, g, depth, parent)))!;
  // An edit or delete must also see the row: select policies apply to them too (as in PostgreSQL).
  const rls = [rlsSql(sc, object, t, 'select', 'using'), op === 'read' ? null : rlsSql(sc, object, t, RLS_OP[op], 'using')];
  return and(eq(tenantCol(t), sc.access.organizationId), access, ...rls.filter((x): x is SQL => x !== null))!;
}
