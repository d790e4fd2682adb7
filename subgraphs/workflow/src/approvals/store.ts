import { randomUUID } from 'node:crypto';
import { sql } from 'drizzle-orm';
import { queryRows, type SqlRunner } from '@objectos/db';

export type RequestStatus = 'pending' | 'approved' | 'rejected' | 'recalled';
export type TaskStatus = 'pending' | 'approved' | 'rejected' | 'reassigned' | 'cancelled';

export interface RequestRow {
  id: string;
  organization_id: string;
  process: string;
  object: string;
  record_id: string;
  status: RequestStatus;
  step_index: number;
  locked: boolean;
  submitted_by: string | null;
  comment: string | null;
  submitted_at: Date;
  finished_at: Date | null;
}

export interface TaskRow {
  id: string;
  request_id: string;
  organization_id: string;
  step_index: number;
  step: string;
  approver_id: string;
  status: TaskStatus;
  reassigned_from: string | null;
  decided_by: string | null;
  comment: string | null;
  due_at: Date | null;
  created_at: Date;
  decided_at: Date | null;
  escalated_at: Date | null;
}

export async function requestById(db: SqlRunner, org: string, id: string, lock = false): Promise<RequestRow | null> {
  const [r] = await queryRows<RequestRow>(db, lock
    ? sql`select * from workflow.approval_requests where organization_id = ${org} and id = ${id}::uuid for update`
    : sql`select * from workflow.approval_requests where organization_id = ${org} and id = ${id}::uuid`);
  return r ?? null;
}

export const tasksOf = (db: SqlRunner, requestId: string): Promise<TaskRow[]> =>
  queryRows<TaskRow>(db, sql`select * from workflow.approval_tasks where request_id = ${requestId}::uuid order by created_at, approver_id`);

export async function taskById(db: SqlRunner, org: string, id: string): Promise<TaskRow | null> {
  const [t] = await queryRows<TaskRow>(db, sql`select * from workflow.approval_tasks where organization_id = ${org} and id = ${id}::uuid`);
  return t ?? null;
}

export const requestsOfRecord = (db: SqlRunner, org: string, object: string, recordId: string): Promise<RequestRow[]> =>
  queryRows<RequestRow>(db, sql`select * from workflow.approval_requests where organization_id = ${org} and object = ${object} and record_id = ${recordId}::uuid order by submitted_at`);

export async function insertRequest(db: SqlRunner, r: { org: string; process: string; object: string; recordId: string; locked: boolean; submittedBy: string; comment: string | null }): Promise<string> {
  const id = randomUUID();
  await db.execute(sql`insert into workflow.approval_requests (id, organization_id, process, object, record_id, status, step_index, locked, submitted_by, comment)
    values (${id}::uuid, ${r.org}, ${r.process}, ${r.object}, ${r.recordId}::uuid, 'pending', 0, ${r.locked}, ${r.submittedBy}, ${r.comment})`);
  return id;
}

/** New pending tasks, one per approver, for a step visit. */
export async function insertTasks(db: SqlRunner, t: { requestId: string; org: string; stepIndex: number; step: string; approvers: readonly string[]; dueAt: Date | null; reassignedFrom?: string | null }): Promise<TaskRow[]> {
  const out: TaskRow[] = [];
  for (const approver of t.approvers) {
    const [row] = await queryRows<TaskRow>(db, sql`insert into workflow.approval_tasks (id, request_id, organization_id, step_index, step, approver_id, status, reassigned_from, due_at)
      values (${randomUUID()}::uuid, ${t.requestId}::uuid, ${t.org}, ${t.stepIndex}, ${t.step}, ${approver}, 'pending', ${t.reassignedFrom ?? null}, ${t.dueAt}) returning *`);
    out.push(row!);
  }
  return out;
}

export async function setTask(db: SqlRunner, id: string, status: TaskStatus, decidedBy: string | null, comment: string | null): Promise<void> {
  await db.execute(sql`update workflow.approval_tasks set status = ${status}, decided_by = ${decidedBy}, comment = ${comment}, decided_at = now() where id = ${id}::uuid`);
}

