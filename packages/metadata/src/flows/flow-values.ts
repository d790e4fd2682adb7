import { ConditionError, normaliseVariables, SYSTEM_CONDITION_FIELDS, type RuleCondition, type RuleOperand } from '../condition.ts';
import { lookup, stringify } from '../rule-template.ts';
import { FieldSchema, type FieldDefinition } from '../field-schema.ts';
import type { FlowModel } from '../model.ts';
import type { ObjectDefinition } from '../object-schema.ts';
import { evaluateRuleCondition, parseRuleCriteria, ruleConditionFields } from '../rule-criteria.ts';
import {
  FLOW_PLACEHOLDER, flowValueProblem, type FlowAssignment, type FlowVariable, type FlowVariableType,
} from './flow-schema.ts';

/** A caller's inputs do not fit the flow's input variables (an unknown name or a value of the wrong type). */
export class FlowInputError extends Error {
  constructor(readonly input: string, message: string) {
    super(message);
    this.name = 'FlowInputError';
  }
}

/** A value computed while a flow runs does not fit its variable: the node fails (its fault edge, or errorHandling). */
export class FlowValueError extends Error {
  override name = 'FlowValueError';
}

type Variables = Record<string, unknown>;

const isPlainObject = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v) && !(v instanceof Date);
const list = (names: Iterable<string>): string => [...names].sort().join(', ') || 'none';

/**
 * Conditions over variables reuse the record condition language: each variable is a "field", and a
 * record variable's fields are the synthetic fields `<variable>__<field>` (snake_case names never
 * hold `__`, so they cannot collide). `request.days` in a condition is read as `request__days`.
 */
const SEP = '__';
const FIELD_OF_TYPE: Record<FlowVariableType, FieldDefinition> = {
  text: FieldSchema.parse({ type: 'text' }),
  number: FieldSchema.parse({ type: 'number' }),
  boolean: FieldSchema.parse({ type: 'boolean' }),
  date: FieldSchema.parse({ type: 'date' }),
  datetime: FieldSchema.parse({ type: 'datetime' }),
  record: FieldSchema.parse({ type: 'json' }),
  list: FieldSchema.parse({ type: 'json' }),
  json: FieldSchema.parse({ type: 'json' }),
};
const SYSTEM_FIELDS: Record<(typeof SYSTEM_CONDITION_FIELDS)[number], FieldDefinition> = {
  id: FIELD_OF_TYPE.text, owner_id: FIELD_OF_TYPE.text, created_at: FIELD_OF_TYPE.datetime, updated_at: FIELD_OF_TYPE.datetime,
};

/** The field map a flow's conditions are typed and evaluated with (see {@link SEP}); unknown objects contribute no fields. */
export function flowConditionFields(variables: readonly FlowVariable[], objects: ReadonlyMap<string, ObjectDefinition>): Record<string, FieldDefinition> {
  const out: Record<string, FieldDefinition> = {};
  for (const v of variables) {
    if (Object.hasOwn(out, v.name)) continue;
    out[v.name] = FIELD_OF_TYPE[v.type];
    const object = v.object === undefined ? undefined : objects.get(v.object);
    if (v.type !== 'record' || !object) continue;
    for (const [name, def] of [...Object.entries(object.fields), ...Object.entries(SYSTEM_FIELDS)]) out[`${v.name}${SEP}${name}`] = def;
  }
  return out;
}

const NO_USER = 'current_user.* is not available in flow conditions: a flow tests its variables (pass what you need as an input variable)';
const REFERENCE = /\b([A-Za-z_][A-Za-z0-9_]*)\.([A-Za-z_][A-Za-z0-9_]*)\b/g;

/**
 * Parses an edge condition over a flow's variables (the rule criteria language, SQL-ish text or
 * filter object form, type checked against {@link flowConditionFields}). Throws `ConditionError`.
 */
