import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDataSubgraph, type DataSubgraph } from '@objectos/data-subgraph';
import { connectDatabase, type Database } from '@objectos/db';
import { createMemoryEventBus } from '@objectos/events';
import { createIdentitySubgraph, type IdentitySubgraph } from '@objectos/identity-subgraph';
import { loadMetadata } from '@objectos/metadata';
import { compile, composeSupergraph } from '@objectos/schema';
import { engines, gql, gqlOk, TEST_ORG, TEST_SECRET, testAuth, type EngineHandle } from '@objectos/testkit';
import { createGateway, type Gateway } from '../src/index.ts';
import { startExternalSubgraph, type ExternalSubgraph } from './external-subgraph.ts';
import { METADATA } from './stack.ts';

/** A team's CRM subgraph that already has the names ObjectOS generates by default. */
const LEGACY_SDL = `
extend schema @link(url: "https://specs.apollo.dev/federation/v2.6", import: ["@key"])
type Account @key(fields: "id") { id: ID! name: String! legacyCode: String! }
type User @key(fields: "id") { id: ID! login: String! }
input StringFilter { equals: String }
enum SortDirection { UP DOWN }
type Query {
  me: User
  account(id: ID!): Account
  accounts(name: StringFilter, sort: SortDirection): [Account!]!
}
`;
const legacyAccounts = [{ id: 'L-1', name: 'Legacy One', legacyCode: 'X1' }, { id: 'L-2', name: 'Legacy Two', legacyCode: 'X2' }];
const legacyResolvers = {
  Query: {
    me: () => ({ id: 'U-1', login: 'legacy-admin' }),
    account: (_: unknown, a: { id: string }) => legacyAccounts.find((x) => x.id === a.id) ?? null,
    accounts: (_: unknown, a: { name?: { equals?: string } }) => legacyAccounts.filter((x) => !a.name?.equals || x.name === a.name.equals),
  },
  Account: { __resolveReference: (r: { id: string }) => legacyAccounts.find((x) => x.id === r.id) },
};

