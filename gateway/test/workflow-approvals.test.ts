import { readFileSync } from 'node:fs';
import { createClient } from 'graphql-ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { gql, services, signIn, withHeaders, type FetchHandler } from '@objectos/testkit';
import { startRulesApp, until, type RulesApp, type RulesEngine } from './rules-app.ts';

const PASSWORD = 'Sup3r-secret-pass!';
/** A member created with a known id, so metadata can name it (`type: user`). */
const FIXED = 'approver_fixed';
const seed = readFileSync('metadata/workflows/leave_request_flow.statemachine.yaml', 'utf8');
const standardUser = readFileSync('metadata/security/standard_user.permission.yaml', 'utf8');

/**
 * For these tests: the leave machine with a `recall` transition, a process that drives it (manager,
 * then CEO; back to the manager when the CEO rejects), a unanimous process on case decided by a group,
 * one that escalates in seconds, and a field members cannot read (leave_request.reason).
 */
const EXTRA: Record<string, string> = {
  'workflows/leave_request_flow.statemachine.yaml': seed.replace('      reject: rejected\n', '      reject: rejected\n      recall: draft\n'),
  'workflows/leave_approval.approval.yaml': `name: leave_approval
object: leave_request
entryCriteria: "days > 0"
steps:
  - { name: manager_review, approvers: [{ type: manager }] }
  - { name: ceo_review, approvers: [{ type: role, value: ceo }], rejectionBehavior: back_to_previous,
      onApprove: [{ name: ceo_ok, type: push_notification, title: CEO approved, body: "{{record.subject}}", recipients: [owner] }] }
onSubmit: [{ transition: submit }]
onFinalApprove: [{ transition: approve }]
onFinalReject: [{ transition: reject }]
onRecall: [{ transition: recall }]
`,
  'workflows/case_review.approval.yaml': `name: case_review
object: case
steps:
  - { name: team, approvers: [{ type: queue, value: key_account_team }], behavior: unanimous }
onFinalApprove: [{ name: approved_origin, type: field_update, field: origin, value: web }]
onFinalReject: [{ name: rejected_origin, type: field_update, field: origin, value: email }]
`,
  'workflows/quick_deal.approval.yaml': `name: quick_deal
object: opportunity
entryCriteria: "amount < 1000"
steps:
  - { name: review, approvers: [{ type: role, value: ceo }] }
escalation: { timeoutHours: 0.001, action: auto_approve }
onFinalApprove: [{ name: stamp, type: field_update, field: next_step, value: "Auto-approved" }]
`,
  'workflows/account_check.approval.yaml': `name: account_check
object: account
steps:
  - { name: review, approvers: [{ type: role, value: ceo }] }
escalation: { timeoutHours: 0.001, action: reassign, reassignTo: { type: queue, value: key_account_team } }
`,
  'workflows/contact_check.approval.yaml': `name: contact_check
object: contact
steps:
  - { name: review, approvers: [{ type: role, value: ceo }] }
escalation: { timeoutHours: 0.001, action: auto_reject }
`,
  // Approvers named by a record field (the task's subject holds a user id here) and by a user id in metadata.
  'workflows/task_check.approval.yaml': `name: task_check
object: task
steps:
  - { name: by_field, approvers: [{ type: field, value: subject }] }
  - { name: by_user, approvers: [{ type: user, value: ${FIXED} }] }
`,
  'security/standard_user.permission.yaml': `${standardUser.trimEnd()}\n  leave_request.reason: { readable: false }\n`,
};

interface Request { id: string; status: string; step: string; tasks: { approverId: string; status: string }[] }
interface Task { id: string; requestId: string; step: string; approverId: string; record: Record<string, unknown> | null }
interface GqlError { message: string; extensions?: { code?: string } }
const REQ = 'id status step tasks { approverId status }';

