import { describe, expect, it } from 'vitest';
import { FLOW_NODE_TYPES, METADATA_FILE, type MetadataIssue } from '../src/index.ts';
import { flow, issuesOf, lineOf, parse, single } from './flow-fixture.ts';

/** Flows (`*.flow.yaml`): a valid set loads with its conditions parsed; each mistake is located. */

const LEAVE = `name: leave_followup
label: Leave follow-up
version: 2
type: autolaunched
permissionSets: [flow_starter]
variables:
  - { name: request_id, type: text, isInput: true }
  - { name: days, type: number, default: 0 }
  - { name: request, type: record, object: leave_request }
  - { name: ids, type: list, default: [] }
  - { name: current, type: text }
  - { name: task_id, type: text }
  - { name: response, type: json }
  - { name: result, type: json }
  - { name: sync, type: json }
  - { name: child_days, type: number }
  - { name: approved, type: boolean, isOutput: true }
errorHandling: { strategy: retry, maxRetries: 2 }
nodes:
  - { id: start, type: start, position: { x: 0, y: 0 } }
  - id: load
    type: get_record
    config: { object: leave_request, recordId: '{!request_id}', outputVariable: request }
  - id: set_days
    type: assignment
    config:
      assignments:
        - { variable: days, operator: set, value: '{!request.days}' }
        - { variable: ids, operator: append, value: '{!request_id}' }
  - { id: long, type: decision }
  - { id: each, type: loop, config: { collection: ids, itemVariable: current } }
  - { id: mk, type: create_record, config: { object: task, values: { subject: 'Follow up {!request.name}' }, outputVariable: task_id } }
  - { id: del, type: delete_record, config: { object: task, recordId: '{!task_id}' } }
  - { id: upd, type: update_record, config: { object: leave_request, recordId: '{!request_id}', values: { note: x } } }
  - { id: call, type: http_request, timeoutMs: 20000, config: { url: 'https://example.com/x/{!request_id}', body: { a: '{!days}' }, outputVariable: response } }
  - { id: calc, type: script, config: { code: 'return { total: input.days * 2 }', timeout: 5000, outputVariable: result } }
  - { id: pause, type: wait, waitEventConfig: { eventType: timer, timerDuration: '+2h' } }
  - { id: child, type: subflow, config: { flow: other_flow, inputs: { x: '{!days}' }, outputs: { child_days: child_output_var } } }
  - { id: conn, type: connector_action, connectorConfig: { connectorId: crm, actionId: ping, input: { id: '{!request_id}' } }, config: { outputVariable: sync } }
  - { id: set_ok, type: assignment, config: { assignments: [{ variable: approved, value: true }] } }
  - { id: done, type: end }
edges:
  - { id: e1, source: start, target: load }
  - { id: e2, source: load, target: set_days }
  - { id: e3, source: set_days, target: long }
  - { id: e4, source: long, target: each, type: conditional, condition: "days > 3 AND request.status = 'approved'" }
  - { id: e5, source: long, target: done, isDefault: true }
  - { id: e6, source: each, target: mk }
  - { id: e7, source: mk, target: del }
  - { id: e8, source: del, target: each }
  - { id: e9, source: each, target: upd, type: default }
  - { id: e10, source: upd, target: call }
  - { id: e11, source: call, target: calc }
  - { id: e12, source: call, target: done, type: fault }
  - { id: e13, source: calc, target: pause }
  - { id: e14, source: pause, target: child }
  - { id: e15, source: child, target: conn }
  - { id: e16, source: conn, target: set_ok }
  - { id: e17, source: set_ok, target: done }
`;

const OTHER = `name: other_flow
type: autolaunched
variables:
  - { name: x, type: number, isInput: true }
  - { name: child_output_var, type: number, isOutput: true }
nodes:
  - { id: start, type: start }
  - { id: a, type: assignment, config: { assignments: [{ variable: child_output_var, value: '{!x}' }] } }
  - { id: done, type: end }
edges:
  - { id: e1, source: start, target: a }
  - { id: e2, source: a, target: done }
`;

const ON_CHANGE = `name: leave_approved
type: record_change
runAs: user
trigger: { object: leave_request, on: update, criteria: "ISCHANGED(status) AND status = 'approved'" }
variables:
  - { name: record, type: record, object: leave_request, isInput: true }
nodes:
  - { id: start, type: start }
  - { id: wait_ok, type: wait, waitEventConfig: { eventType: signal, signal: manager_ok } }
  - { id: done, type: end }
edges:
  - { id: e1, source: start, target: wait_ok }
  - { id: e2, source: wait_ok, target: done }
`;

