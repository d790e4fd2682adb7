import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { audienceKey, signRequest, SYSTEM } from '@objectos/principal';
import { gql, services, signIn, TEST_SECRET, withHeaders, type FetchHandler } from '@objectos/testkit';
import { startRulesApp, until, type RulesApp, type RulesEngine } from './rules-app.ts';

const PASSWORD = 'Sup3r-secret-pass!';

/**
 * A second machine for these tests, on case.status: guards of every kind (a role, a permission, a
 * condition), actions on exit, on a transition and on entry.
 */
const CASE_MACHINE = `name: case_lifecycle
object: case
states:
  new:
    initial: true
    transitions:
      start: working
    on_exit:
      - { name: left_new, type: field_update, field: origin, value: phone }
  working:
    transitions:
      escalate: { target: escalated, guards: [{ roles: [support_manager] }] }
      close:
        target: closed
        guards: [{ condition: "priority = 'low'" }]
        actions:
          - { name: closing_note, type: push_notification, title: Case closing, body: "Closing: {{record.subject}}", recipients: [owner] }
  escalated:
    transitions:
      close: { target: closed, guards: [{ permissions: [manageWorkflows] }] }
  closed:
    final: true
    on_enter:
      - { name: closed_note, type: push_notification, title: Case closed, body: "Closed: {{record.subject}}", recipients: [owner] }
`;

interface State { state: string; final: boolean; availableTransitions: { event: string; to: string }[] }
interface GqlError { message: string; extensions?: { code?: string } }

