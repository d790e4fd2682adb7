import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FetchHandler } from '@objectos/testkit';
import { startRulesApp, type RulesApp } from './rules-app.ts';
import { FLOW_ENGINES, member, ok, otherTenant, owner, refused, RUN, runOf, runUntil, startFlow, stepsByNode, type Run } from './workflow-flows-kit.ts';

/** Record nodes as the system or as the starting user, behind a permission set. */
const recordFlow = (name: string, runAs: 'system' | 'user', node: string) => `name: ${name}
type: autolaunched
runAs: ${runAs}
permissionSets: [flow_runner]
variables:
  - { name: account_id, type: text, isInput: true }
  - { name: found, type: record, object: account, isOutput: true }
nodes:
  - { id: start, type: start }
  - ${node}
  - { id: done, type: end }
edges:
  - { id: a, source: start, target: act }
  - { id: b, source: act, target: done }
`;
const DELETE = '{ id: act, type: delete_record, config: { object: account, recordId: "{!account_id}" } }';
const GET = '{ id: act, type: get_record, config: { object: account, recordId: "{!account_id}", outputVariable: found } }';

const FILES: Record<string, string> = {
  'security/flow_runner.permission.yaml': `name: flow_runner
label: Flow runner
description: May start the test flows.
objects:
  task: { allowRead: true }
`,
  'workflows/user_delete.flow.yaml': recordFlow('user_delete', 'user', DELETE),
  'workflows/system_delete.flow.yaml': recordFlow('system_delete', 'system', DELETE),
  'workflows/user_get.flow.yaml': recordFlow('user_get', 'user', GET),
  'workflows/system_get.flow.yaml': recordFlow('system_get', 'system', GET),
  'workflows/admin_only.flow.yaml': `name: admin_only
type: autolaunched
nodes:
  - { id: start, type: start }
  - { id: hold, type: wait, waitEventConfig: { eventType: signal, signal: go } }
  - { id: done, type: end }
edges:
  - { id: a, source: start, target: hold }
  - { id: b, source: hold, target: done }
`,
};

