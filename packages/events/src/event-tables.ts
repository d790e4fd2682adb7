import { sql } from 'drizzle-orm';
import type { Db, SqlRunner } from '@objectos/db';
import { currentTraceparent } from '@objectos/observability/tracing';
import type { AuditEvent } from './audit-event.ts';
import type { ChangeContext } from './change-audit.ts';
import type { DataChangeEvent } from './change-event.ts';

const EVENTS_LOCK = 7_734_014;

/**
 * The `events` schema, shared by every subgraph that writes what must not be lost:
 * - `events.outbox`: each committed record change, written in the change's own transaction by the data
 *   subgraph; the relay publishes it and, in the same transaction, queues its audit event below.
 * - `events.audit_outbox`: every audit event waiting for the audit subgraph: data changes (from the
 *   relay), auth, authz, security and system events (written before what caused them is acknowledged).
 *   The audit subgraph moves each into its trail and deletes it, in one transaction.
 * - `events.automation_outbox`: each change to an object that automation rules watch, handed over by the
 *   relay in the transaction that marks it published; the automation worker evaluates the rules, queues
 *   their actions, and deletes it, in one transaction.
 */
export async function ensureEventTables(db: Db): Promise<void> {
  await db.transaction(async (tx) => {
    await tx.execute(sql`select pg_advisory_xact_lock(${EVENTS_LOCK})`);
    await tx.execute(sql.raw('create schema if not exists events'));
    await tx.execute(sql.raw(`create table if not exists events.outbox (
      id bigserial primary key,
      organization_id text not null,
      object text not null,
      record_id uuid not null,
      op text not null check (op in ('create', 'update', 'delete')),
      record jsonb,
      previous jsonb,
      changed_fields text[] not null,
      actor_id text,
      deleted_with jsonb,
      created_at timestamptz not null default now(),
      published_at timestamptz)`));
    // `trace`: the W3C traceparent of the request that made the row (null when tracing is off), so that
    // whoever moves it on continues that request's trace.
    for (const column of ['deleted_with jsonb', 'context jsonb', 'trace text', 'access jsonb'])
      await tx.execute(sql.raw(`alter table events.outbox add column if not exists ${column}`));
    await tx.execute(sql.raw('create index if not exists outbox_unpublished on events.outbox (id) where published_at is null'));
    // The order events were published in (ids are taken at insert, so commit order can differ): set by the
    // relay as it publishes, one publisher at a time. A subscription's replay cursor (`after`) reads it.
    // `access`: a share granted or revoked (ChangeEvent.access), for live subscribers only.
    await tx.execute(sql.raw('alter table events.outbox drop constraint if exists outbox_op_check'));
    await tx.execute(sql.raw(`alter table events.outbox add constraint outbox_op_check check (op in ('create', 'update', 'delete', 'access'))`));
    await tx.execute(sql.raw('create sequence if not exists events.outbox_published_seq'));
    await tx.execute(sql.raw('alter table events.outbox add column if not exists published_seq bigint'));
    await tx.execute(sql.raw(`update events.outbox o set published_seq = n.s from (select id, nextval('events.outbox_published_seq') as s
      from unnest(array(select id from events.outbox where published_at is not null and published_seq is null order by id)) as id) n where o.id = n.id`));
    await tx.execute(sql.raw('create index if not exists outbox_replay on events.outbox (organization_id, object, published_seq) where published_seq is not null'));
    // What retention has removed so far (the greatest id and published_seq deleted): a cursor at or before it may have lost events.
    await tx.execute(sql.raw(`create table if not exists events.outbox_pruned (
      one boolean primary key default true check (one),
      id bigint not null default 0,
      seq bigint not null default 0)`));
    await tx.execute(sql.raw('insert into events.outbox_pruned default values on conflict do nothing'));
    await tx.execute(sql.raw(`create table if not exists events.audit_outbox (
      seq bigserial primary key,
      id uuid not null unique,
      event jsonb not null,
      created_at timestamptz not null default now())`));
    await tx.execute(sql.raw('alter table events.audit_outbox add column if not exists trace text'));
    await tx.execute(sql.raw(`create table if not exists events.automation_outbox (
      event_id bigint primary key,
      event jsonb not null,
      context jsonb,
      created_at timestamptz not null default now())`));
    // A change whose evaluation keeps failing is set aside after a few tries (kept, with why), not retried forever.
    for (const column of ['attempts int not null default 0', 'last_error text', 'trace text'])
      await tx.execute(sql.raw(`alter table events.automation_outbox add column if not exists ${column}`));
  });
}

/**
 * Hands changes to the automation worker (inside the relay's transaction): once per outbox row. Each
 * carries the trace its evaluation continues: `trace` when given, else the caller's active span.
 */
export async function recordAutomationEvents(runner: SqlRunner, events: readonly { event: DataChangeEvent; context: ChangeContext | null; trace?: string | null }[]): Promise<void> {
  if (events.length === 0) return;
  const here = currentTraceparent();
  const rows = events.map(({ event, context, trace }) => sql`(${event.id}::bigint, ${JSON.stringify(event)}::jsonb, ${context ? JSON.stringify(context) : null}::jsonb, ${trace === undefined ? here : trace})`);
  await runner.execute(sql`insert into events.automation_outbox (event_id, event, context, trace) values ${sql.join(rows, sql`, `)} on conflict (event_id) do nothing`);
}

/**
 * Stores audit events durably (inside the caller's transaction when given one): the audit subgraph
 * records each exactly once, by its id. Call before acknowledging what the events describe.
 */
export async function recordAuditEvents(runner: SqlRunner, events: readonly AuditEvent[]): Promise<void> {
  if (events.length === 0) return;
  // The caller's trace goes with them: storing them in the trail continues it.
  const trace = currentTraceparent();
  const rows = events.map((e) => sql`(${e.id}::uuid, ${JSON.stringify(e)}::jsonb, ${trace})`);
  await runner.execute(sql`insert into events.audit_outbox (id, event, trace) values ${sql.join(rows, sql`, `)} on conflict (id) do nothing`);
}
