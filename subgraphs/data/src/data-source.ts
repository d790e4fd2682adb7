import type { DataPlan, ObjectPlan } from '@objectos/schema';
import type { Db } from '@objectos/db';
import { eq, sql, type SQL } from 'drizzle-orm';
import { tenantColumn, type DynTable } from './db/tables.ts';

/** What resolvers need to reach the data: the connection, the plan and the tables built from it. */
export interface DataSource {
  db: Db;
  plan: DataPlan;
  tables: Record<string, DynTable>;
  /** Largest page a client may ask for. */
  maxPageSize: number;
  defaultPageSize: number;
  /** The organization of the request's principal: every statement is confined to it. Null = no access. */
  tenant: string | null;
  /** The user acting (owner of what they create). */
  actor: string | null;
}

export type Row = Record<string, unknown> & { id: string };

export function objectOf(ds: DataSource, name: string): { p: ObjectPlan; table: DynTable; tenant: SQL } {
  const p = ds.plan.objects[name];
  const table = ds.tables[name];
  if (!p || !table) throw new Error(`unknown object ${name}`);
  // Fails closed: without a tenant no row matches.
  const tenant = ds.tenant === null ? sql`false` : eq(tenantColumn(table), ds.tenant);
  return { p, table, tenant };
}