const NIGHTLY = `name: nightly
type: schedule
status: draft
schedule: { expression: '0 6 * * *' }
nodes:
  - { id: start, type: start }
  - { id: done, type: end }
edges:
  - { id: e1, source: start, target: done }
`;

describe('a valid flow set', () => {
  const model = parse({ 'flows/leave.flow.yaml': LEAVE, 'flows/other.flow.yaml': OTHER, 'flows/on_change.flow.yml': ON_CHANGE, 'flows/nightly.flow.yaml': NIGHTLY });
  const leave = model.flows.find((f) => f.name === 'leave_followup')!;

  it('loads all 14 node types, sorted by name, defaults filled in', () => {
    expect(model.flows.map((f) => f.name)).toEqual(['leave_approved', 'leave_followup', 'nightly', 'other_flow']);
    expect(new Set(leave.nodes.map((n) => n.type))).toEqual(new Set(FLOW_NODE_TYPES));
    expect(leave).toMatchObject({ source: 'flows/leave.flow.yaml', version: 2, status: 'active', runAs: 'system', permissionSets: ['flow_starter'], trigger: undefined });
    expect(leave.errorHandling).toEqual({ strategy: 'retry', maxRetries: 2, retryDelayMs: 1000, backoffMultiplier: 2 });
    expect(leave.nodes.find((n) => n.id === 'call')).toMatchObject({ timeoutMs: 20_000, config: { method: 'POST', headers: {}, timeoutMs: 10_000 } });
    expect(leave.nodes.find((n) => n.id === 'set_ok')).toMatchObject({ config: { assignments: [{ operator: 'set', value: true }] } });
    expect(leave.variables.find((v) => v.name === 'request_id')).toEqual({ name: 'request_id', type: 'text', isInput: true, isOutput: false });
    expect(model.flows.find((f) => f.name === 'nightly')).toMatchObject({ status: 'draft', schedule: { expression: '0 6 * * *', timezone: 'UTC' }, variables: [], edges: [{ id: 'e1', condition: null }] });
  });

  it('carries each edge condition parsed, isDefault folded into type', () => {
    const e4 = leave.edges.find((e) => e.id === 'e4')!;
    expect(e4).toMatchObject({ type: 'conditional', criteria: "days > 3 AND request.status = 'approved'" });
    expect(e4.condition).toEqual({ op: 'and', args: [
      { op: 'gt', left: { kind: 'field', name: 'days' }, right: { kind: 'value', value: 3 } },
      { op: 'eq', left: { kind: 'field', name: 'request__status' }, right: { kind: 'value', value: 'approved' } },
    ] });
    expect(leave.edges.find((e) => e.id === 'e5')).toEqual({ id: 'e5', source: 'long', target: 'done', type: 'default', condition: null });
    expect(leave.edges.find((e) => e.id === 'e6')).toEqual({ id: 'e6', source: 'each', target: 'mk', condition: null });
    expect(leave.conditionFields['days']?.type).toBe('number');
    expect(leave.conditionFields['request__status']?.type).toBe('select');
    expect(leave.conditionFields['request__id']?.type).toBe('text');
    expect(leave.conditionFields['ids']?.type).toBe('json');
  });

  it('parses a record_change trigger over the object, with ISCHANGED', () => {
    const onChange = model.flows.find((f) => f.name === 'leave_approved')!;
    expect(onChange.trigger).toMatchObject({ object: 'leave_request', on: 'update', condition: { op: 'and', args: [{ op: 'changed', field: 'status' }, { op: 'eq' }] } });
    expect(onChange.nodes[1]).toMatchObject({ waitEventConfig: { eventType: 'signal', signal: 'manager_ok' } });
  });

  it('is read by the loader (flow files match METADATA_FILE)', () => {
    expect(['a.flow.yaml', 'b/c.flow.yml'].every((f) => METADATA_FILE.test(f))).toBe(true);
  });
});

interface Mistake {
  name: string;
  text: string;
  /** More files (other flows). */
  files?: Record<string, string>;
  want: { path: string; message: RegExp | string; line?: number | string; file?: string };
}

const FILE = 'f.flow.yaml';
const m = (name: string, text: string, path: string, message: RegExp | string, line?: string, files?: Record<string, string>): Mistake =>
  ({ name, text, want: { path, message, ...(line === undefined ? {} : { line }) }, ...(files ? { files } : {}) });
