import { sql } from 'drizzle-orm';
import type { FlowChangeStart, FlowStartJob } from '@objectos/automation-subgraph';
import { queryRows, type Db } from '@objectos/db';
import { nameUuid } from '@objectos/events';
import type { JobContext } from '@objectos/jobs';
import { coerceFlowInputs, type FieldDefinition, type FlowModel } from '@objectos/metadata';
import { flowTriggerMatches, type DataPlan } from '@objectos/schema';
import type { FlowRunner } from './flow-runner.ts';
import { insertRun, loadRun, type NewRun, type RunRow, type Variables } from './flow-store.ts';

export interface FlowStarter {
  /** Records a run (keyed by its id: a start made twice makes one run) and queues its first job. */
  start(run: Omit<NewRun, 'version' | 'startNode'>, flow: FlowModel): Promise<RunRow>;
  /** The handler of `workflow.flow_start`: record changes and schedule ticks. */
  handle(job: FlowStartJob, ctx: JobContext): Promise<unknown>;
}

export interface FlowStarterOptions {
  db: Db;
  plan: DataPlan;
  flows: ReadonlyMap<string, FlowModel>;
  runner: FlowRunner;
}

export function createFlowStarter(o: FlowStarterOptions): FlowStarter {
  const fieldMaps = new Map<string, ReadonlyMap<string, FieldDefinition>>();
  const fieldsOf = (object: string): ReadonlyMap<string, FieldDefinition> => {
    let m = fieldMaps.get(object);
    if (!m) fieldMaps.set(object, (m = new Map((o.plan.objects[object]?.object.fields ?? []).map((f) => [f.name, f]))));
    return m;
  };

  async function start(r: Omit<NewRun, 'version' | 'startNode'>, flow: FlowModel): Promise<RunRow> {
    const startNode = flow.nodes.find((n) => n.type === 'start')!;
    const inserted = await insertRun(o.db, { ...r, version: flow.version, startNode: startNode.id });
    // Queued after the commit; a crash in between leaves a running run without a job, which the sweep queues.
    await o.runner.advance({ id: r.id, organization_id: r.org }, 1);
    return inserted ?? (await loadRun(o.db, r.id))!;
  }

  /**
   * A committed change: the flow starts when its trigger criteria hold (judged here, on the record as
   * the change left it, and as it was). It is given `record` and `prior` when it declares them; its run
   * acts for the user who made the change (runAs user), in that change's organization.
   */
  async function fromChange(job: FlowChangeStart): Promise<unknown> {
    const flow = o.flows.get(job.flow);
    if (!flow || flow.status !== 'active' || flow.type !== 'record_change') return { skipped: `flow ${job.flow} is not an active record_change flow` };
    if (!flowTriggerMatches(flow, job.op, job.record, job.prior, fieldsOf(job.object))) return { skipped: 'trigger criteria not met' };
    const declared = new Set(flow.variables.filter((v) => v.isInput).map((v) => v.name));
    const given: Variables = {};
    if (declared.has('record')) given['record'] = job.op === 'delete' ? job.prior : job.record;
    if (declared.has('prior')) given['prior'] = job.op === 'create' ? null : job.prior;
    const id = nameUuid(`flow:${job.eventId}:${flow.name}`);
    const run = await start({
      id, org: job.org, flow: flow.name, variables: coerceFlowInputs(flow, given), runAs: flow.runAs, startedBy: job.actorId, parentRunId: null, parentNode: null,
      trigger: { type: 'record_change', object: job.object, recordId: job.recordId, op: job.op, eventId: job.eventId }, depth: job.depth,
    }, flow);
    return { runId: run.id };
  }

  /** One tick of a schedule flow: one run per organization, keyed by the tick (a tick handled twice starts nothing twice). */
  async function fromSchedule(name: string, tick: string): Promise<unknown> {
    const flow = o.flows.get(name);
    if (!flow || flow.status !== 'active' || flow.type !== 'schedule') return { skipped: `flow ${name} is not an active schedule flow` };
    const orgs = await queryRows<{ id: string }>(o.db, sql`select id from auth.organization order by id`);
    for (const { id: org } of orgs)
      await start({
        id: nameUuid(`flow:${tick}:${org}`), org, flow: flow.name, variables: coerceFlowInputs(flow, {}), runAs: 'system', startedBy: null, parentRunId: null, parentNode: null,
        trigger: { type: 'schedule', tick }, depth: 1,
      }, flow);
    return { runs: orgs.length };
  }

  return {
    start,
    handle: (job, ctx) => (job.kind === 'schedule' ? fromSchedule(job.flow, ctx.key) : fromChange(job)),
  };
}
