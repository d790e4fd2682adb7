import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { METADATA_FILE } from '../src/index.ts';
import { issuesOf, parse } from './rule-fixture.ts';

/** Approval processes (`*.approval.yaml`, spec Approval): the demo's loads; each mistake is located. */

const demo = (f: string) => readFileSync(new URL(`../../../metadata/${f}`, import.meta.url), 'utf8');
const MACHINE = { 'workflows/leave_request_flow.statemachine.yaml': demo('workflows/leave_request_flow.statemachine.yaml'), 'workflows/notify_manager.action.yaml': demo('workflows/notify_manager.action.yaml') };
const GROUP = { 'security/key_account_team.group.yaml': demo('security/key_account_team.group.yaml') };
const FILE = 'workflows/p.approval.yaml';
const process = (body: string) => `name: p\nobject: leave_request\n${body}`;
const STEP = 'steps:\n  - name: review\n    approvers: [{ type: manager }]\n';

describe('approval metadata', () => {
  it('loads the demo large_deal process: steps, escalation, actions, entry criteria parsed', () => {
    expect(METADATA_FILE.test('workflows/large_deal.approval.yaml')).toBe(true);
    const model = parse({ 'workflows/large_deal.approval.yaml': demo('workflows/large_deal.approval.yaml') });
    const a = model.approvals.find((x) => x.name === 'large_deal')!;
    expect(a).toMatchObject({ object: 'opportunity', lockRecord: true, escalation: { timeoutHours: 48, action: 'notify' }, onFinalApprove: [{ type: 'field_update', field: 'next_step' }] });
    expect(a.steps.map((s) => [s.name, s.behavior, s.rejectionBehavior])).toEqual([['manager_review', 'first_response', 'reject_process'], ['ceo_review', 'first_response', 'back_to_previous']]);
    expect(a.entryCondition).toMatchObject({ op: 'gt' });
  });

  it('drives a state machine: { transition } actions name its events', () => {
    const a = parse({ ...MACHINE, 'workflows/notify_manager.action.yaml': demo('workflows/notify_manager.action.yaml'), [FILE]: process(`${STEP}onSubmit: [{ transition: submit }]\nonFinalApprove: [{ transition: approve }]\n`) }).approvals[0]!;
    expect(a.onSubmit).toEqual([{ transition: 'submit' }]);
  });

  const cases: [string, Record<string, string>, { path: string; message: string }][] = [
    ['an unknown object', { [FILE]: `name: p\nobject: leave\n${STEP}` }, { path: 'object', message: 'unknown object "leave"' }],
    ['no step', { [FILE]: process('steps: []\n') }, { path: 'steps', message: 'an approval process needs at least one step' }],
    ['an unknown approver type', { [FILE]: process('steps:\n  - name: review\n    approvers: [{ type: boss }]\n') }, { path: 'steps.0.approvers.0.type', message: 'unknown approver type "boss"' }],
    ['a role approver without value', { [FILE]: process('steps:\n  - name: review\n    approvers: [{ type: role }]\n') }, { path: 'steps.0.approvers.0.type', message: 'a role approver needs value' }],
    ['an unknown role', { [FILE]: process('steps:\n  - name: review\n    approvers: [{ type: role, value: boss }]\n') }, { path: 'steps.0.approvers.0.value', message: 'unknown role "boss"' }],
    ['an unknown group', { ...GROUP, [FILE]: process('steps:\n  - name: review\n    approvers: [{ type: queue, value: hr }]\n') }, { path: 'steps.0.approvers.0.value', message: 'unknown group "hr" (groups: key_account_team)' }],
    ['a field approver on a non-text field', { [FILE]: process('steps:\n  - name: review\n    approvers: [{ type: field, value: days }]\n') }, { path: 'steps.0.approvers.0.value', message: 'leave_request.days is a number field' }],
    ['two steps of one name', { [FILE]: process(`${STEP}  - name: review\n    approvers: [{ type: manager }]\n`) }, { path: 'steps.1.name', message: 'step name "review" is already used' }],
    ['bad entry criteria', { [FILE]: process(`entryCriteria: "hours > 1"\n${STEP}`) }, { path: 'entryCriteria', message: 'leave_request: unknown field "hours"' }],
    ['a transition on an object without a machine', { [FILE]: `name: p\nobject: case\n${STEP}onSubmit: [{ transition: submit }]\n` }, { path: 'onSubmit.0.transition', message: 'case has no state machine' }],
    ['an unknown transition', { ...MACHINE, [FILE]: process(`${STEP}onFinalApprove: [{ transition: accept }]\n`) }, { path: 'onFinalApprove.0.transition', message: 'leave_request_flow has no transition "accept"' }],
    ['a field update of the governed field', { ...MACHINE, [FILE]: process(`${STEP}onFinalApprove: [{ name: x, type: field_update, field: status, value: approved }]\n`) }, { path: 'onFinalApprove.0.field', message: 'use { transition: <event> }' }],
    ['an action checked like a rule action', { [FILE]: process(`${STEP}onSubmit: [{ name: x, type: email_alert, template: nope, recipients: [owner] }]\n`) }, { path: 'onSubmit.0.template', message: 'unknown template "nope"' }],
    ['reassignTo on another escalation action', { [FILE]: process(`${STEP}escalation: { timeoutHours: 2, action: notify, reassignTo: { type: manager } }\n`) }, { path: 'escalation.reassignTo', message: 'reassignTo is for action reassign' }],
  ];
  for (const [what, files, expected] of cases)
    it(`refuses ${what}, located`, () => {
      const issues = issuesOf(files);
      expect(issues.find((i) => i.path === expected.path && i.message.includes(expected.message)), JSON.stringify(issues, null, 1)).toBeDefined();
    });
});
