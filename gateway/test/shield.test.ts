import { fileURLToPath } from 'node:url';
import { execute, isIntrospectionType, isObjectType, parse } from 'graphql';
import { allow, deny } from 'graphql-shield';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createDataSubgraph, type DataSubgraph } from '@objectos/data-subgraph';
import { loadMetadata } from '@objectos/metadata';
import { ANONYMOUS, audienceKey, verifyPrincipal, type Principal } from '@objectos/principal';
import { compile } from '@objectos/schema';
import { engines, gql, TEST_ORG, TEST_SECRET, testPrincipal, type EngineHandle, type GraphQLResult } from '@objectos/testkit';
import { IDENTITY_SDL } from '../../subgraphs/identity/src/identity-schema.ts';
import { createGateway, type Gateway } from '../src/index.ts';
import { subjectOf } from '../src/security/decisions.ts';
import { loadSecurity } from '../src/security/load-security.ts';
import { BILLING_SDL } from './external-subgraph.ts';
import { METADATA } from './stack.ts';

const FIXTURE = fileURLToPath(new URL('./fixtures/security-shield', import.meta.url));
const never = async (): Promise<Response> => {
  throw new Error('no subgraph call expected');
};

describe('shield rule tree covers the whole public schema', () => {
  let gateway: Gateway;
  beforeAll(async () => {
    const compiled = compile(await loadMetadata(METADATA));
    gateway = await createGateway({
      subgraphs: [
        { name: 'identity', url: 'http://identity.test/graphql', sdl: IDENTITY_SDL, fetch: never },
        { name: 'data', url: 'http://data.test/graphql', sdl: compiled.subgraphs.data.sdl, fetch: never },
        { name: 'billing', url: 'http://billing.test/graphql', sdl: BILLING_SDL },
      ],
      auth: { secret: TEST_SECRET, resolve: async () => ({ principal: testPrincipal() }) },
      security: compiled,
    });
  });
  afterAll(() => gateway?.dispose());

  it('has an explicit rule for every field of every object type, and denies anything else', () => {
    const { ruleTree, options } = gateway.security.shield;
    expect(options.fallbackRule).toBe(deny);
    expect(options.allowExternalErrors).toBe(true);
    const missing: string[] = [];
    let count = 0;
    const introspection: string[] = [];
    for (const t of Object.values(gateway.schema.getTypeMap())) {
      if (!isObjectType(t)) continue;
      for (const f of Object.keys(t.getFields())) {
        count++;
        const r = ruleTree[t.name]?.[f];
        if (!r || r === options.fallbackRule) missing.push(`${t.name}.${f}`);
        // Introspection types (reached only where introspection is on) are allowed explicitly, not by a hole.
        if (isIntrospectionType(t) && r !== allow) introspection.push(`${t.name}.${f}`);
      }
    }
    expect(missing).toEqual([]);
    expect(introspection).toEqual([]);
    expect(ruleTree['__Schema']?.['queryType']).toBe(allow);
    expect(count).toBeGreaterThan(100);
    for (const type of ['Query', 'Mutation', 'Account', 'AccountConnection', 'AccountEdge', 'User', 'Organization', 'Invoice', 'PageInfo'])
      expect(ruleTree[type], type).toBeDefined();
  });

  it('decides each field by its category', () => {
    const kind = (type: string, field: string) => gateway.security.table.fields.get(type)?.get(field)?.kind;
    expect(kind('Account', 'id')).toBe('read');
    expect(kind('Account', 'createdAt')).toBe('read');
    expect(kind('Account', 'annualRevenue')).toBe('readable');
    expect(kind('Contact', 'account')).toBe('readable');
    expect(kind('Contact', 'accountId')).toBe('readable');
    expect(kind('Account', 'contacts')).toBe('readable');
    expect(kind('Account', 'billingPlan')).toBe('read'); // added by an external subgraph: reached through the Account
    expect(kind('AccountConnection', 'totalCount')).toBe('read');
    expect(kind('AccountEdge', 'cursor')).toBe('read');
    expect(kind('PageInfo', 'hasNextPage')).toBe('allow');
    expect(kind('Query', 'accounts')).toBe('read');
    expect(kind('Query', 'account')).toBe('read');
    expect(kind('Mutation', 'createAccount')).toBe('create');
    expect(kind('Mutation', 'updateAccount')).toBe('edit');
    expect(kind('Mutation', 'deleteAccount')).toBe('delete');
    expect(kind('Query', 'me')).toBe('authenticated');
    expect(kind('Mutation', 'createApiKey')).toBe('authenticated');
    expect(kind('Invoice', 'total')).toBe('authenticated');
    expect(gateway.security.table.inputs.get('AccountWhere')?.get('annualRevenue')?.kind).toBe('readable');
    expect(gateway.security.table.enums.get('AccountSortField')?.get('ANNUAL_REVENUE')?.kind).toBe('readable');
    // Only users and API keys pass `authenticated`.
    const me = gateway.security.table.fields.get('Query')!.get('me')!;
    expect(me.allows(subjectOf({ principal: ANONYMOUS }, []))).toBe(false);
    expect(me.allows(subjectOf({ principal: testPrincipal() }, []))).toBe(true);
  });
});

