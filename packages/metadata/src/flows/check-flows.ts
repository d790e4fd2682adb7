import { ConditionError, SYSTEM_CONDITION_FIELDS, type RuleCondition } from '../condition.ts';
import type { ConnectorDefinition } from '../connector-schema.ts';
import type { FieldDefinition } from '../field-schema.ts';
import type { PathKey } from '../locate.ts';
import { RESERVED_FIELD_NAMES } from '../model.ts';
import type { ObjectDefinition } from '../object-schema.ts';
import type { Report } from '../parse-metadata.ts';
import { parseRuleCriteria } from '../rule-criteria.ts';
import { templatePlaceholders } from '../rule-template.ts';
import {
  FLOW_PLACEHOLDER, FLOW_REFERENCE, FLOW_TRIGGER_VARIABLES, flowValueProblem,
  type FlowAssignment, type FlowDefinition, type FlowEdge, type FlowNode, type FlowTrigger, type FlowVariable, type FlowVariableType,
} from './flow-schema.ts';
import { checkFlowGraph } from './check-flow-graph.ts';
import { changeFunctions, flowConditionFields, parseFlowCondition } from './flow-values.ts';

/** What flows may refer to besides each other. */
export interface FlowContext {
  objects: ReadonlyMap<string, ObjectDefinition>;
  connectors: ReadonlyMap<string, ConnectorDefinition>;
  /** Names of the `*.permission.yaml` sets (who may start an autolaunched flow). */
  permissionSets: ReadonlySet<string>;
}

/** An edge with its condition parsed (null: it has none); `criteria` keeps the condition as written. */
export type FlowEdgeModel = Omit<FlowEdge, 'condition'> & { condition: RuleCondition | null; criteria?: FlowEdge['condition'] };

/** A record_change trigger with its criteria parsed (null: every event of `on` starts the flow). */
export type FlowTriggerModel = FlowTrigger & { condition: RuleCondition | null };

/** What checking a flow adds to its definition, so an executor never parses a condition. */
export interface FlowCompiled {
  edges: FlowEdgeModel[];
  /** record_change flows only. */
  trigger: FlowTriggerModel | undefined;
  /** The fields edge conditions are typed and evaluated with: each variable, and `<record variable>__<field>`. */
  conditionFields: Record<string, FieldDefinition>;
}

interface Entry {
  value: FlowDefinition;
  report: Report;
}

/** One flow being checked. */
interface Scope {
  flow: FlowDefinition;
  report: Report;
  ctx: FlowContext;
  vars: ReadonlyMap<string, FlowVariable>;
  fields: Record<string, FieldDefinition>;
  flows: ReadonlyMap<string, FlowDefinition>;
  /** The flows each flow runs as subflows. */
  calls: ReadonlyMap<string, ReadonlySet<string>>;
}

const list = (names: Iterable<string>): string => [...names].sort().join(', ') || 'none';
const unknownVariable = (name: string, s: Scope) => `unknown variable "${name}" (variables: ${list(s.vars.keys())})`;
const isExactPlaceholder = (v: unknown): boolean => typeof v === 'string' && /^\{![^{}]*\}$/.test(v);
const hasPlaceholder = (v: string): boolean => [...v.matchAll(FLOW_PLACEHOLDER)].length > 0;

/**
 * Checks flows: their graph, variables, conditions and what they name (objects, connectors,
 * permission sets, each other). Every problem is reported at its path; nothing is thrown. Returns each
 * flow's parsed conditions, or null for a flow with problems.
 */
export function checkFlows(entries: readonly Entry[], ctx: FlowContext): (FlowCompiled | null)[] {
  const flows = new Map<string, FlowDefinition>();
  for (const { value } of entries) if (!flows.has(value.name)) flows.set(value.name, value);
  const calls = new Map([...flows.values()].map((f) => [f.name, new Set(f.nodes.flatMap((n) => (n.type === 'subflow' ? [n.config.flow] : [])))]));
  return entries.map(({ value: flow, report: outer }) => {
    let ok = true;
    const report: Report = (path, message, key) => {
      ok = false;
      outer(path, message, key);
    };
    const vars = checkVariables(flow, report, ctx);
    const s: Scope = { flow, report, ctx, vars, fields: flowConditionFields([...vars.values()], ctx.objects), flows, calls };
    const trigger = flow.trigger && checkTrigger(flow.trigger, s);
    flow.permissionSets?.forEach((p, i) => {
      if (!ctx.permissionSets.has(p)) report(['permissionSets', i], `unknown permission set "${p}" (declared: ${list(ctx.permissionSets)})`);
    });
    const ids = checkFlowGraph(s);
    const fallback = flow.errorHandling.fallbackNodeId;
    if (fallback !== undefined && !ids.has(fallback)) report(['errorHandling', 'fallbackNodeId'], `unknown node "${fallback}" (nodes: ${list(ids.keys())})`);
    flow.nodes.forEach((n, i) => checkNode(n, ['nodes', i], s));
    const edges = flow.edges.map((e, i) => edgeModel(e, i, ids, s));
    return ok ? { edges, trigger, conditionFields: s.fields } : null;
  });
}

