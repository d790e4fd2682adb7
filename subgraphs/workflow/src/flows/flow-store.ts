import { sql, type SQL } from 'drizzle-orm';
import { queryRows, type Db, type SqlRunner } from '@objectos/db';

export type Variables = Record<string, unknown>;
export type RunStatus = 'running' | 'waiting' | 'completed' | 'failed' | 'cancelled';
export type StepStatus = 'succeeded' | 'failed' | 'waiting' | 'skipped';

/** What a waiting run waits for; `seq` is the step that waits (for a retry: the failed attempt's). */
export type WaitingFor =
  | { kind: 'timer'; seq: number; due: string }
  | { kind: 'signal'; seq: number; signal: string; eventType: 'signal' | 'manual' }
  | { kind: 'retry'; seq: number; due: string; node: string; attempt: number }
  | { kind: 'child'; seq: number; child: string };

export interface RunRow {
  id: string;
  organization_id: string;
  flow: string;
  flow_version: number;
  status: RunStatus;
  variables: Variables;
  next_node: string | null;
  step_seq: number;
  waiting_for: WaitingFor | null;
  run_as: 'system' | 'user';
  started_by: string | null;
  parent_run_id: string | null;
  parent_node: string | null;
  trigger: Record<string, unknown>;
  depth: number;
  outputs: Variables | null;
  error: string | null;
  started_at: Date;
  updated_at: Date;
  finished_at: Date | null;
}

export interface StepRow {
  run_id: string;
  seq: number;
  node: string;
  type: string;
  status: StepStatus;
  input: unknown;
  output: unknown;
  error: string | null;
  attempt: number;
  started_at: Date;
  finished_at: Date | null;
}

export interface NewRun {
  id: string;
  org: string;
  flow: string;
  version: number;
  variables: Variables;
  startNode: string;
  runAs: 'system' | 'user';
  startedBy: string | null;
  parentRunId: string | null;
  parentNode: string | null;
  trigger: Record<string, unknown>;
  depth: number;
}

/** A step to record (`finished_at` null: it waits). */
export type NewStep = Omit<StepRow, 'run_id'>;

/** Where a committed step leaves the run. */
export interface RunChange {
  status: RunStatus;
  variables: Variables;
  nextNode: string | null;
  waitingFor: WaitingFor | null;
  outputs?: Variables | null;
  error?: string | null;
  /** Keep the lease: the same job goes on with the run. */
  keepLease: boolean;
}

const RUN_COLUMNS = sql.raw(`id, organization_id, flow, flow_version, status, variables, next_node, step_seq, waiting_for, run_as, started_by, parent_run_id,
  parent_node, trigger, depth, outputs, error, started_at, updated_at, finished_at`);
const json = (v: unknown): SQL => sql`${JSON.stringify(v ?? null)}::jsonb`;
const parsed = <T>(v: unknown): T => (typeof v === 'string' ? (JSON.parse(v) as T) : (v as T));
const date = (v: unknown): Date => (v instanceof Date ? v : new Date(String(v)));

function toRun(r: RunRow): RunRow {
  return {
    ...r, variables: parsed<Variables>(r.variables), waiting_for: parsed<WaitingFor | null>(r.waiting_for), trigger: parsed<Record<string, unknown>>(r.trigger),
    outputs: parsed<Variables | null>(r.outputs), started_at: date(r.started_at), updated_at: date(r.updated_at), finished_at: r.finished_at === null ? null : date(r.finished_at),
    step_seq: Number(r.step_seq), flow_version: Number(r.flow_version), depth: Number(r.depth),
  };
}

/** Thrown inside a commit whose run moved on meanwhile: rolls the transaction back. */
class Superseded extends Error {}

/** A new run (or nothing, when a run with its id exists: starts are keyed): the run as inserted, or null. */
export async function insertRun(db: SqlRunner, r: NewRun): Promise<RunRow | null> {
  const rows = await queryRows<RunRow>(db, sql`insert into workflow.flow_runs (id, organization_id, flow, flow_version, status, variables, next_node, step_seq, run_as, started_by, parent_run_id, parent_node, trigger, depth)
    values (${r.id}::uuid, ${r.org}, ${r.flow}, ${r.version}, 'running', ${json(r.variables)}, ${r.startNode}, 1, ${r.runAs}, ${r.startedBy}, ${r.parentRunId}, ${r.parentNode}, ${json(r.trigger)}, ${r.depth})
    on conflict (id) do nothing returning ${RUN_COLUMNS}`);
  return rows[0] ? toRun(rows[0]) : null;
}

/** A run by id, in an organization when `org` is given (another tenant's is not found). */
export async function loadRun(db: SqlRunner, id: string, org?: string): Promise<RunRow | null> {
  const rows = await queryRows<RunRow>(db, sql`select ${RUN_COLUMNS} from workflow.flow_runs where id = ${id}::uuid ${org === undefined ? sql`` : sql`and organization_id = ${org}`}`);
  return rows[0] ? toRun(rows[0]) : null;
}

