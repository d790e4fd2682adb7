import { sql } from 'drizzle-orm';
import { queryRows, type SqlRunner } from './connect.ts';

/**
 * `jobs.effects`: one row per effect done, keyed by the idempotency key of the job that did it (the
 * jobs module's effectOnce, and writes the data subgraph makes for the automation worker). `record_id`:
 * the record a keyed create made, so a repeat answers with it.
 */
export async function ensureEffectTable(db: SqlRunner): Promise<void> {
  await db.execute(sql`create schema if not exists jobs`);
  await db.execute(sql`create table if not exists jobs.effects (key text primary key, done_at timestamptz not null default now())`);
  await db.execute(sql`alter table jobs.effects add column if not exists record_id uuid`);
}

/**
 * Claims an effect key inside the transaction that does the effect: `null` when this transaction holds
 * it now (do the effect; it commits or rolls back with the key), else the earlier effect's record id
 * (done before: change nothing). A concurrent claimer waits on the key until the first commits.
 */
export async function claimEffect(tx: SqlRunner, key: string): Promise<{ recordId: string | null } | null> {
  const claimed = await queryRows<{ key: string }>(tx, sql`insert into jobs.effects (key) values (${key}) on conflict (key) do nothing returning key`);
  if (claimed.length > 0) return null;
  const [done] = await queryRows<{ record_id: string | null }>(tx, sql`select record_id from jobs.effects where key = ${key}`);
  return { recordId: done?.record_id ?? null };
}

/** Notes the record a claimed effect made (a keyed create). */
export async function noteEffectRecord(tx: SqlRunner, key: string, recordId: string): Promise<void> {
  await tx.execute(sql`update jobs.effects set record_id = ${recordId}::uuid where key = ${key}`);
}
