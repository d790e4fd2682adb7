import { createHash } from 'node:crypto';
import { sql } from 'drizzle-orm';
import { queryRows, type Db, type SqlRunner } from '@objectos/db';
import type { AuditEvent } from '@objectos/events';
import { AUDIT_SEVERITIES } from '@objectos/metadata';

export const AUDIT_SCHEMA = 'audit';
const AUDIT_LOCK = 7_734_015;
/** The first link of every tenant's chain. */
export const GENESIS = '0'.repeat(64);

/**
 * The audit subgraph's own schema:
 * - `audit.events`: the trail, append-only for the application (a trigger refuses UPDATE, DELETE and
 *   TRUNCATE; only the retention purge, in a transaction that says so, may delete);
 * - `audit.chains`: the head of each tenant's hash chain ('' is the platform's);
 * - `audit.purged_ranges`: what the purge removed, as chain links (first prev_hash, last hash), so the
 *   chain stays verifiable across purged stretches;
 * - `audit.state`: what the subgraph remembers between starts (the metadata hash).
 */
export async function ensureAuditTables(db: Db): Promise<void> {
  await db.transaction(async (tx) => {
    await tx.execute(sql`select pg_advisory_xact_lock(${AUDIT_LOCK})`);
    for (const ddl of [
      `create schema if not exists ${AUDIT_SCHEMA}`,
      `create table if not exists audit.events (
        seq bigserial primary key,
        id uuid not null unique,
        event_type text not null,
        severity smallint not null,
        occurred_at timestamptz not null,
        recorded_at timestamptz not null default now(),
        tenant_id text,
        actor_type text not null,
        actor_id text,
        actor_ip text,
        actor_user_agent text,
        target_type text,
        target_id text,
        description text not null,
        changes jsonb,
        result text not null,
        request_id text,
        details jsonb,
        prev_hash text not null,
        hash text not null)`,
      'create index if not exists events_tenant_time on audit.events (tenant_id, occurred_at desc, seq desc)',
      'create index if not exists events_tenant_type_time on audit.events (tenant_id, event_type, occurred_at desc, seq desc)',
      'create index if not exists events_tenant_actor_time on audit.events (tenant_id, actor_id, occurred_at desc, seq desc)',
      // A record's events in the order history and auditEvents page them (not by seq: a record with
      // thousands of events would be read whole and sorted for every page).
      'drop index if exists audit.events_target',
      'create index if not exists events_target_time on audit.events (tenant_id, target_type, target_id, occurred_at desc, seq desc)',
      'create index if not exists events_request on audit.events (request_id) where request_id is not null',
      'create index if not exists events_tenant_severity_time on audit.events (tenant_id, severity, occurred_at desc, seq desc)',
      'create index if not exists events_time on audit.events (occurred_at)',
      'create index if not exists events_tenant_seq on audit.events (tenant_id, seq)',
      `create table if not exists audit.chains (tenant_key text primary key, seq bigint not null, hash text not null)`,
      `create table if not exists audit.purged_ranges (
        id bigserial primary key, tenant_key text not null, from_seq bigint not null, to_seq bigint not null,
        prev_hash text not null, hash text not null, count int not null, purged_at timestamptz not null default now())`,
      'create index if not exists purged_ranges_tenant on audit.purged_ranges (tenant_key, from_seq)',
      `create table if not exists audit.state (key text primary key, value text not null)`,
      `create or replace function audit.refuse_change() returns trigger language plpgsql as $$
        begin
          if tg_op = 'DELETE' and current_setting('objectos.audit_purge', true) = 'on' then return old; end if;
          raise exception 'audit.events is append-only: % refused', tg_op using errcode = '42501';
        end $$`,
      'drop trigger if exists events_append_only on audit.events',
      'create trigger events_append_only before update or delete on audit.events for each row execute function audit.refuse_change()',
      'drop trigger if exists events_no_truncate on audit.events',
      'create trigger events_no_truncate before truncate on audit.events for each statement execute function audit.refuse_change()',
    ])
      await tx.execute(sql.raw(ddl));
  });
}

/** Severity rank (0 = debug … 7 = emergency): stored as a number so `severity ≥ X` is a range. */
export const severityRank = (s: string): number => Math.max(0, (AUDIT_SEVERITIES as readonly string[]).indexOf(s));

/** JSON with object keys sorted at every level: the same text whatever order jsonb returns keys in. */
export function canonicalJson(v: unknown): string {
  if (v === undefined) return 'null';
  if (v === null || typeof v !== 'object') return JSON.stringify(v);
  if (Array.isArray(v)) return `[${v.map(canonicalJson).join(',')}]`;
  const o = v as Record<string, unknown>;
  return `{${Object.keys(o).filter((k) => o[k] !== undefined).sort().map((k) => `${JSON.stringify(k)}:${canonicalJson(o[k])}`).join(',')}}`;
}