function checkVariables(flow: FlowDefinition, report: Report, ctx: FlowContext): Map<string, FlowVariable> {
  const vars = new Map<string, FlowVariable>();
  flow.variables.forEach((v, i) => {
    if (vars.has(v.name)) {
      report(['variables', i, 'name'], `variable "${v.name}" is already declared (variables.${flow.variables.findIndex((x) => x.name === v.name)})`);
      return;
    }
    vars.set(v.name, v);
    if (v.object !== undefined && !ctx.objects.has(v.object)) report(['variables', i, 'object'], `unknown object "${v.object}" (objects: ${list(ctx.objects.keys())})`);
    const t = flow.trigger;
    if (t && (FLOW_TRIGGER_VARIABLES as readonly string[]).includes(v.name) && (v.type !== 'record' || v.object !== t.object || !v.isInput))
      report(['variables', i], `a record_change flow gives ${v.name} the ${v.name === 'record' ? 'changed record' : 'record before the change'}: declare it { name: ${v.name}, type: record, object: ${t.object}, isInput: true }`);
  });
  return vars;
}

function checkTrigger(t: FlowTrigger, s: Scope): FlowTriggerModel | undefined {
  const object = s.ctx.objects.get(t.object);
  if (!object) {
    s.report(['trigger', 'object'], `unknown object "${t.object}" (objects: ${list(s.ctx.objects.keys())})`);
    return undefined;
  }
  if (t.criteria === undefined) return { ...t, condition: null };
  try {
    const condition = parseRuleCriteria(t.criteria, { fields: new Map(Object.entries(object.fields)) });
    const used = changeFunctions(condition);
    if (t.on === 'delete' && used.size > 0)
      s.report(['trigger', 'criteria'], `${[...used].join(', ')}: a delete sees the deleted record, not a change (compare its fields instead)`);
    else if (t.on === 'create' && (used.has('ISCHANGED') || used.has('PRIORVALUE')))
      s.report(['trigger', 'criteria'], 'ISCHANGED/PRIORVALUE: a create has no prior record (ISCHANGED is always false); use on: update or create_or_update');
    return { ...t, condition };
  } catch (e) {
    if (!(e instanceof ConditionError)) throw e;
    s.report(['trigger', 'criteria'], `${object.name}: ${e.message}`);
    return undefined;
  }
}

function edgeModel(e: FlowEdge, i: number, ids: ReadonlyMap<string, number>, s: Scope): FlowEdgeModel {
  const { condition: criteria, ...rest } = e;
  const from = ids.has(e.source) ? s.flow.nodes[ids.get(e.source)!] : undefined;
  const at = ['edges', i, 'condition'];
  let condition: RuleCondition | null = null;
  if (criteria === undefined) {
    if (e.type === 'conditional') s.report(['edges', i, 'type'], 'a conditional edge needs condition (over the flow variables)');
  } else if (e.type === 'default') s.report(at, 'a default edge is taken when no condition holds: it has no condition');
  else if (e.type === 'fault') s.report(at, 'a fault edge is taken when its source fails: it has no condition');
  else if (from && from.type !== 'decision') s.report(at, `conditions are only for edges leaving a decision ("${from.id}" is a ${from.type} node)`);
  else if (from) {
    try {
      condition = parseFlowCondition(criteria, [...s.vars.values()], s.fields);
    } catch (err) {
      if (!(err instanceof ConditionError)) throw err;
      s.report(at, err.message);
    }
  }
  return { ...rest, ...(criteria === undefined ? {} : { criteria }), condition };
}

