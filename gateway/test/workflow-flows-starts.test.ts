import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { until, type FetchHandler } from '@objectos/testkit';
import { startRulesApp, type RulesApp } from './rules-app.ts';
import { FLOW_ENGINES, member, ok, otherTenant, owner, refused, RUN_FIELDS, runUntil, type Run } from './workflow-flows-kit.ts';

const FILES: Record<string, string> = {
  'workflows/on_case_escalated.flow.yaml': `name: on_case_escalated
type: record_change
runAs: user
trigger: { object: case, on: update, criteria: "status = 'escalated' AND ISCHANGED(status)" }
variables:
  - { name: record, type: record, object: case, isInput: true }
  - { name: prior, type: record, object: case, isInput: true }
  - { name: was, type: text, isOutput: true }
nodes:
  - { id: start, type: start }
  - { id: remember, type: assignment, config: { assignments: [ { variable: was, value: "{!prior.status}" } ] } }
  - { id: follow_up, type: create_record, config: { object: task, values: { subject: "Escalated: {!record.subject}" } } }
  - { id: done, type: end }
edges:
  - { id: a, source: start, target: remember }
  - { id: b, source: remember, target: follow_up }
  - { id: c, source: follow_up, target: done }
`,
  'workflows/on_task_deleted.flow.yaml': `name: on_task_deleted
type: record_change
trigger: { object: task, on: delete, criteria: "priority = 'high'" }
variables:
  - { name: record, type: record, object: task, isInput: true }
nodes:
  - { id: start, type: start }
  - { id: tombstone, type: create_record, config: { object: task, values: { subject: "Deleted: {!record.subject}", priority: low } } }
  - { id: done, type: end }
edges:
  - { id: a, source: start, target: tombstone }
  - { id: b, source: tombstone, target: done }
`,
  'workflows/heartbeat.flow.yaml': `name: heartbeat
type: schedule
schedule: { expression: "*/2 * * * * *" }
variables:
  - { name: beat, type: text, isOutput: true }
nodes:
  - { id: start, type: start }
  - { id: mark, type: create_record, config: { object: task, values: { subject: Heartbeat, priority: low } } }
  - { id: done, type: end }
edges:
  - { id: a, source: start, target: mark }
  - { id: b, source: mark, target: done }
`,
};

const RUNS = `query($f: String) { flowRuns(where: { flow: $f }, first: 500) { ${RUN_FIELDS} } }`;

