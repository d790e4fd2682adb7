import { mkdir, open } from 'node:fs/promises';
import { join } from 'node:path';
import { sql, type SQL } from 'drizzle-orm';
import { queryRows, type Db, type SqlRunner } from '@objectos/db';
import type { AuditConfig } from '@objectos/metadata';
import type { Logger } from '@objectos/observability';
import { COLUMNS, eventOut } from './query.ts';
import type { EventRow } from './store.ts';

export interface PurgeResult { deleted: number; archivedTo: string | null }

const DAY_MS = 86_400_000;

/** The retention of an event type in SQL: exact types first, then categories, then the default. */
function expirySql(config: AuditConfig, now: Date): SQL {
  const p = config.retentionPolicy;
  const entries = Object.keys(p.customRetention).sort((a, b) => Number(a.endsWith('.*')) - Number(b.endsWith('.*')));
  const cutoff = (days: number) => new Date(now.getTime() - days * DAY_MS).toISOString();
  const days = (t: string) => Math.max(p.customRetention[t]!, p.minimumRetentionDays);
  const cases = entries.map((t) => (t.endsWith('.*')
    ? sql`when event_type like ${`${t.slice(0, -1)}%`} then ${cutoff(days(t))}::timestamptz`
    : sql`when event_type = ${t} then ${cutoff(days(t))}::timestamptz`));
  const fallback = cutoff(Math.max(p.retentionDays, p.minimumRetentionDays));
  if (!cases.length) return sql`occurred_at < ${fallback}::timestamptz`;
  // The latest cutoff of any type first: a range of the time index, so a purge reads only what may go.
  const latest = cutoff(Math.min(Math.max(p.retentionDays, p.minimumRetentionDays), ...entries.map(days)));
  return sql`occurred_at < ${latest}::timestamptz and occurred_at < (case ${sql.join(cases, sql` `)} else ${fallback}::timestamptz end)`;
}

/**
 * The chain links of what a batch removes: per tenant, each unbroken stretch of removed events becomes
 * one range (its first link and its last hash), joined to a range it continues, so verifyAuditChain
 * still walks from the event before the stretch to the one after it.
 */
async function recordRanges(tx: SqlRunner, rows: readonly EventRow[]): Promise<void> {
  const byTenant = new Map<string, EventRow[]>();
  for (const r of rows) byTenant.set(r.tenant_id ?? '', [...(byTenant.get(r.tenant_id ?? '') ?? []), r]);
  for (const [key, list] of byTenant) {
    list.sort((a, b) => (BigInt(a.seq) < BigInt(b.seq) ? -1 : 1));
    let run: EventRow[] = [];
    const flush = async () => {
      if (run.length === 0) return;
      const head = run[0]!;
      const tail = run[run.length - 1]!;
      const joined = await queryRows(tx, sql`update audit.purged_ranges set to_seq = ${String(tail.seq)}::bigint, hash = ${tail.hash}, count = count + ${run.length}
        where tenant_key = ${key} and hash = ${head.prev_hash} returning id`);
      if (joined.length === 0)
        await tx.execute(sql`insert into audit.purged_ranges (tenant_key, from_seq, to_seq, prev_hash, hash, count)
          values (${key}, ${String(head.seq)}::bigint, ${String(tail.seq)}::bigint, ${head.prev_hash}, ${tail.hash}, ${run.length})`);
      run = [];
    };
    for (const r of list) {
      if (run.length > 0 && run[run.length - 1]!.hash !== r.prev_hash) await flush();
      run.push(r);
    }
    await flush();
  }
}

/**
 * Deletes events past their retention (AuditRetentionPolicy), oldest first, in short transactions of
 * `batch` rows: appends never wait on it (they touch other rows). With archiveAfterRetention, each batch
 * is appended to an NDJSON file and flushed to disk before the transaction that deletes it commits.
 */
export async function purgeExpired(db: Db, config: AuditConfig, options: { batch?: number; now?: Date } = {}): Promise<PurgeResult> {
  const { batch = 2_000, now = new Date() } = options;
  const p = config.retentionPolicy;
  const archiveDir = p.archiveAfterRetention ? p.archiveStorage?.path ?? null : null;
  const file = archiveDir ? join(archiveDir, `audit-${now.toISOString().replace(/[:.]/g, '-')}.ndjson`) : null;
  if (archiveDir) await mkdir(archiveDir, { recursive: true });
  const expired = expirySql(config, now);
  let deleted = 0;
  for (;;) {
    const n = await db.transaction(async (tx) => {
      // The trigger lets this transaction, and only it, delete from the trail.
      await tx.execute(sql`select set_config('objectos.audit_purge', 'on', true)`);
      const rows = await queryRows<EventRow>(tx, sql`select ${COLUMNS} from audit.events where ${expired} order by seq limit ${batch} for update skip locked`);
      if (rows.length === 0) return 0;
      if (file) {
        const handle = await open(file, 'a');
        try {
          await handle.writeFile(rows.map((r) => `${JSON.stringify({ ...eventOut(r), seq: String(r.seq), prevHash: r.prev_hash, hash: r.hash })}\n`).join(''));
          await handle.sync();
        } finally {
          await handle.close();
        }
      }
      await recordRanges(tx, rows);
      await tx.execute(sql`delete from audit.events where seq = any(${sql.param(rows.map((r) => String(r.seq)))}::bigint[])`);
      return rows.length;
    });
    deleted += n;
    if (n < batch) break;
  }
  return { deleted, archivedTo: deleted > 0 ? file : null };
}

/** The daily purge: an in-process timer (the jobs issue moves it to a cron job). */
export function scheduleRetention(db: Db, config: AuditConfig, options: { intervalMs?: number; logger?: Logger } = {}): { close(): void } {
  const { intervalMs = DAY_MS, logger } = options;
  let busy = false;
  const run = async () => {
    if (busy) return;
    busy = true;
    try {
      const r = await purgeExpired(db, config);
      if (r.deleted > 0) logger?.info({ deleted: r.deleted, archivedTo: r.archivedTo }, 'audit retention: expired events purged');
    } catch (e) {
      logger?.warn({ err: (e as Error).message }, 'audit retention: purge failed; retrying at the next run');
    } finally {
      busy = false;
    }
  };
  const first = setTimeout(() => void run(), Math.min(intervalMs, 60_000));
  const timer = setInterval(() => void run(), intervalMs);
  first.unref();
  timer.unref();
  return { close: () => { clearTimeout(first); clearInterval(timer); } };
}
