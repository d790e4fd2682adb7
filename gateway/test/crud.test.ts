import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { engines, signedFetch } from '@objectos/testkit';
import { startStack, type Stack } from './stack.ts';

interface Account { id: string; name: string; [k: string]: unknown }

describe.each(engines())('CRUD and relationships through the gateway on $name', (engine) => {
  let s: Stack;
  beforeAll(async () => {
    s = await startStack(engine);
  });
  afterAll(() => s?.close());

  const createAccount = async (input: Record<string, unknown>) =>
    (await s.query<{ createAccount: Account }>('mutation($i: AccountCreateInput!) { createAccount(input: $i) { id name } }', { i: input })).createAccount;

  it('creates a record with every field type and reads it back unchanged', async () => {
    const input = {
      name: 'Round Trip Ltd', industry: 'finance', website: 'https://rt.example.com', phone: '+44 20 7946 0000',
      annualRevenue: 1234567.89, employees: 42, rating: 87.5, active: false, foundedOn: '1999-12-31',
      tags: ['key_account', 'strategic'], billingAddress: { city: 'London', lines: ['1 Road'] }, description: 'multi\nline',
    };
    const { createAccount: created } = await s.query<{ createAccount: Record<string, unknown> }>(
      `mutation($i: AccountCreateInput!) { createAccount(input: $i) {
        id name industry type website phone annualRevenue employees rating active foundedOn tags billingAddress description accountNumber createdAt updatedAt } }`,
      { i: input },
    );
    expect(created).toMatchObject({ ...input, type: 'prospect' });
    expect(created['accountNumber']).toMatch(/^ACC-\d{5}$/);
    expect(new Date(created['createdAt'] as string).getTime()).toBeGreaterThan(Date.now() - 60_000);
    const { account } = await s.query<{ account: Record<string, unknown> }>(
      `query($id: ID!) { account(id: $id) { name industry annualRevenue tags billingAddress foundedOn accountNumber } }`,
      { id: created['id'] },
    );
    expect(account).toMatchObject({ name: input.name, annualRevenue: input.annualRevenue, tags: input.tags, billingAddress: input.billingAddress, foundedOn: '1999-12-31', accountNumber: created['accountNumber'] });
  });

  it('fills datetime defaults of "now", and stores time and datetime values', async () => {
    const { createCase: c } = await s.query<{ createCase: { openedAt: string; closedAt: string; status: string; caseNumber: string } }>(
      'mutation { createCase(input: { subject: "Printer on fire", closedAt: "2026-01-02T03:04:05.678+01:00" }) { openedAt closedAt status caseNumber } }',
    );
    expect(Date.parse(c.openedAt)).toBeGreaterThan(Date.now() - 60_000);
    expect(c.closedAt).toBe('2026-01-02T02:04:05.678Z');
    expect(c).toMatchObject({ status: 'new' });
    expect(c.caseNumber).toMatch(/^CASE-\d{4}$/);
    const { createTask: t } = await s.query<{ createTask: { reminderTime: string } }>('mutation { createTask(input: { subject: "Call", reminderTime: "09:30" }) { reminderTime } }');
    expect(t.reminderTime).toBe('09:30:00');
  });

  it('updates only the given fields and moves updatedAt', async () => {
    const a = await createAccount({ name: 'Before', industry: 'retail', employees: 5 });
    const before = (await s.query<{ account: { updatedAt: string; createdAt: string } }>('query($id: ID!) { account(id: $id) { createdAt updatedAt } }', { id: a.id })).account;
    await new Promise((r) => setTimeout(r, 5));
    const { updateAccount: u } = await s.query<{ updateAccount: Record<string, unknown> }>(
      'mutation($id: ID!) { updateAccount(id: $id, input: { name: "After", employees: null }) { name industry employees createdAt updatedAt } }',
      { id: a.id },
    );
    expect(u).toMatchObject({ name: 'After', industry: 'retail', employees: null, createdAt: before.createdAt });
    expect(Date.parse(u['updatedAt'] as string)).toBeGreaterThan(Date.parse(before.updatedAt));
  });

  it('deletes a record, returning it as it was', async () => {
    const a = await createAccount({ name: 'Doomed' });
    const { deleteAccount } = await s.query<{ deleteAccount: Account }>('mutation($id: ID!) { deleteAccount(id: $id) { id name } }', { id: a.id });
    expect(deleteAccount).toEqual(a);
    expect((await s.query<{ account: null }>('query($id: ID!) { account(id: $id) { id } }', { id: a.id })).account).toBeNull();
  });

  describe('lists', () => {
    const names: string[] = [];
    beforeAll(async () => {
      const rows = [
        { name: 'Alpha Filter', industry: 'technology', employees: 10, annualRevenue: 100, active: true, foundedOn: '2001-01-01', tags: ['strategic'], billingAddress: { city: 'Paris' } },
        { name: 'Beta Filter', industry: 'finance', employees: 20, annualRevenue: 200, active: false, foundedOn: '2002-02-02', tags: ['strategic', 'at_risk'] },
        { name: 'Gamma Filter', industry: 'technology', employees: 30, active: true, foundedOn: '2003-03-03', tags: [] },
        { name: 'Delta 50%_off Filter', employees: 40, annualRevenue: 400, billingAddress: { city: 'Rome' } },
        { name: 'Epsilon Filter', industry: 'retail', annualRevenue: 500, foundedOn: '2005-05-05' },
      ];
      for (const r of rows) names.push((await createAccount(r)).name);
    });

    const filtered = async (where: Record<string, unknown>, orderBy: unknown = [{ field: 'NAME' }]) =>
      (await s.query<{ accounts: { totalCount: number; nodes: { name: string }[] } }>(
        'query($w: AccountWhere, $o: [AccountOrderBy!]) { accounts(where: $w, orderBy: $o, first: 100) { totalCount nodes { name } } }',
        { w: { and: [{ name: { endsWith: 'filter' } }, where] }, o: orderBy },
      )).accounts;

    it.each([
      ['eq', { industry: { eq: 'technology' } }, ['Alpha Filter', 'Gamma Filter']],
      ['ne keeps nulls', { industry: { ne: 'technology' } }, ['Beta Filter', 'Delta 50%_off Filter', 'Epsilon Filter']],
      ['in', { industry: { in: ['finance', 'retail'] } }, ['Beta Filter', 'Epsilon Filter']],
      ['nin keeps nulls', { industry: { nin: ['technology'] } }, ['Beta Filter', 'Delta 50%_off Filter', 'Epsilon Filter']],
      ['isNull', { industry: { isNull: true } }, ['Delta 50%_off Filter']],
      ['gt/lte on numbers', { employees: { gt: 10, lte: 30 } }, ['Beta Filter', 'Gamma Filter']],
      ['between', { employees: { between: [35, 45] } }, ['Delta 50%_off Filter']],
      ['between on currency', { annualRevenue: { between: [150, 450] } }, ['Beta Filter', 'Delta 50%_off Filter']],
      ['date range', { foundedOn: { gte: '2002-01-01', lt: '2005-01-01' } }, ['Beta Filter', 'Gamma Filter']],
      ['boolean', { active: { eq: false } }, ['Beta Filter']],
      ['contains is case-insensitive', { name: { contains: 'ALPHA' } }, ['Alpha Filter']],
      ['startsWith', { name: { startsWith: 'gam' } }, ['Gamma Filter']],
      ['like wildcards are literal', { name: { contains: 'a%F' } }, []],
      ['multiselect hasAll', { tags: { hasAll: ['strategic', 'at_risk'] } }, ['Beta Filter']],
      ['multiselect hasAny', { tags: { hasAny: ['strategic'] } }, ['Alpha Filter', 'Beta Filter']],
      ['multiselect isEmpty (empty or missing)', { tags: { isEmpty: true } }, ['Delta 50%_off Filter', 'Epsilon Filter', 'Gamma Filter']],
      ['json contains', { billingAddress: { contains: { city: 'Rome' } } }, ['Delta 50%_off Filter']],
      ['or', { or: [{ employees: { eq: 10 } }, { annualRevenue: { eq: 500 } }] }, ['Alpha Filter', 'Epsilon Filter']],
      ['not (SQL semantics: null is not "not technology")', { not: { industry: { eq: 'technology' } } }, ['Beta Filter', 'Epsilon Filter']],
      ['id in with a malformed id matches nothing extra', { id: { in: ['not-a-uuid'] } }, []],
    ])('where %s', async (_name, where, expected) => {
      const r = await filtered(where);
      expect(r.nodes.map((n) => n.name).sort()).toEqual([...expected].sort());
      expect(r.totalCount).toBe(expected.length);
    });

    it('escapes like wildcards but matches literal % and _', async () => {
      expect((await filtered({ name: { contains: '50%_off' } })).nodes.map((n) => n.name)).toEqual(['Delta 50%_off Filter']);
      expect((await filtered({ name: { contains: '5_%' } })).nodes).toEqual([]);
    });

    it('json contains and hasKey', async () => {
      const r = await filtered({ billingAddress: { contains: { city: 'Paris' } } });
      expect(r.nodes.map((n) => n.name)).toEqual(['Alpha Filter']);
      expect((await filtered({ billingAddress: { hasKey: 'city' } })).totalCount).toBe(2);
    });

    it('orders by several keys, nulls last ascending and first descending', async () => {
      const asc = await filtered({}, [{ field: 'INDUSTRY', direction: 'ASC' }, { field: 'NAME', direction: 'DESC' }]);
      expect(asc.nodes.map((n) => n.name)).toEqual(['Beta Filter', 'Epsilon Filter', 'Gamma Filter', 'Alpha Filter', 'Delta 50%_off Filter']);
      const desc = await filtered({}, [{ field: 'ANNUAL_REVENUE', direction: 'DESC' }]);
      expect(desc.nodes.map((n) => n.name)).toEqual(['Gamma Filter', 'Epsilon Filter', 'Delta 50%_off Filter', 'Beta Filter', 'Alpha Filter']);
    });

    it('pages forward and backward with cursors, over null sort keys too, matching one big page', async () => {
      const orderBy = [{ field: 'INDUSTRY', direction: 'DESC' }, { field: 'ANNUAL_REVENUE' }];
      const all = (await filtered({}, orderBy)).nodes.map((n) => n.name);
      type Page = { accounts: { nodes: { name: string }[]; pageInfo: { hasNextPage: boolean; hasPreviousPage: boolean; endCursor: string; startCursor: string } } };
      const where = { name: { endsWith: 'filter' } };
      const forward: string[] = [];
      let after: string | null = null;
      for (let i = 0; i < 10; i++) {
        const p: Page = await s.query<Page>('query($w: AccountWhere, $o: [AccountOrderBy!], $a: String) { accounts(where: $w, orderBy: $o, first: 2, after: $a) { nodes { name } pageInfo { hasNextPage hasPreviousPage endCursor startCursor } } }', { w: where, o: orderBy, a: after });
        forward.push(...p.accounts.nodes.map((n) => n.name));
        expect(p.accounts.pageInfo.hasPreviousPage).toBe(after !== null);
        if (!p.accounts.pageInfo.hasNextPage) break;
        after = p.accounts.pageInfo.endCursor;
      }
      expect(forward).toEqual(all);
      const backward: string[] = [];
      let before: string | null = null;
      for (let i = 0; i < 10; i++) {
        const p: Page = await s.query<Page>('query($w: AccountWhere, $o: [AccountOrderBy!], $b: String) { accounts(where: $w, orderBy: $o, last: 2, before: $b) { nodes { name } pageInfo { hasNextPage hasPreviousPage endCursor startCursor } } }', { w: where, o: orderBy, b: before });
        backward.unshift(...p.accounts.nodes.map((n) => n.name));
        if (!p.accounts.pageInfo.hasPreviousPage) break;
        before = p.accounts.pageInfo.startCursor;
      }
      expect(backward).toEqual(all);
    });

    it('pages with offset and reports the total regardless of the page', async () => {
      const r = (await s.query<{ accounts: { totalCount: number; nodes: { name: string }[]; pageInfo: { hasNextPage: boolean; hasPreviousPage: boolean } } }>(
        '{ accounts(where: { name: { endsWith: "filter" } }, orderBy: [{ field: NAME }], first: 2, offset: 2) { totalCount nodes { name } pageInfo { hasNextPage hasPreviousPage } } }',
      )).accounts;
      expect(r.totalCount).toBe(5);
      expect(r.nodes.map((n) => n.name)).toEqual(['Delta 50%_off Filter', 'Epsilon Filter']);
      expect(r.pageInfo).toEqual({ hasNextPage: true, hasPreviousPage: true });
    });
  });

  describe('relationships', () => {
    let parent: Account;
    beforeAll(async () => {
      parent = await createAccount({ name: 'Parent Co' });
      for (const [last, title] of [['Zed', 'CEO'], ['Adams', 'CTO'], ['Moss', null]] as const)
        await s.query('mutation($i: ContactCreateInput!) { createContact(input: $i) { id } }', { i: { lastName: last, title, accountId: parent.id } });
    });

    it('resolves a lookup to its record and lists children both ways, with where, orderBy, limit and offset', async () => {
      const r = await s.query<{ account: { contacts: { lastName: string; account: { name: string } }[]; first: { lastName: string }[]; titled: { lastName: string }[] } }>(
        `query($id: ID!) { account(id: $id) {
          contacts(orderBy: [{ field: LAST_NAME }]) { lastName account { name } }
          first: contacts(orderBy: [{ field: LAST_NAME, direction: DESC }], limit: 1, offset: 1) { lastName }
          titled: contacts(where: { title: { isNull: false } }) { lastName }
        } }`,
        { id: parent.id },
      );
      expect(r.account.contacts.map((c) => c.lastName)).toEqual(['Adams', 'Moss', 'Zed']);
      expect(r.account.contacts.every((c) => c.account.name === 'Parent Co')).toBe(true);
      expect(r.account.first.map((c) => c.lastName)).toEqual(['Moss']);
      expect(r.account.titled.map((c) => c.lastName).sort()).toEqual(['Adams', 'Zed']);
    });

    it('filters children per parent when many parents share one batched query', async () => {
      const other = await createAccount({ name: 'Other Parent Co' });
      await s.query('mutation($i: ContactCreateInput!) { createContact(input: $i) { id } }', { i: { lastName: 'Solo', accountId: other.id } });
      const r = await s.query<{ accounts: { nodes: { name: string; contacts: { lastName: string }[] }[] } }>(
        '{ accounts(where: { name: { in: ["Parent Co", "Other Parent Co"] } }, orderBy: [{ field: NAME }]) { nodes { name contacts(orderBy: [{ field: LAST_NAME }], limit: 2) { lastName } } } }',
      );
      expect(r.accounts.nodes).toEqual([
        { name: 'Other Parent Co', contacts: [{ lastName: 'Solo' }] },
        { name: 'Parent Co', contacts: [{ lastName: 'Adams' }, { lastName: 'Moss' }] },
      ]);
    });

    it('cascades a master-detail delete, sets lookups to null, and refuses a restricted delete', async () => {
      const acc = await createAccount({ name: 'Cascade Co' });
      const { createContact: c } = await s.query<{ createContact: { id: string } }>('mutation($a: ID!) { createContact(input: { lastName: "Kid", accountId: $a }) { id } }', { a: acc.id });
      const { createCase: k } = await s.query<{ createCase: { id: string } }>('mutation($a: ID!) { createCase(input: { subject: "Linked", accountId: $a }) { id } }', { a: acc.id });
      const { createOpportunity: o } = await s.query<{ createOpportunity: { id: string } }>('mutation($a: ID!) { createOpportunity(input: { name: "Deal", accountId: $a }) { id } }', { a: acc.id });
      const refused = await s.raw(s.gateway.fetch, 'mutation($id: ID!) { deleteAccount(id: $id) { id } }', { id: acc.id });
      expect(refused.errors?.[0]?.extensions?.['code']).toBe('CONFLICT');
      expect(refused.errors?.[0]?.message).toMatch(/Opportunities still refer to it through account \(deleteBehavior restrict\)/);
      expect((await s.query<{ contact: { id: string } | null }>('query($id: ID!) { contact(id: $id) { id } }', { id: c.id })).contact).not.toBeNull();
      await s.query('mutation($id: ID!) { deleteOpportunity(id: $id) { id } }', { id: o.id });
      await s.query('mutation($id: ID!) { deleteAccount(id: $id) { id } }', { id: acc.id });
      expect((await s.query<{ contact: null }>('query($id: ID!) { contact(id: $id) { id } }', { id: c.id })).contact).toBeNull();
      // The account is in the trash (enable.trash): the case keeps its reference, which reads as empty until a purge clears it.
      const linked = async () => (await s.query<{ case: { accountId: string | null; account: { id: string } | null } }>('query($id: ID!) { case(id: $id) { accountId account { id } } }', { id: k.id })).case;
      expect(await linked()).toEqual({ accountId: acc.id, account: null });
      // The opportunity in the trash still holds the account (restrict): it is purged first.
      const held = await s.raw(s.gateway.fetch, 'mutation($id: ID!) { purgeAccount(id: $id) { id } }', { id: acc.id });
      expect(held.errors?.[0]?.extensions?.['code']).toBe('CONFLICT');
      expect(held.errors?.[0]?.message).toMatch(/Opportunities still refer to it through account \(deleteBehavior restrict\)/);
      await s.query('mutation($id: ID!) { purgeOpportunity(id: $id) { id } }', { id: o.id });
      await s.query('mutation($id: ID!) { purgeAccount(id: $id) { id } }', { id: acc.id });
      expect(await linked()).toEqual({ accountId: null, account: null });
    });

    it('resolves _entities references, and null for unknown or malformed ids', async () => {
      const r = await signedFetch(s.data.fetch)(new Request('http://data.test/graphql', {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({
          query: 'query($r: [_Any!]!) { _entities(representations: $r) { ... on Account { name } } }',
          variables: { r: [{ __typename: 'Account', id: parent.id }, { __typename: 'Account', id: '00000000-0000-4000-8000-000000000000' }, { __typename: 'Account', id: 'x' }] },
        }),
      }));
      expect(((await r.json()) as { data: unknown }).data).toEqual({ _entities: [{ name: 'Parent Co' }, null, null] });
    });
  });

  it('lists 50 accounts with their contacts in a constant number of SQL statements', async () => {
    const ids: string[] = [];
    for (let batch = 0; batch < 5; batch++) {
      const m = Array.from({ length: 10 }, (_, i) => `a${i}: createAccount(input: { name: "Batch ${batch}-${i} N+1" }) { id }`).join('\n');
      const r = await s.query<Record<string, { id: string }>>(`mutation { ${m} }`);
      ids.push(...Object.values(r).map((x) => x.id));
    }
    for (const [i, id] of ids.entries())
      await s.query('mutation($a: ID!, $n: String!) { x: createContact(input: { lastName: $n, accountId: $a }) { id } y: createContact(input: { lastName: "Second", accountId: $a }) { id } }', { a: id, n: `C${i}` });
    const run = async (first: number) => {
      await s.data.relay.drain(); // the writes' change events are published in the background
      s.statements.length = 0;
      const r = await s.query<{ accounts: { nodes: { contacts: { lastName: string; account: { name: string } }[] }[] } }>(
        `{ accounts(first: ${first}, where: { name: { endsWith: "N+1" } }) { totalCount nodes { name contacts { lastName account { name } } } } }`,
      );
      return { count: s.statements.length, rows: r.accounts.nodes };
    };
    const fifty = await run(50);
    expect(fifty.rows).toHaveLength(50);
    expect(fifty.rows.every((a) => a.contacts.length === 2)).toBe(true);
    const five = await run(5);
    // Compiled: page, totalCount, contacts and their accounts in one statement, whatever the page size
    // (the general path's bound, one statement per selection level, is asserted in single-hop.test.ts).
    expect(fifty.count).toBe(five.count);
    expect(fifty.count).toBe(1);
  });
});
