import { checkRules, type RuleContext } from '../check-rules.ts';
import { ConditionError, type RuleCondition } from '../condition.ts';
import type { PathKey } from '../locate.ts';
import type { ObjectDefinition } from '../object-schema.ts';
import type { Report } from '../parse-metadata.ts';
import { parseRuleCriteria } from '../rule-criteria.ts';
import type { WorkflowRuleDefinition } from '../rule-schema.ts';
import type { ApprovalAction, ApprovalDefinition, ApproverDefinition } from './approval-schema.ts';
import type { StateMachineModel } from './check-state-machines.ts';

/** An approval process with its entry criteria parsed. */
export type ApprovalModel = ApprovalDefinition & { source: string; entryCondition: RuleCondition | null };

export interface ApprovalContext extends RuleContext {
  /** Group names (`queue` approvers). */
  groups: ReadonlySet<string>;
  /** The checked state machines (`{ transition }` actions name their events). */
  stateMachines: readonly StateMachineModel[];
}

const list = (names: Iterable<string>): string => [...names].sort().join(', ') || 'none';
const USER_FIELD_TYPES = ['text'];

/** Checks approval processes against their objects, roles, groups, state machines and the rule action rules. */
export function checkApprovals(entries: readonly { value: ApprovalDefinition; report: Report; source: string }[], ctx: ApprovalContext): (ApprovalModel | null)[] {
  return entries.map(({ value: a, report: reportTo, source }) => {
    let problems = 0;
    const report: Report = (path, message, key) => {
      problems++;
      reportTo(path, message, key);
    };
    const object = ctx.objects.get(a.object);
    if (!object) {
      report(['object'], `unknown object "${a.object}" (objects: ${list(ctx.objects.keys())})`);
      return null;
    }
    let entryCondition: RuleCondition | null = null;
    if (a.entryCriteria !== undefined)
      try {
        entryCondition = parseRuleCriteria(a.entryCriteria, { fields: new Map(Object.entries(object.fields)) });
      } catch (e) {
        if (!(e instanceof ConditionError)) throw e;
        report(['entryCriteria'], `${a.object}: ${e.message}`);
      }
    const machine = ctx.stateMachines.find((m) => m.object === a.object);
    const checkActions = (list_: readonly ApprovalAction[], at: PathKey[]) => list_.forEach((x, i) => {
      if ('transition' in x) {
        if (!machine) report([...at, i, 'transition'], `${a.object} has no state machine: there is no transition "${x.transition}" to take`);
        else if (!machine.transitions.some((t) => t.event === x.transition))
          report([...at, i, 'transition'], `${machine.name} has no transition "${x.transition}" (events: ${list(new Set(machine.transitions.map((t) => t.event)))})`);
        return;
      }
      const rule: WorkflowRuleDefinition = { name: a.name, objectName: a.object, triggerType: 'on_update', actions: [x], timeTriggers: [], active: true, executionOrder: 100, reevaluateOnChange: false, runAs: 'system' };
      checkRules([{ value: rule, report: (path, message, key) => report([...at, i, ...path.slice(2)], message, key) }], ctx);
      if (x.type === 'field_update' && machine?.field === x.field)
        report([...at, i, 'field'], `${a.object}.${x.field} is governed by the state machine ${machine.name}: use { transition: <event> }`);
    });
    a.steps.forEach((s, i) => {
      s.approvers.forEach((ap, j) => checkApprover(ap, ['steps', i, 'approvers', j], object, report, ctx));
      checkActions(s.onApprove, ['steps', i, 'onApprove']);
      checkActions(s.onReject, ['steps', i, 'onReject']);
    });
    if (a.escalation?.reassignTo) checkApprover(a.escalation.reassignTo, ['escalation', 'reassignTo'], object, report, ctx);
    checkActions(a.onSubmit, ['onSubmit']);
    checkActions(a.onFinalApprove, ['onFinalApprove']);
    checkActions(a.onFinalReject, ['onFinalReject']);
    checkActions(a.onRecall, ['onRecall']);
    return problems > 0 ? null : { ...a, source, entryCondition };
  });
}

function checkApprover(ap: ApproverDefinition, at: PathKey[], object: ObjectDefinition, report: Report, ctx: ApprovalContext): void {
  const v = ap.value ?? '';
  if (ap.type === 'role' && !ctx.roles.has(v)) report([...at, 'value'], `unknown role "${v}" (roles: ${list(ctx.roles)})`);
  if (ap.type === 'queue' && !ctx.groups.has(v)) report([...at, 'value'], `unknown group "${v}" (groups: ${list(ctx.groups)})`);
  if (ap.type === 'field') {
    const f = object.fields[v];
    if (!f) report([...at, 'value'], `unknown field "${v}" on ${object.name} (fields: ${list(Object.keys(object.fields))})`);
    else if (!USER_FIELD_TYPES.includes(f.type)) report([...at, 'value'], `${object.name}.${v} is a ${f.type} field: a field approver reads a user id from a text field`);
  }
}