/** One stored row, as read back (the hash covers every column but seq, recorded_at and the hashes). */
export interface EventRow {
  seq: string | number;
  id: string;
  event_type: string;
  severity: number;
  occurred_at: Date | string;
  tenant_id: string | null;
  actor_type: string;
  actor_id: string | null;
  actor_ip: string | null;
  actor_user_agent: string | null;
  target_type: string | null;
  target_id: string | null;
  description: string;
  changes: unknown;
  result: string;
  request_id: string | null;
  details: unknown;
  prev_hash: string;
  hash: string;
}

type Content = Omit<EventRow, 'seq' | 'prev_hash' | 'hash'>;

const jsonOf = (v: unknown): unknown => (typeof v === 'string' ? JSON.parse(v) : v);

/** The hash of a row: its content, canonical, chained to the previous row of its tenant. */
export function hashOf(prev: string, c: Content): string {
  const content = [
    c.id, c.event_type, Number(c.severity), new Date(c.occurred_at).toISOString(), c.tenant_id, c.actor_type, c.actor_id, c.actor_ip,
    c.actor_user_agent, c.target_type, c.target_id, c.description, jsonOf(c.changes) ?? null, c.result, c.request_id, jsonOf(c.details) ?? null,
  ];
  return createHash('sha256').update(prev).update('\n').update(canonicalJson(content)).digest('hex');
}

export function contentOf(e: AuditEvent): Content {
  return {
    id: e.id,
    event_type: e.eventType,
    severity: severityRank(e.severity),
    occurred_at: new Date(e.timestamp).toISOString(),
    tenant_id: e.tenantId ?? null,
    actor_type: e.actor.type,
    actor_id: e.actor.id ?? null,
    actor_ip: e.actor.ipAddress ?? null,
    actor_user_agent: e.actor.userAgent ? e.actor.userAgent.slice(0, 512) : null,
    target_type: e.target?.type ?? null,
    target_id: e.target?.id ?? null,
    description: e.description.slice(0, 2000),
    changes: e.changes && e.changes.length > 0 ? e.changes : null,
    result: e.result,
    request_id: e.requestId ?? null,
    details: e.details && Object.keys(e.details).length > 0 ? e.details : null,
  };
}

/**
 * Appends events to the trail inside the caller's transaction, each chained to its tenant's head.
 * Heads are locked in a fixed order (no deadlock between two appenders); an event id already stored
 * is skipped (stored exactly once). Returns the events actually stored.
 */
export async function appendEvents(tx: SqlRunner, events: readonly AuditEvent[]): Promise<AuditEvent[]> {
  if (events.length === 0) return [];
  const ids = events.map((e) => e.id);
  const seen = new Set((await queryRows<{ id: string }>(tx, sql`select id::text as id from audit.events where id = any(${sql.param(ids)}::uuid[])`)).map((r) => r.id));
  const fresh = events.filter((e, i) => !seen.has(e.id) && ids.indexOf(e.id) === i);
  const byTenant = new Map<string, AuditEvent[]>();
  for (const e of fresh) {
    const key = e.tenantId ?? '';
    byTenant.set(key, [...(byTenant.get(key) ?? []), e]);
  }
  for (const key of [...byTenant.keys()].sort()) {
    await tx.execute(sql`insert into audit.chains (tenant_key, seq, hash) values (${key}, 0, ${GENESIS}) on conflict (tenant_key) do nothing`);
    const [head] = await queryRows<{ hash: string }>(tx, sql`select hash from audit.chains where tenant_key = ${key} for update`);
    let prev = head!.hash;
    const rows = byTenant.get(key)!.map((e) => {
      const c = contentOf(e);
      const hash = hashOf(prev, c);
      const row = sql`(${c.id}::uuid, ${c.event_type}, ${c.severity}, ${c.occurred_at}::timestamptz, ${c.tenant_id}, ${c.actor_type}, ${c.actor_id}, ${c.actor_ip},
        ${c.actor_user_agent}, ${c.target_type}, ${c.target_id}, ${c.description}, ${c.changes === null ? null : JSON.stringify(c.changes)}::jsonb, ${c.result},
        ${c.request_id}, ${c.details === null ? null : JSON.stringify(c.details)}::jsonb, ${prev}, ${hash})`;
      prev = hash;
      return row;
    });
    const inserted = await queryRows<{ seq: string }>(tx, sql`insert into audit.events (id, event_type, severity, occurred_at, tenant_id, actor_type, actor_id, actor_ip,
      actor_user_agent, target_type, target_id, description, changes, result, request_id, details, prev_hash, hash) values ${sql.join(rows, sql`, `)} returning seq`);
    const last = inserted.map((r) => BigInt(r.seq)).reduce((a, b) => (a > b ? a : b));
    await tx.execute(sql`update audit.chains set seq = ${String(last)}::bigint, hash = ${prev} where tenant_key = ${key}`);
  }
  return fresh;
}