const variants: RulesEngine[] = [...(services.postgres && services.redis ? ['postgres+redis' as const] : []), 'pglite'];
for (const engine of variants) {
  describe(`record state machines (${engine})`, () => {
    let rig: RulesApp;
    let orgA: string;
    let rep: FetchHandler;
    let manager: FetchHandler;
    let peer: FetchHandler;
    let ownerB: FetchHandler;
    const slug = `wf-${engine.replace('+', '-')}`;
    const q = <T = Record<string, unknown>>(query: string, variables: Record<string, unknown> = {}) => rig.q<T>(query, variables);
    const as = async <T = Record<string, unknown>>(who: FetchHandler, query: string, variables: Record<string, unknown> = {}): Promise<T> => {
      const r = await gql<T>(who, query, variables);
      if (r.errors?.length) throw new Error(JSON.stringify(r.errors));
      return r.data!;
    };
    /** The first error of a request that must fail. */
    const refused = async (who: FetchHandler, query: string, variables: Record<string, unknown> = {}): Promise<GqlError> => {
      const r = await gql(who, query, variables);
      expect(r.errors?.length, JSON.stringify(r)).toBeGreaterThan(0);
      return r.errors![0] as GqlError;
    };
    const auth = (path: string, body: unknown, token?: string) =>
      fetch(`${rig.base}/api/auth${path}`, { method: 'POST', headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) }, body: JSON.stringify(body) });
    const member = async (name: string, role: string | null, sets: string[]) => {
      const email = `${name}@${slug}.test`;
      const r = await auth('/sign-up/email', { email, password: PASSWORD, name });
      const userId = ((await r.json()) as { user: { id: string } }).user.id;
      await rig.app.identity!.auth.api.addMember({ body: { userId, organizationId: orgA, role: 'member' } });
      await q('mutation($i: SetMemberAccessInput!) { setMemberAccess(input: $i) { userId } }', { i: { userId, role, permissionSets: sets, groups: [] } });
      const token = await signIn(rig.base, email, PASSWORD);
      await auth('/organization/set-active', { organizationId: orgA }, token);
      return withHeaders(`${rig.base}/graphql`, { authorization: `Bearer ${token}` });
    };
    const owner = () => withHeaders(`${rig.base}/graphql`, { authorization: `Bearer ${rig.owner}` });
    const newLeave = async (who: FetchHandler, extra: Record<string, unknown> = {}) =>
      (await as<{ createLeaveRequest: { id: string; status: string } }>(who, 'mutation($i: LeaveRequestCreateInput!) { createLeaveRequest(input: $i) { id status } }',
        { i: { subject: 'Holiday', startDate: '2026-12-20', endDate: '2026-12-24', days: 4, ...extra } })).createLeaveRequest;
    const stateOf = async (who: FetchHandler, id: string) =>
      (await as<{ leaveRequest: { workflowState: State | null } | null }>(who, 'query($id: ID!) { leaveRequest(id: $id) { workflowState { state final availableTransitions { event to } } } }', { id })).leaveRequest?.workflowState ?? null;
    const TRANSITION = 'mutation($o: String!, $id: ID!, $e: String!, $c: String) { transition(object: $o, id: $id, event: $e, comment: $c) { from to event state { state availableTransitions { event } } } }';
    const HISTORY = 'query($o: String!, $id: ID!) { workflowHistory(object: $o, id: $id) { event from to actorId comment } }';

    beforeAll(async () => {
      rig = await startRulesApp({ engine, slug, extra: { 'workflows/case_lifecycle.statemachine.yaml': CASE_MACHINE } });
      orgA = (await q<{ activeOrganization: { id: string } }>('{ activeOrganization { id } }')).activeOrganization.id;
      // A sales rep, their manager (sales_manager is the rep role's parent), and a peer who can read but not edit.
      rep = await member('rep', 'sales_rep', ['standard_user']);
      manager = await member('manager', 'sales_manager', ['standard_user']);
      peer = await member('peer', 'support_agent', ['standard_user']);
      const signedUp = await auth('/sign-up/email', { email: `owner-b@${slug}.test`, password: PASSWORD, name: 'Bea Other' });
      expect(signedUp.status).toBe(200);
      const tokenB = await signIn(rig.base, `owner-b@${slug}.test`, PASSWORD);
      const orgB = ((await (await auth('/organization/create', { name: `B ${slug}`, slug: `b-${slug}` }, tokenB)).json()) as { id: string }).id;
      await auth('/organization/set-active', { organizationId: orgB }, tokenB);
      ownerB = withHeaders(`${rig.base}/graphql`, { authorization: `Bearer ${tokenB}` });
    }, 120_000);
    afterAll(async () => rig?.close());

    it('composes: the machines are listed, and governed records have workflowState', async () => {
      const { stateMachines } = await q<{ stateMachines: { name: string; object: string; field: string; initial: string; transitions: { event: string; from: string; to: string }[] }[] }>(
        '{ stateMachines { name object field initial transitions { event from to } } }');
      const leave = stateMachines.find((m) => m.name === 'leave_request_flow')!;
      expect(leave).toMatchObject({ object: 'leave_request', field: 'status', initial: 'draft' });
      expect(leave.transitions).toEqual([
        { event: 'submit', from: 'draft', to: 'pending_approval' },
        { event: 'approve', from: 'pending_approval', to: 'approved' },
        { event: 'reject', from: 'pending_approval', to: 'rejected' },
      ]);
    });

    it('a new record starts in the initial state, and cannot be created in another', async () => {
      const made = await newLeave(rep);
      expect(made.status).toBe('draft');
      const e = await refused(rep, 'mutation($i: LeaveRequestCreateInput!) { createLeaveRequest(input: $i) { id } }',
        { i: { subject: 'Sneaky', startDate: '2026-12-20', endDate: '2026-12-21', status: 'approved' } });
      expect(e.extensions?.code).toBe('BAD_USER_INPUT');
      expect(e.message).toContain('starts in "draft"');
      expect(e.message).toContain('submit (→ pending_approval)');
      const { leaveRequests } = await as<{ leaveRequests: { nodes: { subject: string }[] } }>(rep, '{ leaveRequests { nodes { subject } } }');
      expect(leaveRequests.nodes.map((n) => n.subject)).not.toContain('Sneaky');
    });

    it('a direct update of the state field is refused naming the allowed transitions; other fields still change', async () => {
      const { id } = await newLeave(rep);
      for (const who of [rep, owner()]) {
        const e = await refused(who, 'mutation($id: ID!) { updateLeaveRequest(id: $id, input: { status: approved }) { id } }', { id });
        expect(e.extensions?.code).toBe('BAD_USER_INPUT');
        expect(e.message).toContain('changes only through the state machine leave_request_flow');
        expect(e.message).toContain('allowed transitions from "draft": submit (→ pending_approval)');
      }
      // Writing the same state is no change, and other fields are free.
      const same = await as<{ updateLeaveRequest: { status: string; reason: string } }>(rep, 'mutation($id: ID!) { updateLeaveRequest(id: $id, input: { status: draft, reason: "Family" }) { status reason } }', { id });
      expect(same.updateLeaveRequest).toEqual({ status: 'draft', reason: 'Family' });
    });

    it('every data mutation that writes a governed object refuses a state change (no bypass by another write path)', async () => {
      const { id } = await newLeave(rep);
      // The composed schema's mutations taking a leave request's input (one or many): each is tried with a state change.
      interface TypeRef { name: string | null; ofType: TypeRef | null }
      const named = (t: TypeRef | null): string => (t ? t.name ?? named(t.ofType) : '');
      const { __schema } = await q<{ __schema: { mutationType: { fields: { name: string; args: { name: string; type: TypeRef }[] }[] } } }>(
        '{ __schema { mutationType { fields { name args { name type { name ofType { name ofType { name ofType { name } } } } } } } } }');
      const writers = __schema.mutationType.fields.filter((f) => f.args.some((a) => (a.name === 'input' || a.name === 'inputs') && named(a.type).startsWith('LeaveRequest')));
      expect(writers.map((w) => w.name).sort()).toEqual(['createLeaveRequest', 'createLeaveRequests', 'updateLeaveRequest', 'updateLeaveRequests']);
      const values = { subject: 'Bypass', startDate: '2026-12-20', endDate: '2026-12-21', status: 'pending_approval' };
      for (const w of writers) {
        const arg = (n: string) => w.args.find((a) => a.name === n);
        const typeName = named((arg('input') ?? arg('inputs'))!.type);
        const call = arg('inputs') ? `inputs: [$i]` : arg('where') ? `where: { id: { eq: $id } }, input: $i` : arg('id') ? 'id: $id, input: $i' : 'input: $i';
        const needsId = Boolean(arg('id') ?? arg('where'));
        const selection = arg('where') ? '{ count }' : '{ id }';
        const e = await refused(owner(), `mutation($i: ${typeName}!${needsId ? ', $id: ID!' : ''}) { r: ${w.name}(${call}) ${selection} }`, { i: values, ...(needsId ? { id } : {}) });
        expect(e.message, w.name).toMatch(/state machine leave_request_flow|starts in "draft"/);
      }
      expect((await stateOf(rep, id))!.state).toBe('draft');
      // A client cannot sign a transition grant itself: the extension is only honoured from the runtime's own principal.
      const forged = await rig.app.gateway.fetch(new Request(`${rig.base}/graphql`, {
        method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${rig.owner}` },
        body: JSON.stringify({ query: 'mutation($id: ID!) { updateLeaveRequest(id: $id, input: { status: approved }) { id } }', variables: { id },
          extensions: { objectos: { transition: { id: crypto.randomUUID(), machine: 'leave_request_flow', event: 'approve', from: 'draft', to: 'approved', comment: null } } } }),
      }));
      const body = (await forged.json()) as { errors?: GqlError[] };
      expect(body.errors?.[0]?.message).toContain('changes only through the state machine');
      expect((await stateOf(rep, id))!.state).toBe('draft');
      // Nor an effect key: the gateway sends subgraphs a body of its own, so a client's key dedups nothing.
      const keyed = () => rig.app.gateway.fetch(new Request(`${rig.base}/graphql`, {
        method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${rig.owner}` },
        body: JSON.stringify({ query: 'mutation { createLeaveRequest(input: { subject: "Keyed by a client", startDate: "2026-12-20", endDate: "2026-12-21" }) { id } }',
          extensions: { objectos: { effectKey: 'client-chosen-key' } } }),
      })).then((r) => r.json() as Promise<{ data: { createLeaveRequest: { id: string } } }>);
      const [one, two] = [await keyed(), await keyed()];
      expect(one.data.createLeaveRequest.id).not.toBe(two.data.createLeaveRequest.id);
    });

    it('transition: submit moves the record, records history with the comment, and notifies the manager (on_enter)', async () => {
      const { id } = await newLeave(rep, { subject: 'Ski week' });
      expect(await stateOf(rep, id)).toEqual({ state: 'draft', final: false, availableTransitions: [{ event: 'submit', to: 'pending_approval' }] });
      const r = await as<{ transition: { from: string; to: string; event: string; state: { state: string; availableTransitions: { event: string }[] } } }>(rep, TRANSITION,
        { o: 'leave_request', id, e: 'submit', c: 'Booked the chalet' });
      expect(r.transition).toMatchObject({ from: 'draft', to: 'pending_approval', event: 'submit', state: { state: 'pending_approval' } });
      const { leaveRequest } = await as<{ leaveRequest: { status: string } }>(rep, 'query($id: ID!) { leaveRequest(id: $id) { status } }', { id });
      expect(leaveRequest.status).toBe('pending_approval');
      const { workflowHistory } = await as<{ workflowHistory: { event: string; from: string; to: string; comment: string | null; actorId: string }[] }>(rep, HISTORY, { o: 'leave_request', id });
      expect(workflowHistory).toMatchObject([{ event: 'submit', from: 'draft', to: 'pending_approval', comment: 'Booked the chalet' }]);
      // notify_manager: the rep's manager (sales_manager, the parent role) gets it; the peer does not.
      type Inbox = { myNotifications: { nodes: { title: string; body: string }[] } };
      const inbox = '{ myNotifications { nodes { title body } } }';
      const got = await until(async () => (await as<Inbox>(manager, inbox)).myNotifications.nodes, (n) => n.some((x) => x.body.startsWith('Ski week')), 20_000);
      expect(got.find((x) => x.body.startsWith('Ski week'))).toEqual({ title: 'Leave request to approve', body: 'Ski week: 4 day(s) from 2026-12-20' });
      expect((await as<Inbox>(peer, inbox)).myNotifications.nodes.filter((x) => x.body.startsWith('Ski week'))).toEqual([]);
    });

    it('an event not allowed from the state is refused naming the allowed ones; a final state allows none', async () => {
      const { id } = await newLeave(rep);
      const e = await refused(rep, TRANSITION, { o: 'leave_request', id, e: 'approve' });
      expect(e.extensions?.code).toBe('BAD_USER_INPUT');
      expect(e.message).toBe('leave_request_flow: no transition "approve" from "draft" (allowed: submit (→ pending_approval))');
      await as(rep, TRANSITION, { o: 'leave_request', id, e: 'submit' });
      await as(manager, TRANSITION, { o: 'leave_request', id, e: 'approve' });
      expect(await stateOf(rep, id)).toEqual({ state: 'approved', final: true, availableTransitions: [] });
      expect((await refused(rep, TRANSITION, { o: 'leave_request', id, e: 'reject' })).message).toContain('"approved" is final');
    });

    it('without a role or permission guard, only who can edit the record may transition; the tenant wall holds', async () => {
      const { id } = await newLeave(rep);
      // The peer cannot even read the rep's private request: not found, as for another tenant.
      expect((await refused(peer, TRANSITION, { o: 'leave_request', id, e: 'submit' })).extensions?.code).toBe('NOT_FOUND');
      expect((await refused(ownerB, TRANSITION, { o: 'leave_request', id, e: 'submit' })).extensions?.code).toBe('NOT_FOUND');
      expect((await refused(ownerB, HISTORY, { o: 'leave_request', id })).extensions?.code).toBe('NOT_FOUND');
      expect((await as<{ leaveRequest: unknown }>(ownerB, 'query($id: ID!) { leaveRequest(id: $id) { id } }', { id })).leaveRequest).toBeNull();
      // Shared read-only with the peer: readable, so its state shows, but no transition is available or allowed.
      await q('mutation($i: ShareRecordInput!) { shareRecord(input: $i) { id } }', { i: { object: 'leave_request', recordId: id, sharedWith: await userIdOf('peer'), sharedWithType: 'USER', accessLevel: 'READ' } });
      expect(await stateOf(peer, id)).toEqual({ state: 'draft', final: false, availableTransitions: [] });
      const e = await refused(peer, TRANSITION, { o: 'leave_request', id, e: 'submit' });
      expect(e.extensions?.code).toBe('FORBIDDEN');
      expect(e.message).toContain('you cannot edit this record');
      expect((await stateOf(rep, id))!.state).toBe('draft');
    });

    it('two transitions from one state at once: exactly one applies', async () => {
      const { id } = await newLeave(rep);
      await as(rep, TRANSITION, { o: 'leave_request', id, e: 'submit' });
      const results = await Promise.all([gql(manager, TRANSITION, { o: 'leave_request', id, e: 'approve' }), gql(owner(), TRANSITION, { o: 'leave_request', id, e: 'reject' })]);
      expect(results.filter((r) => !r.errors).length).toBe(1);
      const loser = results.find((r) => r.errors)!.errors![0] as GqlError;
      expect(['CONFLICT', 'BAD_USER_INPUT']).toContain(loser.extensions?.code);
      const { workflowHistory } = await as<{ workflowHistory: { event: string }[] }>(rep, HISTORY, { o: 'leave_request', id });
      expect(workflowHistory.map((h) => h.event)).toHaveLength(2);
    });

    it('guards by role, permission and condition; exit, transition and entry actions run after the commit', async () => {
      const { createCase } = await q<{ createCase: { id: string; status: string } }>('mutation { createCase(input: { subject: "Printer on fire", priority: high }) { id status } }');
      const id = createCase.id;
      expect(createCase.status).toBe('new');
      const caseState = async (who: FetchHandler) =>
        (await as<{ case: { workflowState: State } }>(who, 'query($id: ID!) { case(id: $id) { workflowState { state availableTransitions { event to } } } }', { id })).case.workflowState;
      await q(TRANSITION, { o: 'case', id, e: 'start' });
      // Exit action of `new`.
      const origin = () => q<{ case: { origin: string | null } }>('query($id: ID!) { case(id: $id) { origin } }', { id });
      expect((await until(origin, (r) => r.case.origin === 'phone', 20_000)).case.origin).toBe('phone');
      // escalate needs the support_manager role: the owner (no such role) is refused and not offered it; close needs priority low.
      expect((await caseState(owner())).availableTransitions).toEqual([]);
      expect((await refused(owner(), TRANSITION, { o: 'case', id, e: 'escalate' })).message).toContain('it needs one of the roles support_manager');
      expect((await refused(owner(), TRANSITION, { o: 'case', id, e: 'close' })).message).toContain('its condition is not met');
      await q('mutation($id: ID!) { updateCase(id: $id, input: { priority: low }) { id } }', { id });
      expect((await caseState(owner())).availableTransitions).toEqual([{ event: 'close', to: 'closed' }]);
      const r = await q<{ transition: { to: string } }>(TRANSITION, { o: 'case', id, e: 'close' });
      expect(r.transition.to).toBe('closed');
      // The transition's action and closed's entry action: notifications to the case's owner (a closed case
      // is final by the demo's RLS policy, so actions after the commit cannot write it).
      const bodies = async () => (await q<{ myNotifications: { nodes: { body: string }[] } }>('{ myNotifications { nodes { body } } }')).myNotifications.nodes.map((n) => n.body);
      const got = await until(bodies, (b) => b.includes('Closed: Printer on fire') && b.includes('Closing: Printer on fire'), 20_000);
      expect(got).toEqual(expect.arrayContaining(['Closing: Printer on fire', 'Closed: Printer on fire']));
    });

    it('a role guard lets its role through, a permission guard its permission', async () => {
      const support = await member('supmgr', 'support_manager', ['standard_user']);
      const { createCase } = await as<{ createCase: { id: string } }>(support, 'mutation { createCase(input: { subject: "Escalate me", priority: high }) { id } }');
      const id = createCase.id;
      await as(support, TRANSITION, { o: 'case', id, e: 'start' });
      const r = await as<{ transition: { to: string; state: { availableTransitions: { event: string }[] } } }>(support, TRANSITION, { o: 'case', id, e: 'escalate' });
      expect(r.transition).toEqual({ from: 'working', to: 'escalated', event: 'escalate', state: { state: 'escalated', availableTransitions: [] } });
      // close from escalated needs manageWorkflows: the support manager (standard_user) lacks it, the owner (system_administrator) has it.
      expect((await refused(support, TRANSITION, { o: 'case', id, e: 'close' })).message).toContain('it needs one of manageWorkflows');
      expect((await q<{ transition: { to: string } }>(TRANSITION, { o: 'case', id, e: 'close' })).transition.to).toBe('closed');
      const { workflowHistory } = await as<{ workflowHistory: { event: string; actorId: string }[] }>(support, HISTORY, { o: 'case', id });
      expect(workflowHistory.map((h) => h.event)).toEqual(['start', 'escalate', 'close']);
      expect(workflowHistory[1]!.actorId).toBe(await userIdOf('supmgr'));
    });

    it('the demo flow account_follow_up runs as the member who starts it: a large account gets a high-priority task', async () => {
      const run = async (employees: number) => {
        const { createAccount } = await as<{ createAccount: { id: string } }>(rep, 'mutation($e: Float!) { createAccount(input: { name: "Follow Co", employees: $e }) { id } }', { e: employees });
        const started = await as<{ startFlow: { id: string } }>(rep, 'mutation($i: JSON) { startFlow(name: "account_follow_up", inputs: $i) { id } }', { i: { account_id: createAccount.id } });
        const done = await until(() => as<{ flowRun: { status: string; outputs: { task_id: string } | null } }>(rep, 'query($id: ID!) { flowRun(id: $id) { status outputs } }', { id: started.startFlow.id }),
          (r) => ['completed', 'failed'].includes(r.flowRun.status), 20_000);
        expect(done.flowRun.status).toBe('completed');
        return (await as<{ task: { subject: string; priority: string } }>(rep, 'query($id: ID!) { task(id: $id) { subject priority } }', { id: done.flowRun.outputs!.task_id })).task;
      };
      expect(await run(5000)).toEqual({ subject: 'Follow up with Follow Co', priority: 'high' });
      expect(await run(10)).toEqual({ subject: 'Follow up with Follow Co', priority: 'normal' });
    });

    it('the workflow subgraph accepts only calls signed for it: unsigned, another audience\'s signature or a replay are refused', async () => {
      const call = () => new Request('http://workflow.objectos.internal/graphql', { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"query":"{ stateMachines { name } }"}' });
      const principal = { ...SYSTEM, kind: 'user' as const, userId: 'u1', organizationId: orgA, roles: ['owner'] };
      expect((await rig.app.workflow!.fetch(call())).status).toBe(401);
      const forData = await signRequest(call(), audienceKey(TEST_SECRET, 'data'), 'data', principal);
      expect((await rig.app.workflow!.fetch(forData)).status).toBe(401);
      const signed = await signRequest(call(), audienceKey(TEST_SECRET, 'workflow'), 'workflow', principal);
      const again = signed.clone();
      expect((await rig.app.workflow!.fetch(signed)).status).toBe(200);
      expect((await rig.app.workflow!.fetch(again)).status).toBe(401);
    });

    async function userIdOf(name: string): Promise<string> {
      const [row] = await rig.app.data!.database.run<{ id: string }>('select id from auth."user" where email = $1', [`${name}@${slug}.test`]);
      return row!.id;
    }
  });
}