for (const engine of FLOW_ENGINES) {
  describe(`flows: who may start, see and act (${engine})`, () => {
    let rig: RulesApp;
    let admin: FetchHandler;
    let starter: { who: FetchHandler; userId: string };
    let outsider: { who: FetchHandler; userId: string };
    let ownerB: FetchHandler;
    const slug = `flow-sec-${engine.replace('+', '-')}`;
    /** An account owned by `who` (the admin's with a revenue, which standard users cannot read). */
    const newAccount = async (who: FetchHandler, name: string) =>
      (await ok<{ createAccount: { id: string } }>(who, `mutation($n: String!) { createAccount(input: { name: $n${who === admin ? ', annualRevenue: 1000' : ''} }) { id } }`, { n: name })).createAccount.id;
    const accountExists = async (id: string) => (await ok<{ account: { id: string } | null }>(admin, 'query($id: ID!) { account(id: $id) { id } }', { id })).account !== null;
    const finished = async (who: FetchHandler, name: string, inputs: Record<string, unknown>): Promise<Run> =>
      runUntil(who, (await startFlow(who, name, inputs)).id, ['completed', 'failed']);

    beforeAll(async () => {
      rig = await startRulesApp({ engine, slug, extra: FILES });
      admin = owner(rig);
      starter = await member(rig, slug, 'starter', null, ['standard_user', 'flow_runner']);
      outsider = await member(rig, slug, 'outsider', null, ['standard_user']);
      ownerB = await otherTenant(rig, slug);
    }, 120_000);
    afterAll(async () => rig?.close());

    it('startFlow: refused without one of its permission sets, allowed with one, and to workflow managers', async () => {
      const e = await refused(outsider.who, 'mutation { startFlow(name: "system_get", inputs: {}) { id } }');
      expect(e.extensions?.code).toBe('FORBIDDEN');
      expect(e.message).toBe('You cannot start flow system_get: it needs one of the permission sets flow_runner or the manageWorkflows permission');
      // A flow without permission sets: managers only.
      expect((await refused(starter.who, 'mutation { startFlow(name: "admin_only") { id } }')).extensions?.code).toBe('FORBIDDEN');
      expect((await startFlow(starter.who, 'system_get', { account_id: null })).startedBy).toBe(starter.userId);
      expect((await startFlow(admin, 'admin_only')).status).toMatch(/running|waiting/);
      const { flowRuns } = await ok<{ flowRuns: { id: string }[] }>(outsider.who, '{ flowRuns { id } }');
      expect(flowRuns).toEqual([]);
    });

    it('runAs user: a record node is refused where the user lacks access; runAs system succeeds', async () => {
      // The starter's own account: a standard user may edit it but not delete accounts.
      const mine = await newAccount(starter.who, 'Starter Co');
      const asUser = await finished(starter.who, 'user_delete', { account_id: mine });
      expect(asUser.status).toBe('failed');
      expect(stepsByNode(asUser)['act']).toMatchObject({ status: 'failed' });
      expect(asUser.error).toMatch(/act \(delete_record\) failed: .*(not allowed|cannot|Not allowed)/i);
      expect(await accountExists(mine)).toBe(true);
      const asSystem = await finished(starter.who, 'system_delete', { account_id: mine });
      expect(asSystem.status).toBe('completed');
      expect(await accountExists(mine)).toBe(false);
    });

    it('runAs user reads what the user may read (the same predicates as queries); runAs system reads the record', async () => {
      const theirs = await newAccount(admin, 'Admin Private Co');
      const mine = await newAccount(starter.who, 'Starter Readable Co');
      const hidden = await finished(starter.who, 'user_get', { account_id: theirs });
      expect(hidden.status).toBe('completed');
      expect(hidden.outputs).toEqual({ found: null });
      const own = await finished(starter.who, 'user_get', { account_id: mine });
      expect(own.outputs!['found']).toMatchObject({ id: mine, name: 'Starter Readable Co' });
      // A field the user cannot read is not in the record at all.
      expect(own.outputs!['found']).not.toHaveProperty('annual_revenue');
      const system = await finished(starter.who, 'system_get', { account_id: theirs });
      expect(system.outputs!['found']).toMatchObject({ id: theirs, name: 'Admin Private Co', annual_revenue: 1000 });
    });

    it('visibility: your runs, all of them with manageWorkflows; system-context data only for managers', async () => {
      const theirs = await newAccount(admin, 'Visible Co');
      const r = await finished(starter.who, 'system_get', { account_id: theirs });
      const seen = (await runOf(starter.who, r.id))!;
      expect(seen.variables).toBeNull();
      expect(stepsByNode(seen)['act']).toMatchObject({ status: 'succeeded', input: null, output: null });
      const managed = (await runOf(admin, r.id))!;
      expect(managed.variables).toMatchObject({ account_id: theirs });
      expect(stepsByNode(managed)['act']!.output).toEqual({ found: true });
      expect(await runOf(outsider.who, r.id)).toBeNull();
      const mineOnly = await ok<{ flowRuns: { startedBy: string }[] }>(starter.who, '{ flowRuns(first: 500) { startedBy } }');
      expect(new Set(mineOnly.flowRuns.map((x) => x.startedBy))).toEqual(new Set([starter.userId]));
      const all = await ok<{ flowRuns: { startedBy: string }[] }>(admin, '{ flowRuns(first: 500) { startedBy } }');
      expect(all.flowRuns.some((x) => x.startedBy !== starter.userId)).toBe(true);
      const filtered = await ok<{ flowRuns: { flow: string; startedBy: string }[] }>(admin, 'query($u: String) { flowRuns(where: { startedBy: $u, flow: "system_get", status: completed }) { flow startedBy } }', { u: starter.userId });
      expect(filtered.flowRuns.length).toBeGreaterThan(0);
      expect(filtered.flowRuns.every((x) => x.flow === 'system_get' && x.startedBy === starter.userId)).toBe(true);
      expect((await refused(admin, '{ flowRuns(first: 501) { id } }')).extensions?.code).toBe('BAD_USER_INPUT');
    });

    it('tenant wall: another organization sees, signals and cancels none of these runs; its record nodes act in its own organization only', async () => {
      const waiting = await startFlow(admin, 'admin_only');
      await runUntil(admin, waiting.id, ['waiting']);
      expect((await ok<{ flowRun: Run | null }>(ownerB, RUN, { id: waiting.id })).flowRun).toBeNull();
      const signal = await refused(ownerB, 'mutation($id: ID!) { signalFlow(runId: $id, signal: "go") { id } }', { id: waiting.id });
      expect(signal.extensions?.code).toBe('NOT_FOUND');
      expect((await refused(ownerB, 'mutation($id: ID!) { cancelFlowRun(id: $id) { id } }', { id: waiting.id })).extensions?.code).toBe('NOT_FOUND');
      expect((await ok<{ flowRuns: { id: string }[] }>(ownerB, '{ flowRuns(first: 500) { id } }')).flowRuns).toEqual([]);
      expect((await runOf(admin, waiting.id))!.status).toBe('waiting');
      // B's owner runs B's flows: an id of A's record is nothing there, in either run mode.
      const aAccount = await newAccount(admin, 'Tenant A Co');
      const del = await finished(ownerB, 'system_delete', { account_id: aAccount });
      expect(del.status).toBe('failed');
      expect(del.error).toMatch(/not found|No account/i);
      expect(await accountExists(aAccount)).toBe(true);
      const got = await finished(ownerB, 'system_get', { account_id: aAccount });
      expect(got.outputs).toEqual({ found: null });
      // A's manager does not see B's runs either.
      expect(await runOf(admin, del.id)).toBeNull();
      await ok(admin, 'mutation($id: ID!) { signalFlow(runId: $id, signal: "go") { id } }', { id: waiting.id });
      expect((await runUntil(admin, waiting.id, ['completed'])).status).toBe('completed');
    });

    it('a malformed run id is simply not found', async () => {
      expect((await ok<{ flowRun: Run | null }>(admin, RUN, { id: 'not-a-uuid' })).flowRun).toBeNull();
      expect((await refused(admin, 'mutation { cancelFlowRun(id: "x") { id } }')).extensions?.code).toBe('NOT_FOUND');
    });
  });
}
