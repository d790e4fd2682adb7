import pg from 'pg';
import { gqlOk, type FetchHandler } from '@objectos/testkit';

/** Bench records on top of the demo seed: 200 accounts × 4 contacts, each contact with 1 or 2 cases; 2 opportunities per account. */
export const BENCH_ACCOUNTS = 200;
export const CONTACTS_PER_ACCOUNT = 4;
export const OPPORTUNITIES_PER_ACCOUNT = 2;

const INDUSTRIES = ['technology', 'finance', 'healthcare', 'manufacturing', 'retail'] as const;
const FIRST = ['Avery', 'Blake', 'Casey', 'Devon', 'Emery', 'Finley', 'Harper', 'Jordan'] as const;
// Six of the sixteen contain "son": the filtered list query finds 300 bench contacts (and the demo's Thompsons).
const LAST = ['Anderson', 'Baker', 'Carter', 'Dawson', 'Evans', 'Fischer', 'Garcia', 'Jackson', 'Johnson', 'Klein', 'Lopez', 'Meyer', 'Nguyen', 'Robinson', 'Schmidt', 'Wilson'] as const;
const STATUSES = ['new', 'working', 'escalated'] as const;
const ALIASES = 10;

const pick = <T>(xs: readonly T[], i: number): T => xs[i % xs.length]!;

/** Runs the mutations `ALIASES` at a time, `parallel` requests at once. */
async function inBatches(target: FetchHandler, fields: string[], parallel = 4): Promise<string[]> {
  const batches: string[][] = [];
  for (let i = 0; i < fields.length; i += ALIASES) batches.push(fields.slice(i, i + ALIASES));
  const ids: string[] = [];
  for (let i = 0; i < batches.length; i += parallel) {
    const answers = await Promise.all(batches.slice(i, i + parallel).map((b) => gqlOk<Record<string, { id: string }>>(target, `mutation { ${b.map((f, j) => `m${j}: ${f}`).join('\n')} }`)));
    for (const a of answers) for (let j = 0; j < Object.keys(a).length; j++) ids.push(a[`m${j}`]!.id);
  }
  return ids;
}

export interface Seeded {
  accountIds: string[];
  contacts: number;
  cases: number;
  opportunities: number;
}

/** Seeds through GraphQL mutations, sent through `target` (the data subgraph, signed as the demo admin). */
export async function seedBenchData(target: FetchHandler): Promise<Seeded> {
  const accountIds = await inBatches(target, Array.from({ length: BENCH_ACCOUNTS }, (_, i) => {
    const n = String(i).padStart(3, '0');
    return `createAccount(input: { name: "Account ${n}", industry: ${pick(INDUSTRIES, i)}, annualRevenue: ${1000 * i + 0.5}, website: "https://account${n}.example.com", phone: "+1 555 0${n}" }) { id }`;
  }));
  const contactFields: string[] = [];
  const contactAccount: string[] = [];
  accountIds.forEach((accountId, a) => {
    for (let k = 0; k < CONTACTS_PER_ACCOUNT; k++) {
      const n = a * CONTACTS_PER_ACCOUNT + k;
      contactAccount.push(accountId);
      contactFields.push(`createContact(input: { firstName: "${pick(FIRST, n)}", lastName: "${pick(LAST, n)}", email: "contact${n}@bench.example.com", accountId: "${accountId}" }) { id }`);
    }
  });
  const contactIds = await inBatches(target, contactFields);
  const caseFields: string[] = [];
  contactIds.forEach((contactId, n) => {
    for (let k = 0; k < 1 + (n % 2); k++)
      caseFields.push(`createCase(input: { subject: "Case ${n}-${k}", status: ${pick(STATUSES, n + k)}, contactId: "${contactId}", accountId: "${contactAccount[n]}" }) { id }`);
  });
  const caseIds = await inBatches(target, caseFields);
  const opportunityFields = accountIds.flatMap((accountId, a) => Array.from({ length: OPPORTUNITIES_PER_ACCOUNT }, (_, k) =>
    `createOpportunity(input: { name: "Deal ${a}-${k}", accountId: "${accountId}", amount: ${(a * 37) % 1000 + k * 100 + 0.25}, stage: prospecting }) { id }`));
  const opportunityIds = await inBatches(target, opportunityFields);
  return { accountIds, contacts: contactIds.length, cases: caseIds.length, opportunities: opportunityIds.length };
}

export interface TableCounts {
  accounts: number;
  contacts: number;
  cases: number;
  opportunities: number;
  /** Rows of the four tables in another organization than the admin's (must be 0: PostGraphile sees every row). */
  foreign: number;
}

/**
 * PostGraphile's form of the aggregate and search queries: SQL functions it serves as root fields
 * (its "custom queries"; v5 has no aggregate or full-text plugin of its own), doing what ObjectOS's
 * groupedAggregates and search do on the same tables, the same GIN-indexed search column and order.
 */
export async function installPostGraphileFunctions(databaseUrl: string): Promise<void> {
  const c = new pg.Client({ connectionString: databaseUrl });
  await c.connect();
  try {
    await c.query(`create or replace function bench_opportunity_totals() returns table (account_id text, n int, total float8) language sql stable as $$
      select account_id::text, count(*)::int, sum(amount)::float8 from opportunity group by 1 order by 1 nulls last limit 50 $$`);
    await c.query(`create or replace function bench_search_contacts(q text, n int) returns setof contact language sql stable as $$
      select * from contact where _search @@ to_tsquery('english', q) order by ts_rank(_search, to_tsquery('english', q)) desc, created_at, id limit n $$`);
  } finally {
    await c.end();
  }
}

/** `vacuum analyze`, then what the tables hold. */
export async function analyzeAndCount(databaseUrl: string, organizationId: string): Promise<TableCounts> {
  const c = new pg.Client({ connectionString: databaseUrl });
  await c.connect();
  try {
    await c.query('vacuum analyze');
    const { rows } = await c.query<TableCounts>(
      `select (select count(*)::int from account) as accounts, (select count(*)::int from contact) as contacts, (select count(*)::int from "case") as cases, (select count(*)::int from opportunity) as opportunities,
        (select count(*)::int from (select organization_id from account union all select organization_id from contact union all select organization_id from "case" union all select organization_id from opportunity) t where organization_id <> $1) as "foreign"`,
      [organizationId],
    );
    return rows[0]!;
  } finally {
    await c.end();
  }
}
