import { sql } from 'drizzle-orm';
import { queryRows, type SqlRunner } from '@objectos/db';
import type { JobQueue } from '@objectos/jobs';
import type { ApprovalAction, MetadataModel, RuleModel, StateMachineModel, WorkflowAction } from '@objectos/metadata';
import { ActionFailure, runAction, type ActionDeps } from './actions.ts';
import { ACTION_JOBS, attemptsOf } from './engine.ts';

/** The queue of state machine actions (exit, transition, entry), run by the automation executors. */
export const STATE_ACTION_QUEUE = 'workflow.state_action';

/** A state machine's exit, transition and entry actions; `approval`: an approval process's, at `owner` (onSubmit, steps.0.onApprove…). */
type Phase = 'exit' | 'transition' | 'enter' | 'approval';

export interface StateActionJob {
  org: string;
  machine: string;
  historyId: string;
  phase: Phase;
  /** The state or event whose action list holds it. */
  owner: string;
  action: string;
  object: string;
  recordId: string;
  actorId: string | null;
}

/** One transition the history recorded. */
export interface TakenTransition {
  id: string;
  org: string;
  machine: string;
  event: string;
  from: string;
  to: string;
  object: string;
  recordId: string;
  actorId: string | null;
}

const machineOf = (model: Pick<MetadataModel, 'stateMachines'>, name: string): StateMachineModel | undefined => model.stateMachines.find((m) => m.name === name);

/** The rule actions of an approval process at one point (`onSubmit`, `steps.<i>.onApprove`, …); its transitions are taken by the workflow subgraph. */
export function approvalActionsAt(model: Pick<MetadataModel, 'approvals'>, process: string, point: string): WorkflowAction[] {
  return approvalPoint(model, process, point).filter((x): x is WorkflowAction => !('transition' in x));
}

/** Everything an approval process does at one point (`onSubmit`, `steps.<i>.onApprove`, …): rule actions and transitions. */
export function approvalPoint(model: Pick<MetadataModel, 'approvals'>, process: string, point: string): ApprovalAction[] {
  const a = model.approvals.find((x) => x.name === process);
  if (!a) return [];
  const [head, index, leaf] = point.split('.');
  return (head === 'steps' ? a.steps[Number(index)]?.[leaf as 'onApprove' | 'onReject'] : a[head as 'onSubmit' | 'onFinalApprove' | 'onFinalReject' | 'onRecall']) ?? [];
}

/**
 * Queues an approval process's rule actions at one point, keyed by `occurrence` (a request's decision or
 * submission: each happens once), run like a state machine's (on the record as it is then, in system context).
 */
export async function queueApprovalActions(queue: JobQueue, model: Pick<MetadataModel, 'approvals'>, o: { occurrence: string; org: string; process: string; point: string; object: string; recordId: string; actorId: string | null }): Promise<number> {
  const actions = approvalActionsAt(model, o.process, o.point);
  for (const a of actions) {
    const job: StateActionJob = { org: o.org, machine: o.process, historyId: o.occurrence, phase: 'approval', owner: o.point, action: a.name, object: o.object, recordId: o.recordId, actorId: o.actorId };
    await queue.enqueue(STATE_ACTION_QUEUE, job, { key: keyOf(job), tenant: o.org, attempts: attemptsOf(a) });
  }
  return actions.length;
}

function actionsOf(m: StateMachineModel, phase: Phase, owner: string, event?: string): WorkflowAction[] {
  if (phase === 'transition') return m.transitions.find((t) => t.from === owner && t.event === event)?.actions ?? [];
  const state = m.states.find((s) => s.name === owner);
  return (phase === 'exit' ? state?.onExit : state?.onEnter) ?? [];
}

/** A transition's actions in the order they run: the old state's exit, the transition's, the new state's entry. */
function jobsOf(model: Pick<MetadataModel, 'stateMachines'>, t: TakenTransition): StateActionJob[] {
  const m = machineOf(model, t.machine);
  if (!m) return [];
  const base = { org: t.org, machine: t.machine, historyId: t.id, object: t.object, recordId: t.recordId, actorId: t.actorId };
  return [
    ...actionsOf(m, 'exit', t.from).map((a) => ({ ...base, phase: 'exit' as const, owner: t.from, action: a.name })),
    ...actionsOf(m, 'transition', t.from, t.event).map((a) => ({ ...base, phase: 'transition' as const, owner: `${t.from}.${t.event}`, action: a.name })),
    ...actionsOf(m, 'enter', t.to).map((a) => ({ ...base, phase: 'enter' as const, owner: t.to, action: a.name })),
  ];
}

const keyOf = (j: StateActionJob) => (j.phase === 'approval' ? `ap:${j.historyId}:${j.owner}:${j.action}` : `wf:${j.historyId}:${j.phase}:${j.action}`);

