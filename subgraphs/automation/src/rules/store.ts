import { sql } from 'drizzle-orm';
import { queryRows, type Db, type SqlRunner } from '@objectos/db';

const AUTOMATION_LOCK = 7_734_021;

/**
 * The `automation` schema:
 * - `rule_settings`: a rule switched on or off for one organization (absent: the metadata's `active`);
 * - `runs`: one row per action a rule ran or will run (time triggers: queued until due), with its
 *   status, attempts and last error: the run log the monitor and `automationRuns` read.
 */
export async function ensureAutomationTables(db: Db): Promise<void> {
  await db.transaction(async (tx) => {
    await tx.execute(sql`select pg_advisory_xact_lock(${AUTOMATION_LOCK})`);
    await tx.execute(sql.raw('create schema if not exists automation'));
    await tx.execute(sql.raw(`create table if not exists automation.rule_settings (
      organization_id text not null,
      rule text not null,
      active boolean not null,
      updated_by text,
      updated_at timestamptz not null default now(),
      primary key (organization_id, rule))`));
    await tx.execute(sql.raw(`create table if not exists automation.runs (
      id uuid primary key,
      organization_id text not null,
      rule text not null,
      action text not null,
      action_type text not null,
      object text not null,
      record_id uuid not null,
      event_id bigint,
      actor_id text,
      trigger text not null check (trigger in ('event', 'time_trigger', 'schedule')),
      depth int not null default 1,
      status text not null check (status in ('queued', 'running', 'retrying', 'succeeded', 'failed', 'cancelled', 'stopped')),
      attempts int not null default 0,
      error text,
      result jsonb,
      job_id text,
      effect_key text,
      due_at timestamptz,
      created_at timestamptz not null default now(),
      started_at timestamptz,
      finished_at timestamptz)`));
    // Who made the change (a rule running as that user acts as them again when an admin reruns it).
    await tx.execute(sql.raw('alter table automation.runs add column if not exists actor_id text'));
    // The order runs were recorded in (a change's runs are one statement, one created_at: in executionOrder).
    await tx.execute(sql.raw('alter table automation.runs add column if not exists seq bigserial'));
    await tx.execute(sql.raw('create index if not exists runs_record on automation.runs (organization_id, object, record_id, created_at desc)'));
    await tx.execute(sql.raw('create index if not exists runs_recent on automation.runs (organization_id, created_at desc)'));
    await tx.execute(sql.raw(`create index if not exists runs_pending on automation.runs (organization_id, rule, record_id) where status = 'queued' and trigger = 'time_trigger'`));
  });
}

export type RunStatus = 'queued' | 'running' | 'retrying' | 'succeeded' | 'failed' | 'cancelled' | 'stopped';
export type RunTrigger = 'event' | 'time_trigger' | 'schedule';

export interface RunRow {
  id: string;
  organization_id: string;
  rule: string;
  action: string;
  action_type: string;
  object: string;
  record_id: string;
  event_id: string | null;
  actor_id: string | null;
  trigger: RunTrigger;
  depth: number;
  status: RunStatus;
  attempts: number;
  error: string | null;
  result: unknown;
  job_id: string | null;
  effect_key: string;
  due_at: Date | string | null;
  created_at: Date | string;
  started_at: Date | string | null;
  finished_at: Date | string | null;
}

export interface NewRun {
  id: string;
  organizationId: string;
  rule: string;
  action: string;
  actionType: string;
  object: string;
  recordId: string;
  eventId: string | null;
  /** The user whose change ran the rule (none for schedules and system changes). */
  actorId: string | null;
  trigger: RunTrigger;
  depth: number;
  status: RunStatus;
  jobId: string | null;
  /** The idempotency key of the run's job: its effects carry it, retries too. */
  effectKey: string;
  dueAt: Date | null;
  error?: string | null;
}

