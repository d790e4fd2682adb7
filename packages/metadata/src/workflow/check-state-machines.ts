import { checkRules, type RuleContext } from '../check-rules.ts';
import { ConditionError, type RuleCondition } from '../condition.ts';
import type { PathKey } from '../locate.ts';
import type { ObjectDefinition } from '../object-schema.ts';
import type { Report } from '../parse-metadata.ts';
import { parseRuleCriteria } from '../rule-criteria.ts';
import type { WorkflowAction, WorkflowRuleDefinition } from '../rule-schema.ts';
import { ORGANIZATION_ROLES, SYSTEM_PERMISSIONS } from '../security-schema.ts';
import type { StateAction, StateMachineDefinition, TransitionGuard } from './state-machine-schema.ts';

/** A guard ready to check: a condition is parsed. */
export type GuardModel =
  | { kind: 'condition'; condition: RuleCondition }
  | { kind: 'roles'; roles: string[] }
  | { kind: 'permissions'; permissions: string[] };

export interface TransitionModel {
  event: string;
  label: string;
  from: string;
  to: string;
  guards: GuardModel[];
  actions: WorkflowAction[];
}

export interface StateModel {
  name: string;
  label: string;
  initial: boolean;
  /** Declared final, or a state nothing leaves. */
  final: boolean;
  onEnter: WorkflowAction[];
  onExit: WorkflowAction[];
}

/** A state machine with its states (every option of the field), transitions by event and actions resolved. */
export interface StateMachineModel {
  name: string;
  label: string;
  object: string;
  field: string;
  initial: string;
  states: StateModel[];
  transitions: TransitionModel[];
  defaultAccess: 'edit' | 'read';
  source: string;
}

export interface StateMachineContext extends RuleContext {
  permissionSets: ReadonlySet<string>;
  /** Named actions (`*.action.yaml`), which `{ action: <name> }` reaches when the machine's own `actions` has no such name. */
  actions: ReadonlyMap<string, WorkflowAction>;
  /** The rules, so a field update of a governed field is reported where it is written. */
  rules: readonly { value: WorkflowRuleDefinition; report: Report }[];
}

const list = (names: Iterable<string>): string => [...names].sort().join(', ') || 'none';

/**
 * Checks state machines against their objects, roles, permission sets and the rules: every problem is
 * reported at its path, nothing is thrown. A state machine the metadata cannot enforce is refused here
 * (upstream declared them and never enforced them, objectstack #1411).
 */
