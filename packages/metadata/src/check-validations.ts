import { ConditionError, type RuleCondition } from './condition.ts';
import { ruleFunctions } from './check-rules.ts';
import type { FieldDefinition } from './field-schema.ts';
import type { PathKey } from './locate.ts';
import type { NestedValidationDefinition, ObjectDefinition, ValidationDefinition, ValidationEvent } from './object-schema.ts';
import type { Report } from './parse-metadata.ts';
import { parseRuleCriteria } from './rule-criteria.ts';

/** How deep conditionals may nest (a conditional in a conditional in a conditional): deeper is unreadable metadata. */
export const MAX_CONDITIONAL_DEPTH = 3;

type Of<T extends string> = Extract<ValidationDefinition | NestedValidationDefinition, { type: T }>;
export type FormatRuleModel = Of<'format'>;
export type UniqueRuleModel = Of<'unique'>;
export type StateMachineRuleModel = Of<'state_machine'>;
/** `compiled`: the condition parsed at load (TRUE = the record is invalid). */
export type ScriptRuleModel = Of<'script'> & { compiled: RuleCondition };
export type CrossFieldRuleModel = Of<'cross_field'> & { compiled: RuleCondition };
/** `compiled`: `when` parsed at load. */
export type ConditionalRuleModel = Omit<Of<'conditional'>, 'then' | 'otherwise'> & {
  compiled: RuleCondition;
  then: NestedRuleModel;
  otherwise?: NestedRuleModel;
};
/** A rule a conditional applies. */
export type NestedRuleModel = FormatRuleModel | StateMachineRuleModel | ScriptRuleModel | CrossFieldRuleModel | ConditionalRuleModel;
/** A validation rule as the runtime enforces it: conditions parsed once, here, never at write time. */
export type ValidationModel = NestedRuleModel | UniqueRuleModel;

interface Scope {
  object: ObjectDefinition;
  fields: ReadonlyMap<string, FieldDefinition>;
  report: Report;
  names: Set<string>;
}

const list = (xs: Iterable<string>): string => [...xs].join(', ') || 'none';

/**
 * Checks an object's validation rules against its fields and parses their conditions. Every problem
 * is reported at its path, naming the object and the rule; nothing is thrown. Returns the rules with
 * their conditions parsed (meaningful only when nothing was reported).
 */
export function checkValidations(object: ObjectDefinition, report: Report): ValidationModel[] {
  const s: Scope = { object, fields: new Map(Object.entries(object.fields)), report, names: new Set() };
  return object.validations.map((rule, i) => checkRule(rule, ['validations', i], rule.events, 0, s));
}

