import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { engines, gql, signedFetch, type GraphQLResult } from '@objectos/testkit';
import { startSecureStack, type SecureStack } from './secure-stack.ts';
import { startStack, type Stack } from './stack.ts';

/**
 * Class: well-formed but nasty input. Each is a coded client error (never INTERNAL, never a 5xx), refused
 * before any SQL runs, and nothing is written. Before the fix every one of them answered
 * INTERNAL_SERVER_ERROR from the database.
 */
const NUL = '\u0000';
const nested = (n: number, inner = '{ name: { eq: "x" } }') => {
  let w = inner;
  for (let i = 0; i < n; i++) w = `{ not: ${w} }`;
  return w;
};
/** 66 `in` lists of 1,000 names: 66,000 bind parameters, past PostgreSQL's 65,535. */
const pastBindLimit = { or: Array.from({ length: 66 }, (_, i) => ({ name: { in: Array.from({ length: 1000 }, (_, j) => `n${i}-${j}`) } })) };
const CREATE_JSON = 'mutation($j: JSON) { createAccount(input: { name: "Json", billingAddress: $j }) { id } }';

const CASES: { name: string; query: string; variables?: Record<string, unknown>; code: string; message: RegExp }[] = [
  { name: 'NUL in a string literal', query: 'mutation { createAccount(input: { name: "a\\u0000b" }) { id } }', code: 'BAD_USER_INPUT', message: /NUL character/ },
  { name: 'NUL in a filter literal', query: '{ accounts(where: { name: { eq: "a\\u0000" } }) { totalCount } }', code: 'BAD_USER_INPUT', message: /NUL character/ },
  { name: 'NUL in a variable', query: 'mutation($n: String!) { createAccount(input: { name: $n }) { id } }', variables: { n: `a${NUL}b` }, code: 'BAD_USER_INPUT', message: /NUL character/ },
  { name: 'NUL in a JSON value (top level)', query: CREATE_JSON, variables: { j: `x${NUL}` }, code: 'BAD_USER_INPUT', message: /NUL character/ },
  { name: 'NUL in a JSON value (nested)', query: CREATE_JSON, variables: { j: { street: { lines: ['ok', `bad${NUL}`] } } }, code: 'BAD_USER_INPUT', message: /NUL character/ },
  { name: 'NUL in a JSON object key', query: CREATE_JSON, variables: { j: { [`k${NUL}`]: 1 } }, code: 'BAD_USER_INPUT', message: /NUL character/ },
  { name: 'NUL in a JSON literal', query: 'mutation { createAccount(input: { name: "Json", billingAddress: { street: "a\\u0000" } }) { id } }', code: 'BAD_USER_INPUT', message: /NUL character/ },
  { name: '300 nested `not` in the query text', query: `{ accounts(where: ${nested(300)}) { totalCount } }`, code: 'INPUT_LIMIT_EXCEEDED', message: /nested too deeply/ },
  { name: '300 nested `not` in a variable default', query: `query($w: AccountWhere = ${nested(300)}) { accounts(where: $w) { totalCount } }`, code: 'INPUT_LIMIT_EXCEEDED', message: /nested too deeply/ },
  { name: 'a filter past the bind-parameter limit', query: 'query($w: AccountWhere) { accounts(where: $w) { totalCount } }', variables: { w: pastBindLimit }, code: 'INPUT_LIMIT_EXCEEDED', message: /too many values/ },
];

const expectClientError = (r: GraphQLResult, code: string, message: RegExp) => {
  const text = JSON.stringify(r);
  expect(r.errors?.length, text).toBeGreaterThan(0);
  expect(r.errors![0]!.extensions?.['code'], text).toBe(code);
  expect(r.errors![0]!.message, text).toMatch(message);
  expect(text).not.toMatch(/INTERNAL|Unexpected error|select |insert /i);
};

describe.each(engines())('nasty input through the gateway is a client error ($name)', (engine) => {
  let s: SecureStack;
  let auth: Record<string, string>;
  const accounts = async () => ((await s.data.source.db.execute(sql`select count(*)::int as n from account`)) as unknown as { rows: { n: number }[] }).rows[0]!.n;
  beforeAll(async () => {
    s = await startSecureStack(engine);
    auth = (await s.user('nasty@example.com', 'Nastyco')).headers;
    expect((await s.q(auth, 'mutation { createAccount(input: { name: "Existing" }) { id } }')).errors).toBeUndefined();
  });
  afterAll(() => s?.close());

  it.each(CASES)('$name', async ({ query, variables, code, message }) => {
    const [before, calls] = [await accounts(), s.dataCalls()];
    const res = await s.as(auth)(new Request('http://objectos.test/graphql', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ query, variables }) }));
    expect(res.status).toBeLessThan(500);
    expectClientError((await res.json()) as GraphQLResult, code, message);
    // Refused in the gateway: the data subgraph was not called, so no SQL ran.
    expect(s.dataCalls()).toBe(calls);
    expect(await accounts()).toBe(before);
  });
});

describe.each(engines())('the data subgraph holds on its own, called directly with a signed principal ($name)', (engine) => {
  let s: Stack;
  const data = (query: string, variables?: Record<string, unknown>) => gql(signedFetch(s.data.fetch), query, variables);
  const countSql = 'select count(*)::int as n from account';
  const accounts = async () => ((await s.data.source.db.execute(sql.raw(countSql))) as unknown as { rows: { n: number }[] }).rows[0]!.n;
  const params = (statement: string) => new Set(statement.match(/\$\d+/g) ?? []).size;
  beforeAll(async () => {
    s = await startStack(engine);
  });
  afterAll(() => s?.close());

  it.each([
    ['NUL in text (SQLSTATE 22021)', 'mutation($n: String!) { createAccount(input: { name: $n }) { id } }', { n: `a${NUL}b` }],
    ['NUL in jsonb (SQLSTATE 22P05)', CREATE_JSON, { j: { street: `a${NUL}` } }],
  ])('%s is BAD_USER_INPUT and nothing is written', async (_name, query, variables) => {
    const before = await accounts();
    expectClientError(await data(query, variables), 'BAD_USER_INPUT', /NUL character/);
    expect(await accounts()).toBe(before);
  });

  it('refuses a filter past the bind-parameter limit before sending it', async () => {
    s.statements.length = 0;
    expectClientError(await data('query($w: AccountWhere) { accounts(where: $w) { totalCount } }', { w: pastBindLimit }), 'BAD_USER_INPUT', /filter is too large/);
    expect(s.statements.filter((q) => params(q) > 1000)).toEqual([]);
  });

  it('refuses 300 nested `not` before sending it, and still answers 60', async () => {
    s.statements.length = 0;
    expectClientError(await data(`{ accounts(where: ${nested(300)}) { totalCount } }`), 'BAD_USER_INPUT', /too deeply nested/);
    expect(s.statements.filter((q) => q.includes('not not not'))).toEqual([]);
    const ok = await data(`{ accounts(where: ${nested(60)}) { totalCount } }`);
    expect(ok.errors, JSON.stringify(ok.errors)).toBeUndefined();
  });
});
