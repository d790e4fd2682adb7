import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FetchHandler } from '@objectos/testkit';
import { startRulesApp, type RulesApp } from './rules-app.ts';
import { FLOW_ENGINES, ok, owner, refused, runUntil, runWhen, startFlow, startReceiver, stepsByNode, type Hit } from './workflow-flows-kit.ts';

const TOKEN = 'flow-crm-token-456';

/** Every node type in one flow (a subflow included), and waits of each kind in another. */
function flowFiles(port: number): Record<string, string> {
  const hook = `http://127.0.0.1:${port}`;
  return {
    'workflows/node_tour.flow.yaml': `name: node_tour
label: Node tour
type: autolaunched
variables:
  - { name: name, type: text, isInput: true }
  - { name: count, type: number, isInput: true, default: 0 }
  - { name: items, type: list, isInput: true, default: [] }
  - { name: account_id, type: text, isOutput: true }
  - { name: account, type: record, object: account }
  - { name: item, type: text }
  - { name: total, type: number, isOutput: true, default: 0 }
  - { name: greeting, type: text, isOutput: true }
  - { name: branch, type: text, isOutput: true }
  - { name: contact_id, type: text }
  - { name: response, type: json, isOutput: true }
  - { name: computed, type: json, isOutput: true }
  - { name: crm, type: json, isOutput: true }
  - { name: child_said, type: text, isOutput: true }
nodes:
  - { id: start, type: start }
  - { id: greet, type: assignment, config: { assignments: [ { variable: greeting, value: "Hello {!name}" } ] } }
  - { id: make_account, type: create_record, config: { object: account, values: { name: "{!name}", employees: "{!count}" }, outputVariable: account_id } }
  - { id: read_account, type: get_record, config: { object: account, recordId: "{!account_id}", outputVariable: account } }
  - { id: size, type: decision }
  - { id: big, type: assignment, config: { assignments: [ { variable: branch, value: big } ] } }
  - { id: small, type: assignment, config: { assignments: [ { variable: branch, value: small } ] } }
  - { id: each, type: loop, config: { collection: items, itemVariable: item } }
  - { id: make_task, type: create_record, config: { object: task, values: { subject: "{!item}", account: "{!account_id}" } } }
  - { id: count_task, type: assignment, config: { assignments: [ { variable: total, operator: add, value: 1 } ] } }
  - { id: mark_account, type: update_record, config: { object: account, recordId: "{!account_id}", values: { description: "tasks: {!total}" } } }
  - { id: make_contact, type: create_record, config: { object: contact, values: { last_name: Temp, account: "{!account_id}" }, outputVariable: contact_id } }
  - { id: drop_contact, type: delete_record, config: { object: contact, recordId: "{!contact_id}" } }
  - { id: call_hook, type: http_request, config: { url: "${hook}/flow/{!account_id}?who={!name}", method: POST, body: { name: "{!name}", total: "{!total}" }, outputVariable: response } }
  - { id: compute, type: script, config: { code: "return { doubled: input.count * 2, items: input.items.length, branch: input.branch }", outputVariable: computed } }
  - { id: call_crm, type: connector_action, connectorConfig: { connectorId: flow_crm, actionId: open_ticket, input: { title: "{!greeting}" } }, config: { outputVariable: crm } }
  - { id: child, type: subflow, config: { flow: child_flow, inputs: { who: "{!name}" }, outputs: { child_said: said } } }
  - { id: done, type: end }
edges:
  - { id: e1, source: start, target: greet }
  - { id: e2, source: greet, target: make_account }
  - { id: e3, source: make_account, target: read_account }
  - { id: e4, source: read_account, target: size }
  - { id: e5, source: size, target: big, type: conditional, condition: "account.employees > 5" }
  - { id: e6, source: size, target: small, type: default }
  - { id: e7, source: big, target: each }
  - { id: e8, source: small, target: each }
  - { id: e9, source: each, target: make_task }
  - { id: e10, source: make_task, target: count_task }
  - { id: e11, source: count_task, target: each }
  - { id: e12, source: each, target: mark_account, type: default }
  - { id: e13, source: mark_account, target: make_contact }
  - { id: e14, source: make_contact, target: drop_contact }
  - { id: e15, source: drop_contact, target: call_hook }
  - { id: e16, source: call_hook, target: compute }
  - { id: e17, source: compute, target: call_crm }
  - { id: e18, source: call_crm, target: child }
  - { id: e19, source: child, target: done }
`,
    'workflows/child_flow.flow.yaml': `name: child_flow
type: autolaunched
variables:
  - { name: who, type: text, isInput: true }
  - { name: said, type: text, isOutput: true }
nodes:
  - { id: start, type: start }
  - { id: say, type: assignment, config: { assignments: [ { variable: said, value: "hi {!who}" } ] } }
  - { id: done, type: end }
edges:
  - { id: a, source: start, target: say }
  - { id: b, source: say, target: done }
`,
    'workflows/waiter.flow.yaml': `name: waiter
type: autolaunched
variables:
  - { name: stage, type: text, isOutput: true }
nodes:
  - { id: start, type: start }
  - { id: nap, type: wait, waitEventConfig: { eventType: timer, timerDuration: "+2s" } }
  - { id: napped, type: assignment, config: { assignments: [ { variable: stage, value: napped } ] } }
  - { id: approval, type: wait, waitEventConfig: { eventType: signal, signal: approved } }
  - { id: review, type: wait, waitEventConfig: { eventType: manual, signal: reviewed } }
  - { id: finish, type: assignment, config: { assignments: [ { variable: stage, value: finished } ] } }
  - { id: done, type: end }
edges:
  - { id: a, source: start, target: nap }
  - { id: b, source: nap, target: napped }
  - { id: c, source: napped, target: approval }
  - { id: d, source: approval, target: review }
  - { id: e, source: review, target: finish }
  - { id: f, source: finish, target: done }
`,
    'connectors/flow_crm.connector.yaml': `name: flow_crm
baseUrl: ${hook}/crm
auth: { type: bearer, tokenEnv: FLOW_CRM_TOKEN }
actions:
  open_ticket: { path: /tickets, body: { title: "{{input.title}}", source: flows } }
`,
  };
}