function checkRule(rule: ValidationDefinition, at: PathKey[], events: readonly ValidationEvent[], depth: number, s: Scope): ValidationModel {
  const problem = (path: PathKey[], message: string) => s.report(path, `${s.object.name} validation "${rule.name}": ${message}`);
  if (s.names.has(rule.name)) problem([...at, 'name'], `duplicate validation name "${rule.name}" (names are unique within an object, nested rules included)`);
  s.names.add(rule.name);
  const field = (name: string, path: PathKey[]): FieldDefinition | undefined => {
    const f = s.fields.get(name);
    if (!f) problem(path, `unknown field "${name}" (fields: ${list(s.fields.keys())})`);
    else if (f.type === 'formula' || f.type === 'summary') problem(path, `${name} is a ${f.type} field, computed when read: validation rules judge stored fields`);
    return f;
  };
  if (events.includes('delete') && (rule.type === 'format' || rule.type === 'unique' || rule.type === 'state_machine'))
    problem([...at, 'events'], `a ${rule.type} rule judges written values: a delete writes none (events: insert, update)`);
  switch (rule.type) {
    case 'format':
      field(rule.field, [...at, 'field']);
      if ((rule.regex === undefined) === (rule.format === undefined)) problem(at, 'a format rule needs exactly one of regex or format');
      if (rule.regex !== undefined) {
        try {
          new RegExp(rule.regex, 'u');
        } catch (e) {
          problem([...at, 'regex'], `invalid regular expression: ${(e as Error).message}`);
        }
      }
      return rule;
    case 'unique':
      rule.fields.forEach((f, j) => field(f, [...at, 'fields', j]));
      // A database index enforces it: every insert and update, always refused.
      if (rule.severity !== 'error') problem([...at, 'severity'], 'a unique rule is a database index: it always refuses a duplicate (severity error)');
      if (!events.includes('insert') || !events.includes('update')) problem([...at, 'events'], 'a unique rule is a database index: it applies to every insert and update');
      return rule;
    case 'script':
    case 'cross_field': {
      if (rule.type === 'cross_field') rule.fields.forEach((f, j) => field(f, [...at, 'fields', j]));
      return { ...rule, compiled: condition(rule.condition, [...at, 'condition'], events, problem, s) };
    }
    case 'state_machine':
      checkStateMachine(rule, at, events, problem, field(rule.field, [...at, 'field']));
      return rule;
    case 'conditional': {
      // Reported once, at the first conditional too deep.
      if (depth === MAX_CONDITIONAL_DEPTH) problem(at, `conditional rules nest at most ${MAX_CONDITIONAL_DEPTH} deep (a conditional in a conditional in a conditional)`);
      const compiled = condition(rule.when, [...at, 'when'], events, problem, s);
      const nested = (inner: NestedValidationDefinition, key: 'then' | 'otherwise'): NestedRuleModel => {
        // A nested rule runs on the events both it and the conditional name.
        const both = inner.events.filter((e) => events.includes(e));
        if (both.length === 0) problem([...at, key, 'events'], `nested rule "${inner.name}" never runs: its events (${list(inner.events)}) and the conditional's (${list(events)}) have none in common`);
        return checkRule(inner, [...at, key], both, depth + 1, s) as NestedRuleModel;
      };
      const then = nested(rule.then, 'then');
      const otherwise = rule.otherwise ? nested(rule.otherwise, 'otherwise') : undefined;
      const { then: _then, otherwise: _otherwise, ...rest } = rule;
      return { ...rest, compiled, then, ...(otherwise ? { otherwise } : {}) };
    }
  }
}

/** Parses a condition with the workflow rule criteria language; what it uses must make sense on the rule's events. */
function condition(input: string | Record<string, unknown>, at: PathKey[], events: readonly ValidationEvent[], problem: (path: PathKey[], message: string) => void, s: Scope): RuleCondition {
  let parsed: RuleCondition;
  try {
    parsed = parseRuleCriteria(input, { fields: s.fields });
  } catch (e) {
    if (!(e instanceof ConditionError)) throw e;
    problem(at, e.message);
    return { op: 'const', value: false };
  }
  const used = ruleFunctions(parsed);
  if (events.includes('delete') && used.size > 0)
    problem(at, `${[...used].join(', ')}: a delete is judged on the record as it was, not on a change (compare its fields instead, or leave delete out of events)`);
  else if (!events.includes('update') && (used.has('ISCHANGED') || used.has('PRIORVALUE')))
    problem(at, 'ISCHANGED/PRIORVALUE need a prior record: add update to events (on insert ISCHANGED is always false)');
  return parsed;
}

function checkStateMachine(rule: StateMachineRuleModel, at: PathKey[], events: readonly ValidationEvent[], problem: (path: PathKey[], message: string) => void, f: FieldDefinition | undefined): void {
  if (!events.includes('update')) problem([...at, 'events'], 'a state_machine rule judges changes of its field: its events must include update');
  if (rule.initialStates !== undefined && !events.includes('insert')) problem([...at, 'initialStates'], 'initialStates are checked on insert: add insert to events');
  if (!f) return;
  if (f.type !== 'select') {
    problem([...at, 'field'], `${rule.field} is a ${f.type} field: a state_machine rule governs a select field`);
    return;
  }
  const options = f.options.map((o) => o.value);
  const known = (v: string, path: PathKey[]) => {
    if (!options.includes(v)) problem(path, `"${v}" is not an option of ${rule.field} (${list(options)})`);
  };
  for (const [from, targets] of Object.entries(rule.transitions)) {
    known(from, [...at, 'transitions', from]);
    targets.forEach((to, j) => known(to, [...at, 'transitions', from, j]));
  }
  rule.initialStates?.forEach((v, j) => known(v, [...at, 'initialStates', j]));
}