const edges = (...e: string[]) => e.map((x) => `  - ${x}\n`).join('');
const nodes = edges;
const chain = (...ids: string[]) => edges(...ids.slice(1).map((id, i) => `{ id: c${i}, source: ${ids[i]}, target: ${id} }`));
const assign = (a: string) => single('a', `  - { id: a, type: assignment, config: { assignments: [${a}] } }`);
const decision = (...e: string[]) => flow(nodes('{ id: d, type: decision }'), edges('{ id: e0, source: start, target: d }', ...e));
const loop = (config: string, ...e: string[]) =>
  flow(nodes(`{ id: l, type: loop, config: ${config} }`, '{ id: body, type: assignment, config: { assignments: [{ variable: n, operator: add, value: 1 }] } }'), edges('{ id: e0, source: start, target: l }', ...e));
const loopEdges = ['{ id: e1, source: l, target: body }', '{ id: e2, source: body, target: l }', '{ id: e3, source: l, target: done, type: default }'];
const node = (n: string, head?: string) => single('x', `  - ${n}`, head === undefined ? {} : { head });
const child = (body: string) => ({ 'g.flow.yaml': body });
const G = single('a', '  - { id: a, type: subflow, config: { flow: f } }', { name: 'g' });

const MISTAKES: Mistake[] = [
  // 1. node types, duplicate ids and names
  m('unknown node type (objectstack#7516)', node('{ id: x, type: parallel_gateway }'), 'nodes.2.type',
    /^unknown node type "parallel_gateway" \(expected one of start, end, decision, assignment, loop, create_record, update_record, delete_record, get_record, http_request, script, wait, subflow, connector_action\)$/, 'parallel_gateway'),
  m('duplicate node id', flow(nodes('{ id: done, type: end }'), chain('start', 'done')), 'nodes.2.id', 'node id "done" is already used by nodes.1'),
  m('duplicate edge id', flow('', edges('{ id: e1, source: start, target: done }', '{ id: e1, source: start, target: done }')), 'edges.1.id', 'edge id "e1" is already used by edges.0'),
  m('duplicate variable name', flow('', chain('start', 'done'), { variables: '  - { name: n, type: number }\n  - { name: n, type: text }\n' }), 'variables.1.name', 'variable "n" is already declared (variables.0)', 'type: text'),
  // 2. start and end
  m('no start node', flow('', '').replace('  - { id: start, type: start }\n', '').replace('edges:\n', 'edges: []\n'), 'nodes', 'a flow needs one start node (type: start)'),
  m('two start nodes', flow(nodes('{ id: s2, type: start }'), chain('start', 'done') + chain('s2', 'done').replace('c0', 'c9')), 'nodes.2.type', 'a flow has exactly one start node: nodes.0 is already one', 's2'),
  m('no end node', flow('', '').replace('  - { id: done, type: end }\n', '').replace('edges:\n', 'edges: []\n'), 'nodes', 'a flow needs at least one end node (type: end)'),
  m('edge leaving an end node', flow(nodes('{ id: d2, type: end }'), chain('start', 'done', 'd2')), 'edges.1.source', 'end node "done" has no outgoing edges (the flow stops there)'),
  m('start with two outgoing edges', flow(nodes('{ id: d2, type: end }'), edges('{ id: e1, source: start, target: done }', '{ id: e2, source: start, target: d2 }')), 'nodes.0', 'the start node has exactly one outgoing edge, to the first node (found 2)', 'id: start'),
  m('edge into the start node', single('a', '  - { id: a, type: decision }').replace('  - { id: e2, source: a, target: done }\n', edges("{ id: e2, source: a, target: start, condition: 'n > 1' }", '{ id: e3, source: a, target: done, type: default }')),
    'edges.1.target', 'nothing leads back to the start node "start" (it runs once, first)', 'id: e2'),
  // 3–5. dangling edges, unreachable nodes, cycles
  m('dangling edge', flow('', chain('start', 'don')), 'edges.0.target', 'unknown node "don" (nodes: done, start)', 'target: don'),
  m('unreachable node', flow(nodes('{ id: orphan, type: assignment, config: { assignments: [{ variable: n, value: 1 }] } }'), chain('start', 'done') + edges('{ id: x, source: orphan, target: done }')),
    'nodes.2', 'node "orphan" is unreachable: no edge path leads to it from the start node', 'id: orphan'),
  m('cycle without a loop or wait node', flow(nodes('{ id: a, type: assignment, config: { assignments: [{ variable: n, operator: add, value: 1 }] } }', "{ id: b, type: decision }"),
    edges('{ id: e1, source: start, target: a }', '{ id: e2, source: a, target: b }', "{ id: e3, source: b, target: a, condition: 'n < 10' }", '{ id: e4, source: b, target: done, type: default }')),
  'nodes.2', 'a → b → a is a cycle without a loop or wait node: it would never end (go round through a loop\'s body, or wait)', 'id: a,'),
  m('cycle leaving a loop by its default edge', loop('{ collection: items, itemVariable: t }', ...loopEdges.slice(0, 2), '{ id: e3, source: l, target: a, type: default }', '{ id: e4, source: a, target: l }').replace('nodes:\n', 'nodes:\n  - { id: a, type: assignment, config: { assignments: [{ variable: n, value: 0 }] } }\n'),
    'nodes.0', /^a → l → a is a cycle without a loop or wait node/),
  // 6. decisions and edges
  m('decision without default edge', decision("{ id: e1, source: d, target: done, condition: 'n > 1' }"), 'nodes.2', 'decision "d" needs exactly one default edge (taken when no condition holds; found 0)', 'id: d,'),
  m('decision without conditional edge', decision('{ id: e1, source: d, target: done, type: default }'), 'nodes.2', 'decision "d" needs at least one conditional edge (with condition)'),
  m('default edge with a condition', decision("{ id: e1, source: d, target: done, condition: 'n > 1' }", "{ id: e2, source: d, target: done, type: default, condition: 'n > 2' }"),
    'edges.2.condition', 'a default edge is taken when no condition holds: it has no condition', 'id: e2'),
  m('conditional edge without condition', decision('{ id: e1, source: d, target: done, type: conditional }', '{ id: e2, source: d, target: done, isDefault: true }'), 'edges.1.type', 'a conditional edge needs condition (over the flow variables)', 'id: e1'),
  m('plain edge leaving a decision', decision("{ id: e1, source: d, target: done, condition: 'n > 1' }", '{ id: e2, source: d, target: done, isDefault: true }', '{ id: e3, source: d, target: done }'),
    'edges.3', 'an edge leaving decision "d" is conditional (with condition) or default', 'id: e3'),
  m('condition on an edge not leaving a decision', flow('', edges("{ id: e1, source: start, target: done, condition: 'n > 1' }")), 'edges.0.condition', 'conditions are only for edges leaving a decision ("start" is a start node)'),
  m('isDefault contradicting type', decision("{ id: e1, source: d, target: done, type: conditional, isDefault: true, condition: 'n > 1' }"), 'edges.1.isDefault', 'isDefault: true contradicts type: conditional (isDefault: true is type: default)'),
  m('two next edges', single('a', '  - { id: a, type: assignment, config: { assignments: [{ variable: n, value: 1 }] } }').replace('edges:\n', `edges:\n${edges('{ id: e0, source: a, target: done }')}`),
    'edges.2', 'node "a" already has its next edge (edges.0): only a decision branches', 'id: e2'),
  m('two fault edges', single('a', '  - { id: a, type: delete_record, config: { object: task, recordId: x } }') + edges('{ id: f1, source: a, target: done, type: fault }', '{ id: f2, source: a, target: done, type: fault }'),
    'edges.3.type', 'node "a" already has a fault edge (edges.2)', 'id: f2'),
  m('node without next edge', flow(nodes('{ id: a, type: assignment, config: { assignments: [{ variable: n, value: 1 }] } }'), chain('start', 'a')), 'nodes.2', 'node "a" has no next edge: connect it to the next node or to an end node'),
  // 7. loops
  m('loop without default edge', loop('{ collection: items, itemVariable: t }', ...loopEdges.slice(0, 2)), 'nodes.2', 'loop "l" needs exactly one default edge (taken after the last item; found 0)', 'id: l'),
  m('loop without body', loop('{ collection: items, itemVariable: t }', loopEdges[2]!), 'nodes.2', 'loop "l" needs exactly one body edge (without type, taken for each item; found 0)'),
  m('loop body that never comes back', loop('{ collection: items, itemVariable: t }', loopEdges[0]!, '{ id: e2, source: body, target: done }', loopEdges[2]!),
    'edges.1', 'the body of loop "l" never leads back to it: each item\'s path must return to the loop node', 'id: e1,'),
  m('loop over a non-list', loop('{ collection: n, itemVariable: t }', ...loopEdges), 'nodes.2.config.collection', 'a loop goes over a list variable: n is a number variable', 'id: l'),
  m('loop item variable undeclared', loop('{ collection: items, itemVariable: item }', ...loopEdges), 'nodes.2.config.itemVariable', /^unknown variable "item" \(variables: data, flag, items, n, req, t, when\)$/),
  // 8. variables and their types
  m('assignment to an undeclared variable', assign('{ variable: total, value: 1 }'), 'nodes.2.config.assignments.0.variable', /^unknown variable "total" \(variables: data, flag/, 'id: a'),
  m('add on a boolean', assign('{ variable: flag, operator: add, value: 1 }'), 'nodes.2.config.assignments.0.operator', 'add works on number, date and datetime variables: flag is a boolean variable'),
  m('append on a non-list', assign('{ variable: t, operator: append, value: x }'), 'nodes.2.config.assignments.0.operator', 'append adds an item to a list: t is a text variable'),
  m('add a string to a date', assign('{ variable: when, operator: add, value: two }'), 'nodes.2.config.assignments.0.value', 'add on when needs a number of days, got "two"'),
  m('set a number to text', assign("{ variable: n, value: 'abc' }"), 'nodes.2.config.assignments.0.value', 'n is a number variable: value must be a number, got "abc"'),
  m('set a number to interpolated text', assign("{ variable: n, value: 'x{!t}' }"), 'nodes.2.config.assignments.0.value', 'n is a number variable: "x{!t}" renders as text'),
  m('assignment without value', assign('{ variable: n }'), 'nodes.2.config.assignments.0', 'an assignment needs value (null clears the variable)'),
  m('placeholder naming an undeclared variable', node("{ id: x, type: delete_record, config: { object: task, recordId: '{!task_id}' } }"), 'nodes.2.config.recordId', /^\{!task_id\}: unknown variable "task_id" \(variables: /),
  m('placeholder naming an unknown field of a record variable', node("{ id: x, type: create_record, config: { object: task, values: { subject: 'Re {!req.nmae}' } } }"),
    'nodes.2.config.values.subject', /^\{!req.nmae\}: leave_request has no field "nmae" \(fields: approved, code, days,/),
  m('placeholder with a field of a number variable', assign("{ variable: t, value: '{!n.x}' }"), 'nodes.2.config.assignments.0.value', '{!n.x}: n is a number variable (only record and json variables have fields)'),
  m('malformed placeholder', assign("{ variable: t, value: 'a {!Name} b' }"), 'nodes.2.config.assignments.0.value', '{!Name} is not a variable reference (use {!name} or {!name.field})'),
  m('handlebars placeholder', assign("{ variable: t, value: 'a {{t}} b' }"), 'nodes.2.config.assignments.0.value', 'flows use {!name} placeholders, not {{…}}: "a {{t}} b"'),
  m('outputVariable undeclared', node("{ id: x, type: script, config: { code: 'return 1', outputVariable: out } }"), 'nodes.2.config.outputVariable', /^unknown variable "out"/),
  m('get_record into a record of another object', node("{ id: x, type: get_record, config: { object: task, recordId: '{!t}', outputVariable: req } }"),
    'nodes.2.config.outputVariable', 'get_record gives a task record: outputVariable must be a record variable of task, req is a record variable of leave_request'),
  m('create_record output that is not text', node('{ id: x, type: create_record, config: { object: task, values: { subject: s }, outputVariable: n } }'),
    'nodes.2.config.outputVariable', "create_record gives the new record's id: outputVariable must be a text variable, n is a number variable"),
  m('http_request output that is not json', node('{ id: x, type: http_request, config: { url: "https://x.example.com", outputVariable: t } }'),
    'nodes.2.config.outputVariable', 'http_request gives the response (status, headers, body): outputVariable must be a json variable, t is a text variable'),
  m('condition type mismatch', decision("{ id: e1, source: d, target: done, condition: \"n > 'x'\" }", '{ id: e2, source: d, target: done, type: default }'),
    'edges.1.condition', 'type mismatch: a comparison compares a number with a string', 'id: e1'),
  m('condition over an option that does not exist', decision("{ id: e1, source: d, target: done, condition: \"req.status = 'won'\" }", '{ id: e2, source: d, target: done, type: default }'),
    'edges.1.condition', '"won" is not an option of req.status (open, approved)'),
  m('condition naming an unknown variable', decision("{ id: e1, source: d, target: done, condition: 'm > 1' }", '{ id: e2, source: d, target: done, type: default }'),
    'edges.1.condition', 'unknown variable "m" (variables: data, flag, items, n, req, t, when)'),
  m('condition naming a system column that is no variable', decision("{ id: e1, source: d, target: done, condition: \"id = 'x'\" }", '{ id: e2, source: d, target: done, type: default }'),
    'edges.1.condition', /^unknown variable "id"/),
  m('condition naming an unknown record field', decision('{ id: e1, source: d, target: done, condition: { req.dayz: { $gt: 1 } } }', '{ id: e2, source: d, target: done, type: default }'),
    'edges.1.condition', /^req has no field "dayz" \(leave_request fields: approved, code, created_at,/),
  m('condition with a field of a text variable', decision("{ id: e1, source: d, target: done, condition: 't.x = 1' }", '{ id: e2, source: d, target: done, type: default }'),
    'edges.1.condition', 't is a text variable: only record variables have fields (t.x)'),
  m('ISCHANGED in a flow condition', decision("{ id: e1, source: d, target: done, condition: 'ISCHANGED(n)' }", '{ id: e2, source: d, target: done, type: default }'),
    'edges.1.condition', /^ISCHANGED, PRIORVALUE and ISNEW look at a record change: a flow condition tests variables/),
  m('current_user in a flow condition', decision("{ id: e1, source: d, target: done, condition: 't = $user.id' }", '{ id: e2, source: d, target: done, type: default }'),
    'edges.1.condition', /^current_user.\* is not available in flow conditions/),
  m('comparing a list', decision("{ id: e1, source: d, target: done, condition: \"items = 'a'\" }", '{ id: e2, source: d, target: done, type: default }'),
    'edges.1.condition', 'items holds no single value: a flow condition can only test it with IS NULL'),
  m('record variable without object', flow('', chain('start', 'done'), { variables: '  - { name: r, type: record }\n' }), 'variables.0.type', 'a record variable needs object: <object name> (what its fields are)'),
  m('object on a text variable', flow('', chain('start', 'done'), { variables: '  - { name: r, type: text, object: task }\n' }), 'variables.0.object', 'object is only for record variables (this one is text)'),
  m('record variable of an unknown object', flow('', chain('start', 'done'), { variables: '  - { name: r, type: record, object: tsk }\n' }), 'variables.0.object', /^unknown object "tsk" \(objects: account,/),
  m('default of the wrong type', flow('', chain('start', 'done'), { variables: '  - { name: r, type: number, default: many }\n' }), 'variables.0.default', 'r is a number variable: default must be a number, got "many"'),
  m('unknown variable type', flow('', chain('start', 'done'), { variables: '  - { name: r, type: string }\n' }), 'variables.0.type', 'unknown variable type "string" (text, number, boolean, date, datetime, record, list, json)'),
  // 9. references
  m('record node on an unknown object', node("{ id: x, type: delete_record, config: { object: tasks, recordId: '{!t}' } }"), 'nodes.2.config.object', /^unknown object "tasks" \(objects: account, call_log,/),
  m('values naming an unknown field', node("{ id: x, type: update_record, config: { object: leave_request, recordId: '{!t}', values: { dayz: 1 } } }"),
    'nodes.2.config.values.dayz', /^unknown field "dayz" on leave_request \(fields: approved, code, days,/),
  m('values naming a system field', node("{ id: x, type: update_record, config: { object: leave_request, recordId: '{!t}', values: { owner_id: u1 } } }"),
    'nodes.2.config.values.owner_id', '"owner_id" is a system field (the runtime maintains it): a flow cannot set it'),
  m('values setting an autonumber', node("{ id: x, type: update_record, config: { object: leave_request, recordId: '{!t}', values: { code: '7' } } }"),
    'nodes.2.config.values.code', 'leave_request.code is an autonumber: a flow cannot set it'),
  m('create_record missing a required field', node('{ id: x, type: create_record, config: { object: leave_request, values: { days: 1 } } }'),
    'nodes.2.config.values', 'a new leave_request needs its required field name in values'),
  m('unknown connector', node('{ id: x, type: connector_action, connectorConfig: { connectorId: erp, actionId: ping } }'), 'nodes.2.connectorConfig.connectorId', 'unknown connector "erp" (declared: crm)'),
  m('unknown connector action', node('{ id: x, type: connector_action, connectorConfig: { connectorId: crm, actionId: pong } }'), 'nodes.2.connectorConfig.actionId', 'connector "crm" has no action "pong" (actions: create_deal, ping)'),
  m('connector input missing what the endpoint renders', node('{ id: x, type: connector_action, connectorConfig: { connectorId: crm, actionId: create_deal, input: { name: a } } }'),
    'nodes.2.connectorConfig.input', 'connector action crm.create_deal uses {{input.title}}: input has no "title"'),
  m('connector endpoint rendering the record', node('{ id: x, type: connector_action, connectorConfig: { connectorId: crm, actionId: create_deal, input: { title: a } } }'),
    'nodes.2.connectorConfig.actionId', 'connector action crm.create_deal renders {{record.amount}}: a flow gives it only input (use {{input.*}} in the action)'),
  m('connectorConfig on another node type', node('{ id: x, type: script, config: { code: x }, connectorConfig: { connectorId: crm, actionId: ping } }'), 'nodes.2.connectorConfig', 'unknown property "connectorConfig"'),
  m('unknown config property', node('{ id: x, type: delete_record, config: { object: task, recordId: a, cascade: true } }'), 'nodes.2.config.cascade', 'unknown property "cascade"'),
  m('unknown subflow', node('{ id: x, type: subflow, config: { flow: nope } }'), 'nodes.2.config.flow', 'unknown flow "nope" (flows: f)'),
  m('subflow running its own flow', node('{ id: x, type: subflow, config: { flow: f } }'), 'nodes.2.config.flow', 'subflow cycle: f → f (a flow cannot run itself, directly or through others)'),
  { ...m('subflow cycle through another flow', node('{ id: x, type: subflow, config: { flow: g } }'), 'nodes.2.config.flow', 'subflow cycle: f → g → f (a flow cannot run itself, directly or through others)'), files: child(G) },
  { ...m('subflow input that is not an input', node('{ id: x, type: subflow, config: { flow: g, inputs: { n: 1, t: x } } }'), 'nodes.2.config.inputs.t', 'g has no input variable "t" (inputs: n)'),
    files: child(flow('', chain('start', 'done'), { name: 'g', variables: '  - { name: n, type: number, isInput: true }\n  - { name: t, type: text }\n' })) },
  { ...m('subflow output that is not an output', node('{ id: x, type: subflow, config: { flow: g, outputs: { n: t } } }'), 'nodes.2.config.outputs.n', 'g has no output variable "t" (outputs: none)'),
    files: child(flow('', chain('start', 'done'), { name: 'g', variables: '  - { name: t, type: text }\n' })) },
  m('fallbackNodeId unknown', flow('', chain('start', 'done'), { head: 'type: autolaunched\nerrorHandling: { strategy: fail, fallbackNodeId: oops }' }), 'errorHandling.fallbackNodeId', 'unknown node "oops" (nodes: done, start)'),
  m('trigger on an unknown object', flow('', chain('start', 'done'), { head: 'type: record_change\ntrigger: { object: leave, on: update }' }), 'trigger.object', /^unknown object "leave" \(objects: /),
  m('record_change flow without trigger', flow('', chain('start', 'done'), { head: 'type: record_change' }), 'type', 'a record_change flow needs trigger: { object, on } (the records whose changes start it)'),
  m('trigger on an autolaunched flow', flow('', chain('start', 'done'), { head: 'type: autolaunched\ntrigger: { object: task, on: update }' }), 'trigger', 'trigger is only for record_change flows (this flow is autolaunched)'),
  m('schedule flow without schedule', flow('', chain('start', 'done'), { head: 'type: schedule' }), 'type', /^a schedule flow needs schedule: \{ expression: '<cron>' \}/),
  m('schedule on a record_change flow', flow('', chain('start', 'done'), { head: "type: record_change\ntrigger: { object: task, on: update }\nschedule: { expression: '0 6 * * *' }" }), 'schedule', 'schedule is only for schedule flows (this flow is record_change)'),
  m('invalid cron', flow('', chain('start', 'done'), { head: 'type: schedule\nschedule: { expression: every day }' }), 'schedule.expression', /^invalid cron expression "every day"/),
  m('ISCHANGED in the trigger criteria of a create', flow('', chain('start', 'done'), { head: 'type: record_change\ntrigger: { object: task, on: create, criteria: ISCHANGED(status) }' }),
    'trigger.criteria', 'ISCHANGED/PRIORVALUE: a create has no prior record (ISCHANGED is always false); use on: update or create_or_update'),
  m('trigger criteria naming an unknown field', flow('', chain('start', 'done'), { head: "type: record_change\ntrigger: { object: task, on: update, criteria: \"stat = 'x'\" }" }), 'trigger.criteria', 'task: unknown field "stat"'),
  m('trigger record variable of another object', flow('', chain('start', 'done'), { head: 'type: record_change\ntrigger: { object: task, on: update }', variables: '  - { name: record, type: record, object: leave_request, isInput: true }\n' }),
    'variables.0', 'a record_change flow gives record the changed record: declare it { name: record, type: record, object: task, isInput: true }'),
  m('http url choosing the host', node("{ id: x, type: http_request, config: { url: 'https://{!t}.example.com/a' } }"), 'nodes.2.config.url', /^placeholders cannot choose the scheme or host of url/),
  m('http url that is not http', node("{ id: x, type: http_request, config: { url: 'ftp://example.com/{!t}' } }"), 'nodes.2.config.url', 'url must be an http or https URL, got "ftp://example.com/{!t}"'),
  m('http credentials header', node("{ id: x, type: http_request, config: { url: 'https://example.com', headers: { Authorization: Bearer x } } }"), 'nodes.2.config.headers.Authorization', /^header "Authorization" carries credentials: use a connector_action/),
  m('permission set that does not exist', flow('', chain('start', 'done'), { head: 'type: autolaunched\npermissionSets: [flow_starters]' }), 'permissionSets.0', 'unknown permission set "flow_starters" (declared: flow_starter)'),
  m('permission sets on a schedule flow', flow('', chain('start', 'done'), { head: "type: schedule\nschedule: { expression: '0 6 * * *' }\npermissionSets: [flow_starter]" }), 'permissionSets', 'permissionSets is only for autolaunched flows (a schedule flow is not started through the API)'),
  m('screen flow', flow('', chain('start', 'done'), { head: 'type: screen' }), 'type', 'screen flows need a UI: not supported', 'type: screen'),
  m('api flow', flow('', chain('start', 'done'), { head: 'type: api' }), 'type', 'type api is not supported: use autolaunched (started through the API or by another flow)'),
  m('user run of a schedule flow', flow('', chain('start', 'done'), { head: "type: schedule\nschedule: { expression: '0 6 * * *' }\nrunAs: user" }), 'runAs', 'a schedule flow has no user to run as: use runAs: system'),
  // 10. scripts and waits
  m('empty script', node("{ id: x, type: script, config: { code: '  ' } }"), 'nodes.2.config.code', 'code cannot be empty'),
  m('script timeout out of range', node('{ id: x, type: script, config: { code: return 1, timeout: 60000 } }'), 'nodes.2.config.timeout', /60000|30000/),
  m('webhook wait', node('{ id: x, type: wait, waitEventConfig: { eventType: webhook } }'), 'nodes.2.waitEventConfig.eventType', 'eventType webhook is not supported: use signal (the flow resumes when the signal is sent to it)'),
  m('signal wait without signal', node('{ id: x, type: wait, waitEventConfig: { eventType: manual } }'), 'nodes.2.waitEventConfig.eventType', 'a manual wait needs signal: <name> (snake_case), the signal that resumes it'),
  m('timer with a bad duration', node("{ id: x, type: wait, waitEventConfig: { eventType: timer, timerDuration: 'P1M' } }"), 'nodes.2.waitEventConfig.timerDuration', /^timerDuration "P1M" must be \+30s, \+30m, \+2h, \+3d, \+1w or an ISO-8601 duration/),
];

describe('flow mistakes', () => {
  it.each(MISTAKES)('$name', ({ text, files, want }) => {
    const issues = issuesOf({ [FILE]: text, ...files });
    const found = issues.find((i: MetadataIssue) => i.path === want.path && (typeof want.message === 'string' ? i.message === want.message : want.message.test(i.message)));
    expect(found, JSON.stringify(issues, null, 1)).toBeDefined();
    const line = typeof want.line === 'string' ? lineOf(text, want.line) : want.line;
    expect(found).toMatchObject({ file: want.file ?? FILE, ...(line === undefined ? {} : { line }) });
  });

  it('locates a duplicate flow name in the second file', () => {
    const text = flow('', chain('start', 'done'));
    expect(issuesOf({ 'a.flow.yaml': text, 'b.flow.yaml': text })).toContainEqual(expect.objectContaining({ file: 'b.flow.yaml', line: 1, path: 'name', message: 'flow "f" is already declared in a.flow.yaml' }));
  });

  it('a cycle through a wait node is fine', () => {
    const text = flow(nodes("{ id: w, type: wait, waitEventConfig: { eventType: timer, timerDuration: PT1H } }", '{ id: d, type: decision }'),
      edges('{ id: e1, source: start, target: w }', '{ id: e2, source: w, target: d }', "{ id: e3, source: d, target: w, condition: 'n < 3' }", '{ id: e4, source: d, target: done, type: default }'));
    expect(parse({ [FILE]: text }).flows[0]!.edges.map((e) => e.condition?.op ?? null)).toEqual([null, null, 'lt', null]);
  });
});