/** Ends the other pending tasks of a step visit (first response decided it, or the step was rejected). */
export async function cancelPending(db: SqlRunner, requestId: string): Promise<string[]> {
  const rows = await queryRows<{ approver_id: string }>(db, sql`update workflow.approval_tasks set status = 'cancelled', decided_at = now() where request_id = ${requestId}::uuid and status = 'pending' returning approver_id`);
  return rows.map((r) => r.approver_id);
}

export async function setRequest(db: SqlRunner, id: string, status: RequestStatus, stepIndex: number): Promise<void> {
  await db.execute(sql`update workflow.approval_requests set status = ${status}, step_index = ${stepIndex}, finished_at = ${status === 'pending' ? null : sql`now()`} where id = ${id}::uuid`);
}

/** The users whose pending tasks `userId` may decide: their own, and those of members who delegated to them (still in force). */
export async function actingFor(db: SqlRunner, org: string, userId: string): Promise<string[]> {
  const rows = await queryRows<{ user_id: string }>(db, sql`select user_id from workflow.approval_delegates where organization_id = ${org} and delegate_id = ${userId} and (until is null or until > now())`);
  return [userId, ...rows.map((r) => r.user_id)];
}

export const pendingTasksFor = (db: SqlRunner, org: string, users: readonly string[]): Promise<(TaskRow & { process: string; object: string; record_id: string; submitted_by: string | null; submitted_at: Date })[]> =>
  queryRows(db, sql`select t.*, r.process, r.object, r.record_id, r.submitted_by, r.submitted_at from workflow.approval_tasks t join workflow.approval_requests r on r.id = t.request_id
    where t.organization_id = ${org} and t.status = 'pending' and t.approver_id = any(${sql.param([...users])}::text[]) order by t.created_at, t.id`);

/**
 * Approvers may read the record while they decide: a read share (`security.record_share`) granted by
 * the request, revoked when their task ends. A share someone granted by hand is left alone.
 */
export async function grantReads(db: SqlRunner, r: Pick<RequestRow, 'id' | 'organization_id' | 'object' | 'record_id'>, users: readonly string[]): Promise<void> {
  for (const u of users)
    await db.execute(sql`insert into security.record_share (organization_id, object, record_id, shared_with_type, shared_with, access_level, granted_by)
      values (${r.organization_id}, ${r.object}, ${r.record_id}::uuid, 'user', ${u}, 'read', ${`approval:${r.id}`}) on conflict do nothing`);
}

/** Revokes the request's read shares of users who have no pending task of it any more. */
export async function revokeReads(db: SqlRunner, requestId: string): Promise<void> {
  await db.execute(sql`delete from security.record_share s where s.granted_by = ${`approval:${requestId}`}
    and not exists (select 1 from workflow.approval_tasks t where t.request_id = ${requestId}::uuid and t.status = 'pending' and t.approver_id = s.shared_with)`);
}

/**
 * Claims a pending task's escalation once it is due on the approvals' clock: the delayed job and the
 * sweep may both try; only one gets the row.
 */
export async function claimEscalation(db: SqlRunner, org: string, taskId: string, now: Date): Promise<TaskRow | null> {
  const [t] = await queryRows<TaskRow>(db, sql`update workflow.approval_tasks set escalated_at = now()
    where organization_id = ${org} and id = ${taskId}::uuid and status = 'pending' and escalated_at is null and due_at <= ${now} returning *`);
  return t ?? null;
}

/** Pending tasks due on the approvals' clock and not escalated yet (the sweep's work), oldest first. */
export const dueTasks = (db: SqlRunner, now: Date, limit = 100): Promise<{ organization_id: string; id: string }[]> =>
  queryRows(db, sql`select organization_id, id from workflow.approval_tasks where status = 'pending' and escalated_at is null and due_at <= ${now} order by due_at limit ${limit}`);
