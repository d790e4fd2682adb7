import { sql } from 'drizzle-orm';
import type { Db } from '@objectos/db';

export { ensureEffectTable } from '@objectos/db';

/** A transaction handle as drizzle gives it to `db.transaction`. */
export type Tx = Parameters<Parameters<Db['transaction']>[0]>[0];

/**
 * Runs a database effect exactly once per key: the key is recorded in the same transaction as the
 * effect, so a job run twice (a retry after a crash, a redelivery) finds it done and changes nothing,
 * and an effect that fails leaves no record. Returns whether this call did the effect.
 */
export async function effectOnce<T>(db: Db, key: string, effect: (tx: Tx) => Promise<T>): Promise<{ done: boolean; result?: T }> {
  return db.transaction(async (tx) => {
    const claimed = await tx.execute(sql`insert into jobs.effects (key) values (${key}) on conflict (key) do nothing returning key`);
    if (rowsOf(claimed).length === 0) return { done: false };
    return { done: true, result: await effect(tx) };
  });
}

function rowsOf(result: unknown): unknown[] {
  return Array.isArray(result) ? result : ((result as { rows?: unknown[] }).rows ?? []);
}
