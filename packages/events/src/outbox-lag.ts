import { sql, type SQL } from 'drizzle-orm';
import { queryRows, type SqlRunner } from '@objectos/db';
import { outboxLag } from '@objectos/observability/metrics';

/**
 * Reports an outbox's lag in `objectos_outbox_lag_seconds{outbox}`: the age of its oldest row still to be
 * moved on, 0 when there is none. `oldestPending` selects that row's `created_at` (an indexed `order by …
 * limit 1`), run only when the metrics are scraped. Returns the removal (call it when the relay stops).
 */
export function watchOutboxLag(db: SqlRunner, outbox: string, oldestPending: SQL): () => void {
  return outboxLag.add(async () => {
    const [row] = await queryRows<{ lag: number | string | null }>(db, sql`select extract(epoch from now() - (${oldestPending}))::float8 as lag`);
    const lag = Number(row?.lag ?? 0);
    return [{ labels: { outbox }, value: Number.isFinite(lag) && lag > 0 ? lag : 0 }];
  });
}