describe('the metadata endpoint', () => {
  const answering = (res: () => Response) => ({ name: 'x', url: 'http://x.test/graphql', fetch: async () => res() });
  it('treats any answer but 200 metadata/1 JSON as a subgraph without ObjectOS metadata', async () => {
    expect(await loadSecurity(answering(() => new Response('not found', { status: 404 })), TEST_SECRET)).toBeNull();
    expect(await loadSecurity(answering(() => Response.json({ error: 'forbidden' }, { status: 401 })), TEST_SECRET)).toBeNull();
    expect(await loadSecurity(answering(() => new Response('<html>', { headers: { 'content-type': 'text/html' } })), TEST_SECRET)).toBeNull();
    expect(await loadSecurity(answering(() => new Response('{oops', { headers: { 'content-type': 'application/json' } })), TEST_SECRET)).toBeNull();
    expect(await loadSecurity(answering(() => Response.json({ objectos: 'other/1', model: {} })), TEST_SECRET)).toBeNull();
    let unreachable: Error | undefined;
    expect(await loadSecurity({ name: 'remote', url: 'http://127.0.0.1:1/graphql' }, TEST_SECRET, (e) => (unreachable = e))).toBeNull();
    expect(unreachable).toBeInstanceOf(Error);
  });
  it('compiles the metadata a subgraph serves, asking as the signed system principal', async () => {
    const model = await loadMetadata(FIXTURE);
    let asked: Request | undefined;
    const compiled = await loadSecurity({ name: 'data', url: 'http://data.test/graphql', fetch: async (r) => {
      asked = r;
      return Response.json({ objectos: 'metadata/1', model: JSON.parse(JSON.stringify(model)) });
    } }, TEST_SECRET);
    expect(asked!.url).toBe('http://data.test/internal/metadata');
    // Signed for the data subgraph, for this GET and its empty body.
    const binding = { audience: 'data', method: 'GET', url: asked!.url };
    expect(verifyPrincipal(asked!.headers, audienceKey(TEST_SECRET, 'data'), binding)).toMatchObject({ ok: true, principal: { kind: 'system' } });
    expect(verifyPrincipal(asked!.headers, audienceKey(TEST_SECRET, 'identity'), { ...binding, audience: 'identity' })).toEqual({ ok: false, reason: 'gateway signature is for subgraph "data", not "identity"' });
    expect(Object.keys(compiled!.plan.objects).sort()).toEqual(['ledger', 'milestone', 'project']);
    expect(Object.keys(compiled!.security.permissionSets)).toContain('viewer');
  });
});

