import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { subscribeSse, until, withHeaders } from '@objectos/testkit';
import { create, dataEngines, startDataRig, type DataRig } from './data-depth-kit.ts';

const PROJECT = `name: project
sharingModel: private
fields:
  name: { type: text, required: true }
  account: { type: lookup, reference: account }
  budget: { type: currency }
  start_date: { type: date }
  hours: { type: summary, summaryOperations: { object: work_item, field: hours, function: sum } }
  open_items: { type: summary, summaryOperations: { object: work_item, function: count, filter: "done = false" } }
  spent: { type: summary, summaryOperations: { object: work_item, field: cost, function: sum } }
  last_due: { type: summary, summaryOperations: { object: work_item, field: due_date, function: max } }
  remaining: { type: formula, expression: "budget - spent", returnType: currency }
  over_budget: { type: formula, expression: "spent > budget" }
  title: { type: formula, expression: "upper(name) || ' @ ' || coalesce(account.name, '?')" }
  industry: { type: formula, expression: "account.industry" }
  revenue_ratio: { type: formula, expression: "account.annual_revenue / budget" }
  review_on: { type: formula, expression: "start_date + 30" }
`;
const WORK_ITEM = `name: work_item
sharingModel: private
fields:
  name: { type: text, required: true }
  project: { type: lookup, reference: project }
  hours: { type: number }
  rate: { type: currency }
  done: { type: boolean }
  due_date: { type: date }
  cost: { type: formula, expression: "hours * rate", returnType: currency }
  per_zero: { type: formula, expression: "hours / (hours - hours)" }
`;
/** The member's profile: the demo's hidden revenue, and item rates hidden too (so costs, and what is made of them, are). */
const COMPUTED_USER = `name: computed_user
label: Computed User
isProfile: true
objects:
  account: { allowRead: true, allowCreate: true, allowEdit: true }
  project: { allowRead: true, allowCreate: true, allowEdit: true }
  work_item: { allowRead: true, allowCreate: true, allowEdit: true }
fields:
  account.annual_revenue: { readable: false }
  work_item.rate: { readable: false }
`;

/** The demo's administrator profile, with the two objects of this test. */
const ADMIN = readFileSync('metadata/security/system_administrator.permission.yaml', 'utf8').replace('objects:\n', `objects:
  project: { allowRead: true, allowCreate: true, allowEdit: true, allowDelete: true, viewAllRecords: true, modifyAllRecords: true }
  work_item: { allowRead: true, allowCreate: true, allowEdit: true, allowDelete: true, viewAllRecords: true, modifyAllRecords: true }
`);

interface Project { name: string; [k: string]: unknown }
const ALL = 'name hours openItems spent lastDue remaining overBudget title industry revenueRatio reviewOn';

/**
 * Formula and roll-up fields (#19 point 7), through the gateway: compiled to SQL, so they are selected,
 * filtered and sorted like stored fields; computed under the reader's security (a roll-up counts only the
 * children the reader can read, a lookup's field shows only when its record is readable), and a computed
 * field is readable only when every field it reads is.
 */
