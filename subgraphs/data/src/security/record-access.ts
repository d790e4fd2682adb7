import { and, inArray } from 'drizzle-orm';
import type { Db } from '@objectos/db';
import type { Principal } from '@objectos/principal';
import { accessFor, type CompiledSchema } from '@objectos/schema';
import { objectOf, type DataSource } from '../data-source.ts';
import { buildTables, col } from '../db/tables.ts';
import { isUuid } from '../sql/where.ts';

/** Which of these records of `object` the principal can read (tenant wall, object, record security). */
export type ReadableIds = (principal: Principal, object: string, ids: readonly string[]) => Promise<Set<string>>;

/**
 * The data subgraph's record access for another subgraph on the same database (the audit subgraph's
 * field history): one statement with the same predicate every data read path uses, so a record the
 * principal cannot read through `accounts` has no history either.
 */
export function createRecordAccess(db: Db, compiled: CompiledSchema): ReadableIds {
  const tables = buildTables(compiled.plan);
  return async (principal, object, ids) => {
    const p = compiled.plan.objects[object];
    const wanted = ids.filter(isUuid);
    if (!p || wanted.length === 0 || principal.organizationId === null) return new Set();
    const access = accessFor(compiled.plan, compiled.security, principal);
    if (!access.objects[object]?.read) return new Set();
    const ds: DataSource = {
      db, plan: compiled.plan, tables, maxPageSize: 1, defaultPageSize: 1, maxBulk: 1, tenant: principal.organizationId, actor: principal.userId,
      sc: { plan: compiled.plan, security: compiled.security, access, tables }, changes: null,
    };
    const { table, visible } = objectOf(ds, object, 'read');
    const idCol = col(table, p.columns[0]!);
    const rows = await db.select({ id: idCol }).from(table).where(and(visible, inArray(idCol, wanted)));
    return new Set(rows.map((r) => String(r.id)));
  };
}