for (const engine of FLOW_ENGINES) {
  describe(`flows: every node type (${engine})`, () => {
    let rig: RulesApp;
    let admin: FetchHandler;
    let receiver: Awaited<ReturnType<typeof startReceiver>>;
    const slug = `flow-nodes-${engine.replace('+', '-')}`;

    beforeAll(async () => {
      receiver = await startReceiver();
      process.env['FLOW_CRM_TOKEN'] = TOKEN;
      rig = await startRulesApp({ engine, slug, extra: flowFiles(receiver.port), env: { OBJECTOS_WEBHOOK_ALLOW: 'loopback' } });
      admin = owner(rig);
    }, 120_000);
    afterAll(async () => {
      await rig?.close();
      await receiver?.close();
    });

    it('lists the flows with their variables', async () => {
      const { flows } = await ok<{ flows: { name: string; type: string; status: string; runAs: string; variables: { name: string; isInput: boolean; isOutput: boolean }[] }[] }>(admin,
        '{ flows { name type status runAs variables { name type object isInput isOutput } } }');
      const tour = flows.find((f) => f.name === 'node_tour')!;
      expect(tour).toMatchObject({ type: 'autolaunched', status: 'active', runAs: 'system' });
      expect(tour.variables.filter((v) => v.isInput).map((v) => v.name)).toEqual(['name', 'count', 'items']);
      // The demo's own flow (metadata/workflows/account_follow_up.flow.yaml) is listed with this test's.
      expect(flows.map((f) => f.name).sort()).toEqual(['account_follow_up', 'child_flow', 'node_tour', 'waiter']);
    });

    it('runs all 14 node types: records written, the loop once per item, the decision, http, script, connector and a subflow with outputs', async () => {
      const started = await startFlow(admin, 'node_tour', { name: 'Tour Co', count: 7, items: ['first', 'second', 'third'] });
      expect(started.status).toMatch(/running|waiting|completed/);
      const run = await runUntil(admin, started.id, ['completed', 'failed']);
      expect(run.error).toBeNull();
      expect(run.status).toBe('completed');
      const accountId = run.outputs!['account_id'] as string;
      expect(run.outputs).toMatchObject({ greeting: 'Hello Tour Co', total: 3, branch: 'big', child_said: 'hi Tour Co', computed: { doubled: 14, items: 3, branch: 'big' } });
      expect(run.outputs!['response']).toMatchObject({ status: 200, body: { ok: true, got: { name: 'Tour Co', total: 3 } } });
      expect(run.outputs!['crm']).toMatchObject({ status: 200, body: { path: '/crm/tickets', got: { title: 'Hello Tour Co', source: 'flows' } } });
      // Every node type has its step, in order, each succeeded; the loop's body ran once per item.
      expect(new Set(run.steps.map((s) => s.type))).toEqual(new Set(['start', 'end', 'decision', 'assignment', 'loop', 'create_record', 'update_record', 'delete_record', 'get_record', 'http_request', 'script', 'subflow', 'connector_action']));
      expect(run.steps.map((s) => s.seq)).toEqual(run.steps.map((_, i) => i + 1));
      expect(run.steps.every((s) => s.status === 'succeeded'), JSON.stringify(run.steps)).toBe(true);
      expect(run.steps.filter((s) => s.node === 'make_task')).toHaveLength(3);
      expect(run.steps.filter((s) => s.node === 'each')).toHaveLength(4);
      expect(run.steps.some((s) => s.node === 'small')).toBe(false);
      expect(stepsByNode(run)['size']!.output).toEqual({ edge: 'e5' });
      for (const s of run.steps) expect(s.duration).toBeGreaterThanOrEqual(0);
      // The records: the account updated, one task per item, the contact made and deleted.
      const { account, tasks, contacts } = await ok<{ account: { name: string; employees: number; description: string }; tasks: { nodes: { subject: string }[] }; contacts: { totalCount: number } }>(admin,
        'query($id: ID!) { account(id: $id) { name employees description } tasks(where: { accountId: { eq: $id } }) { nodes { subject } } contacts(where: { accountId: { eq: $id } }) { totalCount } }', { id: accountId });
      expect(account).toEqual({ name: 'Tour Co', employees: 7, description: 'tasks: 3' });
      expect(tasks.nodes.map((t) => t.subject).sort()).toEqual(['first', 'second', 'third']);
      expect(contacts.totalCount).toBe(0);
      // The http call: path and query filled (encoded), the step's idempotency key; the connector with its secret.
      const hook = receiver.hits.find((h: Hit) => h.path.startsWith(`/flow/${accountId}`))!;
      expect(hook.path).toBe(`/flow/${accountId}?who=Tour%20Co`);
      expect(hook.headers['x-objectos-idempotency-key']).toBe(`flow:${run.id}:${stepsByNode(run)['call_hook']!.seq}`);
      const crm = receiver.hits.find((h: Hit) => h.path === '/crm/tickets')!;
      expect(crm.headers['authorization']).toBe(`Bearer ${TOKEN}`);
      // The subflow is a run of its own, with its parent named, visible like any run.
      const child = await ok<{ flowRuns: { id: string; parentRunId: string; status: string; outputs: Record<string, unknown> }[] }>(admin, 'query { flowRuns(where: { flow: "child_flow" }) { id parentRunId status outputs } }');
      expect(child.flowRuns.find((r) => r.parentRunId === run.id)).toMatchObject({ status: 'completed', outputs: { said: 'hi Tour Co' } });
    });

    it('a decision takes its default edge when no condition holds; a loop over nothing goes straight on', async () => {
      const started = await startFlow(admin, 'node_tour', { name: 'Small Co', count: 2 });
      const run = await runUntil(admin, started.id, ['completed', 'failed']);
      expect(run.status).toBe('completed');
      expect(run.outputs).toMatchObject({ branch: 'small', total: 0, computed: { doubled: 4, items: 0, branch: 'small' } });
      expect(stepsByNode(run)['size']!.output).toEqual({ edge: 'e6' });
      expect(run.steps.filter((s) => s.node === 'each').map((s) => s.output)).toEqual([{ done: true, items: 0 }]);
    });

    it('waits: a timer resumes by itself, a signal and a manual wait resume on signalFlow with their payload', async () => {
      const started = await startFlow(admin, 'waiter');
      const napping = await runUntil(admin, started.id, ['waiting']);
      expect(napping.waitingFor).toMatchObject({ kind: 'timer' });
      expect(napping.nextNode).toBe('nap');
      const SIGNAL = `mutation($id: ID!, $s: String!, $p: JSON) { signalFlow(runId: $id, signal: $s, payload: $p) { status nextNode } }`;
      // Not waiting for a signal yet: refused, nothing changes.
      expect((await refused(admin, SIGNAL, { id: started.id, s: 'approved' })).extensions?.code).toBe('CONFLICT');
      const atSignal = await runWhen(admin, started.id, (r) => r.waitingFor?.['kind'] === 'signal', 'waited for its signal');
      expect(atSignal.outputs).toBeNull();
      expect(atSignal.variables).toEqual({ stage: 'napped' });
      const nap = stepsByNode(atSignal)['nap']!;
      expect(nap.status).toBe('succeeded');
      expect(nap.duration).toBeGreaterThanOrEqual(1_500);
      const wrong = await refused(admin, SIGNAL, { id: started.id, s: 'reviewed' });
      expect(wrong.extensions?.code).toBe('BAD_USER_INPUT');
      expect(wrong.message).toContain('waits for signal "approved", not "reviewed"');
      await ok(admin, SIGNAL, { id: started.id, s: 'approved', p: { by: 'boss', ok: true } });
      const atManual = await runWhen(admin, started.id, (r) => r.waitingFor?.['signal'] === 'reviewed', 'waited for review');
      expect(atManual.waitingFor).toMatchObject({ kind: 'signal', signal: 'reviewed', eventType: 'manual' });
      expect(stepsByNode(atManual)['approval']!.output).toMatchObject({ signal: 'approved', payload: { by: 'boss', ok: true } });
      // The same signal twice: the second finds the run waiting for another one.
      expect((await refused(admin, SIGNAL, { id: started.id, s: 'approved' })).extensions?.code).toBe('BAD_USER_INPUT');
      await ok(admin, SIGNAL, { id: started.id, s: 'reviewed' });
      const done = await runUntil(admin, started.id, ['completed']);
      expect(done.outputs).toEqual({ stage: 'finished' });
      expect(done.steps.map((s) => `${s.node}:${s.status}`)).toEqual(['start:succeeded', 'nap:succeeded', 'napped:succeeded', 'approval:succeeded', 'review:succeeded', 'finish:succeeded', 'done:succeeded']);
    });

    it('cancels a waiting run (its wait step skipped); a finished run cannot be cancelled', async () => {
      const started = await startFlow(admin, 'waiter');
      await runUntil(admin, started.id, ['waiting']);
      const CANCEL = 'mutation($id: ID!) { cancelFlowRun(id: $id) { status error steps { node status } } }';
      const { cancelFlowRun } = await ok<{ cancelFlowRun: { status: string; error: string; steps: { node: string; status: string }[] } }>(admin, CANCEL, { id: started.id });
      expect(cancelFlowRun.status).toBe('cancelled');
      expect(cancelFlowRun.steps.find((s) => s.node === 'nap')!.status).toBe('skipped');
      // Its timer fires later and finds nothing to resume.
      await new Promise((r) => setTimeout(r, 2_500));
      expect((await runUntil(admin, started.id, ['cancelled'])).steps.map((s) => s.node)).toEqual(['start', 'nap']);
      expect((await refused(admin, CANCEL, { id: started.id })).extensions?.code).toBe('CONFLICT');
    });

    it('inputs are checked: an unknown input, a wrong type, a non-input, an unknown flow', async () => {
      const e1 = await refused(admin, 'mutation { startFlow(name: "node_tour", inputs: { nme: "x" }) { id } }');
      expect(e1.extensions).toMatchObject({ code: 'BAD_USER_INPUT', input: 'nme' });
      expect(e1.message).toContain('unknown input "nme" of flow node_tour (inputs: count, items, name)');
      const e2 = await refused(admin, 'mutation { startFlow(name: "node_tour", inputs: { count: "many" }) { id } }');
      expect(e2.extensions).toMatchObject({ code: 'BAD_USER_INPUT', input: 'count' });
      expect(e2.message).toContain('count is a number variable');
      const e3 = await refused(admin, 'mutation { startFlow(name: "node_tour", inputs: { total: 3 }) { id } }');
      expect(e3.message).toContain('total is not an input');
      const e4 = await refused(admin, 'mutation { startFlow(name: "nope", inputs: {}) { id } }');
      expect(e4.extensions?.code).toBe('NOT_FOUND');
      const e5 = await refused(admin, 'mutation { startFlow(name: "node_tour", inputs: [1, 2]) { id } }');
      expect(e5.extensions?.code).toBe('BAD_USER_INPUT');
      const { flowRuns } = await ok<{ flowRuns: { id: string }[] }>(admin, 'query { flowRuns(where: { flow: "node_tour", status: failed }) { id } }');
      expect(flowRuns).toEqual([]);
    });
  });
}