export function parseFlowCondition(input: string | Record<string, unknown>, variables: readonly FlowVariable[], fields: Record<string, FieldDefinition>): RuleCondition {
  const vars = new Map(variables.map((v) => [v.name, v]));
  const map = new Map(Object.entries(fields));
  const reference = (name: string, field: string): string => {
    const v = vars.get(name);
    if (name === 'current_user') throw new ConditionError(NO_USER);
    if (!v) throw new ConditionError(`unknown variable "${name}" in ${name}.${field} (variables: ${list(vars.keys())})`);
    if (v.type !== 'record') throw new ConditionError(`${name} is a ${v.type} variable: only record variables have fields (${name}.${field})`);
    const synthetic = `${name}${SEP}${field}`;
    if (!map.has(synthetic)) {
      const known = [...map.keys()].filter((k) => k.startsWith(`${name}${SEP}`)).map((k) => k.slice(name.length + SEP.length));
      throw new ConditionError(`${name} has no field "${field}" (${v.object} fields: ${list(known)})`);
    }
    return synthetic;
  };
  let condition: RuleCondition;
  try {
    condition = parseRuleCriteria(typeof input === 'string' ? rewriteText(input, reference) : rewriteFilter(input, reference), { fields: map });
  } catch (e) {
    if (e instanceof ConditionError) throw new ConditionError(flowMessage(e.message, vars));
    throw e;
  }
  if (changeFunctions(condition).size > 0)
    throw new ConditionError('ISCHANGED, PRIORVALUE and ISNEW look at a record change: a flow condition tests variables (a record_change flow filters changes in trigger.criteria)');
  // The parser also knows the system columns (id, owner_id…): here only variables exist.
  for (const name of ruleConditionFields(condition))
    if (!map.has(name)) throw new ConditionError(`unknown variable "${name}" (variables: ${list(vars.keys())})`);
  return condition;
}

/** `request.days` → `request__days` outside string literals. */
function rewriteText(text: string, reference: (name: string, field: string) => string): string {
  return text
    .split(/('(?:[^']|'')*')/)
    .map((part, i) => (i % 2 === 1 ? part : normaliseVariables(part).replace(REFERENCE, (_, name: string, field: string) => reference(name, field))))
    .join('');
}

function rewriteFilter(filter: Record<string, unknown>, reference: (name: string, field: string) => string): Record<string, unknown> {
  const value = (v: unknown): unknown => {
    if (typeof v === 'string' && /^current_user\.\w+$/.test(normaliseVariables(v))) throw new ConditionError(NO_USER);
    if (Array.isArray(v)) return v.map(value);
    return isPlainObject(v) ? rewriteFilter(v, reference) : v;
  };
  return Object.fromEntries(
    Object.entries(filter).map(([key, v]) => {
      const m = /^([A-Za-z_][A-Za-z0-9_]*)\.([A-Za-z_][A-Za-z0-9_]*)$/.exec(key);
      return [m ? reference(m[1]!, m[2]!) : key, value(v)];
    }),
  );
}

/** The parser's messages speak of fields and rule criteria: say variables, and `request.days` again. */
function flowMessage(message: string, vars: ReadonlyMap<string, FlowVariable>): string {
  const unknown = /^unknown field "([^"]+)"$/.exec(message);
  if (unknown) return `unknown variable "${unknown[1]}" (variables: ${list(vars.keys())})`;
  return message
    .replace(/^criteria type mismatch: /, 'type mismatch: ')
    .replace(/ is a (?:json|multiselect) field: rule criteria can only test it with IS NULL or ISCHANGED\(\w+\)/, ' holds no single value: a flow condition can only test it with IS NULL')
    .replace('a comparison must name a field of the object', 'a comparison must name a variable')
    .replace(/\b([a-z][a-z0-9_]*)__([a-z][a-z0-9_]*)\b/g, '$1.$2');
}

/** @internal The record-change functions a condition uses (ISCHANGED, PRIORVALUE, ISNEW). */
export function changeFunctions(c: RuleCondition): Set<string> {
  const out = new Set<string>();
  const prior = (...o: RuleOperand[]) => o.some((x) => x.kind === 'prior') && out.add('PRIORVALUE');
  const walk = (x: RuleCondition): void => {
    switch (x.op) {
      case 'and': case 'or': x.args.forEach(walk); break;
      case 'not': walk(x.arg); break;
      case 'changed': out.add('ISCHANGED'); break;
      case 'isNew': out.add('ISNEW'); break;
      case 'const': break;
      case 'in': prior(x.left, ...x.values); break;
      case 'isNull': prior(x.arg); break;
      default: prior(x.left, x.right);
    }
  };
  walk(c);
  return out;
}