export function checkStateMachines(entries: readonly { value: StateMachineDefinition; report: Report; source: string }[], ctx: StateMachineContext): (StateMachineModel | null)[] {
  const governed = new Map<string, string>();
  const models = entries.map(({ value: m, report: reportTo, source }) => {
    let problems = 0;
    const report: Report = (path, message, key) => {
      problems++;
      reportTo(path, message, key);
    };
    const object = ctx.objects.get(m.object);
    if (!object) {
      report(['object'], `unknown object "${m.object}" (objects: ${list(ctx.objects.keys())})`);
      return null;
    }
    const field = object.fields[m.field];
    if (!field || field.type !== 'select') {
      report(['field'], field ? `${m.object}.${m.field} is a ${field.type} field: a state machine is bound to a select field` : `unknown field "${m.field}" on ${m.object} (fields: ${list(Object.keys(object.fields))})`);
      return null;
    }
    const options = field.options.map((o) => o.value);
    const key = `${m.object}.${m.field}`;
    if (governed.has(key)) report(['field'], `${key} is already governed by the state machine "${governed.get(key)}"`);
    governed.set(key, m.name);
    for (const name of Object.keys(m.states))
      if (!options.includes(name)) report(['states'], `state "${name}" is not an option of ${key} (options: ${options.join(', ')})`, name);
    const initials = Object.entries(m.states).filter(([, s]) => s.initial).map(([n]) => n);
    if (initials.length !== 1) report(['states'], initials.length === 0 ? 'one state must be initial: true' : `only one state can be initial (${initials.join(', ')} are)`);
    const resolve = (a: StateAction, at: PathKey[]): WorkflowAction | null => {
      if (!('action' in a)) return checkAction(a, at, m, object, report, ctx);
      const own = m.actions[a.action];
      const shared = own ? undefined : ctx.actions.get(a.action);
      if (!own && !shared) report([...at, 'action'], `unknown action "${a.action}" (the machine's actions: ${list(Object.keys(m.actions))}; *.action.yaml files: ${list(ctx.actions.keys())})`);
      // A named action is checked where it is used: on this machine's object.
      return own ?? (shared ? checkAction(shared, at, m, object, report, ctx) : null);
    };
    for (const [name, a] of Object.entries(m.actions)) checkAction(a, ['actions', name], m, object, report, ctx);
    const transitions: TransitionModel[] = [];
    const states = new Map<string, StateModel>();
    for (const [name, s] of Object.entries(m.states)) {
      if (s.final && Object.keys(s.transitions).length > 0) report(['states', name, 'transitions'], `state "${name}" is final: nothing leaves it`);
      for (const [event, t] of Object.entries(s.transitions)) {
        const at = ['states', name, 'transitions', event];
        if (!options.includes(t.target)) report([...at], `target "${t.target}" is not an option of ${key} (options: ${options.join(', ')})`);
        const guards = t.guards.map((g, i) => guardOf(g, [...at, 'guards', i], object, report, ctx)).filter((g): g is GuardModel => g !== null);
        const actions = t.actions.map((a, i) => resolve(a, [...at, 'actions', i])).filter((a): a is WorkflowAction => a !== null);
        transitions.push({ event, label: ('label' in t && t.label) || event, from: name, to: t.target, guards, actions });
      }
      states.set(name, {
        name, label: s.label ?? options.find((o) => o === name) ?? name, initial: s.initial, final: s.final || Object.keys(s.transitions).length === 0,
        onEnter: s.on_enter.map((a, i) => resolve(a, ['states', name, 'on_enter', i])).filter((a): a is WorkflowAction => a !== null),
        onExit: s.on_exit.map((a, i) => resolve(a, ['states', name, 'on_exit', i])).filter((a): a is WorkflowAction => a !== null),
      });
    }
    // Options only reached (or never named): states nothing leaves.
    for (const o of field.options)
      if (!states.has(o.value)) states.set(o.value, { name: o.value, label: o.label, initial: false, final: true, onEnter: [], onExit: [] });
    if (problems > 0) return null;
    const model: StateMachineModel = {
      name: m.name, label: m.label ?? m.name, object: m.object, field: m.field, initial: initials[0]!, states: [...states.values()], transitions,
      defaultAccess: m.defaultAccess, source,
    };
    return model;
  });
  // A rule's field update of a governed field would be refused at every run: say so now.
  for (const { value: rule, report } of ctx.rules) {
    const updates = [...rule.actions.map((a, i) => ({ a, at: ['actions', i] as PathKey[] })), ...rule.timeTriggers.flatMap((t, i) => t.actions.map((a, j) => ({ a, at: ['timeTriggers', i, 'actions', j] as PathKey[] })))];
    for (const { a, at } of updates) {
      const machine = a.type === 'field_update' ? governed.get(`${rule.objectName}.${a.field}`) : undefined;
      if (machine) report([...at, 'field'], `${rule.objectName}.${a.type === 'field_update' ? a.field : ''} changes only through the transitions of the state machine "${machine}": a field update cannot set it`);
    }
  }
  return models;
}

function guardOf(g: TransitionGuard, at: PathKey[], object: ObjectDefinition, report: Report, ctx: StateMachineContext): GuardModel | null {
  if ('condition' in g) {
    try {
      return { kind: 'condition', condition: parseRuleCriteria(g.condition, { fields: new Map(Object.entries(object.fields)) }) };
    } catch (e) {
      if (!(e instanceof ConditionError)) throw e;
      report([...at, 'condition'], `${object.name}: ${e.message}`);
      return null;
    }
  }
  if ('roles' in g) {
    const known = new Set<string>([...ctx.roles, ...ORGANIZATION_ROLES]);
    g.roles.forEach((r, i) => !known.has(r) && report([...at, 'roles', i], `unknown role "${r}" (roles: ${list(known)})`));
    return { kind: 'roles', roles: g.roles };
  }
  const known = new Set<string>([...ctx.permissionSets, ...SYSTEM_PERMISSIONS]);
  g.permissions.forEach((p, i) => !known.has(p) && report([...at, 'permissions', i], `unknown permission "${p}" (permission sets and system permissions: ${list(known)})`));
  return { kind: 'permissions', permissions: g.permissions };
}

/** An action is checked as the one action of a rule on the machine's object (the same checks, the same messages). */
function checkAction(a: WorkflowAction, at: PathKey[], m: StateMachineDefinition, object: ObjectDefinition, report: Report, ctx: StateMachineContext): WorkflowAction {
  const rule: WorkflowRuleDefinition = {
    name: m.name, objectName: object.name, triggerType: 'on_update', actions: [a], timeTriggers: [], active: true, executionOrder: 100, reevaluateOnChange: false, runAs: 'system',
  };
  checkRules([{ value: rule, report: (path, message, key) => report([...at, ...path.slice(2)], message, key) }], ctx);
  if (a.type === 'field_update' && a.field === m.field) report([...at, 'field'], `${object.name}.${m.field} is the state field: it changes through transitions, not field updates`);
  return a;
}
