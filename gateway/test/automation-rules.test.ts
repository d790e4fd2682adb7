import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { services } from '@objectos/testkit';
import { startRulesApp, until, type RulesApp, type RulesEngine } from './rules-app.ts';

interface Run { id: string; rule: string; action: string; actionType: string; status: string; attempts: number; depth: number; error: string | null; result: Record<string, unknown> | null; eventId: string }

/**
 * Workflow rules end to end through one running ObjectOS, with the demo rule `opportunity_won_follow_up`
 * (metadata/automation): a mutation that wins an opportunity makes its probability 100 through the data
 * subgraph's write path and creates an onboarding task owned by the opportunity's owner, once; other
 * changes run nothing; the rule can be switched off per organization; a change evaluated again (a crash
 * before its hand-over row was deleted) neither updates nor creates anything twice.
 */
const variants: RulesEngine[] = ['pglite', ...(services.postgres ? ['postgres' as const] : []), ...(services.postgres && services.redis ? ['postgres+redis' as const] : [])];
for (const engine of variants) {
  describe(`workflow rules (${engine})`, () => {
    let rig: RulesApp;
    let accountId: string;
    const q = <T = Record<string, unknown>>(query: string, variables: Record<string, unknown> = {}) => rig.q<T>(query, variables);
    const runsOf = async (recordId: string) =>
      (await q<{ automationRuns: Run[] }>('query($id: ID!) { automationRuns(where: { recordId: $id }) { id rule action actionType status attempts depth error result eventId } }', { id: recordId })).automationRuns;
    const tasksOf = async (opportunityId: string) =>
      (await q<{ tasks: { nodes: { id: string; subject: string; priority: string; dueDate: string }[] } }>('query($id: ID!) { tasks(where: { opportunityId: { eq: $id } }) { nodes { id subject priority dueDate } } }', { id: opportunityId })).tasks.nodes;
    const opportunity = async (name: string) =>
      (await q<{ createOpportunity: { id: string } }>('mutation($i: OpportunityCreateInput!) { createOpportunity(input: $i) { id } }', { i: { name, accountId, stage: 'prospecting', probability: 10 } })).createOpportunity.id;
    const setStage = (id: string, stage: string) => q('mutation($id: ID!, $s: OpportunityStage) { updateOpportunity(id: $id, input: { stage: $s }) { id } }', { id, s: stage });
    const probability = async (id: string) => (await q<{ opportunity: { probability: number } }>('query($id: ID!) { opportunity(id: $id) { probability } }', { id })).opportunity.probability;
    const settle = () => rig.settle();

    beforeAll(async () => {
      rig = await startRulesApp({ engine, slug: `rules-${engine.replace('+', '-')}` });
      accountId = (await q<{ createAccount: { id: string } }>('mutation { createAccount(input: { name: "Acme" }) { id } }')).createAccount.id;
    }, 120_000);
    afterAll(() => rig?.close());

    it('winning an opportunity updates it through the write path and creates its owner an onboarding task, once', async () => {
      const id = await opportunity('Big Deal');
      await setStage(id, 'closed_won');
      const runs = await until(() => runsOf(id), (r) => r.length === 2 && r.every((x) => x.status === 'SUCCEEDED'));
      expect(runs.map((r) => [r.action, r.actionType, r.status, r.depth, r.attempts]).sort()).toEqual([
        ['certain_probability', 'field_update', 'SUCCEEDED', 1, 1],
        ['onboarding_task', 'task_creation', 'SUCCEEDED', 1, 1],
      ]);
      expect(await probability(id)).toBe(100);
      // The same runs on the record itself (the automation subgraph extends the data subgraph's entity).
      const onRecord = await q<{ opportunity: { name: string; automationRuns: { action: string; status: string }[] } }>('query($id: ID!) { opportunity(id: $id) { name automationRuns { action status } } }', { id });
      expect(onRecord.opportunity.name).toBe('Big Deal');
      expect(onRecord.opportunity.automationRuns.map((r) => [r.action, r.status]).sort()).toEqual([['certain_probability', 'SUCCEEDED'], ['onboarding_task', 'SUCCEEDED']]);
      const tasks = await tasksOf(id);
      expect(tasks).toHaveLength(1);
      expect(tasks[0]).toMatchObject({ subject: 'Start onboarding for Big Deal', priority: 'high' });
      const due = new Date(Date.now() + 3 * 86_400_000).toISOString().slice(0, 10);
      expect([due, new Date(Date.now() + 3 * 86_400_000 - 60_000).toISOString().slice(0, 10)]).toContain(tasks[0]!.dueDate);
      // The task belongs to the opportunity's owner (the rule ran in system context, the task in the owner's name).
      const [row] = await rig.app.data!.database.run<{ owner_id: string; created_by: string | null }>('select owner_id from task where id = $1', [tasks[0]!.id]);
      const [opp] = await rig.app.data!.database.run<{ owner_id: string }>('select owner_id from opportunity where id = $1', [id]);
      expect(row!.owner_id).toBe(opp!.owner_id);
      // The field update was an update like any other: the rule saw it and did not run again (ISCHANGED(stage) is false).
      await settle();
      expect(await runsOf(id)).toHaveLength(2);
    });

    it('changes that do not meet the criteria run nothing; each new win runs the rule again', async () => {
      const id = await opportunity('Small Deal');
      await q('mutation($id: ID!) { updateOpportunity(id: $id, input: { name: "Smaller Deal" }) { id } }', { id });
      await setStage(id, 'negotiation');
      await settle();
      expect(await runsOf(id)).toEqual([]);
      await setStage(id, 'closed_won');
      await until(() => runsOf(id), (r) => r.length === 2 && r.every((x) => x.status === 'SUCCEEDED'));
      await setStage(id, 'negotiation');
      await setStage(id, 'closed_won');
      const runs = await until(() => runsOf(id), (r) => r.length === 4 && r.every((x) => x.status === 'SUCCEEDED'));
      expect(new Set(runs.map((r) => r.eventId)).size).toBe(2);
      expect(await tasksOf(id)).toHaveLength(2);
    });

    it('a change evaluated twice (a crash before its hand-over row was deleted) updates and creates nothing twice', async () => {
      const id = await opportunity('Replayed Deal');
      await setStage(id, 'closed_won');
      const runs = await until(() => runsOf(id), (r) => r.length === 2 && r.every((x) => x.status === 'SUCCEEDED'));
      const db = rig.app.data!.database;
      // Put the change back, as if the worker died after queueing its actions.
      const [event] = await db.run<{ id: string }>("select id::text from events.outbox where record_id = $1 and op = 'update' and 'stage' = any(changed_fields) order by id desc limit 1", [id]);
      const [row] = await db.run<{ n: number }>('select count(*)::int as n from events.outbox where id = $1::bigint', [event!.id]);
      expect(row!.n).toBe(1);
      await db.run(`insert into events.automation_outbox (event_id, event, context)
        select id, jsonb_build_object('id', id::text, 'organizationId', organization_id, 'object', object, 'recordId', record_id, 'op', op, 'record', record, 'previous', previous,
          'changedFields', to_jsonb(changed_fields), 'actorId', actor_id, 'at', to_char(created_at at time zone 'utc', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')), context
        from events.outbox where id = $1::bigint`, [event!.id]);
      await settle();
      const again = await runsOf(id);
      expect(again.map((r) => [r.id, r.status]).sort()).toEqual(runs.map((r) => [r.id, r.status]).sort());
      expect(await tasksOf(id)).toHaveLength(1);
      // The effect keys are in the write's own transaction: a keyed create done twice answers with the first task.
      const [effects] = await db.run<{ n: number }>("select count(*)::int as n from jobs.effects where key like $1", [`${event!.id}:opportunity_won_follow_up:%`]);
      expect(effects!.n).toBe(2);
    });

    it('a rule switched off in an organization runs nothing there; rules and the switch are listed', async () => {
      const off = await q<{ setAutomationRuleActive: { name: string; active: boolean } }>('mutation { setAutomationRuleActive(name: "opportunity_won_follow_up", active: false) { name active } }');
      expect(off.setAutomationRuleActive).toEqual({ name: 'opportunity_won_follow_up', active: false });
      const id = await opportunity('Quiet Deal');
      await setStage(id, 'closed_won');
      await settle();
      expect(await runsOf(id)).toEqual([]);
      expect(await probability(id)).toBe(10);
      const rules = await q<{ automationRules: { name: string; objectName: string; triggerType: string; active: boolean; actions: { name: string; type: string }[] }[] }>('{ automationRules { name objectName triggerType active actions { name type } } }');
      expect(rules.automationRules).toEqual([{ name: 'opportunity_won_follow_up', objectName: 'opportunity', triggerType: 'on_update', active: false,
        actions: [{ name: 'certain_probability', type: 'field_update' }, { name: 'onboarding_task', type: 'task_creation' }] }]);
      await q('mutation { setAutomationRuleActive(name: "opportunity_won_follow_up", active: true) { active } }');
      await expect(q('mutation { setAutomationRuleActive(name: "nope", active: true) { active } }')).rejects.toThrow(/No automation rule \\"nope\\"/);
    });
  });
}