const fieldMaps = new WeakMap<object, ReadonlyMap<string, FieldDefinition>>();

/**
 * Evaluates a parsed edge condition on the current variables with SQL semantics (a comparison with
 * null is unknown, only true passes). Record variables are flattened to their synthetic fields first.
 */
export function evaluateFlowCondition(condition: RuleCondition, variables: Variables, flow: Pick<FlowModel, 'variables' | 'conditionFields'>): boolean {
  let fields = fieldMaps.get(flow.conditionFields);
  if (!fields) {
    fields = new Map(Object.entries(flow.conditionFields));
    fieldMaps.set(flow.conditionFields, fields);
  }
  const record: Variables = { ...variables };
  for (const v of flow.variables) {
    const value = variables[v.name];
    if (v.type === 'record' && isPlainObject(value)) for (const [k, x] of Object.entries(value)) record[`${v.name}${SEP}${k}`] = x;
  }
  return evaluateRuleCondition(condition, { record, previous: null, fields });
}

const EXACT = /^\{!([^{}]*)\}$/;

/**
 * A config value with its placeholders resolved: a string that is exactly `{!name}` or
 * `{!name.field}` yields the raw value (null when absent); other strings are interpolated as text;
 * lists and mappings are resolved item by item; anything else is returned as it is.
 */
export function resolveFlowValue(value: unknown, variables: Variables): unknown {
  if (typeof value === 'string') {
    const exact = EXACT.exec(value);
    if (exact) return lookup(variables, exact[1]!.trim()) ?? null;
    return value.replace(FLOW_PLACEHOLDER, (_, expr: string) => stringify(lookup(variables, expr.trim())));
  }
  if (Array.isArray(value)) return value.map((v) => resolveFlowValue(v, variables));
  if (isPlainObject(value)) return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, resolveFlowValue(v, variables)]));
  return value;
}


/**
 * `value` as variable `v` holds it, or throws `FlowValueError`. Lenient where drivers and JSON are:
 * numeric strings for numbers, 'true'/'false', Dates and date-time strings for dates.
 */
export function coerceFlowValue(v: Pick<FlowVariable, 'name' | 'type'>, value: unknown): unknown {
  if (value === null || value === undefined) return null;
  const fail = (): never => {
    throw new FlowValueError(`${v.name} is a ${v.type} variable: value ${flowValueProblem(v.type, value) ?? `cannot be ${typeof value}`}`);
  };
  switch (v.type) {
    case 'text':
      if (typeof value === 'string') return value;
      if (typeof value === 'number' || typeof value === 'boolean') return String(value);
      return value instanceof Date ? value.toISOString() : fail();
    case 'number': {
      const n = typeof value === 'number' ? value : typeof value === 'string' && value.trim() !== '' ? Number(value) : Number.NaN;
      return Number.isFinite(n) ? n : fail();
    }
    case 'boolean':
      return typeof value === 'boolean' ? value : value === 'true' ? true : value === 'false' ? false : fail();
    case 'date': {
      const text = value instanceof Date ? (Number.isNaN(value.getTime()) ? '' : value.toISOString()) : typeof value === 'string' ? value : '';
      return /^\d{4}-\d{2}-\d{2}/.test(text) && !Number.isNaN(Date.parse(text.slice(0, 10))) ? text.slice(0, 10) : fail();
    }
    case 'datetime': {
      const t = value instanceof Date ? value.getTime() : typeof value === 'string' ? Date.parse(value) : Number.NaN;
      return Number.isNaN(t) ? fail() : new Date(t).toISOString();
    }
    case 'record':
      return isPlainObject(value) ? value : fail();
    case 'list':
      return Array.isArray(value) ? value : fail();
    case 'json':
      return value;
  }
}

const DAY_MS = 86_400_000;

