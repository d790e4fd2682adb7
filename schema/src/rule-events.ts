import { evaluateRuleCondition, type FieldDefinition, type FlowModel, type MetadataModel, type RuleModel } from '@objectos/metadata';
import type { DataPlan, ObjectPlan } from './plan.ts';

/** What rules read of a committed change (the outbox's change event, rows under GraphQL names). */
export interface RuleChange {
  object: string;
  op: 'create' | 'update' | 'delete';
  record: Record<string, unknown> | null;
  previous: Record<string, unknown> | null;
}

/** A row as the outbox holds it (GraphQL names, `__ownerId`) under metadata names: what criteria and templates read. */
export function metadataRecord(p: ObjectPlan, row: Record<string, unknown> | null): Record<string, unknown> | null {
  if (!row) return null;
  const out: Record<string, unknown> = { owner_id: row['__ownerId'] ?? null };
  for (const c of p.columns) if (c.graphqlName in row) out[c.name] = row[c.graphqlName];
  return out;
}

/** Whether a rule's trigger type fires on this operation. */
export const ruleFires = (trigger: RuleModel['triggerType'], op: RuleChange['op']): boolean =>
  op === 'create' ? trigger === 'on_create' || trigger === 'on_create_or_update'
    : op === 'update' ? trigger === 'on_update' || trigger === 'on_create_or_update'
      : trigger === 'on_delete';

/** Whether a record_change flow's trigger (`on`) fires on this operation. */
export const flowFires = (on: NonNullable<FlowModel['trigger']>['on'], op: RuleChange['op']): boolean =>
  op === 'create' ? on === 'create' || on === 'create_or_update' : op === 'update' ? on === 'update' || on === 'create_or_update' : on === 'delete';

/** The active record_change flows: those a committed change can start. */
export const changeFlows = (model: Pick<MetadataModel, 'flows'>): FlowModel[] =>
  model.flows.filter((f) => f.status === 'active' && f.type === 'record_change' && f.trigger !== undefined);

/**
 * A flow trigger's criteria on a change (rows under metadata names). A delete is judged on the record
 * as it was: the flow is given that record as `record`.
 */
export function flowTriggerMatches(flow: FlowModel, op: RuleChange['op'], record: Record<string, unknown> | null, previous: Record<string, unknown> | null, fields: ReadonlyMap<string, FieldDefinition>): boolean {
  const condition = flow.trigger?.condition;
  return !condition || evaluateRuleCondition(condition, { record: op === 'delete' ? previous : record, previous, fields });
}

/** A rule's criteria on a change, its rows under metadata names (a delete is judged on the record as it was). */
export function ruleMatches(rule: RuleModel, op: RuleChange['op'], record: Record<string, unknown> | null, previous: Record<string, unknown> | null, fields: ReadonlyMap<string, FieldDefinition>): boolean {
  return !rule.condition || evaluateRuleCondition(rule.condition, { record: op === 'delete' ? null : record, previous, fields });
}

/**
 * The changes automation must see, decided where they are published: those a rule of the object fires
 * on and whose criteria they meet (switched on or off per organization, it would act), every change
 * to an object with time triggers (pending ones move or are withdrawn), and those that start an active
 * record_change flow (its trigger's `on` and criteria). Changes nothing could act on are not handed over
 * at all. Undefined when neither a rule nor a flow watches record changes.
 */
export function ruleWatcher(model: Pick<MetadataModel, 'rules' | 'flows'>, plan: DataPlan): ((change: RuleChange) => boolean) | undefined {
  const byObject = new Map<string, RuleModel[]>();
  for (const r of model.rules) if (r.triggerType !== 'schedule') byObject.set(r.objectName, [...(byObject.get(r.objectName) ?? []), r]);
  const flowsOf = new Map<string, FlowModel[]>();
  for (const f of changeFlows(model)) flowsOf.set(f.trigger!.object, [...(flowsOf.get(f.trigger!.object) ?? []), f]);
  if (byObject.size === 0 && flowsOf.size === 0) return undefined;
  const fields = new Map([...new Set([...byObject.keys(), ...flowsOf.keys()])].map((o) => [o, new Map(plan.objects[o]!.object.fields.map((f) => [f.name, f as FieldDefinition]))]));
  return (change) => {
    const rules = byObject.get(change.object) ?? [];
    const flows = (flowsOf.get(change.object) ?? []).filter((f) => flowFires(f.trigger!.on, change.op));
    if (rules.length === 0 && flows.length === 0) return false;
    if (rules.some((r) => r.timeTriggers.length > 0)) return true;
    const firing = rules.filter((r) => ruleFires(r.triggerType, change.op));
    if (firing.length === 0 && flows.length === 0) return false;
    // Converted once for all the object's rules and flows.
    const p = plan.objects[change.object]!;
    const [record, previous] = [metadataRecord(p, change.record), metadataRecord(p, change.previous)];
    const f = fields.get(change.object)!;
    return firing.some((r) => ruleMatches(r, change.op, record, previous, f)) || flows.some((x) => flowTriggerMatches(x, change.op, record, previous, f));
  };
}