function checkNode(n: FlowNode, at: PathKey[], s: Scope): void {
  const { report } = s;
  const c = [...at, 'config'];
  switch (n.type) {
    case 'assignment':
      n.config.assignments.forEach((a, i) => checkAssignment(a, [...c, 'assignments', i], s));
      break;
    case 'loop': {
      const collection = s.vars.get(n.config.collection);
      if (!collection) report([...c, 'collection'], unknownVariable(n.config.collection, s));
      else if (collection.type !== 'list') report([...c, 'collection'], `a loop goes over a list variable: ${collection.name} is a ${collection.type} variable`);
      if (!s.vars.has(n.config.itemVariable)) report([...c, 'itemVariable'], unknownVariable(n.config.itemVariable, s));
      break;
    }
    case 'create_record': {
      const object = objectOf(n.config.object, c, s);
      if (object) {
        checkValues(n.config.values, object, c, s);
        const missing = Object.entries(object.fields)
          .filter(([name, f]) => (f.required || f.type === 'master_detail') && f.type !== 'autonumber' && !('defaultValue' in f && f.defaultValue !== undefined) && !Object.hasOwn(n.config.values, name))
          .map(([name]) => name);
        if (missing.length > 0) report([...c, 'values'], `a new ${object.name} needs its required field${missing.length > 1 ? 's' : ''} ${missing.join(', ')} in values`);
      }
      checkOutput(n.config.outputVariable, c, { type: 'text' }, 'create_record gives the new record\'s id', s);
      break;
    }
    case 'update_record': {
      const object = objectOf(n.config.object, c, s);
      if (object) checkValues(n.config.values, object, c, s);
      break;
    }
    case 'delete_record':
      objectOf(n.config.object, c, s);
      break;
    case 'get_record':
      objectOf(n.config.object, c, s);
      checkOutput(n.config.outputVariable, c, { type: 'record', object: n.config.object }, `get_record gives a ${n.config.object} record`, s);
      break;
    case 'http_request':
      for (const name of Object.keys(n.config.headers))
        if (['authorization', 'proxy-authorization', 'cookie'].includes(name.toLowerCase()))
          report([...c, 'headers', name], `header "${name}" carries credentials: use a connector_action (its auth reads the secret from the environment) instead of putting it in metadata`);
      checkOutput(n.config.outputVariable, c, { type: 'json' }, 'http_request gives the response (status, headers, body)', s);
      break;
    case 'script':
      checkOutput(n.config.outputVariable, c, { type: 'json' }, 'a script gives what it returns', s);
      break;
    case 'subflow':
      checkSubflow(n, c, s);
      break;
    case 'connector_action':
      checkConnector(n, at, s);
      checkOutput(n.config.outputVariable, c, { type: 'json' }, 'connector_action gives the response', s);
      break;
    case 'start': case 'end': case 'decision': case 'wait':
      break;
  }
  for (const t of nodeTemplates(n)) checkPlaceholders(t.text, [...at, ...t.path], s);
}

function objectOf(name: string, at: PathKey[], s: Scope): ObjectDefinition | undefined {
  const object = s.ctx.objects.get(name);
  if (!object) s.report([...at, 'object'], `unknown object "${name}" (objects: ${list(s.ctx.objects.keys())})`);
  return object;
}

function checkValues(values: Record<string, unknown>, object: ObjectDefinition, at: PathKey[], s: Scope): void {
  for (const field of Object.keys(values)) {
    const path = [...at, 'values'];
    const def = object.fields[field];
    if (RESERVED_FIELD_NAMES.includes(field)) s.report(path, `"${field}" is a system field (the runtime maintains it): a flow cannot set it`, field);
    else if (!def) s.report(path, `unknown field "${field}" on ${object.name} (fields: ${list(Object.keys(object.fields))})`, field);
    else if (def.type === 'autonumber' || def.readonly) s.report(path, `${object.name}.${field} is ${def.readonly ? 'readonly' : 'an autonumber'}: a flow cannot set it`, field);
  }
}

function checkOutput(name: string | undefined, at: PathKey[], want: { type: FlowVariableType; object?: string }, gives: string, s: Scope): void {
  if (name === undefined) return;
  const v = s.vars.get(name);
  const path = [...at, 'outputVariable'];
  const describe = (x: { type: string; object?: string | undefined }) => (x.type === 'record' ? `record variable of ${x.object}` : `${x.type} variable`);
  if (!v) s.report(path, unknownVariable(name, s));
  else if (v.type !== want.type || (want.object !== undefined && v.object !== want.object))
    s.report(path, `${gives}: outputVariable must be a ${describe(want)}, ${name} is a ${describe(v)}`);
}