/**
 * Runs one assignment on the variables and returns the new variables (the given object is left as
 * it is). `set` stores the resolved value; `add`/`subtract` a number (to a number, null counting as
 * 0) or days (to a date or date-time, null staying null); `append` adds one item to a list.
 * Throws `FlowValueError` when the value does not fit.
 */
export function applyAssignment(variables: Variables, assignment: FlowAssignment, flow: Pick<FlowModel, 'variables'>): Variables {
  const v = flow.variables.find((x) => x.name === assignment.variable);
  if (!v) throw new FlowValueError(`unknown variable "${assignment.variable}"`);
  const value = resolveFlowValue(assignment.value, variables);
  const current = variables[v.name] ?? null;
  switch (assignment.operator) {
    case 'set':
      return { ...variables, [v.name]: coerceFlowValue(v, value) };
    case 'append':
      if (v.type !== 'list') throw new FlowValueError(`append adds an item to a list: ${v.name} is a ${v.type} variable`);
      return { ...variables, [v.name]: [...(Array.isArray(current) ? current : []), value] };
    case 'add':
    case 'subtract': {
      const sign = assignment.operator === 'add' ? 1 : -1;
      const n = typeof value === 'number' ? value : typeof value === 'string' && value.trim() !== '' ? Number(value) : Number.NaN;
      if (!Number.isFinite(n))
        throw new FlowValueError(`${assignment.operator} on ${v.name} needs a number${v.type === 'number' ? '' : ' of days'}, got ${JSON.stringify(value) ?? String(value)}`);
      return { ...variables, [v.name]: shifted(v, current, sign * n) };
    }
  }
}

function shifted(v: FlowVariable, current: unknown, amount: number): unknown {
  switch (v.type) {
    case 'number': {
      const base = coerceFlowValue(v, current);
      return (typeof base === 'number' ? base : 0) + amount;
    }
    case 'date': {
      if (!Number.isInteger(amount)) throw new FlowValueError(`${v.name} is a date: add or subtract whole days, got ${Math.abs(amount)}`);
      const date = coerceFlowValue(v, current);
      return typeof date === 'string' ? new Date(Date.parse(`${date}T00:00:00Z`) + amount * DAY_MS).toISOString().slice(0, 10) : null;
    }
    case 'datetime': {
      const at = coerceFlowValue(v, current);
      return typeof at === 'string' ? new Date(Date.parse(at) + amount * DAY_MS).toISOString() : null;
    }
    default:
      throw new FlowValueError(`add and subtract work on number, date and datetime variables: ${v.name} is a ${v.type} variable`);
  }
}

/**
 * The variables a run starts with: `inputs` checked against the flow's input variables (an unknown
 * name, a variable that is not an input, or a value of the wrong type throws `FlowInputError`
 * naming it), every other variable at its default (null when it has none).
 */
export function coerceFlowInputs(flow: Pick<FlowModel, 'name' | 'variables'>, inputs: Readonly<Variables>): Variables {
  const out: Variables = {};
  for (const [name, value] of Object.entries(inputs)) {
    const v = flow.variables.find((x) => x.name === name);
    if (!v || !v.isInput) {
      const names = flow.variables.filter((x) => x.isInput).map((x) => x.name);
      throw new FlowInputError(name, `${v ? `${name} is not an input` : `unknown input "${name}"`} of flow ${flow.name} (inputs: ${list(names)})`);
    }
    try {
      out[name] = coerceFlowValue(v, value);
    } catch (e) {
      if (e instanceof FlowValueError) throw new FlowInputError(name, `input ${e.message}`);
      throw e;
    }
  }
  for (const v of flow.variables) if (!Object.hasOwn(out, v.name)) out[v.name] = v.default === undefined ? null : structuredClone(v.default);
  return out;
}

/** What a finished run returns: its output variables (null when never assigned). */
export function flowOutputs(flow: Pick<FlowModel, 'variables'>, variables: Readonly<Variables>): Variables {
  return Object.fromEntries(flow.variables.filter((v) => v.isOutput).map((v) => [v.name, variables[v.name] ?? null]));
}
