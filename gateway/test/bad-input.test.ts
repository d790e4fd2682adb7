import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { engines } from '@objectos/testkit';
import { startStack, type Stack } from './stack.ts';

const MISSING = '00000000-0000-4000-8000-000000000000';

/** Each bad request: the error code and a message that names what was wrong. Ids are filled in at run time. */
const CASES: { name: string; query: string; vars?: (ids: Ids) => Record<string, unknown>; code: string; message: RegExp }[] = [
  { name: 'unknown field in where', query: '{ accounts(where: { nope: { eq: 1 } }) { totalCount } }', code: 'GRAPHQL_VALIDATION_FAILED', message: /Field "nope" is not defined by type "AccountWhere"/ },
  { name: 'unknown operator in where', query: '{ accounts(where: { name: { like: "x" } }) { totalCount } }', code: 'GRAPHQL_VALIDATION_FAILED', message: /Field "like" is not defined by type "StringFilter"/ },
  { name: 'null operand in where', query: '{ accounts(where: { name: { eq: null } }) { totalCount } }', code: 'BAD_USER_INPUT', message: /where.name.eq cannot be null \(use isNull: true/ },
  { name: 'between with three values', query: '{ accounts(where: { employees: { between: [1, 2, 3] } }) { totalCount } }', code: 'BAD_USER_INPUT', message: /between needs exactly two values/ },
  { name: 'wrong literal type', query: 'mutation { createAccount(input: { name: 5 }) { id } }', code: 'GRAPHQL_VALIDATION_FAILED', message: /String cannot represent a non string value: 5/ },
  { name: 'wrong variable type', query: 'mutation($e: Float) { createAccount(input: { name: "X", employees: $e }) { id } }', vars: () => ({ e: 'many' }), code: 'BAD_USER_INPUT', message: /Float cannot represent non numeric value: "many"/ },
  { name: 'invalid select option', query: 'mutation { createAccount(input: { name: "X", industry: spaceships }) { id } }', code: 'GRAPHQL_VALIDATION_FAILED', message: /Value "spaceships" does not exist in "AccountIndustry" enum/ },
  { name: 'invalid multiselect option', query: 'mutation($t: [AccountTags!]) { createAccount(input: { name: "X", tags: $t }) { id } }', vars: () => ({ t: ['vip'] }), code: 'BAD_USER_INPUT', message: /Value "vip" does not exist in "AccountTags" enum/ },
  { name: 'missing required field', query: 'mutation { createAccount(input: { industry: retail }) { id } }', code: 'GRAPHQL_VALIDATION_FAILED', message: /Field "AccountCreateInput.name" of required type "String!" was not provided/ },
  { name: 'required field set to null', query: 'mutation($id: ID!) { updateAccount(id: $id, input: { name: null }) { id } }', vars: (i) => ({ id: i.account }), code: 'BAD_USER_INPUT', message: /name is required and cannot be null/ },
  { name: 'required field set to blank', query: 'mutation($id: ID!) { updateAccount(id: $id, input: { name: "   " }) { id } }', vars: (i) => ({ id: i.account }), code: 'BAD_USER_INPUT', message: /name is required and cannot be empty/ },
  { name: 'text over maxLength', query: 'mutation($n: String!) { createAccount(input: { name: $n }) { id } }', vars: () => ({ n: 'x'.repeat(256) }), code: 'BAD_USER_INPUT', message: /name is 256 characters long; the maximum is 255/ },
  { name: 'text under minLength', query: 'mutation { createTask(input: { subject: "" }) { id } }', code: 'BAD_USER_INPUT', message: /subject is 0 characters long; the minimum is 1/ },
  { name: 'number above max', query: 'mutation { createAccount(input: { name: "X", employees: 10000001 }) { id } }', code: 'BAD_USER_INPUT', message: /employees is 10000001; the maximum is 10000000/ },
  { name: 'number below min', query: 'mutation { createAccount(input: { name: "X", rating: -1 }) { id } }', code: 'BAD_USER_INPUT', message: /rating is -1; the minimum is 0/ },
  { name: 'number beyond precision', query: 'mutation { createAccount(input: { name: "X", annualRevenue: 1e17 }) { id } }', code: 'BAD_USER_INPUT', message: /annualRevenue is too large: at most 16 digits before the decimal point/ },
  { name: 'invalid calendar date', query: 'mutation { createAccount(input: { name: "X", foundedOn: "2024-02-30" }) { id } }', code: 'GRAPHQL_VALIDATION_FAILED', message: /"2024-02-30" is not a valid Date \(YYYY-MM-DD\)/ },
  { name: 'invalid date-time', query: 'mutation { createCase(input: { subject: "X", closedAt: "yesterday" }) { id } }', code: 'GRAPHQL_VALIDATION_FAILED', message: /"yesterday" is not a valid DateTime/ },
  { name: 'invalid email', query: 'mutation($a: ID!) { createContact(input: { lastName: "X", accountId: $a, email: "not-an-email" }) { id } }', vars: (i) => ({ a: i.account }), code: 'BAD_USER_INPUT', message: /email is not a valid email address/ },
  { name: 'invalid url', query: 'mutation { createAccount(input: { name: "X", website: "javascript:alert(1)" }) { id } }', code: 'BAD_USER_INPUT', message: /website is not a valid http\(s\) URL/ },
  { name: 'dangling lookup id', query: 'mutation($a: ID!) { createContact(input: { lastName: "X", accountId: $a }) { id } }', vars: () => ({ a: MISSING }), code: 'BAD_USER_INPUT', message: /accountId: no Account with id "00000000-0000-4000-8000-000000000000"/ },
  { name: 'dangling lookup id on update', query: 'mutation($id: ID!, $p: ID!) { updateAccount(id: $id, input: { parentAccountId: $p }) { id } }', vars: (i) => ({ id: i.account, p: MISSING }), code: 'BAD_USER_INPUT', message: /parentAccountId: no Account with id/ },
  { name: 'malformed lookup id', query: 'mutation { createContact(input: { lastName: "X", accountId: "42" }) { id } }', code: 'BAD_USER_INPUT', message: /accountId is not a valid id/ },
  { name: 'unknown id on update', query: 'mutation($id: ID!) { updateAccount(id: $id, input: { name: "Y" }) { id } }', vars: () => ({ id: MISSING }), code: 'NOT_FOUND', message: /No Account with id "00000000-0000-4000-8000-000000000000"/ },
  { name: 'malformed id on update', query: 'mutation { updateAccount(id: "1 or 1=1", input: { name: "Y" }) { id } }', code: 'NOT_FOUND', message: /No Account with id "1 or 1=1"/ },
  { name: 'unknown id on delete', query: 'mutation($id: ID!) { deleteAccount(id: $id) { id } }', vars: () => ({ id: MISSING }), code: 'NOT_FOUND', message: /No Account with id/ },
  { name: 'duplicate unique value', query: 'mutation($a: ID!) { createContact(input: { lastName: "Dup", accountId: $a, email: "taken@example.com" }) { id } }', vars: (i) => ({ a: i.account }), code: 'CONFLICT', message: /email: another Contact already has this value/ },
  { name: 'unknown sort field', query: '{ accounts(orderBy: [{ field: BILLING_ADDRESS }]) { totalCount } }', code: 'GRAPHQL_VALIDATION_FAILED', message: /Value "BILLING_ADDRESS" does not exist in "AccountSortField" enum/ },
  { name: 'page larger than allowed', query: '{ accounts(first: 100000) { totalCount } }', code: 'BAD_USER_INPUT', message: /first is 100000; at most 1000 records/ },
  { name: 'first and last together', query: '{ accounts(first: 1, last: 1) { totalCount } }', code: 'BAD_USER_INPUT', message: /use either first or last, not both/ },
  { name: 'forged cursor', query: '{ accounts(first: 1, after: "eyJub3QiOiJhIGN1cnNvciJ9") { totalCount } }', code: 'BAD_USER_INPUT', message: /after is not a cursor of this list/ },
  { name: 'negative child limit', query: '{ accounts(first: 1) { nodes { contacts(limit: -1) { id } } } }', code: 'BAD_USER_INPUT', message: /limit must be between 0 and 1000/ },
];

interface Ids { account: string }

describe.each(engines())('bad input gets a clear error and changes nothing, on $name', (engine) => {
  let s: Stack;
  const ids: Ids = { account: '' };
  beforeAll(async () => {
    s = await startStack(engine);
    ids.account = (await s.query<{ createAccount: { id: string } }>('mutation { createAccount(input: { name: "Existing" }) { id } }')).createAccount.id;
    await s.query('mutation($a: ID!) { createContact(input: { lastName: "Holder", accountId: $a, email: "taken@example.com" }) { id } }', { a: ids.account });
  });
  afterAll(() => s?.close());

  /** A fingerprint of every row of every object table. */
  const fingerprint = async () => {
    const out: Record<string, unknown> = {};
    for (const p of Object.values(s.data.source.plan.objects)) {
      const r = (await s.data.source.db.execute(sql.raw(`select count(*)::int as n, md5(coalesce(string_agg(t::text, '|' order by t.id), '')) as h from "${p.table}" t`))) as unknown as { rows: unknown[] };
      out[p.table] = r.rows[0];
    }
    return out;
  };

  it.each(CASES)('$name', async ({ query, vars, code, message }) => {
    const before = await fingerprint();
    const r = await s.raw(s.gateway.fetch, query, vars?.(ids) ?? {});
    expect(r.errors, JSON.stringify(r)).toBeDefined();
    const err = r.errors![0]!;
    expect(err.message).toMatch(message);
    expect(err.extensions?.['code']).toBe(code);
    expect(JSON.stringify(r)).not.toMatch(/at .*\.ts:|select |insert |drizzle|postgres/i);
    expect(await fingerprint()).toEqual(before);
  });

  it('lists every problem of one input at once', async () => {
    const r = await s.raw(s.gateway.fetch, 'mutation { createAccount(input: { name: "X", employees: -1, rating: 101, website: "ftp://x" }) { id } }');
    const issues = r.errors?.[0]?.extensions?.['issues'] as { field: string; constraint: string }[];
    expect(issues.map((i) => `${i.field}:${i.constraint}`).sort()).toEqual(['employees:min', 'rating:max', 'website:format']);
  });
});