for (const engine of FLOW_ENGINES) {
  describe(`flows: started by record changes and schedules (${engine})`, () => {
    let rig: RulesApp;
    let admin: FetchHandler;
    let rep: { who: FetchHandler; userId: string };
    let ownerB: FetchHandler;
    const slug = `flow-starts-${engine.replace('+', '-')}`;
    const runsOf = async (who: FetchHandler, flow: string) => (await ok<{ flowRuns: Run[] }>(who, RUNS, { f: flow })).flowRuns;
    const settle = () => rig.settle();

    beforeAll(async () => {
      rig = await startRulesApp({ engine, slug, extra: FILES });
      admin = owner(rig);
      rep = await member(rig, slug, 'rep', 'sales_rep', ['standard_user']);
      ownerB = await otherTenant(rig, slug);
    }, 120_000);
    afterAll(async () => rig?.close());

    it('a committed change that meets the trigger starts one run, as the user who made it, with record and prior', async () => {
      const { createCase } = await ok<{ createCase: { id: string } }>(rep.who, 'mutation { createCase(input: { subject: "Printer on fire", status: new }) { id } }');
      await ok(rep.who, 'mutation($id: ID!) { updateCase(id: $id, input: { priority: high }) { id } }', { id: createCase.id });
      await ok(rep.who, 'mutation($id: ID!) { updateCase(id: $id, input: { status: escalated }) { id } }', { id: createCase.id });
      await settle();
      const started = await until(() => runsOf(admin, 'on_case_escalated'), (r) => r.some((x) => x.trigger['recordId'] === createCase.id));
      const mine = started.filter((x) => x.trigger['recordId'] === createCase.id);
      expect(mine).toHaveLength(1);
      const run = await runUntil(admin, mine[0]!.id, ['completed', 'failed']);
      expect(run.error).toBeNull();
      expect(run).toMatchObject({ status: 'completed', runAs: 'user', startedBy: rep.userId, outputs: { was: 'new' } });
      expect(run.trigger).toMatchObject({ type: 'record_change', object: 'case', op: 'update' });
      expect(run.variables!['record']).toMatchObject({ id: createCase.id, status: 'escalated', subject: 'Printer on fire' });
      // The task the run made (as the rep: the rep owns it and sees it).
      const { tasks } = await ok<{ tasks: { nodes: { subject: string }[] } }>(rep.who, '{ tasks(where: { subject: { startsWith: "Escalated: " } }) { nodes { subject } } }');
      expect(tasks.nodes).toEqual([{ subject: 'Escalated: Printer on fire' }]);
      // The run is the rep's: they see it among their runs.
      expect((await runsOf(rep.who, 'on_case_escalated')).map((r) => r.id)).toContain(run.id);
    });

    it('changes the trigger does not fire on, or whose criteria fail, start nothing', async () => {
      const before = (await runsOf(admin, 'on_case_escalated')).length;
      // Created escalated (the flow is on update), and an update that does not change the status.
      const { createCase } = await ok<{ createCase: { id: string } }>(rep.who, 'mutation { createCase(input: { subject: "Born escalated", status: escalated }) { id } }');
      await ok(rep.who, 'mutation($id: ID!) { updateCase(id: $id, input: { subject: "Still escalated" }) { id } }', { id: createCase.id });
      await settle();
      await new Promise((r) => setTimeout(r, 500));
      await settle();
      expect(await runsOf(admin, 'on_case_escalated')).toHaveLength(before);
    });

    it('a delete starts its flow with the deleted record (criteria judged on it)', async () => {
      const make = async (subject: string, priority: string) =>
        (await ok<{ createTask: { id: string } }>(admin, 'mutation($s: String!, $p: TaskPriority) { createTask(input: { subject: $s, priority: $p }) { id } }', { s: subject, p: priority })).createTask.id;
      const hot = await make('Hot potato', 'high');
      const cold = await make('Cold potato', 'low');
      for (const id of [hot, cold]) await ok(admin, 'mutation($id: ID!) { deleteTask(id: $id) { id } }', { id });
      await settle();
      const runs = await until(() => runsOf(admin, 'on_task_deleted'), (r) => r.length > 0);
      expect(runs).toHaveLength(1);
      expect(runs[0]!.trigger).toMatchObject({ op: 'delete', recordId: hot });
      await runUntil(admin, runs[0]!.id, ['completed']);
      const { tasks } = await ok<{ tasks: { nodes: { subject: string }[] } }>(admin, '{ tasks(where: { subject: { startsWith: "Deleted: " } }) { nodes { subject } } }');
      expect(tasks.nodes.map((t) => t.subject)).toEqual(['Deleted: Hot potato']);
    });

    it('a schedule flow starts one run per organization per tick, as the system, each acting in its own organization', async () => {
      const ticked = (runs: Run[]) => runs.filter((r) => r.status === 'completed').length >= 2;
      const a = await until(() => runsOf(admin, 'heartbeat'), ticked, 20_000);
      const b = await until(() => runsOf(ownerB, 'heartbeat'), ticked, 20_000);
      expect(ticked(a) && ticked(b)).toBe(true);
      for (const runs of [a, b]) {
        const ticks = runs.map((r) => String(r.trigger['tick']));
        expect(new Set(ticks).size).toBe(ticks.length);
        expect(runs.every((r) => r.trigger['type'] === 'schedule' && r.startedBy === null && r.runAs === 'system')).toBe(true);
      }
      // No run is in both organizations' lists; each one's tasks are its own organization's.
      const ids = new Set(a.map((r) => r.id));
      expect(b.some((r) => ids.has(r.id))).toBe(false);
      const count = async (who: FetchHandler) => (await ok<{ tasks: { totalCount: number } }>(who, '{ tasks(where: { subject: { eq: "Heartbeat" } }) { totalCount } }')).tasks.totalCount;
      expect(await count(admin)).toBeGreaterThanOrEqual(2);
      expect(await count(ownerB)).toBeGreaterThanOrEqual(2);
      // It is not started through the API.
      const e = await refused(admin, 'mutation { startFlow(name: "heartbeat") { id } }');
      expect(e.extensions?.code).toBe('BAD_USER_INPUT');
      expect(e.message).toContain('starts on its schedule');
    });
  });
}
