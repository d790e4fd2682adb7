import { randomUUID } from 'node:crypto';
import { DataRefusal, queueApprovalActions, type DataClient } from '@objectos/automation-subgraph';
import type { Db, SqlRunner } from '@objectos/db';
import type { Channel } from '@objectos/events';
import type { JobQueue } from '@objectos/jobs';
import { NOTIFY_QUEUES } from '@objectos/notifications';
import { evaluateRuleCondition, type ApprovalModel, type FieldDefinition } from '@objectos/metadata';
import type { Principal } from '@objectos/principal';
import { accessFor, type CompiledSchema } from '@objectos/schema';
import { member, workflowError } from '../transitions.ts';
import { organizationAdmins, resolveApprovers } from './approvers.ts';
import { takeApprovalTransitions } from './effects.ts';
import {
  actingFor, cancelPending, claimEscalation, dueTasks, grantReads, insertRequest, insertTasks, requestById, requestsOfRecord, revokeReads, setRequest, setTask, taskById, tasksOf, type RequestRow, type TaskRow,
} from './store.ts';

/** Escalations: one delayed job per task, at its due time (on the approvals' clock). */
export const ESCALATION_QUEUE = 'workflow.approval_escalation';
export const ESCALATION_JOBS = { attempts: 5, backoffMs: 5_000, timeoutMs: 60_000 } as const;

/** Who the pending list changed for: each gets their `myPendingApprovals` again. */
export interface ApprovalChange { org: string; users: string[] }

export interface ApprovalsOptions {
  compiled: CompiledSchema;
  db: Db;
  data: DataClient;
  queue: JobQueue;
  changes: Channel<ApprovalChange>;
  /** The clock due times are read on (tests inject one); the queue keeps real time. @default Date.now */
  now?: () => number;
}

type Decision = 'approve' | 'reject';
/** What happened, applied after the commit: transitions, actions, shares, escalations, live lists. */
interface After { request: RequestRow; points: string[]; newTasks: TaskRow[]; touched: string[]; actorId: string | null }

