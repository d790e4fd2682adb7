import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { create, dataEngines, startDataRig, type DataRig } from './data-depth-kit.ts';

/** The demo profile, but the account description (a searchable field) hidden. */
const LIMITED = `name: limited_reader
label: Limited Reader
isProfile: true
objects:
  account: { allowRead: true, allowCreate: true, allowEdit: true }
  contact: { allowRead: true, allowCreate: true, allowEdit: true }
  opportunity: { allowRead: true, allowCreate: true, allowEdit: true }
fields:
  account.description: { readable: false }
`;

interface Hit { object: string; rank: number; record: { __typename: string; name?: string; lastName?: string } }
const label = (h: Hit) => `${h.object}:${h.record.name ?? h.record.lastName}`;

/**
 * Full-text search (#19 point 2): ranked, over each object's searchable fields (a generated tsvector
 * with a GIN index), per object (`accounts(search:)`) and across objects (`search(text, objects, first)`).
 * Only records and fields the user can read are searched and shown.
 */
for (const engine of dataEngines) {
  describe(`full-text search (${engine})`, () => {
    let d: DataRig;
    beforeAll(async () => {
      d = await startDataRig(engine, 'search', { extra: { 'security/limited_reader.permission.yaml': LIMITED }, memberSets: ['limited_reader'] });
      const zeta = await create(d.q, 'Account', { name: 'Zeta Acme', description: 'Makes anvils' });
      await create(d.q, 'Account', { name: 'Alpha', description: 'An Acme reseller in the north' });
      await create(d.q, 'Account', { name: 'Globex', description: 'Nothing to see' });
      await create(d.q, 'Contact', { lastName: 'Acmeson', firstName: 'Wile', accountId: zeta });
      await create(d.q, 'Opportunity', { name: 'Acme renewal deals', accountId: zeta, amount: 10 });
      // Shared with the member, who cannot read its description.
      const shared = await create(d.q, 'Account', { name: 'Member Acme Co', description: 'secret reseller notes' });
      await d.q('mutation($i: ShareRecordInput!) { shareRecord(input: $i) { id } }', {
        i: { object: 'account', recordId: shared, sharedWithType: 'USER', sharedWith: d.memberId, accessLevel: 'READ' },
      });
    }, 240_000);
    afterAll(() => d?.rig.close());

    const names = async (ask: DataRig['q'], query: string, variables: Record<string, unknown> = {}) =>
      (await ask<{ accounts: { nodes: { name: string }[] } }>(query, variables)).accounts.nodes.map((n) => n.name);

    it('per object: best matches first (the display name weighs most), every word a prefix, English stems', async () => {
      // The compiled path (nodes) and the general path (edges) answer alike.
      const compiled = await names(d.q, '{ accounts(search: "acme") { nodes { name } } }');
      const ranked = await d.q<{ accounts: { edges: { node: { name: string } }[] } }>('{ accounts(search: "acme") { edges { node { name } } } }');
      const order = ranked.accounts.edges.map((e) => e.node.name);
      expect(compiled).toEqual(order);
      // Name matches (weight A) rank above a description match (weight B).
      expect(order.slice(-1)).toEqual(['Alpha']);
      expect(order.slice(0, 2).sort()).toEqual(['Member Acme Co', 'Zeta Acme']);
      expect(await names(d.q, '{ accounts(search: "acm") { nodes { name } } }')).toHaveLength(3);
      expect(await names(d.q, '{ accounts(search: "zeta ACME!") { nodes { name } } }')).toEqual(['Zeta Acme']);
      expect(await names(d.q, '{ accounts(search: "acme", orderBy: [{ field: NAME }]) { nodes { name } } }')).toEqual(['Alpha', 'Member Acme Co', 'Zeta Acme']);
      expect(await names(d.q, '{ accounts(search: "acme", where: { name: { startsWith: "Z" } }) { nodes { name } } }')).toEqual(['Zeta Acme']);
      const deals = await d.q<{ opportunities: { nodes: { name: string }[] } }>('{ opportunities(search: "deal") { nodes { name } } }');
      expect(deals.opportunities.nodes.map((n) => n.name)).toEqual(['Acme renewal deals']);
      const counted = await d.q<{ accounts: { totalCount: number; aggregates: { count: number } } }>('{ accounts(search: "acme") { totalCount aggregates { count } } }');
      expect(counted.accounts).toEqual({ totalCount: 3, aggregates: { count: 3 } });
    });

    it('only records the user can read, and only by fields they can read', async () => {
      expect(await names(d.m, '{ accounts(search: "acme") { nodes { name } } }')).toEqual(['Member Acme Co']);
      // The owner finds the member's account by its description; the member, who cannot read it, cannot.
      expect(await names(d.q, '{ accounts(search: "secret") { nodes { name } } }')).toEqual(['Member Acme Co']);
      expect(await names(d.m, '{ accounts(search: "secret") { nodes { name } } }')).toEqual([]);
      expect(await names(d.m, '{ accounts(search: "member") { nodes { name } } }')).toEqual(['Member Acme Co']);
      const across = await d.m<{ search: Hit[] }>('{ search(text: "secret reseller") { object record { __typename ... on Account { name } } } }');
      expect(across.search).toEqual([]);
    });

    it('across objects: typed hits, best first, limited to the objects asked for and to first', async () => {
      const r = await d.q<{ search: Hit[] }>(`{ search(text: "acme") { object rank record { __typename ... on Account { name } ... on Contact { lastName } ... on Opportunity { name } } } }`);
      expect(r.search.map(label).sort()).toEqual(['account:Alpha', 'account:Member Acme Co', 'account:Zeta Acme', 'contact:Acmeson', 'opportunity:Acme renewal deals']);
      const ranks = r.search.map((h) => h.rank);
      expect(ranks).toEqual([...ranks].sort((a, b) => b - a));
      expect(r.search.every((h) => h.record.__typename === h.object[0]!.toUpperCase() + h.object.slice(1))).toBe(true);
      const contacts = await d.q<{ search: Hit[] }>('{ search(text: "acme", objects: ["contact"]) { object record { ... on Contact { lastName } } } }');
      expect(contacts.search.map(label)).toEqual(['contact:Acmeson']);
      const two = await d.q<{ search: Hit[] }>('{ search(text: "acme", first: 2) { object } }');
      expect(two.search).toHaveLength(2);
      // The member reads their own account and nothing else that matches.
      const member = await d.m<{ search: Hit[] }>('{ search(text: "acme") { object record { ... on Account { name } } } }');
      expect(member.search.map(label)).toEqual(['account:Member Acme Co']);
    });

    it('bad input is refused, naming it', async () => {
      const refused = async (query: string, pattern: RegExp) => {
        const r = await d.owner(query);
        expect(r.errors?.[0]?.message, query).toMatch(pattern);
        expect(r.data?.['accounts'] ?? r.data?.['search'] ?? null, query).toBeNull();
      };
      await refused('{ accounts(search: " !! ") { nodes { name } } }', /search: give at least one word/);
      await refused(`{ accounts(search: "${'a'.repeat(300)}") { nodes { name } } }`, /at most 256/);
      await refused('{ search(text: "acme", objects: ["nope"]) { object } }', /"nope" cannot be searched; searchable objects are account/);
      await refused('{ search(text: "acme", first: -1) { object } }', /first must be between/);
      await refused('{ accounts(search: "acme", first: 1, after: "x") { nodes { name } } }', /paged with first and offset/);
      const leave = await d.owner('{ leaveRequests(search: "x") { nodes { id } } }');
      expect(leave.errors?.[0]?.message).toMatch(/Unknown argument "search"/);
    });
  });
}
