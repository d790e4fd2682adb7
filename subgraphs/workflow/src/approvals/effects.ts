import { randomUUID } from 'node:crypto';
import { approvalPoint, queueStateActions, type DataClient } from '@objectos/automation-subgraph';
import type { SqlRunner } from '@objectos/db';
import type { JobQueue } from '@objectos/jobs';
import type { MetadataModel } from '@objectos/metadata';
import { workflowError } from '../transitions.ts';
import type { RequestRow } from './store.ts';

interface Deps { data: DataClient; queue: JobQueue; db: SqlRunner; model: MetadataModel }

/** The `{ transition }` actions of an approval process at a point. */
const transitionsAt = (model: MetadataModel, process: string, point: string): string[] =>
  approvalPoint(model, process, point).flatMap((x) => ('transition' in x ? [x.transition] : []));

/**
 * Takes the process's transitions at `point` on the record's state machine, with the approval's
 * authority (the machine's guards are not asked), recorded in its history as the deciding user; the
 * states' exit and entry actions are queued like any transition's.
 */
export async function takeApprovalTransitions(d: Deps, r: RequestRow, point: string, actorId: string | null): Promise<void> {
  for (const event of transitionsAt(d.model, r.process, point)) {
    const m = d.model.stateMachines.find((x) => x.object === r.object)!;
    const record = await d.data.get(r.organization_id, r.object, r.record_id, { kind: 'system' });
    if (!record) throw workflowError('NOT_FOUND', `The ${r.object} of approval request ${r.id} no longer exists`);
    const from = String(record[m.field] ?? '');
    const t = m.transitions.find((x) => x.from === from && x.event === event);
    if (!t) throw workflowError('BAD_USER_INPUT', `${r.process}: the ${r.object} is in "${from}", where ${m.name} has no transition "${event}"`);
    const id = randomUUID();
    await d.data.transition(r.organization_id, r.object, r.record_id, { [m.field]: t.to }, actorId, { id, machine: m.name, event, from, to: t.to, comment: `approval ${r.process}` });
    await queueStateActions(d.db, d.queue, d.model, { id, org: r.organization_id, machine: m.name, event, from, to: t.to, object: r.object, recordId: r.record_id, actorId });
  }
}

/** Events of the object's machine that an active approval process takes: only the process may take them. */
export function approvalOwnedEvents(model: MetadataModel, object: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const a of model.approvals.filter((x) => x.object === object && x.active))
    for (const point of ['onSubmit', 'onFinalApprove', 'onFinalReject', 'onRecall', ...a.steps.flatMap((_, i) => [`steps.${i}.onApprove`, `steps.${i}.onReject`])])
      for (const e of transitionsAt(model, a.name, point)) out.set(e, a.name);
  return out;
}
