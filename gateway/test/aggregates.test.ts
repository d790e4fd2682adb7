import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { create, dataEngines, startDataRig, type DataRig } from './data-depth-kit.ts';

interface Group { key: Record<string, unknown> & { account?: { name: string } | null }; count: number; sum?: { amount: number | null } }
type Groups = { opportunities: { groupedAggregates: Group[] } };

/**
 * Aggregates (#19 point 3): count, countDistinct, sum, avg, min, max; groupBy a field, a lookup, or a
 * date truncated to day/week/month/year; having; aggregates of children. Hidden rows never count, hidden
 * fields cannot be aggregated, grouped or used in having, and bad input is refused, naming it.
 */
for (const engine of dataEngines) {
  describe(`aggregates (${engine})`, () => {
    let d: DataRig;
    const id: Record<string, string> = {};
    beforeAll(async () => {
      d = await startDataRig(engine, 'aggregates');
      id['acme'] = await create(d.q, 'Account', { name: 'Acme', industry: 'finance', annualRevenue: 1000 });
      id['tech'] = await create(d.q, 'Account', { name: 'Techno', industry: 'technology', annualRevenue: 10 });
      id['a1'] = await create(d.q, 'Opportunity', { name: 'A1', accountId: id['acme'], amount: 100, closeDate: '2026-01-15', stage: 'prospecting' });
      id['a2'] = await create(d.q, 'Opportunity', { name: 'A2', accountId: id['acme'], amount: 300, closeDate: '2026-02-10', stage: 'closed_won' });
      id['t1'] = await create(d.q, 'Opportunity', { name: 'T1', accountId: id['tech'], amount: 50, closeDate: '2026-01-20', stage: 'prospecting' });
      id['t2'] = await create(d.q, 'Opportunity', { name: 'T2', accountId: id['tech'], stage: 'prospecting' });
      id['mine'] = await create(d.m, 'Account', { name: 'Mine', industry: 'finance' });
      id['m1'] = await create(d.m, 'Opportunity', { name: 'M1', accountId: id['mine'], amount: 7, closeDate: '2026-01-03', stage: 'prospecting' });
      // The member also reads A2 (shared), never its account.
      await d.q('mutation($i: ShareRecordInput!) { shareRecord(input: $i) { id } }', {
        i: { object: 'opportunity', recordId: id['a2'], sharedWithType: 'USER', sharedWith: d.memberId, accessLevel: 'READ' },
      });
    }, 240_000);
    afterAll(() => d?.rig.close());

    it('count, countDistinct, sum, avg, min and max over the records matching where', async () => {
      const r = await d.q<{ opportunities: { aggregates: Record<string, unknown> } }>(`{ opportunities { aggregates {
        count countDistinct { stage accountId amount } sum { amount } avg { amount } min { amount closeDate } max { amount closeDate } } } }`);
      expect(r.opportunities.aggregates).toEqual({
        count: 5, countDistinct: { stage: 2, accountId: 3, amount: 4 }, sum: { amount: 457 }, avg: { amount: 114.25 },
        min: { amount: 7, closeDate: '2026-01-03' }, max: { amount: 300, closeDate: '2026-02-10' },
      });
      const finance = await d.q<{ opportunities: { aggregates: { count: number; sum: { amount: number } } } }>(
        '{ opportunities(where: { account: { industry: { eq: finance } } }) { aggregates { count sum { amount } } } }');
      expect(finance.opportunities.aggregates).toEqual({ count: 3, sum: { amount: 407 } });
      // Nothing matches: count 0, the rest null.
      const none = await d.q<{ opportunities: { aggregates: unknown } }>('{ opportunities(where: { amount: { gt: 99999 } }) { aggregates { count sum { amount } max { closeDate } } } }');
      expect(none.opportunities.aggregates).toEqual({ count: 0, sum: { amount: null }, max: { closeDate: null } });
      // Date-times come back as DateTime.
      const times = await d.q<{ opportunities: { aggregates: { min: { createdAt: string } } } }>('{ opportunities { aggregates { min { createdAt } } } }');
      expect(Date.now() - Date.parse(times.opportunities.aggregates.min.createdAt)).toBeLessThan(600_000);
    });

    it('hidden rows never count: the member aggregates only what they can read', async () => {
      const r = await d.m<{ opportunities: { aggregates: unknown; groupedAggregates: Group[] } }>(`{ opportunities {
        aggregates { count sum { amount } max { amount } } groupedAggregates(groupBy: [{ field: ACCOUNT }]) { key { accountId account { name } } count } } }`);
      expect(r.opportunities.aggregates).toEqual({ count: 2, sum: { amount: 307 }, max: { amount: 300 } });
      // The shared deal's account is not the member's to read: its group shows the id but not the account.
      const byAccount = Object.fromEntries(r.opportunities.groupedAggregates.map((g) => [g.key['accountId'], g]));
      expect(byAccount[id['mine']!]).toEqual({ key: { accountId: id['mine'], account: { name: 'Mine' } }, count: 1 });
      expect(byAccount[id['acme']!]).toEqual({ key: { accountId: id['acme'], account: null }, count: 1 });
      const accounts = await d.m<{ accounts: { aggregates: { count: number } } }>('{ accounts { aggregates { count } } }');
      expect(accounts.accounts.aggregates.count).toBe(1);
    });

    it('groupBy a lookup (with the related record), a select, and having', async () => {
      const r = await d.q<Groups>('{ opportunities { groupedAggregates(groupBy: [{ field: ACCOUNT }]) { key { account { name } } count sum { amount } } } }');
      const named = r.opportunities.groupedAggregates.map((g) => [g.key.account?.name, g.count, g.sum?.amount]).sort();
      expect(named).toEqual([['Acme', 2, 400], ['Mine', 1, 7], ['Techno', 2, 50]]);
      const stage = await d.q<Groups>('{ opportunities { groupedAggregates(groupBy: [{ field: STAGE }]) { key { stage } count } } }');
      expect(stage.opportunities.groupedAggregates).toEqual([{ key: { stage: 'closed_won' }, count: 1 }, { key: { stage: 'prospecting' }, count: 4 }]);
      const big = await d.q<Groups>('{ opportunities { groupedAggregates(groupBy: [{ field: ACCOUNT }], having: { sum: { amount: { gt: 100 } } }) { key { account { name } } sum { amount } } } }');
      expect(big.opportunities.groupedAggregates.map((g) => g.key.account?.name)).toEqual(['Acme']);
      const pairs = await d.q<Groups>(`{ opportunities { groupedAggregates(groupBy: [{ field: ACCOUNT }], having: { or: [{ count: { gte: 2 }, min: { amount: { lt: 60 } } }, { max: { closeDate: { gte: "2026-02-01" } } }] }) {
        key { account { name } } count } } }`);
      expect(pairs.opportunities.groupedAggregates.map((g) => g.key.account?.name).sort()).toEqual(['Acme', 'Techno']);
      const limited = await d.q<Groups>('{ opportunities { groupedAggregates(groupBy: [{ field: STAGE }], limit: 1) { key { stage } } } }');
      expect(limited.opportunities.groupedAggregates).toHaveLength(1);
    });

    it('groupBy a date truncated to day, week, month and year, and a date-time (in UTC); nulls last', async () => {
      const by = async (truncate: string) => (await d.q<Groups>(`{ opportunities { groupedAggregates(groupBy: [{ field: CLOSE_DATE, truncate: ${truncate} }]) { key { closeDate } count } } }`))
        .opportunities.groupedAggregates.map((g) => [g.key['closeDate'], g.count]);
      expect(await by('MONTH')).toEqual([['2026-01-01', 3], ['2026-02-01', 1], [null, 1]]);
      expect(await by('YEAR')).toEqual([['2026-01-01', 4], [null, 1]]);
      // 2026-01-15 and 2026-01-20 are in the weeks starting on Monday the 12th and the 19th.
      expect(await by('WEEK')).toEqual([['2025-12-29', 1], ['2026-01-12', 1], ['2026-01-19', 1], ['2026-02-09', 1], [null, 1]]);
      expect((await by('DAY'))[0]).toEqual(['2026-01-03', 1]);
      const created = await d.q<Groups>('{ opportunities { groupedAggregates(groupBy: [{ field: CREATED_AT, truncate: YEAR }, { field: STAGE }]) { key { createdAt stage } count } } }');
      const year = `${new Date().getUTCFullYear()}-01-01T00:00:00.000Z`;
      expect(created.opportunities.groupedAggregates).toEqual([
        { key: { createdAt: year, stage: 'closed_won' }, count: 1 }, { key: { createdAt: year, stage: 'prospecting' }, count: 4 },
      ]);
    });

    it('aggregates of children, per parent, under the same row security', async () => {
      const r = await d.q<{ accounts: { nodes: { name: string; opportunitiesAggregate: { count: number; sum: { amount: number | null } } }[] } }>(
        '{ accounts(orderBy: [{ field: NAME }]) { nodes { name opportunitiesAggregate { count sum { amount } } } } }');
      expect(r.accounts.nodes.map((n) => [n.name, n.opportunitiesAggregate.count, n.opportunitiesAggregate.sum.amount])).toEqual([['Acme', 2, 400], ['Mine', 1, 7], ['Techno', 2, 50]]);
      const filtered = await d.q<{ account: { opportunitiesAggregate: { count: number; avg: { amount: number } } } }>(
        'query($id: ID!) { account(id: $id) { opportunitiesAggregate(where: { stage: { eq: prospecting } }) { count avg { amount } } } }', { id: id['acme'] });
      expect(filtered.account.opportunitiesAggregate).toEqual({ count: 1, avg: { amount: 100 } });
      const member = await d.m<{ accounts: { nodes: { name: string; opportunitiesAggregate: { count: number } }[] } }>('{ accounts { nodes { name opportunitiesAggregate { count } } } }');
      expect(member.accounts.nodes).toEqual([{ name: 'Mine', opportunitiesAggregate: { count: 1 } }]);
    });

    it('a hidden field cannot be aggregated, grouped or used in having (literal or variables); nothing is answered', async () => {
      const cases: [string, Record<string, unknown>?][] = [
        ['{ accounts { aggregates { sum { annualRevenue } } } }'],
        ['{ accounts { aggregates { countDistinct { annualRevenue } } } }'],
        ['{ accounts { groupedAggregates(groupBy: [{ field: ANNUAL_REVENUE }]) { count } } }'],
        ['{ accounts { groupedAggregates(groupBy: [{ field: INDUSTRY }], having: { max: { annualRevenue: { gt: 1 } } }) { count } } }'],
        ['query($g: [AccountGroupBy!]!) { accounts { groupedAggregates(groupBy: $g) { count } } }', { g: [{ field: 'ANNUAL_REVENUE' }] }],
        ['query($h: AccountHaving) { accounts { groupedAggregates(groupBy: [{ field: INDUSTRY }], having: $h) { count } } }', { h: { sum: { annualRevenue: { gt: 1 } } } }],
      ];
      for (const [query, variables] of cases) {
        const r = await d.member(query, variables);
        expect(r.data ?? null, query).toBeNull();
        expect(r.errors?.[0]?.extensions?.['code'], query).toBe('FORBIDDEN');
        expect(r.errors?.[0]?.message, query).toContain('Account.annualRevenue');
      }
      // The owner may.
      const owner = await d.q<{ accounts: { aggregates: { sum: { annualRevenue: number } } } }>('{ accounts { aggregates { sum { annualRevenue } } } }');
      expect(owner.accounts.aggregates.sum.annualRevenue).toBe(1010);
    });

    it('bad input is refused, naming it: a field that cannot be grouped, truncating a non-date, grouping twice, no keys, bad limit', async () => {
      const refused = async (query: string, pattern: RegExp, variables?: Record<string, unknown>) => {
        const r = await d.owner(query, variables);
        expect(r.data?.['accounts'] ?? r.data?.['opportunities'] ?? null, query).toBeNull();
        expect(r.errors?.[0]?.message, query).toMatch(pattern);
      };
      await refused('{ accounts { groupedAggregates(groupBy: [{ field: DESCRIPTION }]) { count } } }', /DESCRIPTION/);
      await refused('query($g: [AccountGroupBy!]!) { accounts { groupedAggregates(groupBy: $g) { count } } }', /BILLING_ADDRESS/, { g: [{ field: 'BILLING_ADDRESS' }] });
      await refused('{ opportunities { groupedAggregates(groupBy: [{ field: STAGE, truncate: MONTH }]) { count } } }', /stage is not a date or date-time, so it cannot be truncated to MONTH/);
      await refused('{ opportunities { groupedAggregates(groupBy: [{ field: STAGE }, { field: STAGE }]) { count } } }', /stage is grouped by twice/);
      await refused('{ opportunities { groupedAggregates(groupBy: []) { count } } }', /at least one field/);
      await refused('{ opportunities { groupedAggregates(groupBy: [{ field: STAGE }], limit: -1) { count } } }', /limit must be between/);
      await refused('{ opportunities { aggregates { sum { name } } } }', /name/);
      await refused('{ opportunities { groupedAggregates(groupBy: [{ field: STAGE }], having: { sum: { stage: { gt: 1 } } }) { count } } }', /stage/);
    });
  });
}