for (const engine of dataEngines) {
  describe(`computed fields (${engine})`, () => {
    let d: DataRig;
    const id: Record<string, string> = {};
    const projects = async (ask: DataRig['q'], args = '', fields = ALL) =>
      (await ask<{ projects: { nodes: Project[] } }>(`{ projects${args} { nodes { ${fields} } } }`)).projects.nodes;
    beforeAll(async () => {
      d = await startDataRig(engine, 'computed', {
        extra: { 'objects/project.object.yaml': PROJECT, 'objects/work_item.object.yaml': WORK_ITEM, 'security/computed_user.permission.yaml': COMPUTED_USER,
          'security/system_administrator.permission.yaml': ADMIN },
        memberSets: ['computed_user'],
      });
      id['acme'] = await create(d.q, 'Account', { name: 'Acme', industry: 'finance', annualRevenue: 1000 });
      id['p1'] = await create(d.q, 'Project', { name: 'Apollo', accountId: id['acme'], budget: 500, startDate: '2026-01-01' });
      id['p2'] = await create(d.q, 'Project', { name: 'Zephyr', budget: 100 });
      id['i1'] = await create(d.q, 'WorkItem', { name: 'Design', projectId: id['p1'], hours: 10, rate: 20, done: false, dueDate: '2026-02-01' });
      id['i2'] = await create(d.q, 'WorkItem', { name: 'Build', projectId: id['p1'], hours: 5, rate: 10, done: true, dueDate: '2026-03-01' });
      // The member reads Apollo (shared), never Acme nor the owner's items; they log hours of their own on it.
      await d.q('mutation($i: ShareRecordInput!) { shareRecord(input: $i) { id } }', {
        i: { object: 'project', recordId: id['p1'], sharedWithType: 'USER', sharedWith: d.memberId, accessLevel: 'READ' },
      });
      id['m1'] = await create(d.m, 'WorkItem', { name: 'Review', projectId: id['p1'], hours: 2, done: false });
    }, 240_000);
    afterAll(() => d?.rig.close());

    it('selects formulas over the record, its lookups and its roll-ups, and roll-ups of children (filtered, formulas inside)', async () => {
      const byName = Object.fromEntries((await projects(d.q)).map((p) => [p.name, p]));
      expect(byName['Apollo']).toEqual({
        name: 'Apollo', hours: 17, openItems: 2, spent: 250, lastDue: '2026-03-01', remaining: 250, overBudget: false,
        title: 'APOLLO @ Acme', industry: 'finance', revenueRatio: 2, reviewOn: '2026-01-31',
      });
      // No children: a count and a sum are 0, a maximum unknown; a missing lookup reads as NULL.
      expect(byName['Zephyr']).toEqual({
        name: 'Zephyr', hours: 0, openItems: 0, spent: 0, lastDue: null, remaining: 100, overBudget: false,
        title: 'ZEPHYR @ ?', industry: null, revenueRatio: null, reviewOn: null,
      });
      // One record, a lookup's computed fields, and a division by zero (NULL, not a failed read).
      const item = await d.q<{ workItem: Record<string, unknown> }>(`query($id: ID!) { workItem(id: $id) { cost perZero project { title spent } } }`, { id: id['i1'] });
      expect(item.workItem).toEqual({ cost: 200, perZero: null, project: { title: 'APOLLO @ Acme', spent: 250 } });
    });

    it('filters and sorts on computed fields, pages them with cursors, and filters through a lookup on one', async () => {
      expect((await projects(d.q, '(where: { overBudget: { eq: false }, remaining: { gt: 200 } })', 'name')).map((p) => p.name)).toEqual(['Apollo']);
      expect((await projects(d.q, '(where: { reviewOn: { eq: "2026-01-31" } })', 'name')).map((p) => p.name)).toEqual(['Apollo']);
      expect((await projects(d.q, '(where: { title: { startsWith: "ZEP" } })', 'name')).map((p) => p.name)).toEqual(['Zephyr']);
      expect((await projects(d.q, '(where: { lastDue: { isNull: true } })', 'name')).map((p) => p.name)).toEqual(['Zephyr']);
      const sorted = await projects(d.q, '(orderBy: [{ field: SPENT, direction: DESC }])', 'name spent');
      expect(sorted).toEqual([{ name: 'Apollo', spent: 250 }, { name: 'Zephyr', spent: 0 }]);
      const page = async (after: string | null) => (await d.q<{ projects: { edges: { cursor: string; node: Project }[] } }>(
        'query($after: String) { projects(orderBy: [{ field: REMAINING }], first: 1, after: $after) { edges { cursor node { name remaining } } } }', { after })).projects.edges;
      const first = await page(null);
      expect(first.map((e) => e.node)).toEqual([{ name: 'Zephyr', remaining: 100 }]);
      expect((await page(first[0]!.cursor)).map((e) => e.node)).toEqual([{ name: 'Apollo', remaining: 250 }]);
      const items = await d.q<{ workItems: { nodes: { name: string }[] } }>('{ workItems(where: { project: { openItems: { gte: 2 } } }, orderBy: [{ field: COST, direction: DESC }]) { nodes { name } } }');
      expect(items.workItems.nodes.map((n) => n.name)).toEqual(['Review', 'Design', 'Build']);
    });

    it('a write shows at once in what is computed from it, in the same request', async () => {
      const r = await d.q<{ updateWorkItem: { cost: number; project: { hours: number; spent: number; openItems: number } } }>(
        'mutation($id: ID!) { updateWorkItem(id: $id, input: { hours: 20, done: true }) { cost project { hours spent openItems } } }', { id: id['i1'] });
      expect(r.updateWorkItem).toEqual({ cost: 400, project: { hours: 27, spent: 450, openItems: 1 } });
      await d.q('mutation($id: ID!) { updateWorkItem(id: $id, input: { hours: 10, done: false }) { id } }', { id: id['i1'] });
      // A currency formula is an amount: 1.25 × 3.33 = 4.1625 shows (and filters) as 4.16.
      const odd = await d.q<{ createWorkItem: { cost: number } }>('mutation { createWorkItem(input: { name: "Odd", hours: 1.25, rate: 3.33 }) { cost } }');
      expect(odd.createWorkItem.cost).toBe(4.16);
      expect((await d.q<{ workItems: { totalCount: number } }>('{ workItems(where: { cost: { eq: 4.16 } }) { totalCount } }')).workItems.totalCount).toBe(1);
    });

    it('a subscription filters on a computed field and delivers computed fields as they are after the change', async () => {
      type Got = { workItemChanged: { op: string; record: { name: string; cost: number; project: { hours: number } } | null } };
      const before = d.rig.app.data!.hub.size();
      const live = await subscribeSse<Got>(withHeaders(`${d.rig.base}/graphql`, { authorization: `Bearer ${d.rig.owner}` }),
        'subscription { workItemChanged(where: { cost: { gte: 55 } }) { op record { name cost project { hours } } } }', {}, `${d.rig.base}/graphql`);
      try {
        await until(async () => d.rig.app.data!.hub.size(), (n) => n > before);
        // Design (cost 200) is not touched; Build goes from 50 to 60: it now matches, with its project's new total.
        await d.q('mutation($id: ID!) { updateWorkItem(id: $id, input: { hours: 6 }) { id } }', { id: id['i2'] });
        const got = (await live.until(1)).map((r) => r.data!.workItemChanged);
        expect(got).toEqual([{ op: 'UPDATED', record: { name: 'Build', cost: 60, project: { hours: 18 } } }]);
      } finally {
        live.close();
        await d.q('mutation($id: ID!) { updateWorkItem(id: $id, input: { hours: 5 }) { id } }', { id: id['i2'] });
      }
    });

    it('computes under the reader\'s row security: only the children and lookups they can read take part', async () => {
      const apollo = await projects(d.m, '', 'name hours openItems lastDue title industry reviewOn');
      // The member's own item alone (2 hours, open, no due date); Acme is not theirs to read.
      expect(apollo).toEqual([{ name: 'Apollo', hours: 2, openItems: 1, lastDue: null, title: 'APOLLO @ ?', industry: null, reviewOn: '2026-01-31' }]);
      expect((await projects(d.m, '(where: { hours: { gt: 1 } })', 'name')).map((p) => p.name)).toEqual(['Apollo']);
      expect(await projects(d.m, '(where: { hours: { gt: 2 } })', 'name')).toEqual([]);
    });

    it('a computed field is readable only when all it reads is: not selected, filtered or sorted otherwise', async () => {
      for (const field of ['spent', 'remaining', 'overBudget', 'revenueRatio']) {
        const r = await d.member(`{ projects { nodes { name ${field} } } }`);
        expect(r.errors?.[0]?.message, field).toMatch(new RegExp(`Not allowed to read Project\\.${field}`));
      }
      const cost = await d.member('{ workItems { nodes { cost } } }');
      expect(cost.errors?.[0]?.message).toMatch(/Not allowed to read WorkItem\.cost/);
      const filter = await d.member('{ projects(where: { spent: { gt: 0 } }) { nodes { name } } }');
      expect(filter.errors?.[0]?.message).toMatch(/spent/);
      expect(filter.data ?? null).toBeNull();
      const sort = await d.member('{ projects(orderBy: [{ field: REMAINING }]) { nodes { name } } }');
      expect(sort.errors?.[0]?.message).toMatch(/REMAINING|remaining/);
      // Through a lookup too: filtering items by their project's hidden roll-up.
      const through = await d.member('{ workItems(where: { project: { spent: { gt: 0 } } }) { nodes { name } } }');
      expect(through.errors?.[0]?.message).toMatch(/spent/);
    });

    it('is described with its expression or roll-up, in declaration order, only to those who can read it', async () => {
      type Described = { object: { fields: Record<string, unknown>[] } };
      const q = '{ object(name: "project") { fields { name graphqlName type readonly editable expression summaryOperations returnType } } }';
      const owner = (await d.q<Described>(q)).object.fields;
      expect(owner.map((f) => f.name)).toEqual(['name', 'account', 'budget', 'start_date', 'hours', 'open_items', 'spent', 'last_due', 'remaining', 'over_budget', 'title', 'industry', 'revenue_ratio', 'review_on']);
      expect(owner.find((f) => f['name'] === 'remaining')).toEqual({
        name: 'remaining', graphqlName: 'remaining', type: 'formula', readonly: true, editable: false, expression: 'budget - spent', summaryOperations: null, returnType: 'currency',
      });
      expect(owner.find((f) => f['name'] === 'open_items')).toEqual({
        name: 'open_items', graphqlName: 'openItems', type: 'summary', readonly: true, editable: false, expression: null,
        summaryOperations: { object: 'work_item', function: 'count', filter: 'done = false' }, returnType: 'number',
      });
      const member = (await d.m<Described>(q)).object.fields.map((f) => f['name']);
      expect(member).toEqual(['name', 'account', 'budget', 'start_date', 'hours', 'open_items', 'last_due', 'title', 'industry', 'review_on']);
    });

    it('is never written: computed fields are not in create or update inputs', async () => {
      const r = await d.owner('mutation { createProject(input: { name: "X", spent: 5 }) { id } }');
      expect(r.errors?.[0]?.message).toMatch(/"spent" is not defined by type "ProjectCreateInput"/);
      const u = await d.owner('mutation($id: ID!) { updateWorkItem(id: $id, input: { cost: 1 }) { id } }', { id: id['i1'] });
      expect(u.errors?.[0]?.message).toMatch(/"cost" is not defined by type "WorkItemUpdateInput"/);
    });
  });
}
