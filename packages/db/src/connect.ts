import { mkdirSync, openSync, closeSync, readFileSync, writeFileSync, unlinkSync } from 'node:fs';
import { join } from 'node:path';
import { PGlite } from '@electric-sql/pglite';
import type { PgDatabase, PgQueryResultHKT } from 'drizzle-orm/pg-core';
import { drizzle as drizzlePglite } from 'drizzle-orm/pglite';
import { drizzle as drizzlePg } from 'drizzle-orm/node-postgres';
import type { Logger } from 'drizzle-orm/logger';
import type { SQL } from 'drizzle-orm';
import pg from 'pg';
import { instrumentPglite, instrumentPool, timedStatement, watchPool } from './instrument.ts';

export type Db = PgDatabase<PgQueryResultHKT>;

export interface DatabaseOptions {
  /** PostgreSQL connection string; when absent the embedded engine (PGlite) is used. */
  databaseUrl?: string;
  /** PGlite data folder; `memory://` (the default) keeps nothing. */
  dataDir?: string;
  /** Pool size for PostgreSQL. @default 10 */
  poolSize?: number;
  /** PostgreSQL statement_timeout, in ms (PGlite runs in process and has none). @default 5000 */
  statementTimeoutMs?: number;
  /** Called with every SQL statement sent (used by tests to count statements). */
  onQuery?: (sql: string, params: unknown[]) => void;
}

export interface Database {
  db: Db;
  engine: 'pglite' | 'postgres';
  /** The embedded engine itself, for libraries that need its client (pg-boss); absent on PostgreSQL. */
  pglite?: PGlite;
  /**
   * Runs one statement given as text and parameters, past drizzle (no query building, no row
   * mapping). On PostgreSQL a `name` makes it a prepared statement, parsed and planned once per
   * connection. Logged to `onQuery` like every other statement.
   */
  run<T>(text: string, params: unknown[], name?: string): Promise<T[]>;
  close(): Promise<void>;
}

/** The only module that opens connections. */
export async function connectDatabase(options: DatabaseOptions = {}): Promise<Database> {
  const logger: Logger | undefined = options.onQuery ? { logQuery: (q, p) => options.onQuery!(q, p) } : undefined;
  if (options.databaseUrl) {
    // JIT off: ObjectOS runs short statements, and PostgreSQL's estimates for set-returning functions
    // (json_to_recordset, unnest: 100 rows each) push the grouped subscription checks over jit_above_cost,
    // where compiling them took seconds longer than running them (statement timeouts).
    const pool = new pg.Pool({ connectionString: options.databaseUrl, max: options.poolSize ?? 10, statement_timeout: options.statementTimeoutMs ?? 5_000, options: '-c jit=off' });
    // A client losing its server connection (a PostgreSQL restart) must not crash the process: idle
    // clients report on the pool, checked-out ones on themselves; the query in flight still fails.
    pool.on('error', () => {});
    pool.on('connect', (client) => client.on('error', () => {}));
    await pool.query('select 1');
    // Every statement (drizzle's, in transactions too, and `run`'s) is timed and traced (see instrument.ts).
    const client = instrumentPool(pool);
    const db = drizzlePg({ client, ...(logger ? { logger } : {}) }) as unknown as Db;
    const run = async <T>(text: string, params: unknown[], name?: string): Promise<T[]> => {
      options.onQuery?.(text, params);
      return (await client.query({ text, values: params, ...(name ? { name } : {}) })).rows as T[];
    };
    const unwatch = watchPool(pool);
    return {
      db, engine: 'postgres', run,
      close: () => {
        unwatch();
        return pool.end();
      },
    };
  }
  const dataDir = options.dataDir ?? 'memory://';
  const release = dataDir.startsWith('memory://') ? () => {} : lockDataDir(dataDir);
  try {
    const client = await PGlite.create({ dataDir });
    // Drizzle's statements are timed and traced (see instrument.ts); `pglite` stays the engine itself, for
    // pg-boss, whose polling is not ObjectOS's work (on PostgreSQL it has a pool of its own, untimed too).
    const db = drizzlePglite({ client: instrumentPglite(client), ...(logger ? { logger } : {}) }) as unknown as Db;
    return {
      db,
      engine: 'pglite',
      pglite: client,
      async run<T>(text: string, params: unknown[]): Promise<T[]> {
        options.onQuery?.(text, params);
        return (await timedStatement('pglite', text, () => client.query<T>(text, params))).rows;
      },
      async close() {
        await client.close();
        release();
      },
    };
  } catch (e) {
    release();
    throw e;
  }
}

/** PGlite is single-process: a second server on the same folder would corrupt it, so refuse clearly. */
function lockDataDir(dir: string): () => void {
  mkdirSync(dir, { recursive: true });
  const lock = join(dir, 'objectos.pid');
  try {
    closeSync(openSync(lock, 'wx'));
  } catch {
    const pid = Number(readFileSync(lock, 'utf8'));
    if (pid && pid !== process.pid && isAlive(pid))
      throw new Error(`the embedded database in ${dir} is in use by process ${pid}; stop it first or choose another data folder`);
  }
  writeFileSync(lock, String(process.pid));
  return () => {
    try {
      unlinkSync(lock);
    } catch {
      /* already gone */
    }
  };
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/**
 * Readiness: `select 1` on the process's own pool (PostgreSQL) or engine (PGlite). Rejects with the
 * driver's words (no connection string) when the database does not answer; the caller bounds the wait.
 */
export async function pingDatabase(database: Pick<Database, 'run'>): Promise<void> {
  try {
    await database.run('select 1', []);
  } catch (e) {
    throw new Error(`database unreachable: ${e instanceof Error ? e.message : String(e)}`);
  }
}

/** Anything that runs SQL: the database or a transaction. */
export interface SqlRunner {
  execute(query: SQL): PromiseLike<unknown>;
}

/** Runs a statement and returns its rows (both drivers answer with `{ rows }`). */
export async function queryRows<T>(db: SqlRunner, query: SQL): Promise<T[]> {
  const r = (await db.execute(query)) as unknown as { rows: T[] };
  return r.rows;
}
