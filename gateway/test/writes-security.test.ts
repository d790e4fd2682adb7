import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { GraphQLResult } from '@objectos/testkit';
import { create, dataEngines, startDataRig, type DataRig } from './data-depth-kit.ts';

/** The demo profile with the contact's email hidden. */
const NO_EMAIL = `name: no_email
isProfile: true
objects:
  account: { allowRead: true, allowCreate: true, allowEdit: true }
  contact: { allowRead: true, allowCreate: true, allowEdit: true }
  task: { allowRead: true, allowCreate: true, allowEdit: true }
  tree_node: { allowRead: true, allowCreate: true, allowEdit: true, allowDelete: true }
fields:
  contact.email: { readable: false }
`;
/** A self-reference whose deletes cascade: a bulk delete of a parent and its child. */
const TREE = `name: tree_node
enable: { trash: false }
fields:
  name: { type: text }
  parent: { type: lookup, reference: tree_node, relationshipName: branches, deleteBehavior: cascade }
`;

/**
 * Regressions from the review of the #19 writes: what an upsert, a nested write, a bulk delete and an
 * atomic request must not do (reveal hidden values, pass the cap by nesting, fail on their own
 * cascades, run outside one transaction, lose warnings).
 */
for (const engine of dataEngines) {
  describe(`writes: security and limits (${engine})`, () => {
    let d: DataRig;
    beforeAll(async () => {
      d = await startDataRig(engine, 'wsec', {
        extra: { 'security/no_email.permission.yaml': NO_EMAIL, 'objects/tree_node.object.yaml': TREE },
        memberSets: ['no_email'], env: { OBJECTOS_BULK_MAX: '4' },
      });
    }, 240_000);
    afterAll(() => d?.rig.close());

    const raw = async (token: string, body: Record<string, unknown>): Promise<GraphQLResult> =>
      (await (await fetch(`${d.rig.base}/graphql`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` }, body: JSON.stringify(body) })).json()) as GraphQLResult;

    it('an upsert on a field the caller cannot read is refused the same way whether the value exists or not', async () => {
      const account = await create(d.m, 'Account', { name: 'Member Co' });
      await create(d.q, 'Contact', { lastName: 'Hidden', email: 'hidden@wsec.test', accountId: account });
      const answers = [];
      for (const email of ['hidden@wsec.test', 'nobody@wsec.test']) {
        const r = await d.member('mutation($i: ContactCreateInput!) { upsertContact(input: $i, on: EMAIL) { created record { id } } }', { i: { lastName: 'Probe', email, accountId: account } });
        answers.push({ code: r.errors?.[0]?.extensions?.['code'], message: r.errors?.[0]?.message, data: r.data ?? null });
      }
      expect(answers[0]).toEqual(answers[1]);
      expect(answers[0]!.code).toBe('FORBIDDEN');
      expect(answers[0]!.message).toMatch(/EMAIL|email/);
      // Nothing was overwritten.
      const c = await d.q<{ contacts: { nodes: { lastName: string }[] } }>('{ contacts(where: { email: { eq: "hidden@wsec.test" } }) { nodes { lastName } } }');
      expect(c.contacts.nodes).toEqual([{ lastName: 'Hidden' }]);
    });

    it('nested records count against OBJECTOS_BULK_MAX: nesting cannot pass the cap', async () => {
      const kids = '[{ lastName: "K1" }, { lastName: "K2" }, { lastName: "K3" }]';
      const r = await d.owner(`mutation { createAccounts(inputs: [{ name: "Cap A", contacts: { create: ${kids} } }, { name: "Cap B", contacts: { create: ${kids} } }]) { id } }`);
      expect(r.errors?.[0]?.message).toMatch(/8 records would be written; at most 4/);
      const one = await d.owner(`mutation { createAccount(input: { name: "Cap C", contacts: { create: [{ lastName: "A" }, { lastName: "B" }, { lastName: "C" }, { lastName: "D" }, { lastName: "E" }] } }) { id } }`);
      expect(one.errors?.[0]?.message).toMatch(/5 records would be written; at most 4/);
      const left = await d.q<{ accounts: { totalCount: number } }>('{ accounts(where: { name: { startsWith: "Cap" } }) { totalCount } }');
      expect(left.accounts.totalCount).toBe(0);
    });

    it('a bulk delete whose records cascade to each other deletes each once', async () => {
      // Records are deleted in id order and ids are random: over four pairs, the parent comes first
      // (taking the child along before its own turn) in all but 1/16 of runs.
      for (let i = 0; i < 4; i++) {
        const root = await create(d.m, 'TreeNode', { name: 'root' });
        await create(d.m, 'TreeNode', { name: 'leaf', parentId: root });
        const r = await d.m<{ deleteTreeNodes: { count: number } }>('mutation { deleteTreeNodes(where: { name: { in: ["root", "leaf"] } }) { count } }');
        expect(r.deleteTreeNodes.count).toBeGreaterThanOrEqual(1);
        expect((await d.m<{ treeNodes: { totalCount: number } }>('{ treeNodes { totalCount } }')).treeNodes.totalCount).toBe(0);
      }
    });

    it('nested writes on update-by-filter and on the update side of an upsert', async () => {
      await create(d.q, 'Account', { name: 'Filter Co' });
      const r = await d.q<{ updateAccounts: { count: number; records: { contacts: { lastName: string }[] }[] } }>(
        'mutation { updateAccounts(where: { name: { eq: "Filter Co" } }, input: { contacts: { create: [{ lastName: "Added" }] } }) { count records { contacts { lastName } } } }');
      expect(r.updateAccounts).toEqual({ count: 1, records: [{ contacts: [{ lastName: 'Added' }] }] });
      const account = await create(d.q, 'Account', { name: 'Upsert Nest Co' });
      const up = (subject: string) => d.q<{ upsertContact: { created: boolean; record: { tasks: { subject: string }[] } } }>(
        'mutation($i: ContactCreateInput!) { upsertContact(input: $i, on: EMAIL) { created record { tasks { subject } } } }',
        { i: { lastName: 'Nest', email: 'nest@wsec.test', accountId: account, tasks: { create: [{ subject }] } } });
      expect((await up('first')).upsertContact.created).toBe(true);
      const second = await up('second');
      expect(second.upsertContact.created).toBe(false);
      expect(second.upsertContact.record.tasks.map((t) => t.subject).sort()).toEqual(['first', 'second']);
    });

    it('atomic applies to data mutations only: a request served by another subgraph is refused and writes nothing', async () => {
      const r = await raw(d.rig.owner, { query: 'mutation { a: createApiKey(input: { name: "atomic-probe" }) { __typename } }', extensions: { atomic: true } });
      expect(r.errors?.[0]?.extensions?.['code']).toBe('BAD_REQUEST');
      const keys = await d.q<{ apiKeys: { name: string }[] }>('{ apiKeys { name } }');
      expect(keys.apiKeys.map((k) => k.name)).not.toContain('atomic-probe');
    });

    it('warnings of validation rules come back from bulk and atomic writes too', async () => {
      const account = await create(d.q, 'Account', { name: 'Warned Co' });
      const bulk = await raw(d.rig.owner, { query: `mutation { createOpportunities(inputs: [{ name: "Huge", accountId: "${account}", amount: 2000000, stage: prospecting }]) { id } }` });
      expect(bulk.errors).toBeUndefined();
      expect((bulk.extensions?.['warnings'] as { rule: string }[]).map((w) => w.rule)).toEqual(['big_deal_needs_close_date']);
      const atomic = await raw(d.rig.owner, { query: `mutation { a: createOpportunity(input: { name: "Huge 2", accountId: "${account}", amount: 3000000, stage: prospecting }) { id } }`, extensions: { atomic: true } });
      expect(atomic.errors).toBeUndefined();
      expect((atomic.extensions?.['warnings'] as { rule: string }[]).map((w) => w.rule)).toEqual(['big_deal_needs_close_date']);
    });
  });
}
