import { sql } from 'drizzle-orm';
import type { SqlRunner } from '@objectos/db';

/**
 * The durable state of flow runs, in schema `workflow`:
 * - `flow_runs`: one row per run: where it is (`next_node`, `step_seq`: the number the next step gets),
 *   its variables, what it waits for, and the lease of the job advancing it (`lease_job`, `lease_until`:
 *   one job at a time moves a run; a lease left by a dead process runs out).
 * - `flow_steps`: the step log, one row per node run, written in the transaction that moves the run on,
 *   so a run never is past a step it has no row for, nor has a row for a step it has not passed.
 * Every row carries its organization: the tenant wall is a where clause on every read.
 */
export async function ensureFlowTables(db: SqlRunner): Promise<void> {
  await db.execute(sql`create schema if not exists workflow`);
  await db.execute(sql`create table if not exists workflow.flow_runs (
    id uuid primary key,
    organization_id text not null,
    flow text not null,
    flow_version int not null,
    status text not null,
    variables jsonb not null,
    next_node text,
    step_seq int not null default 1,
    waiting_for jsonb,
    run_as text not null,
    started_by text,
    parent_run_id uuid,
    parent_node text,
    trigger jsonb not null,
    depth int not null default 1,
    outputs jsonb,
    error text,
    lease_job text,
    lease_until timestamptz,
    started_at timestamptz not null default now(),
    updated_at timestamptz not null default now(),
    finished_at timestamptz
  )`);
  await db.execute(sql`create index if not exists flow_runs_org on workflow.flow_runs (organization_id, started_at desc)`);
  await db.execute(sql`create index if not exists flow_runs_parent on workflow.flow_runs (parent_run_id) where parent_run_id is not null`);
  // What the sweep looks at: unfinished runs only.
  await db.execute(sql`create index if not exists flow_runs_open on workflow.flow_runs (updated_at) where status in ('running', 'waiting')`);
  await db.execute(sql`create table if not exists workflow.flow_steps (
    run_id uuid not null,
    seq int not null,
    organization_id text not null,
    node text not null,
    type text not null,
    status text not null,
    input jsonb,
    output jsonb,
    error text,
    attempt int not null default 1,
    started_at timestamptz not null,
    finished_at timestamptz,
    primary key (run_id, seq)
  )`);
}
