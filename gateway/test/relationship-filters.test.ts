import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { create, dataEngines, startDataRig, type DataRig } from './data-depth-kit.ts';

/**
 * Filters through relationships (#19 point 1): through lookups at any depth and over children with
 * some/none/every, with row security applied inside the relationship and field permissions on the
 * related fields. The compiled single-statement path (`nodes`) and the general path (`edges`) agree.
 */
for (const engine of dataEngines) {
  describe(`filters through relationships (${engine})`, () => {
    let d: DataRig;
    const id: Record<string, string> = {};
    beforeAll(async () => {
      d = await startDataRig(engine, 'relfilter');
      // Owner's: two accounts, each with a contact and an opportunity. Member's: one finance account.
      id['acme'] = await create(d.q, 'Account', { name: 'Acme', industry: 'finance', annualRevenue: 500 });
      id['tech'] = await create(d.q, 'Account', { name: 'Techno', industry: 'technology', annualRevenue: 50 });
      id['empty'] = await create(d.q, 'Account', { name: 'Empty', industry: 'finance' });
      id['ann'] = await create(d.q, 'Contact', { lastName: 'Ann', accountId: id['acme'] });
      id['amy'] = await create(d.q, 'Contact', { lastName: 'Amy', accountId: id['acme'] });
      id['bob'] = await create(d.q, 'Contact', { lastName: 'Bob', accountId: id['tech'] });
      id['big'] = await create(d.q, 'Opportunity', { name: 'Big deal', accountId: id['acme'], primaryContactId: id['ann'], amount: 1000 });
      id['small'] = await create(d.q, 'Opportunity', { name: 'Small deal', accountId: id['tech'], primaryContactId: id['bob'], amount: 10 });
      id['mine'] = await create(d.m, 'Account', { name: 'Mine', industry: 'finance' });
      id['cid'] = await create(d.m, 'Contact', { lastName: 'Cid', accountId: id['mine'] });
      id['own'] = await create(d.m, 'Opportunity', { name: 'Own deal', accountId: id['mine'], primaryContactId: id['cid'], amount: 5 });
      // The member may read the big deal (a manual share) but not its account or contact.
      await d.q('mutation($i: ShareRecordInput!) { shareRecord(input: $i) { id } }', {
        i: { object: 'opportunity', recordId: id['big'], sharedWithType: 'USER', sharedWith: d.memberId, accessLevel: 'READ' },
      });
    }, 240_000);
    afterAll(() => d?.rig.close());

    const names = (r: { nodes: { name?: string; lastName?: string }[] }) => r.nodes.map((n) => n.name ?? n.lastName).sort();
    /** The same list on the compiled path (nodes) and the general path (edges): both answers must agree. */
    async function both(ask: DataRig['q'], list: string, where: Record<string, unknown>, type: string): Promise<string[]> {
      const field = list === 'contacts' ? 'lastName' : 'name';
      const r = await ask<Record<string, { nodes: Record<string, string>[]; edges: { node: Record<string, string> }[] }>>(
        `query($w: ${type}Where) { a: ${list}(where: $w) { nodes { ${field} } } b: ${list}(where: $w) { edges { cursor node { ${field} } } } }`, { w: where });
      const compiled = r['a']!.nodes.map((n) => n[field]!).sort();
      const general = r['b']!.edges.map((e) => e.node[field]!).sort();
      expect(general).toEqual(compiled);
      return compiled;
    }

    it('through a lookup, and through a lookup of a lookup (`primaryContact: { account: { industry } }`)', async () => {
      expect(await both(d.q, 'contacts', { account: { industry: { eq: 'finance' } } }, 'Contact')).toEqual(['Amy', 'Ann', 'Cid']);
      expect(await both(d.q, 'opportunities', { primaryContact: { account: { industry: { eq: 'finance' } } } }, 'Opportunity')).toEqual(['Big deal', 'Own deal']);
      expect(await both(d.q, 'opportunities', { account: { name: { startsWith: 'Tech' } }, amount: { lt: 100 } }, 'Opportunity')).toEqual(['Small deal']);
      // Combined with and/or/not, like any other key.
      expect(await both(d.q, 'opportunities', { not: { account: { industry: { eq: 'finance' } } } }, 'Opportunity')).toEqual(['Small deal']);
      expect(await both(d.q, 'contacts', { or: [{ account: { name: { eq: 'Techno' } } }, { lastName: { eq: 'Cid' } }] }, 'Contact')).toEqual(['Bob', 'Cid']);
    });

    it('over children: some, none and every (every holds for a parent without children)', async () => {
      expect(await both(d.q, 'accounts', { contacts: { some: { lastName: { startsWith: 'A' } } } }, 'Account')).toEqual(['Acme']);
      expect(await both(d.q, 'accounts', { contacts: { none: { lastName: { startsWith: 'A' } } } }, 'Account')).toEqual(['Empty', 'Mine', 'Techno']);
      expect(await both(d.q, 'accounts', { contacts: { every: { lastName: { startsWith: 'A' } } } }, 'Account')).toEqual(['Acme', 'Empty']);
      expect(await both(d.q, 'accounts', { contacts: { some: {} } }, 'Account')).toEqual(['Acme', 'Mine', 'Techno']);
      // Children of children: accounts with an opportunity whose primary contact is Bob.
      expect(await both(d.q, 'accounts', { opportunities: { some: { primaryContact: { lastName: { eq: 'Bob' } } } } }, 'Account')).toEqual(['Techno']);
      // A null in a child field fails `every` (unknown is not a match).
      expect(await both(d.q, 'accounts', { opportunities: { every: { closeDate: { isNull: false } } } }, 'Account')).toEqual(['Empty']);
    });

    it('row security applies inside the relationship: a related record the member cannot read never matches', async () => {
      // The member reads the shared big deal, but its account (Acme) is hidden from them.
      expect(await both(d.m, 'opportunities', {}, 'Opportunity')).toEqual(['Big deal', 'Own deal']);
      expect(await both(d.m, 'opportunities', { account: { name: { eq: 'Acme' } } }, 'Opportunity')).toEqual([]);
      expect(await both(d.m, 'opportunities', { account: { industry: { eq: 'finance' } } }, 'Opportunity')).toEqual(['Own deal']);
      expect(await both(d.m, 'contacts', { account: { industry: { eq: 'finance' } } }, 'Contact')).toEqual(['Cid']);
      // Children the member cannot read do not count for some, none or every.
      expect(await both(d.m, 'accounts', { opportunities: { some: {} } }, 'Account')).toEqual(['Mine']);
      expect(await both(d.m, 'accounts', { opportunities: { every: { amount: { lt: 6 } } } }, 'Account')).toEqual(['Mine']);
      // The owner, who reads everything, sees the difference.
      expect(await both(d.q, 'opportunities', { account: { name: { eq: 'Acme' } } }, 'Opportunity')).toEqual(['Big deal']);
    });

    it('a related field the member cannot read cannot be filtered on, literally or through variables; nothing is answered', async () => {
      const literal = await d.member('{ contacts(where: { account: { annualRevenue: { gt: 100 } } }) { nodes { lastName } } }');
      expect(literal.data ?? null).toBeNull();
      expect(literal.errors?.[0]?.extensions?.['code']).toBe('FORBIDDEN');
      expect(literal.errors?.[0]?.message).toContain('Account.annualRevenue');
      const viaVariables = await d.member('query($w: ContactWhere) { contacts(where: $w) { nodes { lastName } } }', { w: { account: { annualRevenue: { gt: 100 } } } });
      expect(viaVariables.errors?.[0]?.extensions?.['code']).toBe('FORBIDDEN');
      expect(viaVariables.errors?.[0]?.message).toContain('Account.annualRevenue');
      const deeper = await d.member('query($w: OpportunityWhere) { opportunities(where: $w) { nodes { name } } }', { w: { primaryContact: { account: { annualRevenue: { gt: 1 } } } } });
      expect(deeper.errors?.[0]?.message).toContain('Account.annualRevenue');
      // The owner may.
      expect(await both(d.q, 'contacts', { account: { annualRevenue: { gt: 100 } } }, 'Contact')).toEqual(['Amy', 'Ann']);
    });

    it('an unknown path or quantifier is refused, naming it', async () => {
      const unknownField = await d.owner('query($w: ContactWhere) { contacts(where: $w) { nodes { lastName } } }', { w: { account: { nope: { eq: 1 } } } });
      expect(unknownField.errors?.[0]?.message).toMatch(/nope/);
      const unknownQuantifier = await d.owner('query($w: AccountWhere) { accounts(where: $w) { nodes { name } } }', { w: { contacts: { any: {} } } });
      expect(unknownQuantifier.errors?.[0]?.message).toMatch(/any/);
      const literal = await d.owner('{ accounts(where: { contacts: { most: {} } }) { nodes { name } } }');
      expect(literal.errors?.[0]?.message).toMatch(/most/);
      const unknownOperator = await d.owner('query($w: ContactWhere) { contacts(where: $w) { nodes { lastName } } }', { w: { account: { name: { like: 'A%' } } } });
      expect(unknownOperator.errors?.[0]?.message).toMatch(/like/);
    });

    it('children lists and totalCount take relationship filters too', async () => {
      const r = await d.q<{ account: { contacts: { lastName: string }[] }; contacts: { totalCount: number } }>(
        `query($id: ID!) { account(id: $id) { contacts(where: { account: { industry: { eq: finance } } }) { lastName } }
          contacts(where: { account: { industry: { eq: finance } } }) { totalCount } }`, { id: id['acme'] });
      expect(r.account.contacts.map((c) => c.lastName).sort()).toEqual(['Amy', 'Ann']);
      expect(r.contacts.totalCount).toBe(3);
    });
  });
}
