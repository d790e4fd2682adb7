import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { GraphQLResult } from '@objectos/testkit';
import { create, dataEngines, startDataRig, type DataRig } from './data-depth-kit.ts';

const CAP = 5;

/**
 * Writes (#19 point 4): upsert on a unique field, bulk create / update-by-filter / delete-by-filter with
 * a cap, nested create of a parent with its children and connect/disconnect, and atomic requests. A
 * request that fails anywhere writes nothing.
 */
for (const engine of dataEngines) {
  describe(`bulk, upsert, nested and atomic writes (${engine})`, () => {
    let d: DataRig;
    beforeAll(async () => {
      d = await startDataRig(engine, 'writes', { env: { OBJECTOS_BULK_MAX: String(CAP) } });
    }, 240_000);
    afterAll(() => d?.rig.close());

    const count = async (where: Record<string, unknown>, list = 'accounts', type = 'Account') =>
      (await d.q<Record<string, { totalCount: number }>>(`query($w: ${type}Where) { r: ${list}(where: $w) { totalCount } }`, { w: where }))['r']!.totalCount;
    const atomic = async (token: string, query: string, on = true): Promise<GraphQLResult> => {
      const res = await fetch(`${d.rig.base}/graphql`, {
        method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
        body: JSON.stringify({ query, ...(on ? { extensions: { atomic: true } } : {}) }),
      });
      return (await res.json()) as GraphQLResult;
    };

    it('createAccounts: all or none, the failing input named; over the cap nothing is written', async () => {
      const made = await d.q<{ createAccounts: { id: string; name: string }[] }>('mutation { createAccounts(inputs: [{ name: "Bulk 1" }, { name: "Bulk 2" }]) { id name } }');
      expect(made.createAccounts.map((a) => a.name)).toEqual(['Bulk 1', 'Bulk 2']);
      const bad = await d.owner(`mutation { createAccounts(inputs: [{ name: "Bulk 3" }, { name: "${'x'.repeat(300)}" }]) { id } }`);
      expect(bad.errors?.[0]?.extensions?.['code']).toBe('BAD_USER_INPUT');
      expect(bad.errors?.[0]?.message).toMatch(/^inputs\[1\]:/);
      expect((bad.errors?.[0]?.extensions?.['issues'] as { field: string }[])[0]!.field).toBe('inputs[1].name');
      expect(await count({ name: { startsWith: 'Bulk 3' } })).toBe(0);
      const over = await d.owner(`mutation { createAccounts(inputs: [${Array.from({ length: CAP + 1 }, (_, i) => `{ name: "Over ${i}" }`).join(', ')}]) { id } }`);
      expect(over.errors?.[0]?.message).toMatch(/6 records would be written; at most 5 can be written at once/);
      expect(await count({ name: { startsWith: 'Over' } })).toBe(0);
    });

    it('updateAccounts and deleteAccounts by filter: only what the caller may write; over the cap nothing is written', async () => {
      await d.q('mutation { createAccounts(inputs: [{ name: "Upd A", industry: retail }, { name: "Upd B", industry: retail }]) { id } }');
      await create(d.m, 'Account', { name: 'Upd M', industry: retail() });
      const r = await d.q<{ updateAccounts: { count: number; records: { name: string; rating: number; version: number }[] } }>(
        'mutation { updateAccounts(where: { name: { startsWith: "Upd" } }, input: { rating: 42 }) { count records { name rating version } } }');
      expect(r.updateAccounts.count).toBe(3);
      expect(r.updateAccounts.records.every((x) => x.rating === 42 && x.version === 2)).toBe(true);
      // The member edits only their own.
      const m = await d.m<{ updateAccounts: { count: number; records: { name: string }[] } }>('mutation { updateAccounts(where: { name: { startsWith: "Upd" } }, input: { rating: 7 }) { count records { name } } }');
      expect(m.updateAccounts).toEqual({ count: 1, records: [{ name: 'Upd M' }] });
      // Six records match: over the cap, nothing changes.
      await d.q('mutation { createAccounts(inputs: [{ name: "Upd C" }, { name: "Upd D" }, { name: "Upd E" }]) { id } }');
      const over = await d.owner('mutation { updateAccounts(where: { name: { startsWith: "Upd" } }, input: { rating: 1 }) { count } }');
      expect(over.errors?.[0]?.message).toMatch(/more than 5 records match; at most 5 can be updated at once/);
      expect(await count({ rating: { eq: 1 } })).toBe(0);
      const deleted = await d.q<{ deleteAccounts: { count: number } }>('mutation { deleteAccounts(where: { name: { in: ["Upd C", "Upd D"] } }) { count records { name } } }');
      expect(deleted.deleteAccounts.count).toBe(2);
      // Accounts have a trash: the deleted ones are there.
      const trash = await d.q<{ trashedAccounts: { nodes: { name: string }[] } }>('{ trashedAccounts(where: { name: { in: ["Upd C", "Upd D"] } }) { nodes { name } } }');
      expect(trash.trashedAccounts.nodes.map((n) => n.name).sort()).toEqual(['Upd C', 'Upd D']);
      const tooMany = await d.owner('mutation { deleteAccounts(where: { name: { startsWith: "" } }) { count } }');
      expect(tooMany.errors?.[0]?.message).toMatch(/at most 5 can be deleted at once/);
    });

    it('upsert on a unique field creates, then updates; a field that is not unique is refused', async () => {
      const accountId = await create(d.q, 'Account', { name: 'Upsert Co' });
      const up = (lastName: string) => d.q<{ upsertContact: { created: boolean; record: { id: string; lastName: string; email: string } } }>(
        'mutation($i: ContactCreateInput!) { upsertContact(input: $i, on: EMAIL) { created record { id lastName email } } }', { i: { email: 'sam@upsert.test', lastName, accountId } });
      const first = await up('Sam');
      expect(first.upsertContact.created).toBe(true);
      const second = await up('Samuel');
      expect(second.upsertContact).toEqual({ created: false, record: { id: first.upsertContact.record.id, lastName: 'Samuel', email: 'sam@upsert.test' } });
      expect(await count({ email: { eq: 'sam@upsert.test' } }, 'contacts', 'Contact')).toBe(1);
      const notUnique = await d.owner(`mutation { upsertContact(input: { lastName: "X", accountId: "${accountId}" }, on: LAST_NAME) { created } }`);
      expect(notUnique.errors?.[0]?.message).toMatch(/LAST_NAME/);
      const noValue = await d.owner(`mutation { upsertContact(input: { lastName: "X", accountId: "${accountId}" }, on: EMAIL) { created } }`);
      expect(noValue.errors?.[0]?.message).toMatch(/email: an upsert on it needs its value/);
    });

    it('nested create of a parent with its children, and connect/disconnect, in one transaction', async () => {
      const made = await d.q<{ createAccount: { id: string; contacts: { lastName: string }[]; opportunities: { name: string }[] } }>(`mutation { createAccount(input: {
        name: "Nested Inc", contacts: { create: [{ lastName: "Kid 1" }, { lastName: "Kid 2" }] },
        opportunities: { create: [{ name: "Nested deal", stage: prospecting }] } }) { id contacts { lastName } opportunities { name } } }`);
      expect(made.createAccount.contacts.map((c) => c.lastName).sort()).toEqual(['Kid 1', 'Kid 2']);
      expect(made.createAccount.opportunities.map((o) => o.name)).toEqual(['Nested deal']);
      // A bad child: nothing at all, parent included.
      const bad = await d.owner(`mutation { createAccount(input: { name: "Broken Inc", contacts: { create: [{ lastName: "Ok" }, { lastName: "${'y'.repeat(200)}" }] } }) { id } }`);
      expect(bad.errors?.[0]?.extensions?.['code']).toBe('BAD_USER_INPUT');
      expect(await count({ name: { eq: 'Broken Inc' } })).toBe(0);
      expect(await count({ lastName: { eq: 'Ok' } }, 'contacts', 'Contact')).toBe(0);
      // Connect an existing task, then disconnect it (its account is optional); an opportunity's is required.
      const other = await create(d.q, 'Account', { name: 'Other Inc' });
      const task = await create(d.q, 'Task', { subject: 'Move me', accountId: other });
      const moved = await d.q<{ updateAccount: { tasks: { subject: string }[] } }>(`mutation($id: ID!) { updateAccount(id: $id, input: { tasks: { connect: ["${task}"] } }) { tasks { subject } } }`, { id: made.createAccount.id });
      expect(moved.updateAccount.tasks.map((t) => t.subject)).toEqual(['Move me']);
      const freed = await d.q<{ updateAccount: { tasks: unknown[] } }>(`mutation($id: ID!) { updateAccount(id: $id, input: { tasks: { disconnect: ["${task}"] } }) { tasks { subject } } }`, { id: made.createAccount.id });
      expect(freed.updateAccount.tasks).toEqual([]);
      const opp = (await d.q<{ opportunities: { nodes: { id: string }[] } }>('{ opportunities(where: { name: { eq: "Nested deal" } }) { nodes { id } } }')).opportunities.nodes[0]!.id;
      const required = await d.owner(`mutation($id: ID!) { updateAccount(id: $id, input: { opportunities: { disconnect: ["${opp}"] } }) { id } }`, { id: made.createAccount.id });
      expect(required.errors?.[0]?.message).toMatch(/opportunities.disconnect\[0\]: Opportunity.accountId is required/);
      const stranger = await d.owner(`mutation($id: ID!) { updateAccount(id: $id, input: { tasks: { disconnect: ["${task}"] } }) { id } }`, { id: made.createAccount.id });
      expect(stranger.errors?.[0]?.message).toMatch(/no Task with id .* belongs to this Account/);
    });

    it('atomic: several mutations in one request commit together or not at all; without it each stands alone', async () => {
      const two = (tag: string) => `mutation { a: createAccount(input: { name: "${tag} one" }) { id } b: createAccount(input: { name: "${'z'.repeat(300)}" }) { id } }`;
      const rolled = await atomic(d.rig.owner, two('Atomic'));
      expect(rolled.data ?? null).toBeNull();
      expect(rolled.errors?.map((e) => e.extensions?.['code'])).toEqual(['BAD_USER_INPUT', 'ROLLED_BACK']);
      expect(await count({ name: { eq: 'Atomic one' } })).toBe(0);
      const loose = await atomic(d.rig.owner, two('Loose'), false);
      expect(loose.errors?.[0]?.extensions?.['code']).toBe('BAD_USER_INPUT');
      expect(await count({ name: { eq: 'Loose one' } })).toBe(1);
      const ok = await atomic(d.rig.owner, 'mutation { a: createAccount(input: { name: "Pair one" }) { id } b: createAccount(input: { name: "Pair two" }) { id } }');
      expect(ok.errors).toBeUndefined();
      expect(await count({ name: { startsWith: 'Pair' } })).toBe(2);
      // A request that spans subgraphs cannot be one transaction: refused, nothing written.
      const spanning = await atomic(d.rig.owner, `mutation { a: createAccount(input: { name: "Span one" }) { id } b: setMemberAccess(input: { userId: "${d.memberId}", role: null, permissionSets: ["standard_user"], groups: [] }) { userId } }`);
      expect(spanning.errors?.[0]?.message).toMatch(/atomic request must be served by the data subgraph alone/);
      expect(await count({ name: { eq: 'Span one' } })).toBe(0);
    });
  });
}

function retail(): string {
  return 'retail';
}
