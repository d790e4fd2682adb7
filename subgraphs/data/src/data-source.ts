import type { DataPlan, ObjectPlan } from '@objectos/schema';
import type { Db } from '@objectos/db';
import type { DynTable } from './db/tables.ts';

/** What resolvers need to reach the data: the connection, the plan and the tables built from it. */
export interface DataSource {
  db: Db;
  plan: DataPlan;
  tables: Record<string, DynTable>;
  /** Largest page a client may ask for. */
  maxPageSize: number;
  defaultPageSize: number;
}

export type Row = Record<string, unknown> & { id: string };

export function objectOf(ds: DataSource, name: string): { p: ObjectPlan; table: DynTable } {
  const p = ds.plan.objects[name];
  const table = ds.tables[name];
  if (!p || !table) throw new Error(`unknown object ${name}`);
  return { p, table };
}
