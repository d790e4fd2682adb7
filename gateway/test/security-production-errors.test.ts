import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { engines, subscribeSse, type GraphQLResult } from '@objectos/testkit';
import { startSecureStack, type SecureStack } from './secure-stack.ts';

/**
 * Class: production error messages say nothing about the schema. Each input below makes graphql-js
 * suggest names ("Did you mean …"), in validation (literals) or in variable coercion; with introspection
 * off, none may reach the client, over HTTP or SSE, and the error keeps its code.
 */
const CASES: { name: string; query: string; variables?: Record<string, unknown> }[] = [
  { name: 'misspelt enum value in a literal', query: '{ accounts(orderBy: [{ field: NAMEE }]) { totalCount } }' },
  { name: 'misspelt enum value in a variable', query: 'query($o: [AccountOrderBy!]) { accounts(orderBy: $o) { totalCount } }', variables: { o: [{ field: 'NAMEE' }] } },
  { name: 'misspelt input field in a literal', query: '{ accounts(where: { nam: { eq: "x" } }) { totalCount } }' },
  { name: 'misspelt input field in a variable', query: 'query($w: AccountWhere) { accounts(where: $w) { totalCount } }', variables: { w: { nam: { eq: 'x' } } } },
  { name: 'misspelt argument', query: '{ accounts(wher: {}) { totalCount } }' },
  { name: 'misspelt type in a variable definition', query: 'query($w: AccountWher) { accounts(where: $w) { totalCount } }' },
  { name: 'misspelt field', query: '{ acounts { totalCount } }' },
  { name: 'misspelt input field in a subscription variable', query: 'subscription($w: AccountWhere) { accountChanged(where: $w) { op } }', variables: { w: { nam: { eq: 'x' } } } },
];

const codes = (r: GraphQLResult) => (r.errors ?? []).map((e) => e.extensions?.['code']);

describe.each(engines().slice(0, 1))('no suggestions in production errors ($name)', (engine) => {
  let prod: SecureStack;
  let dev: SecureStack;
  let prodAuth: Record<string, string>;
  let devAuth: Record<string, string>;
  beforeAll(async () => {
    [prod, dev] = await Promise.all([startSecureStack(engine), startSecureStack(engine, { protection: { introspection: true } })]);
    prodAuth = (await prod.user('pat@example.com', 'Prodco')).headers;
    devAuth = (await dev.user('pat@example.com', 'Devco')).headers;
  });
  afterAll(async () => {
    await prod?.close();
    await dev?.close();
  });

  it.each(CASES)('over HTTP: $name', async ({ query, variables }) => {
    const res = await prod.as(prodAuth)(new Request('http://objectos.test/graphql', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ query, variables }) }));
    const text = await res.text();
    expect(res.status, text).toBeLessThan(500);
    expect(text).not.toMatch(/Did you mean/i);
    const r = JSON.parse(text) as GraphQLResult;
    expect(r.errors?.length, text).toBeGreaterThan(0);
    for (const code of codes(r)) expect(code, text).toMatch(/^(GRAPHQL_VALIDATION_FAILED|BAD_USER_INPUT)$/);
  });

  it.each(CASES)('over SSE: $name', async ({ query, variables }) => {
    const sub = await subscribeSse(prod.as(prodAuth), query, variables);
    const results = await sub.until(1);
    sub.close();
    const text = JSON.stringify(results);
    expect(text).not.toMatch(/Did you mean/i);
    expect(results[0]?.errors?.length, text).toBeGreaterThan(0);
    for (const code of codes(results[0]!)) expect(code, text).toMatch(/^(GRAPHQL_VALIDATION_FAILED|BAD_USER_INPUT)$/);
  });

  // The table is meaningful: where introspection is on (development) the same inputs do get suggestions.
  it.each(CASES)('with introspection on, suggestions stay: $name', async ({ query, variables }) => {
    const r = await dev.q(devAuth, query, variables);
    expect(JSON.stringify(r)).toMatch(/Did you mean/);
  });
});