function checkAssignment(a: FlowAssignment, at: PathKey[], s: Scope): void {
  const v = s.vars.get(a.variable);
  if (!v) {
    s.report([...at, 'variable'], unknownVariable(a.variable, s));
    return;
  }
  const value = a.value;
  switch (a.operator) {
    case 'append':
      if (v.type !== 'list') s.report([...at, 'operator'], `append adds an item to a list: ${v.name} is a ${v.type} variable`);
      return;
    case 'add':
    case 'subtract':
      if (v.type !== 'number' && v.type !== 'date' && v.type !== 'datetime')
        s.report([...at, 'operator'], `${a.operator} works on number, date and datetime variables: ${v.name} is a ${v.type} variable`);
      else if (typeof value !== 'number' && !isExactPlaceholder(value))
        s.report([...at, 'value'], `${a.operator} on ${v.name} needs a number${v.type === 'number' ? '' : ' of days'}, got ${JSON.stringify(value)}`);
      return;
    case 'set': {
      if (isExactPlaceholder(value)) return;
      if (typeof value === 'string' && hasPlaceholder(value)) {
        if (!['text', 'date', 'datetime', 'json'].includes(v.type)) s.report([...at, 'value'], `${v.name} is a ${v.type} variable: ${JSON.stringify(value)} renders as text`);
        return;
      }
      const problem = flowValueProblem(v.type, value);
      if (problem) s.report([...at, 'value'], `${v.name} is a ${v.type} variable: value ${problem}`);
    }
  }
}

function checkSubflow(n: Extract<FlowNode, { type: 'subflow' }>, at: PathKey[], s: Scope): void {
  const { flow: name, inputs, outputs } = n.config;
  const child = s.flows.get(name);
  if (!child) {
    s.report([...at, 'flow'], `unknown flow "${name}" (flows: ${list(s.flows.keys())})`);
    return;
  }
  const cycle = name === s.flow.name ? [name, name] : callPath(name, s.flow.name, s.calls);
  if (cycle) s.report([...at, 'flow'], `subflow cycle: ${[...(name === s.flow.name ? [] : [s.flow.name]), ...cycle].join(' → ')} (a flow cannot run itself, directly or through others)`);
  const vars = new Map(child.variables.map((v) => [v.name, v]));
  const names = (pick: (v: FlowVariable) => boolean) => list(child.variables.filter(pick).map((v) => v.name));
  for (const [input, value] of Object.entries(inputs)) {
    const v = vars.get(input);
    const problem = v && typeof value !== 'string' ? flowValueProblem(v.type, value) : null;
    if (!v?.isInput) s.report([...at, 'inputs'], `${name} has no input variable "${input}" (inputs: ${names((x) => x.isInput)})`, input);
    else if (problem) s.report([...at, 'inputs', input], `${name}.${input} is a ${v.type} variable: value ${problem}`);
  }
  for (const [mine, theirs] of Object.entries(outputs)) {
    const target = s.vars.get(mine);
    const source = vars.get(theirs);
    if (!target) s.report([...at, 'outputs'], unknownVariable(mine, s), mine);
    if (!source?.isOutput) s.report([...at, 'outputs', mine], `${name} has no output variable "${theirs}" (outputs: ${names((x) => x.isOutput)})`);
    else if (target && (target.type !== source.type || target.object !== source.object))
      s.report([...at, 'outputs', mine], `${mine} is a ${target.type} variable but ${name}.${theirs} is a ${source.type}${source.object ? ` of ${source.object}` : ''}`);
  }
}

/** The chain of subflow calls from `from` to `to` (both included), or null. */
function callPath(from: string, to: string, calls: ReadonlyMap<string, ReadonlySet<string>>): string[] | null {
  const parent = new Map<string, string | null>([[from, null]]);
  const queue = [from];
  for (let f = queue.shift(); f !== undefined; f = queue.shift()) {
    if (f === to) {
      const path: string[] = [];
      for (let x: string | null | undefined = f; x; x = parent.get(x)) path.unshift(x);
      return path;
    }
    for (const g of calls.get(f) ?? []) {
      if (parent.has(g)) continue;
      parent.set(g, f);
      queue.push(g);
    }
  }
  return null;
}

