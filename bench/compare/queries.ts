import { isDeepStrictEqual } from 'node:util';

/**
 * The three queries, in ObjectOS's form and PostGraphile v5's (Amber preset + connection filter), and
 * how each answer is brought to one canonical shape so the targets can be compared record by record.
 *
 * PostGraphile names: `allXxx { nodes }` lists, `xxxByRowId` single rows, `rowId` for the `id` column
 * (`id` is its global Node ID), `accountByAccountId` / `contactsByAccountId` / `casesByContactId` for
 * the foreign keys, NUMERIC as a string (BigFloat). ObjectOS's `contains` is ILIKE, so PostGraphile's
 * `includesInsensitive`. ObjectOS sorts by the requested fields then `id`; PostGraphile is given the
 * same order explicitly (`…, ROW_ID_ASC`).
 *
 * Nested lists carry limits (contacts 20, cases 10) because the gateway's cost limit (20,000) refuses
 * the unbounded three-level read (cost 21,051 with its default child-list size of 20). The bench data
 * never reaches them (checked), so the limits cut nothing; nested lists are unsorted in both forms and
 * compared as sets.
 */
export type QueryKey = 'list' | 'byId' | 'nested' | 'aggregate' | 'search';

export interface QuerySpec {
  key: QueryKey;
  title: string;
  objectos: string;
  postgraphile: string;
  /** Canonical records from each form's `data`. */
  fromObjectOS(data: unknown): unknown;
  fromPostGraphile(data: unknown): unknown;
  /** Sanity check of the canonical answer (the comparison must not be vacuous); a message if it fails. */
  check(canonical: unknown): string | null;
}

export const CONTACT_LIMIT = 20;
export const SEARCH_FIRST = 20;
export const CASE_LIMIT = 10;

interface Named { id: string; name: string }
interface ListRow { id: string; firstName: string | null; lastName: string; email: string | null; account: Named | null }
interface AccountRow { id: string; name: string; industry: string | null; annualRevenue: number | null; website: string | null; phone: string | null }
interface CaseRow { id: string; subject: string; status: string }
interface ContactRow { id: string; firstName: string | null; lastName: string; cases: CaseRow[] }
interface TreeRow { id: string; name: string; industry: string | null; contacts: ContactRow[] }

interface Total { accountId: string; count: number; sum: number | null }
interface OAggregate { opportunities: { groupedAggregates: { key: { accountId: string }; count: number; sum: { amount: number | null } }[] } }
interface PAggregate { benchOpportunityTotals: { nodes: { accountId: string; n: number; total: number | null }[] } }
interface Found { id: string; lastName: string }
interface OSearch { contacts: { nodes: Found[] } }
interface PSearch { benchSearchContacts: { nodes: { rowId: string; lastName: string }[] } }

// What each target answers (typed views of the JSON; a missing field fails the comparison loudly).
interface OList { contacts: { nodes: ListRow[] } }
interface PList { allContacts: { nodes: { rowId: string; firstName: string | null; lastName: string; email: string | null; accountByAccountId: { rowId: string; name: string } | null }[] } }
interface OById { account: (Omit<AccountRow, 'annualRevenue'> & { annualRevenue: number | null }) | null }
interface PById { accountByRowId: (Omit<AccountRow, 'id' | 'annualRevenue'> & { rowId: string; annualRevenue: string | null }) | null }
interface ONested { accounts: { nodes: { id: string; name: string; industry: string | null; contacts: { id: string; firstName: string | null; lastName: string; cases: CaseRow[] }[] }[] } }
interface PCase { rowId: string; subject: string; status: string }
interface PContact { rowId: string; firstName: string | null; lastName: string; casesByContactId: { nodes: PCase[] } }
interface PNested { allAccounts: { nodes: { rowId: string; name: string; industry: string | null; contactsByAccountId: { nodes: PContact[] } }[] } }

const byId = <T extends { id: string }>(rows: T[]): T[] => [...rows].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
const num = (v: string | number | null): number | null => (v === null ? null : Number(v));

