import { sql } from 'drizzle-orm';
import { bigint, boolean, integer, jsonb, pgSchema, text, timestamp, type PgColumnBuilderBase } from 'drizzle-orm/pg-core';
import type { BetterAuthOptions } from 'better-auth';
import { getSchema } from 'better-auth/db';
import { ident, queryRows, type Db } from '@objectos/db';

/** better-auth's tables live in their own PostgreSQL schema, apart from metadata objects (an object may be called `account`). */
export const AUTH_SCHEMA = 'auth';
const authSchema = pgSchema(AUTH_SCHEMA);

interface FieldAttr {
  type: string | string[];
  required?: boolean;
  unique?: boolean;
  index?: boolean;
  bigint?: boolean;
  fieldName?: string;
  references?: { model: string; field: string; onDelete?: string };
}

const snake = (s: string): string => s.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`).replace(/^_/, '');

interface ColumnSpec { key: string; column: string; ddl: string; builder: PgColumnBuilderBase }

function column(key: string, f: FieldAttr, tables: Record<string, { fields: Record<string, FieldAttr> }>): ColumnSpec {
  const name = snake(f.fieldName ?? key);
  const t = Array.isArray(f.type) ? 'string' : f.type;
  const [builder, type]: [PgColumnBuilderBase, string] =
    t === 'boolean' ? [boolean(name), 'boolean']
    : t === 'number' ? (f.bigint ? [bigint(name, { mode: 'number' }), 'bigint'] : [integer(name), 'integer'])
    : t === 'date' ? [timestamp(name, { withTimezone: true }), 'timestamptz']
    : t === 'json' ? [jsonb(name), 'jsonb']
    : t === 'string[]' ? [text(name).array(), 'text[]']
    : t === 'number[]' ? [integer(name).array(), 'integer[]']
    : [text(name), 'text'];
  let ddl = `${ident(name)} ${type}`;
  if (f.required) ddl += ' not null';
  if (f.unique) ddl += ' unique';
  if (f.references && tables[f.references.model]) {
    const onDelete = f.references.onDelete ?? 'cascade';
    ddl += ` references ${ident(AUTH_SCHEMA)}.${ident(snake(f.references.model))}(${ident(snake(f.references.field))}) on delete ${onDelete.replace(/[^a-z ]/gi, '')}`;
  }
  return { key: f.fieldName ?? key, column: name, ddl, builder };
}

export interface AuthTables {
  /** Drizzle tables keyed by better-auth model name: what its drizzle adapter is given. */
  schema: Record<string, ReturnType<typeof authSchema.table>>;
  /** Idempotent, additive DDL: create missing tables, add missing columns and indexes. */
  migrate(db: Db): Promise<string[]>;
}

const AUTH_MIGRATION_LOCK = 7_734_012;

/**
 * Builds better-auth's tables from its own field definitions (core + every plugin in `options`), so a
 * better-auth upgrade that adds a field gets its column on the next start, with no generated file to
 * keep in sync.
 */
export function buildAuthTables(options: BetterAuthOptions): AuthTables {
  const defs = getSchema(options) as unknown as Record<string, { fields: Record<string, FieldAttr> }>;
  const specs = Object.entries(defs).map(([model, def]) => ({
    model,
    table: snake(model),
    columns: Object.entries(def.fields).map(([key, f]) => column(key, f, defs)),
    indexes: Object.entries(def.fields)
      .filter(([, f]) => (f.index || f.references) && !f.unique)
      .map(([key, f]) => snake(f.fieldName ?? key)),
  }));
  const schema: AuthTables['schema'] = {};
  for (const s of specs) {
    const cols: Record<string, PgColumnBuilderBase> = { id: text('id').primaryKey() };
    for (const c of s.columns) cols[c.key] = c.builder;
    schema[s.model] = authSchema.table(s.table, cols);
  }
  return {
    schema,
    async migrate(db) {
      return db.transaction(async (tx) => {
        await tx.execute(sql`select pg_advisory_xact_lock(${AUTH_MIGRATION_LOCK})`);
        const applied: string[] = [];
        const run = async (ddl: string) => {
          await tx.execute(sql.raw(ddl));
          applied.push(ddl);
        };
        await tx.execute(sql.raw(`create schema if not exists ${ident(AUTH_SCHEMA)}`));
        const existing = await queryRows<{ t: string; c: string }>(
          tx,
          sql`select table_name as t, column_name as c from information_schema.columns where table_schema = ${AUTH_SCHEMA}`,
        );
        const has = new Set(existing.map((r) => `${r.t}.${r.c}`));
        const tables = new Set(existing.map((r) => r.t));
        // Referenced tables first (user before session), so foreign keys resolve.
        const ordered = [...specs].sort((a, b) => refDepth(a.model, defs) - refDepth(b.model, defs));
        for (const s of ordered) {
          const q = `${ident(AUTH_SCHEMA)}.${ident(s.table)}`;
          if (!tables.has(s.table)) {
            await run(`create table ${q} (${['"id" text primary key', ...s.columns.map((c) => c.ddl)].join(', ')})`);
          } else {
            // A column added by an upgrade starts nullable: existing rows have no value for it.
            for (const c of s.columns)
              if (!has.has(`${s.table}.${c.column}`)) await run(`alter table ${q} add column ${c.ddl.replace(' not null', '')}`);
          }
          for (const col of s.indexes) await run(`create index if not exists ${ident(`${s.table}_${col}_idx`)} on ${q} (${ident(col)})`);
        }
        return applied;
      });
    },
  };
}

function refDepth(model: string, defs: Record<string, { fields: Record<string, FieldAttr> }>, seen = new Set<string>()): number {
  if (seen.has(model)) return 0;
  seen.add(model);
  const refs = Object.values(defs[model]?.fields ?? {}).flatMap((f) => (f.references && f.references.model !== model ? [f.references.model] : []));
  return refs.length === 0 ? 0 : 1 + Math.max(...refs.map((r) => refDepth(r, defs, seen)));
}
