import { sql } from 'drizzle-orm';
import type { SqlRunner } from './connect.ts';

/**
 * `workflow.state_history`: one row per transition a state machine took, written by the data subgraph
 * in the transaction that changes the state field (a state never changes without its row, nor the row
 * without the change). `actions_queued`: the transition's exit/transition/entry actions were handed to
 * the job queue (the workflow runtime sweeps rows left unqueued by a crash).
 */
export async function ensureStateHistoryTable(db: SqlRunner): Promise<void> {
  await db.execute(sql`create schema if not exists workflow`);
  await db.execute(sql`create table if not exists workflow.state_history (
    id uuid primary key,
    organization_id text not null,
    object text not null,
    record_id uuid not null,
    machine text not null,
    event text not null,
    from_state text not null,
    to_state text not null,
    actor_id text,
    comment text,
    created_at timestamptz not null default now(),
    seq bigserial,
    actions_queued boolean not null default false
  )`);
  await db.execute(sql`create index if not exists state_history_record on workflow.state_history (organization_id, object, record_id, seq)`);
  await db.execute(sql`create index if not exists state_history_unqueued on workflow.state_history (created_at) where not actions_queued`);
}

/** A transition as the data subgraph records it (the grant the workflow subgraph signed, and who acted). */
export interface StateTransitionRow {
  id: string;
  organizationId: string;
  object: string;
  recordId: string;
  machine: string;
  event: string;
  from: string;
  to: string;
  actorId: string | null;
  comment: string | null;
}

export async function recordStateTransition(tx: SqlRunner, t: StateTransitionRow): Promise<void> {
  await tx.execute(sql`insert into workflow.state_history (id, organization_id, object, record_id, machine, event, from_state, to_state, actor_id, comment)
    values (${t.id}::uuid, ${t.organizationId}, ${t.object}, ${t.recordId}::uuid, ${t.machine}, ${t.event}, ${t.from}, ${t.to}, ${t.actorId}, ${t.comment})`);
}
