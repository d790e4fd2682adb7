import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { METADATA_FILE } from '../src/index.ts';
import { issuesOf, parse, rule } from './rule-fixture.ts';

/** Record state machines (`*.statemachine.yaml`): the seed's example loads as written; each mistake is located. */

const demo = (f: string) => readFileSync(new URL(`../../../metadata/${f}`, import.meta.url), 'utf8');
const SEED = demo('workflows/leave_request_flow.statemachine.yaml');
/** The seed plan's example, from the plan itself. */
const PLAN = readFileSync(new URL('../../../../shared/reference/seed-development-plan.md', import.meta.url), 'utf8');
const FILE = 'workflows/m.statemachine.yaml';
/** A machine on leave_request.status; `states` is the YAML of its states block (indented two spaces). */
const machine = (states: string, extra = '') => `name: m\nobject: leave_request\n${extra}states:\n${states}`;
const DRAFT = '  draft:\n    initial: true\n    transitions:\n      submit: pending_approval\n';

describe('state machine metadata', () => {
  it('loads the seed plan\'s leave_request_flow as written: states are the field\'s options, actions resolved', () => {
    expect(METADATA_FILE.test('workflows/leave_request_flow.statemachine.yaml')).toBe(true);
    // The demo file is the plan's YAML block, byte for byte, after its comment lines.
    const block = /```yaml\n(name: leave_request_flow\n[\s\S]*?)```/.exec(PLAN)?.[1];
    expect(block).toBeDefined();
    expect(SEED.split('\n').filter((l) => !l.startsWith('#')).join('\n')).toBe(block);
    const model = parse({ 'workflows/leave_request_flow.statemachine.yaml': SEED, 'workflows/notify_manager.action.yaml': demo('workflows/notify_manager.action.yaml') });
    const m = model.stateMachines.find((x) => x.name === 'leave_request_flow')!;
    expect(m).toMatchObject({ object: 'leave_request', field: 'status', initial: 'draft', defaultAccess: 'edit' });
    expect(m.transitions.map((t) => `${t.from}-${t.event}->${t.to}`)).toEqual(['draft-submit->pending_approval', 'pending_approval-approve->approved', 'pending_approval-reject->rejected']);
    // `rejected` is not listed under states: an option nothing leaves.
    expect(m.states.map((s) => [s.name, s.final])).toEqual([['draft', false], ['pending_approval', false], ['approved', true], ['rejected', true]]);
    expect(m.states.find((s) => s.name === 'pending_approval')!.onEnter).toEqual([expect.objectContaining({ name: 'notify_manager', type: 'push_notification', recipients: ['manager'] })]);
  });

  it('parses guards of each kind', () => {
    const m = parse({
      [FILE]: machine(`  draft:
    initial: true
    transitions:
      submit:
        target: pending_approval
        guards: [{ condition: "days > 0" }, { roles: [sales_manager, admin] }, { permissions: [manageWorkflows] }]
`),
    }).stateMachines[0]!;
    expect(m.transitions[0]!.guards.map((g) => g.kind)).toEqual(['condition', 'roles', 'permissions']);
  });

  const cases: [string, Record<string, string>, { path: string; message: string; line?: number }][] = [
    ['an unknown object', { [FILE]: `name: m\nobject: leave\nstates:\n${DRAFT}` }, { path: 'object', message: 'unknown object "leave"', line: 2 }],
    ['a field that is not a select', { [FILE]: machine(DRAFT, 'field: subject\n') }, { path: 'field', message: 'leave_request.subject is a text field: a state machine is bound to a select field' }],
    ['a state that is not an option', { [FILE]: machine(`${DRAFT}  archived:\n    final: true\n`) }, { path: 'states.archived', message: 'state "archived" is not an option of leave_request.status' }],
    ['a target that is not an option', { [FILE]: machine('  draft:\n    initial: true\n    transitions:\n      submit: waiting\n') }, { path: 'states.draft.transitions.submit', message: 'target "waiting" is not an option' }],
    ['no initial state', { [FILE]: machine('  draft:\n    transitions:\n      submit: pending_approval\n') }, { path: 'states', message: 'one state must be initial: true' }],
    ['two initial states', { [FILE]: machine(`${DRAFT}  pending_approval:\n    initial: true\n`) }, { path: 'states', message: 'only one state can be initial (draft, pending_approval are)' }],
    ['a final state with transitions', { [FILE]: machine(`${DRAFT}  pending_approval:\n    final: true\n    transitions:\n      approve: approved\n`) }, { path: 'states.pending_approval.transitions', message: 'state "pending_approval" is final: nothing leaves it' }],
    ['an unknown named action', { [FILE]: machine(`${DRAFT}  pending_approval:\n    on_enter:\n      - action: tell_boss\n`) }, { path: 'states.pending_approval.on_enter.0.action', message: 'unknown action "tell_boss"' }],
    ['an unknown role in a guard', { [FILE]: machine('  draft:\n    initial: true\n    transitions:\n      submit: { target: pending_approval, guards: [{ roles: [boss] }] }\n') }, { path: 'states.draft.transitions.submit.guards.0.roles.0', message: 'unknown role "boss"' }],
    ['an unknown permission in a guard', { [FILE]: machine('  draft:\n    initial: true\n    transitions:\n      submit: { target: pending_approval, guards: [{ permissions: [approveAll] }] }\n') }, { path: 'states.draft.transitions.submit.guards.0.permissions.0', message: 'unknown permission "approveAll"' }],
    ['a guard condition on an unknown field', { [FILE]: machine('  draft:\n    initial: true\n    transitions:\n      submit: { target: pending_approval, guards: [{ condition: "hours > 2" }] }\n') }, { path: 'states.draft.transitions.submit.guards.0.condition', message: 'leave_request: unknown field "hours"' }],
    ['an action checked like a rule action', { [FILE]: machine(`${DRAFT}  pending_approval:\n    on_exit:\n      - { name: x, type: field_update, field: nope, value: 1 }\n`) }, { path: 'states.pending_approval.on_exit.0.field', message: 'unknown field "nope"' }],
    ['a field update of the state field', { [FILE]: machine(`${DRAFT}  pending_approval:\n    on_exit:\n      - { name: x, type: field_update, field: status, value: draft }\n`) }, { path: 'states.pending_approval.on_exit.0.field', message: 'leave_request.status is the state field: it changes through transitions, not field updates' }],
    ['a rule that updates a governed field', { [FILE]: machine(DRAFT), 'automation/r.rule.yaml': rule('actions:\n  - { type: field_update, name: a, field: status, value: approved }\n', { object: 'leave_request' }) },
      { path: 'actions.0.field', message: 'leave_request.status changes only through the transitions of the state machine "m": a field update cannot set it' }],
    ['two machines on one field', { [FILE]: machine(DRAFT), 'workflows/n.statemachine.yaml': machine(DRAFT).replace('name: m', 'name: n') }, { path: 'field', message: 'leave_request.status is already governed by the state machine "m"' }],
  ];
  for (const [what, files, expected] of cases)
    it(`refuses ${what}, located`, () => {
      const issues = issuesOf(files);
      const found = issues.find((i) => i.path === expected.path && i.message.includes(expected.message));
      expect(found, JSON.stringify(issues, null, 1)).toBeDefined();
      if (expected.line) expect(found!.line).toBe(expected.line);
    });
});