const ACCOUNT_FIELDS = 'name industry annualRevenue website phone';

export function buildQueries(accountId: string, search = 'son'): QuerySpec[] {
  return [
    ...baseQueries(accountId, search),
    {
      key: 'aggregate',
      title: 'opportunities grouped by account (first 50 keys): count and sum of amount',
      objectos: '{ opportunities { groupedAggregates(groupBy: [{ field: ACCOUNT }], limit: 50) { key { accountId } count sum { amount } } } }',
      postgraphile: '{ benchOpportunityTotals { nodes { accountId n total } } }',
      fromObjectOS: (d) => (d as OAggregate).opportunities.groupedAggregates.map((g): Total => ({ accountId: g.key.accountId, count: g.count, sum: g.sum.amount })),
      fromPostGraphile: (d) => (d as PAggregate).benchOpportunityTotals.nodes.map((g): Total => ({ accountId: g.accountId, count: g.n, sum: g.total })),
      check: (rows) => ((rows as Total[]).length === 50 && (rows as Total[]).every((r) => r.count > 0) ? null : 'expected 50 groups, each with opportunities'),
    },
    {
      key: 'search',
      title: `full-text search of contacts for "carter", best ${SEARCH_FIRST} first (rank, then creation)`,
      objectos: `{ contacts(search: "carter", first: ${SEARCH_FIRST}) { nodes { id lastName } } }`,
      postgraphile: `{ benchSearchContacts(q: "'carter':*", n: ${SEARCH_FIRST}) { nodes { rowId lastName } } }`,
      fromObjectOS: (d) => (d as OSearch).contacts.nodes.map((c): Found => ({ id: c.id, lastName: c.lastName })),
      fromPostGraphile: (d) => (d as PSearch).benchSearchContacts.nodes.map((c): Found => ({ id: c.rowId, lastName: c.lastName })),
      check: (rows) => ((rows as Found[]).length === SEARCH_FIRST && (rows as Found[]).every((r) => r.lastName === 'Carter') ? null : `expected ${SEARCH_FIRST} Carters`),
    },
  ];
}