/**
 * Takes the run for one job: a running run nobody holds (or held by this same job: its retry after its
 * process died). Null when it is not running or another job holds it.
 */
export async function claimRun(db: SqlRunner, id: string, job: string, leaseMs: number): Promise<RunRow | null> {
  const rows = await queryRows<RunRow>(db, sql`update workflow.flow_runs set lease_job = ${job}, lease_until = now() + make_interval(secs => ${leaseMs / 1000})
    where id = ${id}::uuid and status = 'running' and (lease_until is null or lease_until < now() or lease_job = ${job}) returning ${RUN_COLUMNS}`);
  return rows[0] ? toRun(rows[0]) : null;
}

/** Gives the run up (a job that stops without a commit that releases it). */
export async function releaseRun(db: SqlRunner, id: string, job: string): Promise<void> {
  await db.execute(sql`update workflow.flow_runs set lease_job = null, lease_until = null where id = ${id}::uuid and lease_job = ${job}`);
}

/** The step rows as a VALUES list, every value typed (it is read by INSERT … SELECT, where nothing infers the types). */
function stepValues(run: RunRow, steps: readonly NewStep[]): SQL {
  const at = (d: Date | null) => (d ? sql`${d.toISOString()}::timestamptz` : sql`null::timestamptz`);
  return sql.join(steps.map((s) => sql`(${run.id}::uuid, ${s.seq}::int, ${run.organization_id}::text, ${s.node}::text, ${s.type}::text, ${s.status}::text, ${json(s.input)},
    ${json(s.output)}, ${s.error}::text, ${s.attempt}::int, ${at(s.started_at)}, ${at(s.finished_at)})`), sql`, `);
}
const STEP_COLUMNS = sql.raw('run_id, seq, organization_id, node, type, status, input, output, error, attempt, started_at, finished_at');

/**
 * Records steps and moves the run on, atomically, only if the run is still where the caller read it
 * (running, at step `from`): a duplicate job or a cancel meanwhile makes this change nothing (false).
 * One statement (the steps are inserted only when the run moved); with `children` (subflow runs), one
 * transaction that inserts them too.
 */
export async function commitSteps(db: Db, run: RunRow, from: number, steps: readonly NewStep[], change: RunChange, children: readonly NewRun[] = []): Promise<boolean> {
  const finished = change.status === 'completed' || change.status === 'failed' || change.status === 'cancelled';
  const move = sql`update workflow.flow_runs set status = ${change.status}, variables = ${json(change.variables)}, next_node = ${change.nextNode},
    step_seq = ${from + steps.length}, waiting_for = ${json(change.waitingFor)}, outputs = ${change.outputs === undefined ? sql`outputs` : json(change.outputs)},
    error = ${change.error === undefined ? sql`error` : change.error}, updated_at = now(), finished_at = ${finished ? sql`now()` : sql`null`}
    ${change.keepLease ? sql`` : sql`, lease_job = null, lease_until = null`}
    where id = ${run.id}::uuid and step_seq = ${from} and status = 'running' returning id`;
  const write = steps.length === 0
    ? sql`with moved as (${move}) select count(*)::int as n from moved`
    : sql`with moved as (${move}), logged as (insert into workflow.flow_steps (${STEP_COLUMNS}) select * from (values ${stepValues(run, steps)}) v where exists (select 1 from moved))
        select count(*)::int as n from moved`;
  if (children.length === 0) return (await queryRows<{ n: number }>(db, write))[0]!.n > 0;
  try {
    await db.transaction(async (tx) => {
      if ((await queryRows<{ n: number }>(tx, write))[0]!.n === 0) throw new Superseded();
      for (const c of children) await insertRun(tx, c);
    });
    return true;
  } catch (e) {
    if (e instanceof Superseded) return false;
    throw e;
  }
}

/** How a waiting run goes on: its new place, and what the waiting step became (timer, signal, child). */
export interface Resumption {
  /** Set: the run fails with this error instead (a subflow that failed, with nowhere to go). */
  fail?: string;
  variables: Variables;
  nextNode: string | null;
  step: { status: StepStatus; output: unknown; error: string | null } | null;
  /** Hold the run for this job right away (the resuming job goes on with it). */
  lease?: { job: string; ms: number };
}

/**
 * Ends a wait: the run is running again (or failed), only if it still waits at step `seq` (a second
 * signal, a timer job run twice, or a cancel meanwhile changes nothing: null). One statement: the run and
 * its waiting step together. Returns the run as it is now.
 */
