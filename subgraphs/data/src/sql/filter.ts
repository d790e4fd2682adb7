import type { SQL } from 'drizzle-orm';
import { alias } from 'drizzle-orm/pg-core';
import type { ObjectPlan } from '@objectos/schema';
import { visibleRows, type DataSource } from '../data-source.ts';
import type { DynTable } from '../db/tables.ts';
import { columnReadable } from '../security/fields.ts';
import { buildWhere, type WhereInput, type WhereScope } from './where.ts';

/** The request's view of related objects, for filters through relationships (see WhereScope). */
export function whereScope(ds: DataSource): WhereScope {
  return {
    plan: ds.plan,
    alias: (object, name) => alias(ds.tables[object]!, name) as unknown as DynTable,
    visible: (object, t) => visibleRows(ds, object, t),
    objectReadable: (object) => !ds.sc || ds.sc.access.objects[object]?.read === true,
    readable: (object, c) => columnReadable(ds, ds.plan.objects[object]!, c),
  };
}

/** A `where` of `p` (as `table`) under the request's field and record security, relationships included. */
export function filterSql(ds: DataSource, p: ObjectPlan, table: DynTable, where: WhereInput | null | undefined, path = 'where'): SQL | undefined {
  return buildWhere(p, table, where, path, (c) => columnReadable(ds, p, c), whereScope(ds));
}