function baseQueries(accountId: string, search: string): QuerySpec[] {
  return [
    {
      key: 'list',
      title: `contacts whose last name contains "${search}", sorted by last name, first 50, with account { id name }`,
      objectos: `{ contacts(where: { lastName: { contains: "${search}" } }, orderBy: [{ field: LAST_NAME }], first: 50) { nodes { id firstName lastName email account { id name } } } }`,
      postgraphile: `{ allContacts(filter: { lastName: { includesInsensitive: "${search}" } }, orderBy: [LAST_NAME_ASC, ROW_ID_ASC], first: 50) { nodes { rowId firstName lastName email accountByAccountId { rowId name } } } }`,
      fromObjectOS: (d) => (d as OList).contacts.nodes.map((c): ListRow => ({ id: c.id, firstName: c.firstName, lastName: c.lastName, email: c.email, account: c.account ? { id: c.account.id, name: c.account.name } : null })),
      fromPostGraphile: (d) =>
        (d as PList).allContacts.nodes.map((c): ListRow => ({
          id: c.rowId, firstName: c.firstName, lastName: c.lastName, email: c.email,
          account: c.accountByAccountId ? { id: c.accountByAccountId.rowId, name: c.accountByAccountId.name } : null,
        })),
      check: (rows) => ((rows as ListRow[]).length === 50 && (rows as ListRow[]).every((r) => r.account) ? null : 'expected 50 contacts, each with its account'),
    },
    {
      key: 'byId',
      title: 'one account by id (6 fields)',
      objectos: `{ account(id: "${accountId}") { id ${ACCOUNT_FIELDS} } }`,
      postgraphile: `{ accountByRowId(rowId: "${accountId}") { rowId ${ACCOUNT_FIELDS} } }`,
      fromObjectOS: (d) => {
        const a = (d as OById).account;
        return a && { id: a.id, name: a.name, industry: a.industry, annualRevenue: num(a.annualRevenue), website: a.website, phone: a.phone };
      },
      fromPostGraphile: (d) => {
        const a = (d as PById).accountByRowId;
        return a && { id: a.rowId, name: a.name, industry: a.industry, annualRevenue: num(a.annualRevenue), website: a.website, phone: a.phone };
      },
      check: (a) => (a && (a as AccountRow).id === accountId ? null : `account ${accountId} not found`),
    },
    {
      key: 'nested',
      title: `accounts (first 50, sorted by name) → contacts (limit ${CONTACT_LIMIT}) → cases (limit ${CASE_LIMIT})`,
      objectos: `{ accounts(first: 50, orderBy: [{ field: NAME }]) { nodes { id name industry contacts(limit: ${CONTACT_LIMIT}) { id firstName lastName cases(limit: ${CASE_LIMIT}) { id subject status } } } } }`,
      postgraphile: `{ allAccounts(first: 50, orderBy: [NAME_ASC, ROW_ID_ASC]) { nodes { rowId name industry contactsByAccountId(first: ${CONTACT_LIMIT}) { nodes { rowId firstName lastName casesByContactId(first: ${CASE_LIMIT}) { nodes { rowId subject status } } } } } } }`,
      fromObjectOS: (d) =>
        (d as ONested).accounts.nodes.map((a): TreeRow => ({
          id: a.id, name: a.name, industry: a.industry,
          contacts: byId(a.contacts.map((c) => ({ id: c.id, firstName: c.firstName, lastName: c.lastName, cases: byId(c.cases.map((k) => ({ id: k.id, subject: k.subject, status: k.status }))) }))),
        })),
      fromPostGraphile: (d) =>
        (d as PNested).allAccounts.nodes.map((a): TreeRow => ({
          id: a.rowId, name: a.name, industry: a.industry,
          contacts: byId(a.contactsByAccountId.nodes.map((c) => ({
            id: c.rowId, firstName: c.firstName, lastName: c.lastName,
            cases: byId(c.casesByContactId.nodes.map((k) => ({ id: k.rowId, subject: k.subject, status: k.status }))),
          }))),
        })),
      check: (rows) => {
        const tree = rows as TreeRow[];
        const contacts = tree.flatMap((a) => a.contacts);
        if (tree.length !== 50 || contacts.length === 0 || contacts.every((c) => c.cases.length === 0)) return 'expected 50 accounts with contacts and cases';
        if (tree.some((a) => a.contacts.length >= CONTACT_LIMIT) || contacts.some((c) => c.cases.length >= CASE_LIMIT)) return 'a nested list reached its limit: the comparison could depend on which rows were cut';
        return null;
      },
    },
  ];
}

/** Counts of the nested answer, for the report. */
export function treeSize(canonical: unknown): { accounts: number; contacts: number; cases: number } {
  const tree = canonical as TreeRow[];
  const contacts = tree.flatMap((a) => a.contacts);
  return { accounts: tree.length, contacts: contacts.length, cases: contacts.reduce((n, c) => n + c.cases.length, 0) };
}

/** The first place where two canonical answers differ (a path and both values), or null when equal. */
export function firstDifference(a: unknown, b: unknown, path = '$'): string | null {
  if (isDeepStrictEqual(a, b)) return null;
  if (Array.isArray(a) && Array.isArray(b)) {
    for (let i = 0; i < Math.min(a.length, b.length); i++) {
      const d = firstDifference(a[i], b[i], `${path}[${i}]`);
      if (d) return d;
    }
    return `${path}: ${a.length} vs ${b.length} items`;
  }
  if (a && b && typeof a === 'object' && typeof b === 'object') {
    const ra = a as Record<string, unknown>;
    const rb = b as Record<string, unknown>;
    for (const k of new Set([...Object.keys(ra), ...Object.keys(rb)])) {
      const d = firstDifference(ra[k], rb[k], `${path}.${k}`);
      if (d) return d;
    }
  }
  return `${path}: ${JSON.stringify(a)} vs ${JSON.stringify(b)}`;
}
