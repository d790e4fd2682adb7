import { sql } from 'drizzle-orm';
import { queryRows, type Db, type SqlRunner } from '@objectos/db';
import { auditEventOfChange, createSweeper, ensureEventTables, recordAuditEvents, recordAutomationEvents, watchOutboxLag, type ChangeContext, type ChangeEvent, type ChangeFeed, type DataChangeEvent } from '@objectos/events';
import { currentTraceparent, inSpan, metrics, parentAndLinks, SpanKind, type Logger } from '@objectos/observability';

/**
 * The outbox: every committed change to a record has a row here, written in the same transaction as
 * the change, so an event exists exactly when its change does. The relay publishes unpublished rows
 * and marks them; a crash between commit and publish is repaired by the next sweep (at least once).
 * With the audit trail on, the relay queues each row's audit event in the same transaction it marks
 * the row published (see @objectos/events ensureEventTables).
 */
export const ensureOutbox = (db: Db): Promise<void> => ensureEventTables(db);

export type { ChangeContext };

export type NewChange = Omit<ChangeEvent, 'id' | 'at'> & { context?: ChangeContext | null };

/** Records a change; call inside the transaction that makes it. The request's trace goes with it (see the relay). */
export async function writeChange(tx: SqlRunner, c: NewChange): Promise<void> {
  const text = (v: unknown) => (v === null || v === undefined ? null : JSON.stringify(v));
  await tx.execute(sql`insert into events.outbox (organization_id, object, record_id, op, record, previous, changed_fields, actor_id, deleted_with, context, trace, access)
    values (${c.organizationId}, ${c.object}, ${c.recordId}, ${c.op}, ${text(c.record)}::jsonb, ${text(c.previous)}::jsonb,
      ${sql.param(c.changedFields)}::text[], ${c.actorId}, ${text(c.deletedWith)}::jsonb, ${text(c.context)}::jsonb, ${currentTraceparent()}, ${text(c.access)}::jsonb)`);
}

export interface OutboxRow {
  id: string | number;
  organization_id: string;
  object: string;
  record_id: string;
  op: ChangeEvent['op'];
  record: Record<string, unknown> | string | null;
  previous: Record<string, unknown> | string | null;
  changed_fields: string[];
  actor_id: string | null;
  deleted_with: ChangeEvent['deletedWith'] | string | null;
  context: ChangeContext | string | null;
  created_at: Date | string;
  trace: string | null;
  access: ChangeEvent['access'] | string | null;
}

/** jsonb arrives parsed from pg and as text from some drivers. */
const parsed = <T>(v: T | string | null): T | null => (typeof v === 'string' ? (JSON.parse(v) as T) : v);

export function toEvent(r: OutboxRow): ChangeEvent {
  return {
    id: String(r.id),
    organizationId: r.organization_id,
    object: r.object,
    recordId: r.record_id,
    op: r.op,
    record: parsed(r.record),
    previous: parsed(r.previous),
    changedFields: r.changed_fields,
    actorId: r.actor_id,
    at: new Date(r.created_at).toISOString(),
    ...(r.deleted_with ? { deletedWith: parsed(r.deleted_with)! } : {}),
    ...(r.access ? { access: parsed(r.access)! } : {}),
  };
}

/** Held by the relay while it publishes; taken shared by a replay to wait for a publish under way. */
export const PUBLISH_LOCK = 7_734_015;

/**
 * Deletes published events older than the retention window, in published order (a prefix: a replay
 * cursor is either kept or known to be gone), and remembers how far it went (events.outbox_pruned).
 */
export async function pruneOutbox(db: Db, retentionMs: number): Promise<void> {
  await db.execute(sql`with cut as (select max(published_seq) as s from events.outbox where published_at < now() - make_interval(secs => ${retentionMs / 1000})),
    gone as (delete from events.outbox where published_seq <= (select s from cut) returning id, published_seq)
    update events.outbox_pruned set id = greatest(id, coalesce((select max(id) from gone), 0)), seq = greatest(seq, coalesce((select max(published_seq) from gone), 0))`);
}

export interface OutboxRelay {
  /** A write committed: publish what is pending now rather than at the next sweep. */
  notify(): void;
  /** Resolves when every row committed before the call has been published (tests, shutdown). */
  drain(): Promise<void>;
  close(): Promise<void>;
}

