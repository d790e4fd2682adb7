import { sql } from 'drizzle-orm';
import { buildClientSchema, getIntrospectionQuery, isObjectType, type IntrospectionQuery } from 'graphql';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { engines, type GraphQLResult } from '@objectos/testkit';
import { PASSWORD, startSecureStack, type SecureStack } from './secure-stack.ts';

/**
 * Class: introspection. Where it is on (development), any signed-in principal gets the schema with
 * graphql-js's standard query and every option; where it is off (production), a coded refusal that names
 * nothing of the schema. An unknown field is one validation error, not one more from the access rules.
 */
const FULL = getIntrospectionQuery({ descriptions: true, specifiedByUrl: true, directiveIsRepeatable: true, schemaDescription: true, inputValueDeprecation: true, oneOf: true });

describe.each(engines().slice(0, 1))('introspection ($name)', (engine) => {
  let dev: SecureStack;
  let prod: SecureStack;
  const who: Record<'member' | 'owner' | 'operator', Record<string, string>> = { member: {}, owner: {}, operator: {} };
  let prodAuth: Record<string, string>;
  const signIn = async (email: string) => ({ authorization: `Bearer ${(await dev.auth('/sign-in/email', { email, password: PASSWORD })).headers.get('set-auth-token')}` });

  beforeAll(async () => {
    [dev, prod] = await Promise.all([startSecureStack(engine, { protection: { introspection: true } }), startSecureStack(engine)]);
    const owner = await dev.user('owner@example.com', 'Introco');
    who.owner = owner.headers;
    const org = (await dev.q<{ activeOrganization: { id: string } }>(owner.headers, '{ activeOrganization { id } }')).data!.activeOrganization.id;
    const member = await dev.user('member@example.com');
    await dev.identity.auth.api.addMember({ body: { userId: member.userId, organizationId: org, role: 'member' } });
    who.member = await signIn('member@example.com');
    // A platform operator (the identity subgraph's admin role); signed in after the change.
    const operator = await dev.user('operator@example.com', 'Opco');
    await dev.identity.database.db.execute(sql`update auth."user" set role = 'admin,operator' where id = ${operator.userId}`);
    who.operator = await signIn('operator@example.com');
    prodAuth = (await prod.user('owner@example.com', 'Prodco')).headers;
  });
  afterAll(async () => {
    await dev?.close();
    await prod?.close();
  });

  it.each(['member', 'owner', 'operator'] as const)('with introspection on, a %s runs the standard introspection query and gets the schema', async (name) => {
    const r = await dev.q<IntrospectionQuery>(who[name], FULL);
    expect(r.errors, JSON.stringify(r.errors)?.slice(0, 500)).toBeUndefined();
    const schema = buildClientSchema(r.data!);
    expect(schema.getQueryType()?.name).toBe('Query');
    const account = schema.getType('Account');
    expect(isObjectType(account) && Object.keys(account.getFields())).toContain('name');
    expect(schema.getType('AccountWhere')).toBeDefined();
  });

  it('with introspection on, a signed-in principal may also ask for one type', async () => {
    const r = await dev.q<{ __type: { fields: { name: string }[] } }>(who.member, '{ __type(name: "Account") { name fields { name type { name kind ofType { name } } } } }');
    expect(r.errors).toBeUndefined();
    expect(r.data!.__type.fields.map((f) => f.name)).toContain('name');
  });

  it.each([
    ['the standard query', FULL],
    ['one type', '{ __type(name: "Account") { name } }'],
    ['a misspelt introspection field', '{ __schema { queryTyp { name } } }'],
  ])('with introspection off, %s is refused with a code and no suggestion', async (_name, query) => {
    const res = await prod.as(prodAuth)(new Request('http://objectos.test/graphql', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ query }) }));
    const text = await res.text();
    expect(res.status).toBeLessThan(500);
    expect(text).not.toMatch(/Did you mean/);
    const r = JSON.parse(text) as GraphQLResult;
    expect(r.data ?? undefined).toBeUndefined();
    expect(r.errors?.length, text).toBeGreaterThan(0);
    for (const e of r.errors!) expect(e.extensions?.['code'], text).toBe('GRAPHQL_VALIDATION_FAILED');
    expect(text).toMatch(/introspection has been disabled|Cannot query field "queryTyp"/);
  });

  const UNKNOWN = ['{ acounts { totalCount } }', '{ accounts { nodes { nmae } } }'];
  it.each([
    // Where introspection is off, `__schema` is refused by itself (shown above): the data fields only.
    ['on', () => dev, () => who.member, [...UNKNOWN, '{ __schema { queryTyp { name } } }']],
    ['off', () => prod, () => prodAuth, UNKNOWN],
  ] as const)('with introspection %s, an unknown field is exactly one validation error', async (_on, stack, auth, queries) => {
    for (const query of queries) {
      const r = await stack().q(auth(), query);
      expect(r.errors, `${query}: ${JSON.stringify(r.errors)}`).toHaveLength(1);
      expect(r.errors![0]!.extensions?.['code']).toBe('GRAPHQL_VALIDATION_FAILED');
      expect(r.errors![0]!.message).toMatch(/^Cannot query field/);
    }
  });
});
