import { sql } from 'drizzle-orm';
import { Repeater } from 'graphql-yoga';
import { DataRefusal, type DataClient } from '@objectos/automation-subgraph';
import { queryRows, type Db } from '@objectos/db';
import type { Channel } from '@objectos/events';
import type { Principal } from '@objectos/principal';
import { accessFor, type CompiledSchema } from '@objectos/schema';
import { member, workflowError } from '../transitions.ts';
import type { ApprovalChange, Approvals } from './engine.ts';
import { actingFor, pendingTasksFor, requestById, requestsOfRecord, tasksOf, type RequestRow, type TaskRow } from './store.ts';

interface Ctx { principal: Principal }

export interface ApprovalResolverOptions {
  approvals: Approvals;
  compiled: CompiledSchema;
  db: Db;
  data: DataClient;
  changes: Channel<ApprovalChange>;
}

const bounded = (text: string | null | undefined, what: string): string | null => {
  if (text != null && text.length > 2000) throw workflowError('BAD_USER_INPUT', `${what}: at most 2000 characters (got ${text.length})`);
  return text ?? null;
};

/** Queries, mutations and the live list of approval processes, for the workflow subgraph's resolver map. */
export function approvalResolvers(o: ApprovalResolverOptions) {
  const { approvals, compiled } = o;
  const F = (n: string) => compiled.inflection.sharedField(n);
  const taskOut = (t: TaskRow, r: Pick<RequestRow, 'process' | 'object' | 'record_id'>, record?: Record<string, unknown> | null) => ({
    id: t.id, requestId: t.request_id, process: r.process, object: r.object, recordId: r.record_id, step: t.step, approverId: t.approver_id, status: t.status,
    reassignedFrom: t.reassigned_from, decidedBy: t.decided_by, comment: t.comment, dueAt: t.due_at && new Date(t.due_at), createdAt: new Date(t.created_at),
    decidedAt: t.decided_at && new Date(t.decided_at), record: record ?? null,
  });
  const requestOut = async (r: RequestRow) => ({
    id: r.id, process: r.process, object: r.object, recordId: r.record_id, status: r.status, step: approvals.processOf(r.process).steps[r.step_index]?.name ?? '',
    submittedBy: r.submitted_by, comment: r.comment, submittedAt: new Date(r.submitted_at), finishedAt: r.finished_at && new Date(r.finished_at),
    tasks: (await tasksOf(o.db, r.id)).map((t) => taskOut(t, r)),
  });

  /** The record as `principal` may see it in an approval: the fields their field security lets them read (objectos #10749's leak class). */
  async function readableRecord(principal: Principal, org: string, object: string, id: string): Promise<Record<string, unknown> | null> {
    const record = await o.data.get(org, object, id, { kind: 'system' });
    if (!record) return null;
    const fields = accessFor(compiled.plan, compiled.security, principal).objects[object]?.fields ?? {};
    return Object.fromEntries(Object.entries(record).filter(([k]) => k === 'id' || fields[k]?.readable === true));
  }

  /** The caller can read the record (through the data subgraph, as themselves), or this is NOT_FOUND. */
  async function requireReadable(principal: Principal, org: string, object: string, id: string): Promise<void> {
    const seen = await o.data.get(org, object, id, { kind: 'principal', principal }).catch((e: unknown) => (e instanceof DataRefusal ? null : Promise.reject(e)));
    if (!seen) throw workflowError('NOT_FOUND', `No ${object} with id "${id}" that you can read`);
  }

  async function myPending(principal: Principal) {
    const { org, userId } = member(principal);
    const tasks = await pendingTasksFor(o.db, org, await actingFor(o.db, org, userId));
    return Promise.all(tasks.map(async (t) => taskOut(t, t, await readableRecord(principal, org, t.object, t.record_id))));
  }

  const decide = (decision: 'approve' | 'reject') => async (_: unknown, a: { requestId: string; comment?: string | null }, ctx: Ctx) =>
    requestOut(await approvals.decide(ctx.principal, a.requestId, decision, bounded(a.comment, 'comment')));

  return {
    Query: {
      [F('approvalProcesses')]: (_: unknown, __: unknown, ctx: Ctx) => {
        member(ctx.principal);
        return compiled.model.approvals.map((a) => ({ name: a.name, label: a.label ?? a.name, object: a.object, lockRecord: a.lockRecord, steps: a.steps }));
      },
      [F('myPendingApprovals')]: (_: unknown, __: unknown, ctx: Ctx) => myPending(ctx.principal),
      [F('approvalRequests')]: async (_: unknown, a: { object: string; id: string }, ctx: Ctx) => {
        const { org } = member(ctx.principal);
        await requireReadable(ctx.principal, org, a.object, a.id);
        return Promise.all((await requestsOfRecord(o.db, org, a.object, a.id)).map(requestOut));
      },
      [F('approvalRequest')]: async (_: unknown, a: { id: string }, ctx: Ctx) => {
        const { org, userId } = member(ctx.principal);
        const r = await requestById(o.db, org, a.id);
        if (!r) return null;
        // An approver sees the request they decide; anyone else needs to be able to read the record.
        const mine = (await tasksOf(o.db, r.id)).some((t) => t.approver_id === userId);
        if (!mine) await requireReadable(ctx.principal, org, r.object, r.record_id);
        return requestOut(r);
      },
    },
    Mutation: {
      [F('submitForApproval')]: async (_: unknown, a: { object: string; id: string; process?: string | null; comment?: string | null }, ctx: Ctx) =>
        requestOut(await approvals.submit(ctx.principal, a.object, a.id, a.process ?? null, bounded(a.comment, 'comment'))),
      [F('approve')]: decide('approve'),
      [F('reject')]: decide('reject'),
      [F('recall')]: async (_: unknown, a: { requestId: string }, ctx: Ctx) => requestOut(await approvals.recall(ctx.principal, a.requestId)),
      [F('reassign')]: async (_: unknown, a: { taskId: string; userId: string; comment?: string | null }, ctx: Ctx) => {
        const t = await approvals.reassign(ctx.principal, a.taskId, a.userId, bounded(a.comment, 'comment'));
        const r = (await requestById(o.db, t.organization_id, t.request_id))!;
        return taskOut(t, r);
      },
      [F('setApprovalDelegate')]: async (_: unknown, a: { delegateId?: string | null; until?: Date | null }, ctx: Ctx) => {
        const { org, userId } = member(ctx.principal);
        if (!a.delegateId) {
          await o.db.execute(sql`delete from workflow.approval_delegates where organization_id = ${org} and user_id = ${userId}`);
          return null;
        }
        if (a.delegateId === userId) throw workflowError('BAD_USER_INPUT', 'You cannot delegate your approvals to yourself');
        const [isMember] = await queryRows(o.db, sql`select 1 from auth.member where organization_id = ${org} and user_id = ${a.delegateId}`);
        if (!isMember) throw workflowError('BAD_USER_INPUT', `${a.delegateId} is not a member of this organization`);
        await o.db.execute(sql`insert into workflow.approval_delegates (organization_id, user_id, delegate_id, until) values (${org}, ${userId}, ${a.delegateId}, ${a.until ?? null})
          on conflict (organization_id, user_id) do update set delegate_id = excluded.delegate_id, until = excluded.until`);
        await o.changes.publish({ org, users: [a.delegateId] }).catch(() => undefined);
        return { delegateId: a.delegateId, until: a.until ?? null };
      },
    },
    Subscription: {
      [F('myPendingApprovals')]: {
        subscribe: (_: unknown, __: unknown, ctx: Ctx) => {
          const { org, userId } = member(ctx.principal);
          return new Repeater<Record<string, unknown>>(async (push, stop) => {
            let closed = false;
            const send = async () => {
              if (!closed) await push({ [F('myPendingApprovals')]: await myPending(ctx.principal) });
            };
            const off = o.changes.subscribe((c) => {
              if (c.org !== org) return;
              void actingFor(o.db, org, userId).then((mine) => (c.users.some((u) => mine.includes(u)) ? send() : undefined)).catch(() => undefined);
            });
            await send();
            await stop;
            closed = true;
            off();
          });
        },
      },
    },
  };
}