describe('a name prefix through the inflection module (OBJECTOS_NAME_PREFIX)', () => {
  it('prefixes every generated type and root field, and no table, column or field inside a type', async () => {
    const model = await loadMetadata(METADATA);
    const { subgraphs, plan } = compile(model, { namePrefix: 'crm' });
    const sdl = subgraphs.data.sdl;
    for (const name of ['type CrmAccount ', 'type CrmAccountConnection', 'input CrmAccountWhere', 'input CrmStringFilter', 'enum CrmSortDirection', 'enum CrmChangeOperation', 'type CrmAccessExplanation', 'type CrmRecordShare'])
      expect(sdl, name).toContain(name);
    for (const field of ['crmAccount(id: ID!)', 'crmAccounts(where: CrmAccountWhere', 'createCrmAccount(', 'crmAccountChanged(', 'crmExplainAccess(', 'crmShareRecord('])
      expect(sdl, field).toContain(field);
    expect(sdl).not.toMatch(/\btype Account\b|\binput StringFilter\b|\benum SortDirection\b|^\s+accounts\(/m);
    // Shared on purpose: PageInfo (@shareable) and the scalars.
    expect(sdl).toContain('type PageInfo @shareable');
    expect(sdl).toContain('scalar DateTime');
    // Storage and the fields inside types are untouched.
    expect(plan.objects['account']).toMatchObject({ table: 'account', typeName: 'CrmAccount', listField: 'crmAccounts' });
    expect(sdl).toMatch(/type CrmAccount [^{]*\{[^}]*\bannualRevenue: Float/);
    expect(() => compile(model, { namePrefix: 'crm-2' })).toThrow(/name prefix must be letters and digits/);
  });

  describe('through the gateway, beside a subgraph with its own User, me, Account, accounts, StringFilter and SortDirection', () => {
    let handle: EngineHandle;
    let database: Database;
    let identity: IdentitySubgraph;
    let data: DataSubgraph;
    let legacy: ExternalSubgraph;
    let gateway: Gateway;
    beforeAll(async () => {
      handle = await engines()[0]!.open();
      database = await connectDatabase(handle.options);
      identity = await createIdentitySubgraph({ database, secret: TEST_SECRET, baseURL: 'http://gw.test', bus: createMemoryEventBus(), namePrefix: 'crm' });
      data = await createDataSubgraph({ metadata: METADATA, database, secret: TEST_SECRET, namePrefix: 'crm', seed: false, seedOrganizationId: TEST_ORG });
      legacy = await startExternalSubgraph(LEGACY_SDL, legacyResolvers);
      gateway = await createGateway({
        subgraphs: [
          { name: 'identity', url: 'http://identity.test/graphql', sdl: identity.sdl, fetch: identity.fetch },
          { name: 'data', url: 'http://data.test/graphql', sdl: data.sdl, fetch: data.fetch },
          { name: 'legacy', url: legacy.url, sdl: legacy.sdl },
        ],
        auth: testAuth(),
        pollMs: 0,
      });
    });
    afterAll(async () => {
      await gateway?.dispose();
      await legacy?.close();
      await data?.dispose();
      await identity?.dispose();
      await database?.close();
      await handle?.cleanup();
    });

    it('composes (without the prefix it cannot)', async () => {
      const unprefixed = compile(await loadMetadata(METADATA)).subgraphs.data.sdl;
      expect(() => composeSupergraph([{ name: 'data', url: 'http://d/graphql', sdl: unprefixed }, { name: 'legacy', url: legacy.url, sdl: LEGACY_SDL }])).toThrow();
      expect(gateway.supergraphSdl).toMatch(/type CrmAccount\b/);
      expect(gateway.supergraphSdl).toMatch(/type Account\b/);
      // Identity's hand-written SDL is renamed the same way.
      expect(identity.sdl).toMatch(/type CrmUser @key\(fields: "id"\)/);
      expect(identity.sdl).toMatch(/crmMe: CrmUser/);
      expect(identity.sdl).toMatch(/crmCreateApiKey\(input: CrmCreateApiKeyInput!\): CrmCreatedApiKey!/);
      expect(identity.sdl).not.toMatch(/\bme: User\b/);
    });

    it('serves both: ObjectOS records under their prefixed names, the team’s own under theirs', async () => {
      await gqlOk(gateway.fetch, 'mutation { createCrmAccount(input: { name: "Prefixed Co", industry: technology, annualRevenue: 5 }) { id } }');
      const r = await gqlOk<{ crmAccounts: { totalCount: number; nodes: { name: string }[] }; accounts: { name: string; legacyCode: string }[] }>(gateway.fetch,
        '{ crmAccounts(where: { name: { eq: "Prefixed Co" } }, orderBy: [{ field: NAME, direction: DESC }]) { totalCount nodes { name } } accounts(name: { equals: "Legacy Two" }, sort: UP) { name legacyCode } }');
      expect(r).toEqual({ crmAccounts: { totalCount: 1, nodes: [{ name: 'Prefixed Co' }] }, accounts: [{ name: 'Legacy Two', legacyCode: 'X2' }] });
      // Identity's resolvers answer under their prefixed names (the test principal is not a stored user: no row).
      expect(await gqlOk(gateway.fetch, '{ crmMe { email } me { login } crmMyAccess { userId } }')).toEqual({ crmMe: null, me: { login: 'legacy-admin' }, crmMyAccess: expect.objectContaining({ userId: expect.any(String) }) });
      const explained = await gqlOk<{ crmExplainAccess: { allowed: boolean } }>(gateway.fetch, `query($id: ID!) { crmExplainAccess(object: "account", id: $id) { allowed } }`,
        { id: (await gqlOk<{ crmAccounts: { nodes: { id: string }[] } }>(gateway.fetch, '{ crmAccounts(first: 1) { nodes { id } } }')).crmAccounts.nodes[0]!.id });
      expect(explained.crmExplainAccess.allowed).toBe(true);
    });

    it('keeps the gateway’s access decisions on the prefixed names', async () => {
      const { table } = gateway.security;
      expect(table.fields.get('CrmAccount')?.get('annualRevenue')?.kind).toBe('readable');
      expect(table.fields.get('Query')?.get('crmAccounts')?.kind).toBe('read');
      expect(table.inputs.get('CrmAccountWhere')?.get('annualRevenue')?.kind).toBe('readable');
      expect(table.enums.get('CrmAccountSortField')?.get('ANNUAL_REVENUE')?.kind).toBe('readable');
      // The team's Account is not ObjectOS's: it needs a signed-in caller, nothing more.
      expect(table.fields.get('Account')?.get('legacyCode')?.kind).toBe('authenticated');
      const bad = await gql(gateway.fetch, '{ crmAccounts { nodes { nope } } }');
      expect(bad.errors?.[0]?.message).toMatch(/Cannot query field "nope" on type "CrmAccount"/);
    });
  });
});