/** Inserts runs; a run already recorded (the same event evaluated again) is kept as it is. */
export async function insertRuns(db: SqlRunner, runs: readonly NewRun[]): Promise<void> {
  if (runs.length === 0) return;
  const rows = runs.map((r) => sql`(${r.id}::uuid, ${r.organizationId}, ${r.rule}, ${r.action}, ${r.actionType}, ${r.object}, ${r.recordId}::uuid, ${r.eventId}::bigint, ${r.actorId},
    ${r.trigger}, ${r.depth}, ${r.status}, ${r.jobId}, ${r.effectKey}, ${r.dueAt?.toISOString() ?? null}::timestamptz, ${r.error ?? null},
    ${r.status === 'stopped' ? new Date().toISOString() : null}::timestamptz)`);
  await db.execute(sql`insert into automation.runs (id, organization_id, rule, action, action_type, object, record_id, event_id, actor_id, trigger, depth, status, job_id, effect_key, due_at, error, finished_at)
    values ${sql.join(rows, sql`, `)} on conflict (id) do nothing`);
}

export async function getRun(db: SqlRunner, id: string): Promise<RunRow | null> {
  return (await queryRows<RunRow>(db, sql`select * from automation.runs where id = ${id}::uuid`))[0] ?? null;
}

/** An attempt of each run begins: running, one more attempt (one statement for all); null for a run that is gone or was cancelled (a time trigger withdrawn). */
export async function startAttempts(db: SqlRunner, ids: readonly string[]): Promise<(RunRow | null)[]> {
  const rows = await queryRows<RunRow>(db, sql`update automation.runs set status = 'running', attempts = attempts + 1, started_at = now()
    where id = any(${sql.param([...ids])}::uuid[]) and status <> 'cancelled' returning *`);
  const byId = new Map(rows.map((r) => [r.id, r]));
  return ids.map((id) => byId.get(id) ?? null);
}

export interface RunOutcome {
  id: string;
  status: 'succeeded' | 'failed' | 'retrying';
  error?: string | null;
  result?: unknown;
}

/** Each run's attempt ends (one statement for all): a retrying run is not finished. */
export async function finishRuns(db: SqlRunner, outcomes: readonly RunOutcome[]): Promise<void> {
  const at = new Date().toISOString();
  await db.execute(sql`update automation.runs r set status = v.status, error = v.error, result = v.result::jsonb,
    finished_at = case when v.status = 'retrying' then null else ${at}::timestamptz end
    from unnest(${sql.param(outcomes.map((o) => o.id))}::uuid[], ${sql.param(outcomes.map((o) => o.status))}::text[],
      ${sql.param(outcomes.map((o) => o.error ?? null))}::text[], ${sql.param(outcomes.map((o) => (o.result === undefined ? null : JSON.stringify(o.result))))}::text[])
      as v(id, status, error, result)
    where r.id = v.id`);
}

/** Time-trigger runs still waiting for a record (optionally one rule's). */
export async function pendingTimeTriggers(db: SqlRunner, org: string, recordId: string, rule?: string): Promise<RunRow[]> {
  return queryRows<RunRow>(db, rule
    ? sql`select * from automation.runs where organization_id = ${org} and record_id = ${recordId}::uuid and rule = ${rule} and status = 'queued' and trigger = 'time_trigger' order by due_at`
    : sql`select * from automation.runs where organization_id = ${org} and record_id = ${recordId}::uuid and status = 'queued' and trigger = 'time_trigger' order by due_at`);
}

export async function cancelRuns(db: SqlRunner, ids: readonly string[], why: string): Promise<void> {
  if (ids.length === 0) return;
  await db.execute(sql`update automation.runs set status = 'cancelled', error = ${why}, finished_at = now()
    where id = any(${sql.param(ids)}::uuid[]) and status = 'queued'`);
}

/** Each rule's per-organization switch (rules absent from the map follow their metadata). */
export async function ruleSwitches(db: SqlRunner, org: string): Promise<Map<string, boolean>> {
  const rows = await queryRows<{ rule: string; active: boolean }>(db, sql`select rule, active from automation.rule_settings where organization_id = ${org}`);
  return new Map(rows.map((r) => [r.rule, r.active]));
}

export async function setRuleSwitch(db: SqlRunner, org: string, rule: string, active: boolean, by: string | null): Promise<void> {
  await db.execute(sql`insert into automation.rule_settings (organization_id, rule, active, updated_by) values (${org}, ${rule}, ${active}, ${by})
    on conflict (organization_id, rule) do update set active = excluded.active, updated_by = excluded.updated_by, updated_at = now()`);
}
