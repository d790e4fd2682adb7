import type { AutomationCause, DataChangeEvent as ChangeEvent } from '@objectos/events';
import { JobInputError, type JobQueue } from '@objectos/jobs';
import type { FlowModel } from '@objectos/metadata';
import { flowFires } from '@objectos/schema';

/**
 * The queue flows are started on from outside the API: record changes (the rule engine sends) and
 * schedule ticks (the scheduler sends). The process that hosts the workflow subgraph works it; every
 * process that sends declares it.
 */
export const FLOW_START_QUEUE = 'workflow.flow_start';
/** Settings of the start queue, for every process that declares or works it. */
export const FLOW_START_JOBS = { attempts: 5, backoffMs: 1_000, timeoutMs: 600_000 } as const;

/** A record_change flow to start (its trigger criteria are evaluated by the starter). */
export interface FlowChangeStart {
  kind: 'change';
  flow: string;
  org: string;
  /** The change's outbox id: the run's id derives from it, so a change handed over twice starts one run. */
  eventId: string;
  op: ChangeEvent['op'];
  object: string;
  recordId: string;
  /** Metadata field names; null on delete (`prior` holds the deleted record). */
  record: Record<string, unknown> | null;
  prior: Record<string, unknown> | null;
  actorId: string | null;
  /** 1 for a person's change; a change a flow or rule made runs one deeper (a chain stops at MAX_DEPTH). */
  depth: number;
}

/** One tick of a schedule flow (what the scheduler enqueues; the tick's key names it). */
export interface FlowScheduleStart {
  kind: 'schedule';
  flow: string;
}

export type FlowStartJob = FlowChangeStart | FlowScheduleStart;

/**
 * Queues a start for each active record_change flow whose trigger fires on this change, keyed
 * `<event id>:<flow>` (a change evaluated twice queues nothing twice). A change made by automation
 * starts flows one level deeper; past `maxDepth` nothing starts (a flow that updates its own trigger
 * record would otherwise run forever). Returns how many were queued.
 */
export async function queueFlowStarts(queue: JobQueue, flows: readonly FlowModel[], e: ChangeEvent, record: Record<string, unknown> | null, prior: Record<string, unknown> | null,
  cause: AutomationCause | null, maxDepth: number, onError: (e: unknown) => void): Promise<number> {
  const depth = cause ? cause.depth + 1 : 1;
  let queued = 0;
  for (const f of flows) {
    if (f.trigger?.object !== e.object || !flowFires(f.trigger.on, e.op) || depth > maxDepth) continue;
    const job: FlowChangeStart = { kind: 'change', flow: f.name, org: e.organizationId, eventId: e.id, op: e.op, object: e.object, recordId: e.recordId, record, prior, actorId: e.actorId, depth };
    try {
      await queue.enqueue(FLOW_START_QUEUE, job, { key: `${e.id}:${f.name}`, tenant: e.organizationId });
      queued++;
    } catch (err) {
      // A record over the payload cap cannot start a flow; it must not hold up the changes behind it.
      if (!(err instanceof JobInputError)) throw err;
      onError(new Error(`flow ${f.name} not started for ${e.object} ${e.recordId}: ${err.message}`));
    }
  }
  return queued;
}
