import { evaluateRuleCondition, type FieldDefinition, type MetadataModel, type RuleModel } from '@objectos/metadata';
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

/** A rule's criteria on a change, its rows under metadata names (a delete is judged on the record as it was). */
export function ruleMatches(rule: RuleModel, op: RuleChange['op'], record: Record<string, unknown> | null, previous: Record<string, unknown> | null, fields: ReadonlyMap<string, FieldDefinition>): boolean {
  return !rule.condition || evaluateRuleCondition(rule.condition, { record: op === 'delete' ? null : record, previous, fields });
}

/**
 * The changes automation must see, decided where they are published: those a rule of the object fires
 * on and whose criteria they meet (switched on or off per organization, it would act), and every change
 * to an object with time triggers (pending ones move or are withdrawn). Changes no rule could act on
 * are not handed over at all. Undefined when no rule watches record changes.
 */
export function ruleWatcher(model: Pick<MetadataModel, 'rules'>, plan: DataPlan): ((change: RuleChange) => boolean) | undefined {
  const byObject = new Map<string, RuleModel[]>();
  for (const r of model.rules) if (r.triggerType !== 'schedule') byObject.set(r.objectName, [...(byObject.get(r.objectName) ?? []), r]);
  if (byObject.size === 0) return undefined;
  const fields = new Map([...byObject.keys()].map((o) => [o, new Map(plan.objects[o]!.object.fields.map((f) => [f.name, f as FieldDefinition]))]));
  return (change) => {
    const rules = byObject.get(change.object);
    if (!rules) return false;
    if (rules.some((r) => r.timeTriggers.length > 0)) return true;
    const firing = rules.filter((r) => ruleFires(r.triggerType, change.op));
    if (firing.length === 0) return false;
    // Converted once for all the object's rules.
    const p = plan.objects[change.object]!;
    const [record, previous] = [metadataRecord(p, change.record), metadataRecord(p, change.previous)];
    return firing.some((r) => ruleMatches(r, change.op, record, previous, fields.get(change.object)!));
  };
}
