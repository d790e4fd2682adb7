import { sql } from 'drizzle-orm';
import { queryRows, type Db, type SqlRunner } from '@objectos/db';
import { createSweeper, watchOutboxLag, type AuditEvent, type Sweeper } from '@objectos/events';
import type { AuditConfig } from '@objectos/metadata';
import { inSpan, metrics, parentAndLinks, SpanKind, type Logger } from '@objectos/observability';
import { recorded, redactor } from './audit-rules.ts';
import { appendEvents } from './store.ts';

/** What runs in the storing transaction after a batch is appended: follow-up events to append with it. */
export type AfterAppend = (tx: SqlRunner, stored: readonly AuditEvent[]) => Promise<AuditEvent[]>;

/** kick: something was queued, look now; drain: everything queued before the call is in the trail. */
export type AuditCapture = Sweeper;

export interface CaptureOptions {
  db: Db;
  config: AuditConfig;
  /** How often the queue is looked at without a kick (events from other processes). @default 500 */
  pollMs?: number;
  /** Events per storing transaction. @default 500 */
  batch?: number;
  afterAppend?: AfterAppend;
  /** After commit: what was stored (the bus, tests). */
  onStored?: (events: readonly AuditEvent[]) => void;
  logger?: Logger;
}

/**
 * Moves queued events (events.audit_outbox) into the trail. Each batch is claimed with FOR UPDATE SKIP
 * LOCKED (replicas never take the same rows), filtered by the AuditConfig, redacted, appended to the
 * hash chains and deleted from the queue in one transaction: a crash anywhere leaves the batch queued,
 * and an id already in the trail is skipped, so each event is stored exactly once.
 */
export function createAuditCapture(o: CaptureOptions): AuditCapture {
  const { db, config, pollMs = 500, batch = 500, logger } = o;
  const keep = recorded(config);
  const redact = redactor(config);

  const storeBatch = async (): Promise<number> => {
    const stored: AuditEvent[] = [];
    const n = await db.transaction(async (tx) => {
      const rows = await queryRows<{ seq: string; event: AuditEvent | string; trace: string | null }>(tx, sql`select seq, event, trace from events.audit_outbox order by seq limit ${batch} for update skip locked`);
      if (rows.length === 0) return 0;
      // Part of the trace of what queued the first event (a request, the change relay), linked to the others'.
      const { parent, links } = parentAndLinks(rows.map((r) => r.trace));
      return inSpan('outbox publish', { 'objectos.outbox': 'audit_outbox', 'objectos.rows': rows.length }, async () => {
        const events = rows.map((r) => (typeof r.event === 'string' ? (JSON.parse(r.event) as AuditEvent) : r.event)).filter(keep).map(redact);
        const fresh = await appendEvents(tx, events);
        stored.push(...fresh);
        if (o.afterAppend && fresh.length > 0) {
          const more = (await o.afterAppend(tx, fresh)).filter(keep).map(redact);
          stored.push(...(await appendEvents(tx, more)));
        }
        await tx.execute(sql`delete from events.audit_outbox where seq = any(${sql.param(rows.map((r) => String(r.seq)))}::bigint[])`);
        if (metrics.metricsEnabled()) metrics.eventDeliveries.inc({ kind: 'stored' }, rows.length);
        return rows.length;
      }, SpanKind.CONSUMER, parent, links);
    });
    if (stored.length > 0) o.onStored?.(stored);
    return n;
  };

  const sweeper = createSweeper(async () => {
    while ((await storeBatch()) === batch) { /* more queued */ }
  }, pollMs, (e) => logger?.warn({ err: e.message }, 'audit capture: storing failed; retrying at the next poll'));
  const unwatch = watchOutboxLag(db, 'audit_outbox', sql`select created_at from events.audit_outbox order by seq limit 1`);
  return {
    kick: sweeper.kick,
    drain: sweeper.drain,
    async close() {
      unwatch();
      await sweeper.close();
    },
  };
}