const variants: RulesEngine[] = [...(services.postgres && services.redis ? ['postgres+redis' as const] : []), 'pglite'];
for (const engine of variants) {
  describe(`approval processes (${engine})`, () => {
    let rig: RulesApp;
    let org: string;
    const slug = `ap-${engine.replace('+', '-')}`;
    const users: Record<string, { id: string; as: FetchHandler; token: string }> = {};
    const as = async <T = Record<string, unknown>>(who: string, query: string, variables: Record<string, unknown> = {}): Promise<T> => {
      const r = await gql<T>(who === 'owner' ? withHeaders(`${rig.base}/graphql`, { authorization: `Bearer ${rig.owner}` }) : users[who]!.as, query, variables);
      if (r.errors?.length) throw new Error(JSON.stringify(r.errors));
      return r.data!;
    };
    const refused = async (who: string, query: string, variables: Record<string, unknown> = {}): Promise<GqlError> => {
      const r = await gql(who === 'owner' ? withHeaders(`${rig.base}/graphql`, { authorization: `Bearer ${rig.owner}` }) : users[who]!.as, query, variables);
      expect(r.errors?.length, JSON.stringify(r)).toBeGreaterThan(0);
      return r.errors![0] as GqlError;
    };
    const auth = (path: string, body: unknown, token?: string) =>
      fetch(`${rig.base}/api/auth${path}`, { method: 'POST', headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) }, body: JSON.stringify(body) });
    const join = async (name: string, role: string | null, groups: string[] = []) => {
      const email = `${name}@${slug}.test`;
      const id = ((await (await auth('/sign-up/email', { email, password: PASSWORD, name })).json()) as { user: { id: string } }).user.id;
      await rig.app.identity!.auth.api.addMember({ body: { userId: id, organizationId: org, role: 'member' } });
      await rig.q('mutation($i: SetMemberAccessInput!) { setMemberAccess(input: $i) { userId } }', { i: { userId: id, role, permissionSets: ['standard_user'], groups } });
      const token = await signIn(rig.base, email, PASSWORD);
      await auth('/organization/set-active', { organizationId: org }, token);
      users[name] = { id, token, as: withHeaders(`${rig.base}/graphql`, { authorization: `Bearer ${token}` }) };
    };
    const leave = async (who = 'rep', days: number | null = 3) => (await as<{ createLeaveRequest: { id: string } }>(who, 'mutation($i: LeaveRequestCreateInput!) { createLeaveRequest(input: $i) { id } }',
      { i: { subject: `Trip ${Math.random().toString(36).slice(2, 7)}`, startDate: '2026-12-20', endDate: '2026-12-24', days } })).createLeaveRequest.id;
    /** An opportunity of `who`, on an account of theirs. */
    const deal = async (who: string, name: string, amount: number) => {
      const { createAccount } = await as<{ createAccount: { id: string } }>(who, 'mutation($n: String!) { createAccount(input: { name: $n }) { id } }', { n: `${name} account` });
      return (await as<{ createOpportunity: { id: string } }>(who, 'mutation($n: String!, $a: Float!, $acc: ID!) { createOpportunity(input: { name: $n, stage: prospecting, amount: $a, accountId: $acc }) { id } }', { n: name, a: amount, acc: createAccount.id })).createOpportunity.id;
    };
    const submit = (who: string, object: string, id: string) => as<{ submitForApproval: Request }>(who, `mutation($o: String!, $id: ID!) { submitForApproval(object: $o, id: $id, comment: "please") { ${REQ} } }`, { o: object, id });
    const decide = (who: string, verb: 'approve' | 'reject', requestId: string) => as<Record<string, Request>>(who, `mutation($r: ID!) { ${verb}(requestId: $r, comment: "ok") { ${REQ} } }`, { r: requestId }).then((d) => d[verb]!);
    const pending = async (who: string) => (await as<{ myPendingApprovals: Task[] }>(who, '{ myPendingApprovals { id requestId step approverId record } }')).myPendingApprovals;
    const status = async (id: string) => (await as<{ leaveRequest: { status: string } }>('owner', 'query($id: ID!) { leaveRequest(id: $id) { status } }', { id })).leaveRequest.status;

    /** The approvals' clock runs this far ahead of real time (the escalation test moves it). */
    let shift = 0;
    beforeAll(async () => {
      rig = await startRulesApp({ engine, slug, extra: EXTRA, now: () => Date.now() + shift });
      org = (await rig.q<{ activeOrganization: { id: string } }>('{ activeOrganization { id } }')).activeOrganization.id;
      await join('rep', 'sales_rep');
      await join('manager', 'sales_manager');
      await join('ceo', 'ceo');
      await join('peer', 'support_agent');
      await join('ka1', 'support_agent', ['key_account_team']);
      await join('ka2', 'support_agent', ['key_account_team']);
    }, 180_000);
    afterAll(async () => rig?.close());

    it('submit: entry criteria, the transition it takes, the manager\'s task showing only fields they may read, the lock', async () => {
      const none = await leave('rep', null);
      expect((await refused('rep', 'mutation($id: ID!) { submitForApproval(object: "leave_request", id: $id) { id } }', { id: none })).message).toContain('does not meet the entry criteria of leave_approval: days > 0');
      const id = await leave();
      // A field members cannot read (nor write): the admin fills it in.
      await as('owner', 'mutation($id: ID!) { updateLeaveRequest(id: $id, input: { reason: "Private matter" }) { id } }', { id });
      const r = (await submit('rep', 'leave_request', id)).submitForApproval;
      expect(r).toMatchObject({ status: 'pending', step: 'manager_review', tasks: [{ approverId: users['manager']!.id, status: 'pending' }] });
      expect(await status(id)).toBe('pending_approval');
      // The manager reads the request through a share the process granted; reason is hidden by their field security.
      const [task] = (await pending('manager')).filter((t) => t.requestId === r.id);
      expect(task!.record).toMatchObject({ id, subject: expect.any(String), days: 3 });
      expect(task!.record).not.toHaveProperty('reason');
      expect(await pending('peer')).toEqual([]);
      // Locked: the submitter cannot edit it; its approver and the admin can.
      const edit = 'mutation($id: ID!, $s: String!) { updateLeaveRequest(id: $id, input: { subject: $s }) { subject } }';
      expect((await refused('rep', edit, { id, s: 'Changed by rep' })).message).toContain('locked while it is pending approval (leave_approval)');
      await as('manager', edit, { id, s: 'Changed by manager' });
      await as('owner', edit, { id, s: 'Changed by admin' });
      // The process owns its transitions: nobody takes them by hand, and a second submission is refused.
      expect((await refused('owner', 'mutation($id: ID!) { transition(object: "leave_request", id: $id, event: "approve") { to } }', { id })).message).toContain('taken by the approval process leave_approval');
      expect((await refused('rep', 'mutation($id: ID!) { submitForApproval(object: "leave_request", id: $id) { id } }', { id })).extensions?.code).toBe('CONFLICT');
    });

    it('approve through two steps: the CEO follows the manager; the final approval takes the approve transition and unlocks', async () => {
      const id = await leave();
      const r = (await submit('rep', 'leave_request', id)).submitForApproval;
      expect((await refused('peer', 'mutation($r: ID!) { approve(requestId: $r) { id } }', { r: r.id })).extensions?.code).toBe('FORBIDDEN');
      expect(await decide('manager', 'approve', r.id)).toMatchObject({ status: 'pending', step: 'ceo_review' });
      expect((await pending('manager')).some((t) => t.requestId === r.id)).toBe(false);
      expect((await pending('ceo')).some((t) => t.requestId === r.id)).toBe(true);
      expect(await decide('ceo', 'approve', r.id)).toMatchObject({ status: 'approved' });
      expect(await status(id)).toBe('approved');
      const { workflowHistory } = await as<{ workflowHistory: { event: string; actorId: string }[] }>('rep', 'query($id: ID!) { workflowHistory(object: "leave_request", id: $id) { event actorId } }', { id });
      expect(workflowHistory).toEqual([{ event: 'submit', actorId: users['rep']!.id }, { event: 'approve', actorId: users['ceo']!.id }]);
      await as('rep', 'mutation($id: ID!) { updateLeaveRequest(id: $id, input: { subject: "After" }) { id } }', { id });
      // The CEO step's own action (a notification to the owner of the request).
      const inbox = await until(() => as<{ myNotifications: { nodes: { title: string }[] } }>('rep', '{ myNotifications { nodes { title } } }'), (x) => x.myNotifications.nodes.some((n) => n.title === 'CEO approved'), 20_000);
      expect(inbox.myNotifications.nodes.map((n) => n.title)).toContain('CEO approved');
    });

    it('a CEO rejection goes back to the manager; the manager\'s rejection ends the process with the reject transition', async () => {
      const id = await leave();
      const r = (await submit('rep', 'leave_request', id)).submitForApproval;
      await decide('manager', 'approve', r.id);
      expect(await decide('ceo', 'reject', r.id)).toMatchObject({ status: 'pending', step: 'manager_review' });
      expect((await pending('manager')).some((t) => t.requestId === r.id)).toBe(true);
      expect(await decide('manager', 'reject', r.id)).toMatchObject({ status: 'rejected' });
      expect(await status(id)).toBe('rejected');
    });

    it('recall: the submitter withdraws it; the record is a draft again, unlocked, and nobody has the task', async () => {
      const id = await leave();
      const r = (await submit('rep', 'leave_request', id)).submitForApproval;
      expect((await refused('manager', 'mutation($r: ID!) { recall(requestId: $r) { id } }', { r: r.id })).extensions?.code).toBe('FORBIDDEN');
      expect((await as<{ recall: Request }>('rep', `mutation($r: ID!) { recall(requestId: $r) { ${REQ} } }`, { r: r.id })).recall).toMatchObject({ status: 'recalled', tasks: [{ status: 'cancelled' }] });
      expect(await status(id)).toBe('draft');
      expect((await pending('manager')).some((t) => t.requestId === r.id)).toBe(false);
      await as('rep', 'mutation($id: ID!) { updateLeaveRequest(id: $id, input: { subject: "Unlocked" }) { id } }', { id });
    });

    it('unanimous: every member of the group must approve; one rejection rejects', async () => {
      const made = async () => (await as<{ createCase: { id: string } }>('owner', 'mutation { createCase(input: { subject: "Review me" }) { id } }')).createCase.id;
      const a = await made();
      const r = (await submit('owner', 'case', a)).submitForApproval;
      expect(r.tasks.map((t) => t.approverId).sort()).toEqual([users['ka1']!.id, users['ka2']!.id].sort());
      expect(await decide('ka1', 'approve', r.id)).toMatchObject({ status: 'pending' });
      expect(await decide('ka2', 'approve', r.id)).toMatchObject({ status: 'approved' });
      const origin = (id: string) => as<{ case: { origin: string | null } }>('owner', 'query($id: ID!) { case(id: $id) { origin } }', { id });
      expect((await until(() => origin(a), (x) => x.case.origin === 'web', 20_000)).case.origin).toBe('web');
      const b = await made();
      const r2 = (await submit('owner', 'case', b)).submitForApproval;
      expect(await decide('ka2', 'reject', r2.id)).toMatchObject({ status: 'rejected' });
      expect((await until(() => origin(b), (x) => x.case.origin === 'email', 20_000)).case.origin).toBe('email');
    });

    it('reassign and delegation: another member decides, and may read the record while the task is theirs', async () => {
      const id = await leave();
      const r = (await submit('rep', 'leave_request', id)).submitForApproval;
      const [task] = (await pending('manager')).filter((t) => t.requestId === r.id);
      await as('manager', 'mutation($t: ID!, $u: String!) { reassign(taskId: $t, userId: $u, comment: "you take it") { id } }', { t: task!.id, u: users['peer']!.id });
      expect((await as<{ leaveRequest: { id: string } | null }>('peer', 'query($id: ID!) { leaveRequest(id: $id) { id } }', { id })).leaveRequest?.id).toBe(id);
      await decide('peer', 'approve', r.id);
      // The peer's read share ends with the task.
      expect((await as<{ leaveRequest: unknown }>('peer', 'query($id: ID!) { leaveRequest(id: $id) { id } }', { id })).leaveRequest).toBeNull();
      // Delegation: the CEO lets the peer decide for them.
      await as('ceo', 'mutation($d: String!) { setApprovalDelegate(delegateId: $d) { delegateId } }', { d: users['peer']!.id });
      expect((await pending('peer')).some((t) => t.requestId === r.id)).toBe(true);
      expect(await decide('peer', 'approve', r.id)).toMatchObject({ status: 'approved' });
      await as('ceo', 'mutation { setApprovalDelegate(delegateId: null) { delegateId } }');
    });

    it('myPendingApprovals is live: a new task arrives over graphql-ws, and leaves when decided', async () => {
      const lists: Task[][] = [];
      const client = createClient({ url: `${rig.base.replace('http', 'ws')}/graphql`, webSocketImpl: WebSocket, retryAttempts: 0, connectionParams: { authorization: `Bearer ${users['manager']!.token}` } });
      const stop = client.subscribe<{ myPendingApprovals: Task[] }>({ query: 'subscription { myPendingApprovals { requestId step } }' }, { next: (x) => x.data && lists.push(x.data.myPendingApprovals), error: () => {}, complete: () => {} });
      try {
        await until(async () => lists.length, (n) => n > 0, 10_000);
        const r = (await submit('rep', 'leave_request', await leave())).submitForApproval;
        expect((await until(async () => lists.at(-1) ?? [], (l) => l.some((t) => t.requestId === r.id), 10_000)).some((t) => t.requestId === r.id)).toBe(true);
        await decide('manager', 'approve', r.id);
        expect((await until(async () => lists.at(-1) ?? [], (l) => !l.some((t) => t.requestId === r.id), 10_000)).some((t) => t.requestId === r.id)).toBe(false);
      } finally {
        stop();
        await client.dispose();
      }
    });

    it('escalation: a decision overdue past timeoutHours is auto-approved (by its delayed job, or the sweep: once)', async () => {
      const tiny = await deal('owner', 'Tiny', 500);
      const r = (await submit('owner', 'opportunity', tiny)).submitForApproval;
      expect(r.status).toBe('pending');
      // timeoutHours 0.001: due 3.6 s after submission.
      const request = () => as<{ approvalRequest: Request }>('owner', `query($r: ID!) { approvalRequest(id: $r) { ${REQ} } }`, { r: r.id });
      expect((await until(request, (x) => x.approvalRequest.status === 'approved', 30_000)).approvalRequest.status).toBe('approved');
      const stamped = await until(() => as<{ opportunity: { nextStep: string | null } }>('owner', 'query($id: ID!) { opportunity(id: $id) { nextStep } }', { id: tiny }), (x) => x.opportunity.nextStep === 'Auto-approved', 20_000);
      expect(stamped.opportunity.nextStep).toBe('Auto-approved');
    });

    it('approvers by a record field and by a user id from metadata', async () => {
      await rig.app.data!.database.run(`insert into auth."user" (id, name, email, email_verified, created_at, updated_at) values ($1, 'Fixed Approver', $2, true, now(), now())`, [FIXED, `fixed@${slug}.test`]);
      await rig.app.identity!.auth.api.addMember({ body: { userId: FIXED, organizationId: org, role: 'member' } });
      const { createTask } = await as<{ createTask: { id: string } }>('owner', 'mutation($s: String!) { createTask(input: { subject: $s }) { id } }', { s: users['peer']!.id });
      const r = (await submit('owner', 'task', createTask.id)).submitForApproval;
      expect(r).toMatchObject({ step: 'by_field', tasks: [{ approverId: users['peer']!.id, status: 'pending' }] });
      const next = await decide('peer', 'approve', r.id);
      expect(next).toMatchObject({ status: 'pending', step: 'by_user' });
      expect(next.tasks.filter((t) => t.status === 'pending')).toEqual([{ approverId: FIXED, status: 'pending' }]);
      // The organization's admin may decide any step.
      expect(await decide('owner', 'approve', r.id)).toMatchObject({ status: 'approved' });
    });

    it('escalation reassign hands the overdue task to the group; auto_reject rejects', async () => {
      const { createAccount } = await as<{ createAccount: { id: string } }>('owner', 'mutation { createAccount(input: { name: "Checked" }) { id } }');
      const r = (await submit('owner', 'account', createAccount.id)).submitForApproval;
      const request = (id: string) => as<{ approvalRequest: Request }>('owner', `query($r: ID!) { approvalRequest(id: $r) { ${REQ} } }`, { r: id });
      const moved = await until(() => request(r.id), (x) => x.approvalRequest.tasks.some((t) => t.status === 'reassigned'), 30_000);
      expect(moved.approvalRequest.tasks.map((t) => [t.approverId, t.status]).sort()).toEqual([
        [users['ceo']!.id, 'reassigned'], [users['ka1']!.id, 'pending'], [users['ka2']!.id, 'pending'],
      ].sort());
      expect((await pending('ka1')).some((t) => t.requestId === r.id)).toBe(true);
      const { createContact } = await as<{ createContact: { id: string } }>('owner', 'mutation($a: ID!) { createContact(input: { lastName: "Checked", accountId: $a }) { id } }', { a: createAccount.id });
      const c = (await submit('owner', 'contact', createContact.id)).submitForApproval;
      expect((await until(() => request(c.id), (x) => x.approvalRequest.status === 'rejected', 30_000)).approvalRequest.status).toBe('rejected');
    });

    it('escalation on the injected clock: 48 hours later the approver and their manager are reminded', async () => {
      const r = (await submit('rep', 'opportunity', await deal('rep', 'Big', 250000))).submitForApproval;
      expect(r).toMatchObject({ step: 'manager_review', tasks: [{ approverId: users['manager']!.id }] });
      const overdue = async (who: string) => (await as<{ myNotifications: { nodes: { title: string }[] } }>(who, '{ myNotifications { nodes { title } } }')).myNotifications.nodes.filter((n) => n.title === 'Approval overdue');
      expect(await overdue('manager')).toEqual([]);
      shift = 49 * 3_600_000;
      try {
        // The sweep finds the task due on the clock; the manager (approver) and the CEO (their manager) are reminded, once.
        expect((await until(() => overdue('manager'), (n) => n.length > 0, 30_000)).length).toBe(1);
        expect((await until(() => overdue('ceo'), (n) => n.length > 0, 20_000)).length).toBe(1);
        expect(await overdue('rep')).toEqual([]);
      } finally {
        shift = 0;
      }
    });

    it('the tenant wall: another organization sees and decides nothing', async () => {
      const r = (await submit('rep', 'leave_request', await leave())).submitForApproval;
      await auth('/sign-up/email', { email: `other@${slug}.test`, password: PASSWORD, name: 'Other' });
      const token = await signIn(rig.base, `other@${slug}.test`, PASSWORD);
      const orgB = ((await (await auth('/organization/create', { name: `B ${slug}`, slug: `b-${slug}` }, token)).json()) as { id: string }).id;
      await auth('/organization/set-active', { organizationId: orgB }, token);
      const other = withHeaders(`${rig.base}/graphql`, { authorization: `Bearer ${token}` });
      expect((await gql(other, 'mutation($r: ID!) { approve(requestId: $r) { id } }', { r: r.id })).errors?.[0]?.extensions?.['code']).toBe('NOT_FOUND');
      expect((await gql<{ approvalRequest: unknown }>(other, 'query($r: ID!) { approvalRequest(id: $r) { id } }', { r: r.id })).data?.approvalRequest).toBeNull();
      expect((await gql<{ myPendingApprovals: unknown[] }>(other, '{ myPendingApprovals { id } }')).data?.myPendingApprovals).toEqual([]);
    });
  });
}
