import { sql } from 'drizzle-orm';
import type { PgColumn } from 'drizzle-orm/pg-core';
import { SEARCH_COLUMN, type ColumnPlan, type DataPlan, type ObjectPlan } from '@objectos/schema';
import { ident, literal, queryRows, type Db, type SqlRunner } from '@objectos/db';
import { syncSearchColumn } from './search-column.ts';
import { OWNER, TENANT, TRASH, type DynTable } from './tables.ts';

/** Refused migration: the metadata asks for a change that would lose or break data. Nothing was applied. */
export class MigrationError extends Error {
  readonly code = 'DESTRUCTIVE_CHANGE' as const;
  constructor(readonly problems: string[]) {
    super(`Refusing to change the database schema (nothing was applied):\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'MigrationError';
  }
}

export interface MigrationResult {
  /** False when the stored metadata hash already matched. */
  applied: boolean;
  statements: string[];
}

interface DbColumn { table: string; column: string; type: string; notnull: boolean }
const MIGRATION_LOCK = 7_734_011;
/**
 * Raised when the runtime's own system columns change (2: `version`, the trash), so a database an older
 * runtime migrated is migrated again although its metadata did not change.
 */
const SYSTEM_REVISION = 2;
/** What `_objectos_meta.schema_hash` holds once the database matches this metadata under this runtime. */
export const schemaStamp = (plan: DataPlan): string => `${plan.hash}:${SYSTEM_REVISION}`;
const norm = (t: string): string => t.replace(/\s+/g, '').replace(/^time$/, 'timewithouttimezone');

/**
 * Brings the database to the metadata: creates tables, adds columns, constraints and indexes, in one
 * transaction under an advisory lock (several replicas may start at once). Changes that would drop or
 * rewrite data are refused with a {@link MigrationError} naming each one.
 */
export async function migrate(db: Db, plan: DataPlan, tables: Record<string, DynTable>): Promise<MigrationResult> {
  return db.transaction(async (tx) => {
    const run = async (ddl: string) => {
      await tx.execute(sql.raw(ddl));
    };
    await tx.execute(sql`select pg_advisory_xact_lock(${MIGRATION_LOCK})`);
    await run('create table if not exists "_objectos_meta" (key text primary key, value jsonb not null)');
    const stored = await queryRows<{ value: unknown }>(tx, sql`select value from "_objectos_meta" where key = 'schema_hash'`);
    if (stored[0]?.value === schemaStamp(plan)) return { applied: false, statements: [] };

    const existing = await introspect(tx);
    const statements: string[] = [];
    const problems: string[] = [];
    const later: string[] = [];
    for (const p of Object.values(plan.objects)) {
      const table = tables[p.object.name]!;
      const cols = existing.filter((c) => c.table === p.table);
      if (cols.length === 0) statements.push(...createTable(p, table));
      else await alterTable(tx, p, table, cols, statements, problems);
      later.push(...constraintsAndIndexes(p));
    }
    if (problems.length > 0) throw new MigrationError(problems);
    for (const s of [...statements, ...later]) {
      try {
        await run(s);
      } catch (e) {
        throw new MigrationError([`${s}: ${(e as Error).message}`]);
      }
    }
    // Search columns last: their expression reads columns the statements above may have added.
    const search: string[] = [];
    for (const p of Object.values(plan.objects))
      search.push(...(await syncSearchColumn(tx, p, existing.some((c) => c.table === p.table && c.column === SEARCH_COLUMN))));
    await tx.execute(sql`insert into "_objectos_meta" (key, value) values ('schema_hash', ${JSON.stringify(schemaStamp(plan))}::jsonb)
      on conflict (key) do update set value = excluded.value`);
    return { applied: true, statements: [...statements, ...later, ...search] };
  });
}

async function introspect(db: SqlRunner): Promise<DbColumn[]> {
  return queryRows<DbColumn>(db, sql`
    select c.relname as "table", a.attname as "column", format_type(a.atttypid, a.atttypmod) as "type", a.attnotnull as "notnull"
    from pg_attribute a join pg_class c on a.attrelid = c.oid join pg_namespace n on c.relnamespace = n.oid
    where n.nspname = current_schema() and c.relkind = 'r' and a.attnum > 0 and not a.attisdropped`);
}

function sqlType(table: DynTable, c: ColumnPlan): string {
  return (table[c.graphqlName] as PgColumn).getSQLType();
}

function columnDefault(p: ObjectPlan, c: ColumnPlan): string | null {
  if (c.type === 'id') return 'gen_random_uuid()';
  // Existing rows get version 1 when the column is added.
  if (c.type === 'version') return '1';
  if (c.field === null) return 'now()';
  const f = c.field;
  if (f.type === 'autonumber') {
    const digits = /\{(0+)\}/.exec(f.autonumberFormat)![1]!.length;
    const [before, after] = f.autonumberFormat.split(/\{0+\}/) as [string, string];
    return `(${literal(before)} || lpad(nextval(${literal(sequenceName(p, c))})::text, ${digits}, '0') || ${literal(after)})`;
  }
  if (!('defaultValue' in f) || f.defaultValue === undefined) return null;
  if (f.type === 'datetime' && f.defaultValue === 'now') return 'now()';
  return literal(f.defaultValue);
}

const sequenceName = (p: ObjectPlan, c: ColumnPlan): string => `${p.table}_${c.column}_seq`;
const notNull = (c: ColumnPlan): boolean => c.field === null || c.field.required || c.type === 'autonumber';

function columnDdl(p: ObjectPlan, table: DynTable, c: ColumnPlan): string {
  const def = columnDefault(p, c);
  return `${ident(c.column)} ${sqlType(table, c)}${c.type === 'id' ? ' primary key' : ''}${def ? ` default ${def}` : ''}${notNull(c) ? ' not null' : ''}`;
}

function createTable(p: ObjectPlan, table: DynTable): string[] {
  const seqs = p.columns.filter((c) => c.type === 'autonumber').map((c) => `create sequence if not exists ${ident(sequenceName(p, c))}`);
  const system = [`${ident(TENANT.column)} text not null`, `${ident(OWNER.column)} text`, ...(p.object.enable.trash ? TRASH_DDL : [])];
  return [...seqs, `create table ${ident(p.table)} (\n  ${[...p.columns.map((c) => columnDdl(p, table, c)), ...system].join(',\n  ')}\n)`];
}

async function alterTable(db: SqlRunner, p: ObjectPlan, table: DynTable, cols: DbColumn[], out: string[], problems: string[]): Promise<void> {
  const t = ident(p.table);
  const count = async (where = ''): Promise<number> => (await queryRows<{ n: number }>(db, sql.raw(`select count(*)::int as n from ${t}${where}`)))[0]!.n;
  const rows = await count();
  for (const c of p.columns) {
    const current = cols.find((x) => x.column === c.column);
    const wanted = sqlType(table, c);
    const def = columnDefault(p, c);
    if (!current) {
      if (notNull(c) && def === null && rows > 0) {
        problems.push(`${p.object.name}.${c.name}: cannot add a required field without defaultValue to "${p.table}", which has ${rows} rows; give it a defaultValue or make it optional first`);
        continue;
      }
      if (c.type === 'autonumber') out.push(`create sequence if not exists ${ident(sequenceName(p, c))}`);
      out.push(`alter table ${t} add column ${columnDdl(p, table, c)}`);
      continue;
    }
    if (norm(current.type) !== norm(wanted)) {
      if (isNumericWidening(current.type, wanted)) out.push(`alter table ${t} alter column ${ident(c.column)} type ${wanted}`);
      else problems.push(`${p.object.name}.${c.name}: column "${p.table}.${c.column}" is ${current.type} but the metadata now needs ${wanted}; changing it could lose data, so migrate it by hand`);
      continue;
    }
    if (c.field === null) continue;
    out.push(`alter table ${t} alter column ${ident(c.column)} ${def ? `set default ${def}` : 'drop default'}`);
    if (notNull(c) && !current.notnull) {
      const nulls = await count(` where ${ident(c.column)} is null`);
      if (nulls > 0) problems.push(`${p.object.name}.${c.name}: cannot make the field required while ${nulls} rows have no value`);
      else out.push(`alter table ${t} alter column ${ident(c.column)} set not null`);
    } else if (!notNull(c) && current.notnull) out.push(`alter table ${t} alter column ${ident(c.column)} drop not null`);
  }
  // Tables from before tenancy: rows without an organization are visible to no one.
  if (!cols.some((x) => x.column === TENANT.column)) out.push(`alter table ${t} add column ${ident(TENANT.column)} text${rows > 0 ? '' : ' not null'}`);
  if (!cols.some((x) => x.column === OWNER.column)) out.push(`alter table ${t} add column ${ident(OWNER.column)} text`);
  const hasTrash = cols.some((x) => x.column === TRASH.deletedAt.column);
  if (p.object.enable.trash && !hasTrash) for (const ddl of TRASH_DDL) out.push(`alter table ${t} add column ${ddl}`);
  // Without a trash, its records would be back in every list: they are restored or purged first.
  if (!p.object.enable.trash && hasTrash) {
    const trashed = await count(` where ${ident(TRASH.deletedAt.column)} is not null`);
    if (trashed > 0) problems.push(`${p.object.name}: cannot turn enable.trash off while ${trashed} records are in its trash; restore or purge them first`);
  }
  for (const extra of cols) {
    // The trash columns stay when a trash is turned off (empty, they change nothing).
    if (extra.column === TENANT.column || extra.column === OWNER.column || extra.column === SEARCH_COLUMN || TRASH_COLUMNS.has(extra.column)) continue;
    if (!p.columns.some((c) => c.column === extra.column))
      problems.push(`${p.object.name}: column "${p.table}.${extra.column}" is no longer in the metadata; dropping it would lose data. Restore the field, or drop the column by hand (alter table ${t} drop column ${ident(extra.column)})`);
  }
}

const TRASH_DDL = [`${ident(TRASH.deletedAt.column)} timestamp(3) with time zone`, `${ident(TRASH.deletedBy.column)} text`, `${ident(TRASH.batch.column)} uuid`];
const TRASH_COLUMNS = new Set<string>(Object.values(TRASH).map((x) => x.column));

function isNumericWidening(from: string, to: string): boolean {
  const a = /^numeric\((\d+),\s*(\d+)\)$/.exec(from);
  const b = /^numeric\((\d+),\s*(\d+)\)$/.exec(to);
  if (!a || !b) return false;
  const [pa, sa, pb, sb] = [a[1], a[2], b[1], b[2]].map(Number) as [number, number, number, number];
  return sb >= sa && pb - sb >= pa - sa;
}

const ON_DELETE = { set_null: 'set null', cascade: 'cascade', restrict: 'restrict' } as const;

/** Foreign keys, their indexes, unique and metadata indexes: all idempotent. */
function constraintsAndIndexes(p: ObjectPlan): string[] {
  const t = ident(p.table);
  const out: string[] = [`create index if not exists ${ident(`${p.table}_tenant_idx`)} on ${t} (${ident(TENANT.column)})`];
  // Uniqueness holds within a tenant: another organization's values are neither blocked nor revealed.
  const scoped = (columns: string[]) => [TENANT.column, ...columns].map(ident).join(', ');
  for (const r of p.relations) {
    const name = fkName(p.table, r.column);
    const onDelete = ON_DELETE[(r.field as { deleteBehavior?: keyof typeof ON_DELETE }).deleteBehavior ?? 'set_null'];
    out.push(`alter table ${t} drop constraint if exists ${ident(name)}`);
    out.push(`alter table ${t} add constraint ${ident(name)} foreign key (${ident(r.column)}) references ${ident(r.target)}(id) on delete ${onDelete}`);
    out.push(`create index if not exists ${ident(`${p.table}_${r.column}_fk_idx`)} on ${t} (${ident(r.column)})`);
  }
  for (const c of p.columns) {
    // An externalId identifies a record from another system (upserts match on it): unique like `unique`.
    if (c.field?.unique || c.field?.externalId) out.push(`create unique index if not exists ${ident(uniqueName(p.table, [c.column]))} on ${t} (${scoped([c.column])})`);
    else if (c.field?.index && c.type !== 'lookup' && c.type !== 'master_detail')
      out.push(`create index if not exists ${ident(`${p.table}_${c.column}_idx`)} on ${t} using ${c.type === 'multiselect' || c.type === 'json' ? 'gin' : 'btree'} (${ident(c.column)})`);
  }
  for (const v of p.object.validations) {
    if (v.type !== 'unique' || !v.active) continue;
    const columns = v.fields.map((f) => p.columns.find((c) => c.name === f)!.column);
    out.push(`create unique index if not exists ${ident(`${p.table}_${v.name}_uq`)} on ${t} (${scoped(columns)})`);
  }
  for (const ix of p.object.indexes) {
    const columns = ix.fields.map((f) => p.columns.find((c) => c.name === f)!.column);
    out.push(`create ${ix.unique ? 'unique ' : ''}index if not exists ${ident(`${p.table}_${ix.name}_idx`)} on ${t} using ${ix.type} (${ix.unique ? scoped(columns) : columns.map(ident).join(', ')})`);
  }
  return out;
}

export const fkName = (table: string, column: string): string => `${table}_${column}_fkey`;
export const uniqueName = (table: string, columns: string[]): string => `${table}_${columns.join('_')}_tenant_key`;