describe('object- and field-level access at the gateway', () => {
  const user = (id: string, extra: Partial<Principal>): Principal => ({ ...testPrincipal(TEST_ORG, `00000000-0000-4000-8000-0000000000${id}`), ...extra });
  const principals: Record<string, Principal> = {
    owner: testPrincipal(),
    viewer: user('b1', { roles: ['member'] }),
    reader: user('b2', { roles: ['member'], permissionSets: ['budget_reader'] }),
    apikey: { ...user('b3', { roles: ['member'] }), kind: 'api_key', apiKeyId: 'k1' },
  };
  let handle: EngineHandle;
  let data: DataSubgraph;
  let gateway: Gateway;
  let calls = 0;
  let projectId: string;
  const as = <T = Record<string, unknown>>(who: string, query: string, variables?: Record<string, unknown>): Promise<GraphQLResult<T>> =>
    gql<T>((r) => {
      const h = new Headers(r.headers);
      h.set('authorization', `Bearer ${who}`);
      return gateway.fetch(new Request(r, { headers: h }));
    }, query, variables);
  const refusal = (r: GraphQLResult) => {
    expect(r.data ?? undefined).toBeUndefined();
    expect(r.errors?.length).toBeGreaterThan(0);
    for (const e of r.errors!) expect(e.extensions?.code, e.message).toBe('FORBIDDEN');
    return r.errors!.map((e) => e.message);
  };

  beforeAll(async () => {
    handle = await engines()[0]!.open();
    data = await createDataSubgraph({ metadata: FIXTURE, ...handle.options, secret: TEST_SECRET });
    gateway = await createGateway({
      subgraphs: [{ name: 'data', url: 'http://data.test/graphql', sdl: data.sdl, fetch: (r) => {
        calls++;
        return data.fetch(r);
      } }],
      auth: { secret: TEST_SECRET, resolve: async (c) => ({ principal: principals[c.authorization?.replace(/^Bearer /, '') ?? ''] ?? ANONYMOUS }) },
    });
    const created = await as<{ createProject: { id: string } }>('owner', 'mutation { createProject(input: { name: "Apollo", code: "AP", budget: 1000 }) { id } }');
    expect(created.errors).toBeUndefined();
    projectId = created.data!.createProject.id;
    const m = await as('owner', `mutation { createMilestone(input: { title: "Launch", projectId: "${projectId}" }) { id } }`);
    expect(m.errors).toBeUndefined();
    expect((await as('owner', 'mutation { createLedger(input: { title: "Books" }) { id } }')).errors).toBeUndefined();
  });
  afterAll(async () => {
    await gateway?.dispose();
    await data?.dispose();
    await handle?.cleanup();
  });
  beforeEach(() => {
    calls = 0;
  });

  it('built its rules from the metadata the data subgraph serves', () => {
    expect(gateway.security.table.sources).toHaveLength(1);
    expect(gateway.security.table.fields.get('Project')?.get('budget')?.kind).toBe('readable');
  });

  it('refuses a hidden field during validation, also inside fragments, without calling the subgraph', async () => {
    expect(refusal(await as('viewer', '{ projects { nodes { name budget } } }'))).toEqual(['Not allowed to read Project.budget']);
    expect(refusal(await as('viewer', '{ projects { nodes { ...P } } } fragment P on Project { code ... on Project { budget } }'))).toEqual(['Not allowed to read Project.budget']);
    expect(refusal(await as('viewer', `{ project(id: "${projectId}") { id } milestones { nodes { project { name } } } }`))).toEqual(['Not allowed to read Milestone.project']);
    expect(refusal(await as('viewer', '{ projects { nodes { milestones { title } } } }'))).toEqual(['Not allowed to read Project.milestones']);
    expect(calls).toBe(0);
  });

  it('refuses literal filters and sorts on a hidden field, nested in and/or/not too', async () => {
    const cases: [string, string][] = [
      ['{ projects(where: { budget: { gt: 5 } }) { totalCount } }', 'Cannot filter on Project.budget: the field is not readable'],
      ['{ projects(where: { and: [{ name: { eq: "x" } }, { or: [{ not: { budget: { isNull: true } } }] }] }) { totalCount } }', 'Cannot filter on Project.budget: the field is not readable'],
      ['{ projects(orderBy: [{ field: NAME }, { field: BUDGET, direction: DESC }]) { totalCount } }', 'Cannot sort on Project.budget: the field is not readable'],
      [`{ milestones(where: { projectId: { eq: "${projectId}" } }) { totalCount } }`, 'Cannot filter on Milestone.projectId: the field is not readable'],
      ['{ milestones(orderBy: { field: PROJECT }) { totalCount } }', 'Cannot sort on Milestone.projectId: the field is not readable'],
      ['query { a: projects(where: { code: { eq: "AP" } }) { totalCount } b: projects(where: { not: { budget: { eq: 1 } } }) { totalCount } }', 'Cannot filter on Project.budget: the field is not readable'],
    ];
    for (const [query, message] of cases) expect(refusal(await as('viewer', query)), query).toContain(message);
    expect(calls).toBe(0);
  });

  it('lets the same principal read what it may', async () => {
    const r = await as<{ projects: { nodes: { name: string; code: string }[] } }>('viewer', '{ projects(where: { name: { eq: "Apollo" } }, orderBy: [{ field: NAME }]) { totalCount nodes { name code } pageInfo { hasNextPage } } }');
    expect(r.errors, JSON.stringify(r.errors)).toBeUndefined();
    expect(r.data!.projects.nodes).toEqual([{ name: 'Apollo', code: 'AP' }]);
    expect(calls).toBe(1);
  });

  it('lets a principal whose permission set grants the field read it, filter and sort on it', async () => {
    const r = await as<{ projects: { nodes: { budget: number }[] } }>('reader', '{ projects(where: { budget: { gt: 5 } }, orderBy: [{ field: BUDGET }]) { nodes { name budget } } }');
    expect(r.errors, JSON.stringify(r.errors)).toBeUndefined();
    expect(r.data!.projects.nodes.map((n) => Number(n.budget))).toEqual([1000]);
  });

  it('refuses the root field of an object without allowRead, and a create without allowCreate, before the subgraph is called', async () => {
    expect(refusal(await as('viewer', '{ ledgers { totalCount } }'))).toEqual(['Not allowed to read Ledger records (Query.ledgers)']);
    expect(refusal(await as('viewer', 'mutation { createProject(input: { name: "Nope" }) { id } }'))).toEqual(['Not allowed to create Project records (Mutation.createProject)']);
    expect(refusal(await as('viewer', `mutation { deleteProject(id: "${projectId}") { id } }`))).toEqual(['Not allowed to delete Project records (Mutation.deleteProject)']);
    expect(calls).toBe(0);
    const owner = await as<{ ledgers: { totalCount: number } }>('owner', '{ ledgers { totalCount } }');
    expect(owner.errors, JSON.stringify(owner.errors)).toBeUndefined();
    expect(owner.data!.ledgers.totalCount).toBe(1);
  });

  it('does not replay one principal\'s validation for another (yoga caches validation per document)', async () => {
    const q = '{ projects { nodes { budget } } }';
    expect((await as('reader', q)).errors).toBeUndefined();
    expect(refusal(await as('viewer', q))).toEqual(['Not allowed to read Project.budget']);
    expect((await as('reader', q)).errors).toBeUndefined();
  });

  it('enforces the same decisions at execution (graphql-shield on the stitched schema), delegation intact', async () => {
    const run = (who: string, query: string) =>
      Promise.resolve(execute({ schema: gateway.schema, document: parse(query), contextValue: { principal: principals[who] } })) as Promise<GraphQLResult>;
    const ledgers = await run('viewer', '{ ledgers { totalCount } }');
    expect(calls).toBe(0);
    expect(ledgers.errors?.[0]).toMatchObject({ message: 'Not allowed to read Ledger records (Query.ledgers)', extensions: { code: 'FORBIDDEN' } });
    const nested = await run('viewer', '{ projects { nodes { name budget } } }');
    expect(nested.errors?.map((e) => [e.message, e.path?.join('.'), e.extensions?.code])).toEqual([['Not allowed to read Project.budget', 'projects.nodes.0.budget', 'FORBIDDEN']]);
    const ok = await run('owner', `{ project(id: "${projectId}") { name budget milestones { title project { code } } } }`);
    expect(ok.errors).toBeUndefined();
    expect(ok.data).toMatchObject({ project: { name: 'Apollo', milestones: [{ title: 'Launch', project: { code: 'AP' } }] } });
  });
});
