import type { DataPlan, ObjectPlan } from '@objectos/schema';
import type { Db } from '@objectos/db';
import { and, eq, isNotNull, isNull, sql, type SQL } from 'drizzle-orm';
import { deletedAtColumn, tenantColumn, type DynTable } from './db/tables.ts';
import type { ChangeContext } from './events/outbox.ts';
import type { StateGuards, TransitionGrant } from './workflow/state-guard.ts';
import { recordSql, type Operation, type SecurityContext, type VisibleParent } from './security/predicates.ts';

/** What resolvers need to reach the data: the connection, the plan and the tables built from it. */
export interface DataSource {
  db: Db;
  plan: DataPlan;
  tables: Record<string, DynTable>;
  /** Largest page a client may ask for. */
  maxPageSize: number;
  defaultPageSize: number;
  /** Most records one bulk write (create many, update or delete by filter) may touch (OBJECTOS_BULK_MAX). */
  maxBulk: number;
  /** `db` is a transaction the request's writes share (a bulk, nested or atomic write): its commit publishes the changes. */
  inTransaction?: boolean;
  /** The request's own DataSource, when this one is its copy bound to a transaction. */
  root?: DataSource;
  /** The organization of the request's principal: every statement is confined to it. Null = no access. */
  tenant: string | null;
  /** The user acting (owner of what they create). */
  actor: string | null;
  /** The request's access (object, field and record security). Null only for the runtime's own work (seeding): tenant wall only. */
  sc: SecurityContext | null;
  /** Told after a write commits, so its change event is published at once (the outbox relay). */
  changes: { notify(): void } | null;
  /** Who acts and through which request, stored beside each change for the audit trail. */
  context?: ChangeContext | null;
  /** The request is a keyed effect of a job (the automation worker's): its write happens once per key. */
  effect?: WriteEffect | null;
  /** The state fields state machines govern, per object (absent: none). */
  stateGuards?: StateGuards;
  /** Objects with a locking approval process: their pending records are checked on every update and delete. */
  approvalObjects?: ReadonlySet<string>;
  /** The transition the workflow subgraph signed for this request's one write. */
  transition?: TransitionGrant | null;
  /**
   * The table (by identity: not an alias of it) whose trash this source reads: its rows are those in the
   * trash that the request could delete. Every other table, and this one elsewhere, shows no trashed row.
   */
  trashed?: DynTable | null;
}

/**
 * What an internal caller (signed as a system principal) asks of its one write: `key` is claimed in the
 * write's transaction, so a repeated job changes nothing and a repeated create answers with the record
 * the first one made; `automation` is stored with the change (rules see the chain's depth).
 */
export interface WriteEffect {
  key: string;
  automation: NonNullable<ChangeContext['automation']> | null;
}

export type Row = Record<string, unknown> & { id: string };

/**
 * An object's plan and table, and the rows the request may touch for `op`: the tenant wall and the
 * record security (see recordSql). Every read and write path filters with `visible`.
 */
export function objectOf(ds: DataSource, name: string, op: Operation = 'read'): { p: ObjectPlan; table: DynTable; visible: SQL } {
  const p = ds.plan.objects[name];
  const table = ds.tables[name];
  if (!p || !table) throw new Error(`unknown object ${name}`);
  return { p, table, visible: visibleRows(ds, name, table, op) };
}

/**
 * The rows of `name` (as `table`, which may be an alias) the request may touch for `op`: the tenant
 * wall, then record security, and never a record in the trash (every read and write path, lookups,
 * children, counts, compiled statements and subscription checks included). Fails closed: without a
 * tenant no row matches. `parent`: the rows are reached from a parent row the same statement already
 * holds as readable (see recordSql). When `table` is `ds.trashed`: its trashed rows the request may delete.
 */
export function visibleRows(ds: DataSource, name: string, table: DynTable, op: Operation = 'read', parent?: VisibleParent): SQL {
  if (ds.tenant === null) return sql`false`;
  const trash = ds.trashed === table;
  const access = accessRows(ds, name, table, trash ? 'delete' : op, parent);
  const deletedAt = deletedAtColumn(table);
  if (!deletedAt) return trash ? sql`false` : access;
  return and(access, trash ? isNotNull(deletedAt) : isNull(deletedAt))!;
}

/** The tenant wall and record security of visibleRows, trash or not (lookups tell a record in the trash from a hidden one). */
export function accessRows(ds: DataSource, name: string, table: DynTable, op: Operation = 'read', parent?: VisibleParent): SQL {
  if (ds.tenant === null) return sql`false`;
  return ds.sc ? recordSql(ds.sc, name, table, op, 0, parent) : eq(tenantColumn(table), ds.tenant);
}