export function createApprovals(o: ApprovalsOptions) {
  const model = o.compiled.model;
  const now = o.now ?? Date.now;
  const fieldsOf = (object: string) => new Map<string, FieldDefinition>(model.objects.find((x) => x.name === object)!.fields.map((f) => [f.name, f]));
  const processOf = (name: string): ApprovalModel => model.approvals.find((a) => a.name === name)!;
  const isAdmin = (p: Principal) => accessFor(o.compiled.plan, o.compiled.security, p).orgAdmin;

  /** Tasks for a step visit: its approvers today (the org's admins when they resolve to nobody), each with its due time. */
  async function stepTasks(tx: SqlRunner, r: RequestRow, stepIndex: number, record: Record<string, unknown>, subject: string | null, strict: boolean): Promise<TaskRow[]> {
    const process = processOf(r.process);
    const step = process.steps[stepIndex]!;
    let approvers = await resolveApprovers(tx, model, step.approvers, { org: r.organization_id, record, subject });
    if (approvers.length === 0) {
      if (strict) throw workflowError('BAD_USER_INPUT', `${process.name}: step ${step.name} has no approver for this record (${step.approvers.map((a) => a.type + (a.value ? `:${a.value}` : '')).join(', ')} resolve to no member of the organization)`);
      approvers = await organizationAdmins(tx, r.organization_id);
    }
    const dueAt = process.escalation ? new Date(now() + process.escalation.timeoutHours * 3_600_000) : null;
    return insertTasks(tx, { requestId: r.id, org: r.organization_id, stepIndex, step: step.name, approvers, dueAt });
  }

  async function after(a: After): Promise<void> {
    const r = a.request;
    // Each decision happens once (no retry runs this again): its actions are keyed by a fresh id.
    const occurrence = randomUUID();
    for (const point of a.points) {
      await takeApprovalTransitions({ data: o.data, queue: o.queue, db: o.db, model }, r, point, a.actorId);
      await queueApprovalActions(o.queue, model, { occurrence, org: r.organization_id, process: r.process, point, object: r.object, recordId: r.record_id, actorId: a.actorId });
    }
    await grantReads(o.db, r, a.newTasks.map((t) => t.approver_id));
    await revokeReads(o.db, r.id);
    const skew = now() - Date.now();
    for (const t of a.newTasks)
      if (t.due_at) await o.queue.enqueue(ESCALATION_QUEUE, { org: r.organization_id, taskId: t.id }, { key: `esc:${t.id}`, tenant: r.organization_id, runAt: new Date(new Date(t.due_at).getTime() - skew) });
    const users = [...new Set([...a.touched, ...a.newTasks.map((t) => t.approver_id)])];
    if (users.length) await o.changes.publish({ org: r.organization_id, users }).catch(() => undefined);
  }

  /** Applies one decision on a task inside `tx`; returns what to do after the commit. */
  async function decideTask(tx: SqlRunner, r: RequestRow, task: TaskRow, decision: Decision, by: string | null, comment: string | null, record: Record<string, unknown>): Promise<After> {
    const process = processOf(r.process);
    const step = process.steps[r.step_index]!;
    await setTask(tx, task.id, decision === 'approve' ? 'approved' : 'rejected', by, comment);
    const touched = [task.approver_id];
    if (decision === 'approve') {
      const open = (await tasksOf(tx, r.id)).filter((x) => x.status === 'pending');
      if (step.behavior === 'unanimous' && open.length > 0) return { request: r, points: [], newTasks: [], touched, actorId: by };
      touched.push(...(await cancelPending(tx, r.id)));
      const points = [`steps.${r.step_index}.onApprove`];
      if (r.step_index + 1 < process.steps.length) {
        await setRequest(tx, r.id, 'pending', r.step_index + 1);
        const next = { ...r, step_index: r.step_index + 1 };
        return { request: next, points, newTasks: await stepTasks(tx, next, next.step_index, record, r.submitted_by, false), touched, actorId: by };
      }
      await setRequest(tx, r.id, 'approved', r.step_index);
      return { request: { ...r, status: 'approved' }, points: [...points, 'onFinalApprove'], newTasks: [], touched, actorId: by };
    }
    touched.push(...(await cancelPending(tx, r.id)));
    const points = [`steps.${r.step_index}.onReject`];
    if (step.rejectionBehavior === 'back_to_previous' && r.step_index > 0) {
      await setRequest(tx, r.id, 'pending', r.step_index - 1);
      const back = { ...r, step_index: r.step_index - 1 };
      return { request: back, points, newTasks: await stepTasks(tx, back, back.step_index, record, r.submitted_by, false), touched, actorId: by };
    }
    await setRequest(tx, r.id, 'rejected', r.step_index);
    return { request: { ...r, status: 'rejected' }, points: [...points, 'onFinalReject'], newTasks: [], touched, actorId: by };
  }

  /** The pending request, locked, or a clear refusal. */
  async function pendingRequest(tx: SqlRunner, org: string, id: string): Promise<RequestRow> {
    const r = await requestById(tx, org, id, true);
    if (!r) throw workflowError('NOT_FOUND', `No approval request ${id} in your organization`);
    if (r.status !== 'pending') throw workflowError('CONFLICT', `Approval request ${id} is ${r.status}, no longer pending`);
    return r;
  }

  return {
    processOf,
    async submit(principal: Principal, object: string, id: string, name: string | null, comment: string | null): Promise<RequestRow> {
      const { org, userId } = member(principal);
      const active = model.approvals.filter((a) => a.object === object && a.active);
      if (name && !active.some((a) => a.name === name)) throw workflowError('BAD_USER_INPUT', `No active approval process "${name}" for ${object} (${active.map((a) => a.name).join(', ') || 'none'})`);
      if (active.length === 0) throw workflowError('BAD_USER_INPUT', `${object} has no approval process`);
      const seen = await o.data.get(org, object, id, { kind: 'principal', principal }).catch((e: unknown) => (e instanceof DataRefusal ? null : Promise.reject(e)));
      if (!seen) throw workflowError('NOT_FOUND', `No ${object} with id "${id}" that you can read`);
      if ((await requestsOfRecord(o.db, org, object, id)).some((r) => r.status === 'pending')) throw workflowError('CONFLICT', `This ${object} is already pending approval`);
      if (!(await o.data.canEdit(org, object, id, { kind: 'principal', principal }))) throw workflowError('FORBIDDEN', `Only who can edit this ${object} may submit it for approval`);
      const record = (await o.data.get(org, object, id, { kind: 'system' }))!;
      // As Salesforce does: the named process, or the first (by name) whose entry criteria the record meets.
      const meets = (a: ApprovalModel) => !a.entryCondition || evaluateRuleCondition(a.entryCondition, { record, previous: record, fields: fieldsOf(object) });
      const criteria = (a: ApprovalModel) => `${a.name}: ${typeof a.entryCriteria === 'string' ? a.entryCriteria : JSON.stringify(a.entryCriteria ?? 'none')}`;
      const process = (name ? active.filter((a) => a.name === name) : active).find(meets);
      if (!process) throw workflowError('BAD_USER_INPUT', `This ${object} does not meet the entry criteria of ${(name ? active.filter((a) => a.name === name) : active).map(criteria).join('; ')}`);
      let done: After;
      try {
        done = await o.db.transaction(async (tx) => {
          const requestId = await insertRequest(tx, { org, process: process.name, object, recordId: id, locked: process.lockRecord, submittedBy: userId, comment });
          const r = (await requestById(tx, org, requestId))!;
          return { request: r, points: ['onSubmit'], newTasks: await stepTasks(tx, r, 0, record, userId, true), touched: [], actorId: userId };
        });
      } catch (e) {
        if (String((e as { message?: string }).message ?? '').includes('approval_requests_pending') || (e as { cause?: { code?: string } }).cause?.code === '23505')
          throw workflowError('CONFLICT', `This ${object} is already pending approval`);
        throw e;
      }
      try {
        await after(done);
      } catch (e) {
        // The submission's transition was refused (the record is not where the process starts): nothing stays pending.
        await o.db.transaction(async (tx) => {
          await cancelPending(tx, done.request.id);
          await setRequest(tx, done.request.id, 'recalled', 0);
        });
        await revokeReads(o.db, done.request.id);
        throw e instanceof DataRefusal ? workflowError(e.code, e.message) : e;
      }
      return done.request;
    },
    async decide(principal: Principal, requestId: string, decision: Decision, comment: string | null): Promise<RequestRow> {
      const { org, userId } = member(principal);
      // Read before the transaction: a call to the data subgraph must not wait on a connection this one holds (PGlite has one).
      const head = await requestById(o.db, org, requestId);
      const record = head ? ((await o.data.get(org, head.object, head.record_id, { kind: 'system' })) ?? {}) : {};
      const done = await o.db.transaction(async (t) => {
        const tx: SqlRunner = t;
        const r = await pendingRequest(tx, org, requestId);
        const mine = new Set(await actingFor(tx, org, userId));
        const tasks = (await tasksOf(tx, r.id)).filter((x) => x.status === 'pending' && x.step_index === r.step_index);
        const task = tasks.find((x) => x.approver_id === userId) ?? tasks.find((x) => mine.has(x.approver_id)) ?? (isAdmin(principal) ? tasks[0] : undefined);
        if (!task) throw workflowError('FORBIDDEN', `You are not an approver of the current step of approval request ${requestId}`);
        return decideTask(tx, r, task, decision, userId, comment, record);
      });
      await after(done);
      return (await requestById(o.db, org, requestId))!;
    },
    async recall(principal: Principal, requestId: string): Promise<RequestRow> {
      const { org, userId } = member(principal);
      const done = await o.db.transaction(async (t) => {
        const tx: SqlRunner = t;
        const r = await pendingRequest(tx, org, requestId);
        if (r.submitted_by !== userId && !isAdmin(principal)) throw workflowError('FORBIDDEN', 'Only who submitted a request (or an admin) may recall it');
        const touched = await cancelPending(tx, r.id);
        await setRequest(tx, r.id, 'recalled', r.step_index);
        return { request: { ...r, status: 'recalled' as const }, points: ['onRecall'], newTasks: [], touched, actorId: userId } satisfies After;
      });
      await after(done);
      return (await requestById(o.db, org, requestId))!;
    },
    async reassign(principal: Principal, taskId: string, to: string, comment: string | null): Promise<TaskRow> {
      const { org, userId } = member(principal);
      const done = await o.db.transaction(async (t) => {
        const tx: SqlRunner = t;
        const task = await taskById(tx, org, taskId);
        if (!task || task.status !== 'pending') throw workflowError('NOT_FOUND', `No pending approval task ${taskId} in your organization`);
        const r = await pendingRequest(tx, org, task.request_id);
        if (!(await actingFor(tx, org, userId)).includes(task.approver_id) && !isAdmin(principal)) throw workflowError('FORBIDDEN', 'Only the approver (or their delegate, or an admin) may reassign this task');
        const [target] = await resolveApprovers(tx, model, [{ type: 'user', value: to }], { org, record: {}, subject: null });
        if (!target) throw workflowError('BAD_USER_INPUT', `${to} is not a member of this organization`);
        await setTask(tx, task.id, 'reassigned', userId, comment);
        const dueAt = task.due_at ? new Date(now() + processOf(r.process).escalation!.timeoutHours * 3_600_000) : null;
        const newTasks = await insertTasks(tx, { requestId: r.id, org, stepIndex: task.step_index, step: task.step, approvers: [target], dueAt, reassignedFrom: task.approver_id });
        return { request: r, points: [], newTasks, touched: [task.approver_id], actorId: userId } satisfies After;
      });
      await after(done);
      return done.newTasks[0]!;
    },
    /**
     * A task still pending at its due time (on the approvals' clock) is reassigned, decided, or its
     * approver and their manager reminded: once, whether its delayed job or the sweep gets there first.
     */
    async escalate(org: string, taskId: string): Promise<string> {
      const peek = await taskById(o.db, org, taskId);
      if (!peek || peek.status !== 'pending') return 'no longer pending';
      const r = (await requestById(o.db, org, peek.request_id))!;
      const e = processOf(r.process).escalation;
      if (!e || r.status !== 'pending') return 'nothing to do';
      const at = new Date(now());
      // Reads first, outside the transaction (a data subgraph call must not wait on a connection it holds).
      const record = (await o.data.get(org, r.object, r.record_id, { kind: 'system' })) ?? {};
      if (e.action === 'notify') {
        const task = await claimEscalation(o.db, org, taskId, at);
        if (!task) return 'not due, or already escalated';
        const managers = await resolveApprovers(o.db, model, [{ type: 'manager' }], { org, record, subject: task.approver_id });
        for (const u of new Set([task.approver_id, ...managers]))
          await o.queue.enqueue(NOTIFY_QUEUES.in_app, { userId: u, tenant: org, topic: `approval.${r.process}`, title: 'Approval overdue', body: `A ${r.object} has waited on ${task.step} since ${new Date(task.created_at).toISOString()}`, data: { object: r.object, id: r.record_id, request: r.id } }, { key: `esc:${taskId}:${u}`, tenant: org });
        return 'notified';
      }
      const targets = e.action !== 'reassign' ? [] : await (async () => {
        const to = await resolveApprovers(o.db, model, [e.reassignTo ?? { type: 'manager' }], { org, record, subject: peek.approver_id });
        return to.length ? to : organizationAdmins(o.db, org);
      })();
      const done = await o.db.transaction(async (tx): Promise<After | null> => {
        const task = await claimEscalation(tx, org, taskId, at);
        if (!task) return null;
        const current = (await requestById(tx, org, r.id, true))!;
        if (e.action === 'reassign') {
          await setTask(tx, task.id, 'reassigned', null, 'escalated');
          const newTasks = await insertTasks(tx, { requestId: r.id, org, stepIndex: task.step_index, step: task.step, approvers: targets, dueAt: new Date(now() + e.timeoutHours * 3_600_000), reassignedFrom: task.approver_id });
          return { request: current, points: [], newTasks, touched: [task.approver_id], actorId: null };
        }
        return decideTask(tx, current, task, e.action === 'auto_approve' ? 'approve' : 'reject', null, 'escalated', record);
      });
      if (!done) return 'not due, or already escalated';
      await after(done);
      return e.action === 'reassign' ? `reassigned to ${targets.join(', ')}` : e.action === 'auto_approve' ? 'approved' : 'rejected';
    },
    /** Escalates every due task the delayed jobs have not (a clock moved on, or a job lost with its queue). */
    async sweepEscalations(): Promise<number> {
      const due = await dueTasks(o.db, new Date(now()));
      for (const t of due) await this.escalate(t.organization_id, t.id);
      return due.length;
    },
  };
}

export type Approvals = ReturnType<typeof createApprovals>;