/**
 * Hands a committed transition's actions to the queue (keyed: queuing twice adds nothing), then marks
 * its history row. A crash between the two leaves the row unmarked for {@link sweepStateActions}.
 */
export async function queueStateActions(db: SqlRunner, queue: JobQueue, model: Pick<MetadataModel, 'stateMachines'>, t: TakenTransition): Promise<number> {
  const jobs = jobsOf(model, t);
  const m = machineOf(model, t.machine);
  for (const j of jobs) {
    const action = actionsOf(m!, j.phase, j.phase === 'transition' ? t.from : j.owner, t.event).find((a) => a.name === j.action);
    await queue.enqueue(STATE_ACTION_QUEUE, j, { key: keyOf(j), tenant: t.org, attempts: attemptsOf(action) });
  }
  await db.execute(sql`update workflow.state_history set actions_queued = true where id = ${t.id}::uuid`);
  return jobs.length;
}

/** Transitions committed more than `olderThanMs` ago whose actions were never queued (their process died first). */
export async function sweepStateActions(db: SqlRunner, queue: JobQueue, model: Pick<MetadataModel, 'stateMachines'>, olderThanMs = 10_000): Promise<number> {
  const rows = await queryRows<{ id: string; organization_id: string; machine: string; event: string; from_state: string; to_state: string; object: string; record_id: string; actor_id: string | null }>(db,
    sql`select id, organization_id, machine, event, from_state, to_state, object, record_id, actor_id from workflow.state_history
        where not actions_queued and created_at < now() - make_interval(secs => ${olderThanMs / 1000}) order by seq limit 200`);
  for (const r of rows)
    await queueStateActions(db, queue, model, { id: r.id, org: r.organization_id, machine: r.machine, event: r.event, from: r.from_state, to: r.to_state, object: r.object, recordId: r.record_id, actorId: r.actor_id });
  return rows.length;
}

/** The queue's handler: each action runs as a rule action would, on the record as it is now (in system context). */
export function registerStateActions(queue: JobQueue, model: MetadataModel, deps: ActionDeps): void {
  queue.register<StateActionJob>(STATE_ACTION_QUEUE, async (job, ctx) => {
    if (job.phase === 'approval') return runApprovalAction(job, ctx.key, model, deps);
    const m = machineOf(model, job.machine);
    const event = job.phase === 'transition' ? job.owner.split('.')[1] : undefined;
    const owner = job.phase === 'transition' ? job.owner.split('.')[0]! : job.owner;
    const action = m ? actionsOf(m, job.phase, owner, event).find((a) => a.name === job.action) : undefined;
    // The metadata changed since the transition: nothing to run (said in the job's result).
    if (!m || !action) return { skipped: `${job.machine}: no ${job.phase} action ${job.action} in the metadata now` };
    const record = await deps.data.get(job.org, job.object, job.recordId, { kind: 'system' });
    if (!record) throw new ActionFailure(`the ${job.object} ${job.recordId} no longer exists`);
    const rule: RuleModel = {
      name: m.name, objectName: m.object, triggerType: 'on_update', actions: [action], timeTriggers: [], active: true, executionOrder: 100,
      reevaluateOnChange: false, runAs: 'system', source: m.source, condition: null,
    };
    // A failure is retried up to the action's attempts, then a dead letter in the job monitor (replayable).
    return runAction({ org: job.org, rule, action, object: job.object, recordId: job.recordId, record, prior: null, eventId: job.historyId, actorId: job.actorId, depth: 1, key: ctx.key }, deps);
  }, { ...ACTION_JOBS, concurrency: 4 });
}

async function runApprovalAction(job: StateActionJob, key: string, model: MetadataModel, deps: ActionDeps): Promise<unknown> {
  const process = model.approvals.find((a) => a.name === job.machine);
  const action = approvalActionsAt(model, job.machine, job.owner).find((a) => a.name === job.action);
  if (!process || !action) return { skipped: `${job.machine}: no action ${job.action} at ${job.owner} in the metadata now` };
  const record = await deps.data.get(job.org, job.object, job.recordId, { kind: 'system' });
  if (!record) throw new ActionFailure(`the ${job.object} ${job.recordId} no longer exists`);
  const rule: RuleModel = {
    name: process.name, objectName: process.object, triggerType: 'on_update', actions: [action], timeTriggers: [], active: true, executionOrder: 100,
    reevaluateOnChange: false, runAs: 'system', source: process.source, condition: null,
  };
  return runAction({ org: job.org, rule, action, object: job.object, recordId: job.recordId, record, prior: null, eventId: job.historyId, actorId: job.actorId, depth: 1, key }, deps);
}