export async function resumeRun(db: SqlRunner, id: string, seq: number, r: Resumption): Promise<RunRow | null> {
  const lease = r.lease && r.fail === undefined ? sql`, lease_job = ${r.lease.job}, lease_until = now() + make_interval(secs => ${r.lease.ms / 1000})` : sql``;
  const status = r.fail === undefined ? sql`status = 'running'` : sql`status = 'failed', error = ${r.fail}, finished_at = now(), lease_job = null, lease_until = null`;
  const step = r.step
    ? sql`, stepped as (update workflow.flow_steps set status = ${r.step.status}, output = ${json(r.step.output)}, error = ${r.step.error}::text, finished_at = now()
        where run_id = ${id}::uuid and seq = ${seq} and status = 'waiting' and exists (select 1 from moved))`
    : sql``;
  const rows = await queryRows<RunRow>(db, sql`with moved as (update workflow.flow_runs set ${status}, waiting_for = null, variables = ${json(r.variables)},
      next_node = ${r.nextNode}, updated_at = now() ${lease}
      where id = ${id}::uuid and status = 'waiting' and (waiting_for->>'seq')::int = ${seq} returning ${RUN_COLUMNS})${step}
    select * from moved`);
  return rows[0] ? toRun(rows[0]) : null;
}

/** Cancels an unfinished run and every unfinished subflow run below it; their waiting steps are skipped. Returns the ids cancelled. */
export async function cancelRuns(db: Db, id: string, org: string, reason: string): Promise<string[]> {
  return db.transaction(async (tx) => {
    const ids = (await queryRows<{ id: string }>(tx, sql`with recursive tree as (
        select id from workflow.flow_runs where id = ${id}::uuid and organization_id = ${org}
        union all select r.id from workflow.flow_runs r join tree t on r.parent_run_id = t.id)
      update workflow.flow_runs set status = 'cancelled', error = ${reason}, waiting_for = null, next_node = null, lease_job = null, lease_until = null,
        updated_at = now(), finished_at = now()
      where id in (select id from tree) and status in ('running', 'waiting') returning id`)).map((r) => r.id);
    if (ids.length > 0) await tx.execute(sql`update workflow.flow_steps set status = 'skipped', finished_at = now() where run_id = any(${sql.param(ids)}::uuid[]) and status = 'waiting'`);
    return ids;
  });
}

export interface RunFilter {
  org: string;
  flow?: string | null;
  status?: RunStatus | null;
  startedBy?: string | null;
  /** Only runs this user started (a member without manageWorkflows). */
  onlyStartedBy?: string;
  first: number;
}

export async function listRuns(db: SqlRunner, f: RunFilter): Promise<RunRow[]> {
  const where = [sql`organization_id = ${f.org}`];
  if (f.flow) where.push(sql`flow = ${f.flow}`);
  if (f.status) where.push(sql`status = ${f.status}`);
  if (f.startedBy) where.push(sql`started_by = ${f.startedBy}`);
  if (f.onlyStartedBy !== undefined) where.push(sql`started_by = ${f.onlyStartedBy}`);
  const rows = await queryRows<RunRow>(db, sql`select ${RUN_COLUMNS} from workflow.flow_runs where ${sql.join(where, sql` and `)} order by started_at desc, id limit ${f.first}`);
  return rows.map(toRun);
}

export async function stepsOf(db: SqlRunner, runId: string, org: string): Promise<StepRow[]> {
  const rows = await queryRows<StepRow>(db, sql`select run_id, seq, node, type, status, input, output, error, attempt, started_at, finished_at from workflow.flow_steps
    where run_id = ${runId}::uuid and organization_id = ${org} order by seq`);
  return rows.map((s) => ({ ...s, input: parsed(s.input), output: parsed(s.output), started_at: date(s.started_at), finished_at: s.finished_at === null ? null : date(s.finished_at) }));
}

/**
 * Unfinished runs nothing seems to move (their job lost between a commit and its enqueue): running
 * without a live lease, a timer or retry overdue, or waiting on a subflow run that has finished.
 */
export async function staleRuns(db: SqlRunner, olderThanMs: number, limit = 200): Promise<RunRow[]> {
  const before = sql`now() - make_interval(secs => ${olderThanMs / 1000})`;
  const rows = await queryRows<RunRow>(db, sql`select ${RUN_COLUMNS} from workflow.flow_runs r where status in ('running', 'waiting') and (
      (status = 'running' and updated_at < ${before} and (lease_until is null or lease_until < now()))
      or (status = 'waiting' and waiting_for->>'kind' in ('timer', 'retry') and (waiting_for->>'due')::timestamptz < ${before})
      or (status = 'waiting' and waiting_for->>'kind' = 'child' and exists (select 1 from workflow.flow_runs c
        where c.id = (r.waiting_for->>'child')::uuid and c.status in ('completed', 'failed', 'cancelled') and c.finished_at < ${before})))
    order by updated_at limit ${limit}`);
  return rows.map(toRun);
}
