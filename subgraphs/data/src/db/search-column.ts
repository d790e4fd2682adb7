import { sql } from 'drizzle-orm';
import { SEARCH_COLUMN, searchColumns, searchVectorText, type ObjectPlan } from '@objectos/schema';
import { ident, queryRows, type SqlRunner } from '@objectos/db';

/**
 * Keeps an object's generated search column (`_search tsvector generated always as (…) stored`, GIN
 * indexed) in step with its searchable fields. The column is derived data: when the fields change it is
 * dropped and made again (PostgreSQL cannot alter a generated expression), never otherwise. The
 * expression it was made from is kept in `_objectos_meta`, so an unchanged one costs one read.
 */
export async function syncSearchColumn(db: SqlRunner, p: ObjectPlan, hasColumn: boolean): Promise<string[]> {
  const columns = searchColumns(p);
  const wanted = columns.length > 0 ? searchVectorText(columns, '') : null;
  const key = `search:${p.table}`;
  const [stored] = await queryRows<{ value: string }>(db, sql`select value #>> '{}' as value from "_objectos_meta" where key = ${key}`);
  if (hasColumn && stored?.value === wanted) return [];
  const t = ident(p.table);
  const statements: string[] = [];
  if (hasColumn) statements.push(`alter table ${t} drop column ${ident(SEARCH_COLUMN)}`);
  if (wanted) {
    statements.push(`alter table ${t} add column ${ident(SEARCH_COLUMN)} tsvector generated always as (${wanted}) stored`);
    statements.push(`create index if not exists ${ident(`${p.table}_search_idx`)} on ${t} using gin (${ident(SEARCH_COLUMN)})`);
  }
  for (const s of statements) await db.execute(sql.raw(s));
  if (wanted) await db.execute(sql`insert into "_objectos_meta" (key, value) values (${key}, ${JSON.stringify(wanted)}::jsonb) on conflict (key) do update set value = excluded.value`);
  else await db.execute(sql`delete from "_objectos_meta" where key = ${key}`);
  return statements;
}