export interface RelayOptions {
  /** How often unpublished rows are looked for (rows left by a crash or a failed publish). @default 1000 */
  sweepMs?: number;
  /** Published rows older than this are deleted. @default 24 h */
  retentionMs?: number;
  /** Rows per publishing transaction. @default 200 */
  batch?: number;
  /** Queue each row's audit event (events.audit_outbox) as it is published: AuditConfig enabled. @default false */
  audit?: boolean;
  /** Which changes workflow rules must see: those are handed to the automation worker (events.automation_outbox) as they are published. */
  automation?: (change: DataChangeEvent) => boolean;
  logger?: Logger;
}

/**
 * Publishes outbox rows in id order. Rows are claimed with FOR UPDATE SKIP LOCKED, so replicas sharing
 * a database never publish the same row at the same time; a row is marked only after its publish
 * succeeded, so a failed publish is retried (at least once; the event id lets consumers drop repeats).
 */
export function createOutboxRelay(db: Db, feed: ChangeFeed, options: RelayOptions = {}): OutboxRelay {
  const { sweepMs = 1_000, retentionMs = 24 * 3600_000, batch = 200, audit = false, automation, logger } = options;
  let lastPrune = 0;

  const publishBatch = (): Promise<number> =>
    db.transaction(async (tx) => {
      // One publisher at a time (replicas share the database): events are published in published_seq order,
      // and a replay waiting on this lock sees every event published before it started (see replay.ts).
      await tx.execute(sql`select pg_advisory_xact_lock(${PUBLISH_LOCK})`);
      const rows = await queryRows<OutboxRow>(tx, sql`select id, organization_id, object, record_id, op, record, previous, changed_fields, actor_id, deleted_with, context, created_at, trace, access
        from events.outbox where published_at is null order by id limit ${batch} for update skip locked`);
      if (rows.length === 0) return 0;
      // A span only for a batch that has rows (an idle sweep is no news): a child of the request that wrote
      // the first row, linked to the others' requests. What it hands on (audit, automation) continues it.
      const { parent, links } = parentAndLinks(rows.map((r) => r.trace));
      return inSpan('outbox publish', { 'objectos.outbox': 'outbox', 'objectos.rows': rows.length }, async () => {
        const events = rows.map(toEvent);
        for (const e of events) await feed.publish(e);
        // Data changes only: an access change (a share) has its own audit event, written with it, and runs no rule.
        const data = rows.flatMap((r, i) => (events[i]!.op === 'access' ? [] : [{ r, e: events[i] as DataChangeEvent }]));
        // The audit trail's copy, handed over in the transaction that marks the rows: once per row.
        if (audit) await recordAuditEvents(tx, data.map(({ r, e }) => auditEventOfChange(e, parsed(r.context))));
        // A row of another trace than this span's keeps its own (its evaluation belongs to that request).
        const first = rows.find((r) => r.trace)?.trace;
        if (automation) await recordAutomationEvents(tx, data.flatMap(({ r, e }) => (automation(e) ? [{ event: e, context: parsed(r.context), ...(first && r.trace !== first ? { trace: r.trace } : {}) }] : [])));
        // Numbered in the order published (unnest keeps the array's order).
        await tx.execute(sql`update events.outbox o set published_at = now(), published_seq = n.s
          from (select id, nextval('events.outbox_published_seq') as s from unnest(${sql.param(rows.map((r) => String(r.id)))}::bigint[]) as id) n where o.id = n.id`);
        if (metrics.metricsEnabled()) metrics.eventDeliveries.inc({ kind: 'published' }, rows.length);
        return rows.length;
      }, SpanKind.PRODUCER, parent, links);
    });

  const flush = async (): Promise<void> => {
    while ((await publishBatch()) === batch) { /* more pending */ }
    if (Date.now() - lastPrune > 60_000) {
      lastPrune = Date.now();
      await pruneOutbox(db, retentionMs);
    }
  };

  const sweeper = createSweeper(flush, sweepMs, (e) => logger?.warn({ err: e.message }, 'outbox relay: publishing failed; retrying at the next sweep'));
  const unwatch = watchOutboxLag(db, 'outbox', sql`select created_at from events.outbox where published_at is null order by id limit 1`);
  return {
    notify: sweeper.kick,
    drain: sweeper.drain,
    async close() {
      unwatch();
      await sweeper.close();
    },
  };
}
