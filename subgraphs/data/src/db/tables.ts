import type { ColumnPlan, DataPlan, ObjectPlan } from '@objectos/schema';
import {
  boolean, date, doublePrecision, integer, jsonb, numeric, pgTable, text, time, timestamp, uuid,
  type PgColumnBuilderBase, type PgTableWithColumns, type PgColumn,
} from 'drizzle-orm/pg-core';

// Tables are built at run time from metadata, so their static column types are not known.
export type DynTable = PgTableWithColumns<{ name: string; schema: undefined; columns: Record<string, PgColumn>; dialect: 'pg' }>;

/** Column builder per field type: one row per type, keyed by GraphQL name so rows need no mapping. */
function columnBuilder(c: ColumnPlan): PgColumnBuilderBase {
  const f = c.field;
  switch (c.type) {
    case 'id':
      return uuid(c.column).primaryKey().defaultRandom();
    case 'lookup':
    case 'master_detail':
      return uuid(c.column);
    case 'text': case 'textarea': case 'email': case 'url': case 'phone': case 'select': case 'autonumber':
      return text(c.column);
    case 'multiselect':
      return text(c.column).array();
    case 'number': case 'currency': case 'percent': {
      const precision = f && 'precision' in f ? f.precision : undefined;
      const scale = f && 'scale' in f ? f.scale : undefined;
      if (precision === undefined && scale === undefined && c.type === 'number') return doublePrecision(c.column);
      return numeric(c.column, { precision: precision ?? 18, scale: scale ?? (c.type === 'number' ? 0 : 2), mode: 'number' });
    }
    case 'boolean':
      return boolean(c.column);
    case 'date':
      return date(c.column, { mode: 'string' });
    case 'datetime':
      return timestamp(c.column, { withTimezone: true, mode: 'date', precision: 3 });
    case 'time':
      return time(c.column);
    case 'json':
      return jsonb(c.column);
    case 'version':
      return integer(c.column);
  }
}

/**
 * Columns every object table has that are not fields: the tenant (organization) and the owner. They
 * come from the signed principal, never from input, and are not part of the GraphQL types. Their keys
 * cannot clash with a GraphQL field name (those never start with `__`).
 */
export const TENANT = { key: '__organizationId', column: 'organization_id' } as const;
export const OWNER = { key: '__ownerId', column: 'owner_id' } as const;

/**
 * The trash (objects with `enable.trash`): when and by whom a record was deleted, and the deletion it
 * went with (one id per delete: the records a delete cascaded to share it, and are restored with it).
 * A record is in the trash exactly when `deleted_at` is set.
 */
export const TRASH = {
  deletedAt: { key: '__deletedAt', column: 'deleted_at' },
  deletedBy: { key: '__deletedBy', column: 'deleted_by' },
  batch: { key: '__trashBatch', column: 'trash_batch' },
} as const;

export function buildTable(p: ObjectPlan): DynTable {
  const cols: Record<string, PgColumnBuilderBase> = {};
  for (const c of p.columns) cols[c.graphqlName] = columnBuilder(c);
  cols[TENANT.key] = text(TENANT.column);
  cols[OWNER.key] = text(OWNER.column);
  if (p.object.enable.trash) {
    cols[TRASH.deletedAt.key] = timestamp(TRASH.deletedAt.column, { withTimezone: true, mode: 'date', precision: 3 });
    cols[TRASH.deletedBy.key] = text(TRASH.deletedBy.column);
    cols[TRASH.batch.key] = uuid(TRASH.batch.column);
  }
  return pgTable(p.table, cols) as unknown as DynTable;
}

export const tenantColumn = (table: DynTable): PgColumn => table[TENANT.key] as PgColumn;

/** `deleted_at` of a table with a trash (an alias of one included), or undefined when the object has none. */
export const deletedAtColumn = (table: DynTable): PgColumn | undefined => table[TRASH.deletedAt.key] as PgColumn | undefined;

export function buildTables(plan: DataPlan): Record<string, DynTable> {
  return Object.fromEntries(Object.values(plan.objects).map((p) => [p.object.name, buildTable(p)]));
}

/** The drizzle column for a plan column. */
export function col(table: DynTable, c: ColumnPlan): PgColumn {
  const column = table[c.graphqlName];
  if (!column) throw new Error(`no column ${c.graphqlName}`);
  return column as PgColumn;
}