/** A flow renders a connector endpoint with `input` only: what the endpoint's path and body name must be in it. */
function checkConnector(n: Extract<FlowNode, { type: 'connector_action' }>, at: PathKey[], s: Scope): void {
  const { connectorId, actionId, input } = n.connectorConfig;
  const c = [...at, 'connectorConfig'];
  const connector = s.ctx.connectors.get(connectorId);
  if (!connector) {
    s.report([...c, 'connectorId'], `unknown connector "${connectorId}" (declared: ${list(s.ctx.connectors.keys())})`);
    return;
  }
  const endpoint = Object.hasOwn(connector.actions, actionId) ? connector.actions[actionId] : undefined;
  if (!endpoint) {
    s.report([...c, 'actionId'], `connector "${connector.name}" has no action "${actionId}" (actions: ${list(Object.keys(connector.actions))})`);
    return;
  }
  const texts = [endpoint.path, ...(typeof endpoint.body === 'string' ? [endpoint.body] : endpoint.body ? [JSON.stringify(endpoint.body)] : [])];
  for (const expr of new Set(texts.flatMap(templatePlaceholders))) {
    const m = /^input\.(.+)$/.exec(expr);
    if (!m) s.report([...c, 'actionId'], `connector action ${connectorId}.${actionId} renders {{${expr}}}: a flow gives it only input (use {{input.*}} in the action)`);
    else if (!Object.hasOwn(input, m[1]!)) s.report([...c, 'input'], `connector action ${connectorId}.${actionId} uses {{${expr}}}: input has no "${m[1]}"`);
  }
}

/** The config strings of a node whose placeholders are resolved when it runs, with their paths inside the node. */
function nodeTemplates(n: FlowNode): { path: PathKey[]; text: string }[] {
  const out: { path: PathKey[]; text: string }[] = [];
  const add = (path: PathKey[], v: unknown): void => {
    if (typeof v === 'string') out.push({ path, text: v });
    else if (Array.isArray(v)) v.forEach((x, i) => add([...path, i], x));
    else if (v !== null && typeof v === 'object') for (const [k, x] of Object.entries(v)) add([...path, k], x);
  };
  switch (n.type) {
    case 'assignment': n.config.assignments.forEach((a, i) => add(['config', 'assignments', i, 'value'], a.value)); break;
    case 'create_record': add(['config', 'values'], n.config.values); break;
    case 'update_record': add(['config', 'recordId'], n.config.recordId); add(['config', 'values'], n.config.values); break;
    case 'delete_record': case 'get_record': add(['config', 'recordId'], n.config.recordId); break;
    case 'http_request': add(['config', 'url'], n.config.url); add(['config', 'headers'], n.config.headers); add(['config', 'body'], n.config.body); break;
    case 'subflow': add(['config', 'inputs'], n.config.inputs); break;
    case 'connector_action': add(['connectorConfig', 'input'], n.connectorConfig.input); break;
    default: break;
  }
  return out;
}

function checkPlaceholders(text: string, at: PathKey[], s: Scope): void {
  if (/\{\{/.test(text)) s.report(at, `flows use {!name} placeholders, not {{…}}: ${JSON.stringify(text)}`);
  for (const m of text.matchAll(FLOW_PLACEHOLDER)) {
    const expr = m[1]!.trim();
    const ref = FLOW_REFERENCE.exec(expr);
    if (!ref) {
      s.report(at, `{!${expr}} is not a variable reference (use {!name} or {!name.field})`);
      continue;
    }
    const name = ref[1]!;
    const field = ref[2];
    const v = s.vars.get(name);
    if (!v) s.report(at, `{!${expr}}: ${unknownVariable(name, s)}`);
    else if (field === undefined || v.type === 'json') continue;
    else if (v.type !== 'record') s.report(at, `{!${expr}}: ${name} is a ${v.type} variable (only record and json variables have fields)`);
    else {
      const object = v.object === undefined ? undefined : s.ctx.objects.get(v.object);
      if (object && !Object.hasOwn(object.fields, field) && !(SYSTEM_CONDITION_FIELDS as readonly string[]).includes(field))
        s.report(at, `{!${expr}}: ${object.name} has no field "${field}" (fields: ${list(Object.keys(object.fields))})`);
    }
  }
}
