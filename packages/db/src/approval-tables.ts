import { sql } from 'drizzle-orm';
import { queryRows, type SqlRunner } from './connect.ts';

/**
 * The approval processes' rows (schema `workflow`): one request per submission, one task per approver
 * and step visit, delegations. The data subgraph reads them to keep a pending record locked; the
 * workflow subgraph writes them.
 */
export async function ensureApprovalTables(db: SqlRunner): Promise<void> {
  await db.execute(sql`create schema if not exists workflow`);
  await db.execute(sql`create table if not exists workflow.approval_requests (
    id uuid primary key,
    organization_id text not null,
    process text not null,
    object text not null,
    record_id uuid not null,
    status text not null check (status in ('pending', 'approved', 'rejected', 'recalled')),
    step_index int not null default 0,
    locked boolean not null,
    submitted_by text,
    comment text,
    submitted_at timestamptz not null default now(),
    finished_at timestamptz
  )`);
  // One pending request per record: a second submission is refused by the database too.
  await db.execute(sql`create unique index if not exists approval_requests_pending on workflow.approval_requests (organization_id, object, record_id) where status = 'pending'`);
  await db.execute(sql`create table if not exists workflow.approval_tasks (
    id uuid primary key,
    request_id uuid not null references workflow.approval_requests (id),
    organization_id text not null,
    step_index int not null,
    step text not null,
    approver_id text not null,
    status text not null check (status in ('pending', 'approved', 'rejected', 'reassigned', 'cancelled')),
    reassigned_from text,
    decided_by text,
    comment text,
    due_at timestamptz,
    created_at timestamptz not null default now(),
    decided_at timestamptz
  )`);
  // Set when the task's escalation ran (by its delayed job or the sweep, whichever claims it first).
  await db.execute(sql`alter table workflow.approval_tasks add column if not exists escalated_at timestamptz`);
  await db.execute(sql`create index if not exists approval_tasks_approver on workflow.approval_tasks (organization_id, approver_id) where status = 'pending'`);
  await db.execute(sql`create index if not exists approval_tasks_request on workflow.approval_tasks (request_id)`);
  await db.execute(sql`create table if not exists workflow.approval_delegates (
    organization_id text not null,
    user_id text not null,
    delegate_id text not null,
    until timestamptz,
    primary key (organization_id, user_id)
  )`);
}

/** A pending, locking approval of a record, with who may still edit it (its pending approvers and their delegates). */
export interface ApprovalLock {
  requestId: string;
  process: string;
  editors: string[];
}

export async function approvalLockOf(tx: SqlRunner, org: string, object: string, recordId: string): Promise<ApprovalLock | null> {
  const rows = await queryRows<{ id: string; process: string; editors: string[] | null }>(tx, sql`
    select r.id, r.process, array_remove(array_agg(distinct t.approver_id) || array_agg(distinct d.delegate_id), null) as editors
    from workflow.approval_requests r
    left join workflow.approval_tasks t on t.request_id = r.id and t.status = 'pending'
    left join workflow.approval_delegates d on d.organization_id = r.organization_id and d.user_id = t.approver_id and (d.until is null or d.until > now())
    where r.organization_id = ${org} and r.object = ${object} and r.record_id = ${recordId}::uuid and r.status = 'pending' and r.locked
    group by r.id, r.process`);
  const r = rows[0];
  return r ? { requestId: r.id, process: r.process, editors: r.editors ?? [] } : null;
}
